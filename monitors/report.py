"""One-shot checks and how their Observation is shown to a person or a script.

``liveness check <platform> <handle>`` uses these: a supervisor wants to see at once what the
platform said about one account and why the outcome was given; a script wants stable JSON.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, datetime
from typing import Any

import httpx

import monitors
from monitors.base import Observation, Post
from monitors.config import MonitorConfig

__all__ = ["check_once", "observation_to_dict", "render_json", "render_text"]

_RECENT_POSTS_SHOWN = 5
_LABEL_WIDTH = 14


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def observation_to_dict(obs: Observation) -> dict[str, Any]:
    """The observation as plain JSON types: datetimes ISO 8601 UTC, enums as their values.

    The outcome's class is added beside the outcome so a reader need not know the table.
    """
    raw = {field.name: getattr(obs, field.name) for field in dataclasses.fields(obs)}
    raw["recent_posts"] = [dataclasses.asdict(post) for post in obs.recent_posts]
    raw["evidence"] = dataclasses.asdict(obs.evidence)
    data: dict[str, Any] = _jsonable(raw)
    data["outcome_class"] = str(obs.outcome.outcome_class)
    return data


def render_json(obs: Observation) -> str:
    """Stable JSON for scripts: a fixed key order, UTF-8 text kept readable."""
    return json.dumps(observation_to_dict(obs), ensure_ascii=False, indent=2)


def _age(when: datetime, now: datetime) -> str:
    days = (now - when).total_seconds() / 86400
    if days < 0:
        return "in the future"
    return f"{days:.1f} days ago"


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "unknown"
    shown = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{shown} ({_age(value, now)})"


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _count(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _post_line(post: Post, now: datetime) -> str:
    parts = [_when(post.published_at, now)]
    if post.pinned:
        parts.append("[pinned]")
    parts.append(post.title or f"#{post.id}")
    if post.url:
        parts.append(post.url)
    return "    - " + "  ".join(parts)


def _line(label: str, value: object, indent: str = "  ") -> str:
    return f"{indent}{(label + ':').ljust(_LABEL_WIDTH)} {value}"


def render_text(obs: Observation) -> str:
    """A readable summary for a supervisor: the outcome and its class first, then what the
    platform showed of the account, then the evidence the outcome rests on."""
    now = obs.observed_at
    lines = [
        f"{obs.platform} {obs.handle}",
        _line("outcome", f"{obs.outcome.value} ({obs.outcome.outcome_class.value})"),
        _line("observed at", _iso(obs.observed_at)),
        _line("display name", obs.display_name or "unknown"),
        _line("verified", _yes_no(obs.verified)),
        _line("followers", _count(obs.followers)),
        _line("posts", _count(obs.post_count)),
        _line("last post", _when(obs.last_post_at, now)),
    ]
    if obs.interaction_enabled is not None:
        lines.append(_line("interaction", _yes_no(obs.interaction_enabled)))
    shown = obs.recent_posts[:_RECENT_POSTS_SHOWN]
    if shown:
        lines.append(f"  recent posts ({len(shown)} of {len(obs.recent_posts)}):")
        lines.extend(_post_line(post, now) for post in shown)
    else:
        lines.append(_line("recent posts", "none"))
    evidence = obs.evidence
    lines.append("  evidence:")
    lines.append(_line("status", evidence.http_status or "none", indent="    "))
    lines.append(_line("final URL", evidence.final_url or "none", indent="    "))
    lines.append(_line("source", evidence.source or "none", indent="    "))
    lines.append(_line("marker", evidence.marker or "none", indent="    "))
    if evidence.retry_after_s is not None:
        lines.append(_line("retry after", f"{evidence.retry_after_s:g} s", indent="    "))
    excerpt = " ".join(evidence.excerpt.split()) if evidence.excerpt else "none"
    lines.append(_line("excerpt", excerpt, indent="    "))
    if obs.error:
        lines.append(_line("error", obs.error))
    elapsed = "unknown" if obs.elapsed_ms is None else f"{obs.elapsed_ms:.0f} ms"
    lines.append(_line("elapsed", elapsed))
    return "\n".join(lines)


async def check_once(
    platform: str, handle: str, config: MonitorConfig, client: httpx.AsyncClient
) -> Observation:
    """Observe one account now, outside the scheduler, with the caller's client (the
    service's, so the same egress guard applies as to scheduled checks).

    Raises ValueError (with a message a supervisor can act on) for an unknown platform or a
    handle that cannot belong to the platform; never for what the platform answers.
    """
    monitor = monitors.get(platform, config)
    normalized = monitor.validate_handle(handle)
    return await monitor.observe(normalized, client)
