"""Flag policies: which flags apply, at what thresholds, and on whose authority.

Presets live in presets.toml (national by default); ``LIVENESS_POLICY`` names a preset or a
TOML file of the same shape. A preset may extend another, switch a flag off
(``enabled = false``) and override a flag per platform.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import monitors

__all__ = ["FLAG_BITS", "FLAG_LABELS", "FlagRule", "Policy", "PolicyError", "load_policy"]

FLAG_LABELS: dict[str, str] = {
    "stale": "不更新",
    "zombie": "僵尸",
    "empty_shell": "空壳",
    "unreachable": "无法访问",
    "unverified": "未认证",
    "app_outdated": "长期未更新",
    "duplicate": "重复开设",
    "blind": "无法监测",
}
# The bit of each code in account.open_flags. Stored values depend on it: a new code takes
# the next bit; an existing bit never moves.
FLAG_BITS: dict[str, int] = {code: 1 << bit for bit, code in enumerate(FLAG_LABELS)}
PRESETS_FILE = Path(__file__).with_name("presets.toml")
_META = {"veto", "source", "platforms", "enabled"}


class PolicyError(ValueError):
    """A policy that cannot be used: unknown preset, bad file, unknown flag or platform."""


@dataclass(frozen=True, slots=True)
class FlagRule:
    """One flag as a policy sets it for one platform."""

    code: str
    veto: bool
    source: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label_zh(self) -> str:
        return FLAG_LABELS[self.code]

    def param(self, name: str) -> Any:
        """A threshold; KeyError names it when the policy lacks it."""
        return self.params[name]

    @property
    def threshold(self) -> str:
        """The thresholds in a line a supervisor can read, e.g. ``days=14``."""
        return ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))


@dataclass(frozen=True, slots=True)
class Policy:
    """A named set of rules, per flag and platform."""

    name: str
    description: str
    rules: dict[tuple[str, str], FlagRule]

    def rule(self, code: str, platform: str) -> FlagRule | None:
        """The rule for ``code`` on ``platform``, or None when the flag does not apply."""
        return self.rules.get((code, platform))

    def veto_codes(self) -> frozenset[str]:
        """Flags that fail inspection on their own on some platform."""
        return frozenset(code for (code, _p), rule in self.rules.items() if rule.veto)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve(presets: dict[str, Any], name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    if name not in presets:
        raise PolicyError(f"no policy preset {name!r}; known: {', '.join(sorted(presets))}")
    if name in seen:
        raise PolicyError(f"policy presets extend each other in a loop: {' -> '.join(seen)}")
    preset = presets[name]
    parent = preset.get("extends")
    if parent is None:
        return dict(preset)
    return _merge(_resolve(presets, parent, (*seen, name)), preset)


def _build(name: str, preset: dict[str, Any]) -> Policy:
    flags: dict[str, Any] = preset.get("flags", {})
    overrides: dict[str, Any] = preset.get("platforms", {})
    for code in flags:
        if code not in FLAG_LABELS:
            raise PolicyError(f"unknown flag {code!r} in policy {name!r}")
    for platform in overrides:
        if platform not in monitors.PLATFORMS:
            raise PolicyError(f"unknown platform {platform!r} in policy {name!r}")
    rules: dict[tuple[str, str], FlagRule] = {}
    for code, base in flags.items():
        for platform in monitors.PLATFORMS:
            spec = _merge(base, overrides.get(platform, {}).get(code, {}))
            applies = platform in spec.get("platforms", monitors.PLATFORMS)
            if not spec.get("enabled", True) or not applies:
                continue
            params = {k: v for k, v in spec.items() if k not in _META}
            rules[(code, platform)] = FlagRule(
                code=code,
                veto=bool(spec.get("veto", False)),
                source=str(spec.get("source", "")),
                params=params,
            )
    return Policy(name=name, description=str(preset.get("description", "")), rules=rules)


def load_policy(name_or_path: str) -> Policy:
    """The policy named ``name_or_path`` in presets.toml, or read from that TOML file."""
    return _load(name_or_path)


@cache
def _load(name_or_path: str) -> Policy:
    presets = tomllib.loads(PRESETS_FILE.read_text(encoding="utf-8"))
    if name_or_path.endswith(".toml"):
        path = Path(name_or_path)
        try:
            custom = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
        presets = presets | custom
        names = list(custom)
        if len(names) != 1:
            raise PolicyError(f"policy file {path} must define exactly one preset")
        return _build(names[0], _resolve(presets, names[0]))
    return _build(name_or_path, _resolve(presets, name_or_path))
