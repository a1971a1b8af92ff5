"""Policy presets, files, switches and per-platform overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.flags.policy import FLAG_LABELS, PolicyError, load_policy


def test_presets() -> None:
    national = load_policy("national")
    assert national.rule("stale", "weibo").param("days") == 14  # type: ignore[union-attr]
    assert national.rule("stale", "weibo").veto is True  # type: ignore[union-attr]
    assert "国办秘函〔2019〕19号" in national.rule("stale", "weibo").source  # type: ignore[union-attr]
    assert load_policy("guizhou-2025").rule("zombie", "douyin").param("days") == 90  # type: ignore[union-attr]
    beijing = load_policy("beijing-2019")
    assert beijing.rule("zombie", "wechat").param("days") == 365  # type: ignore[union-attr]
    assert beijing.rule("stale", "wechat").param("days") == 14  # type: ignore[union-attr]
    assert set(FLAG_LABELS) == {code for code, _ in national.rules}


def test_file_with_switches_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "jilin.toml"
    path.write_text(
        """
[jilin]
extends = "national"
[jilin.flags.unverified]
enabled = false
[jilin.platforms.website.stale]
days = 30
""",
        encoding="utf-8",
    )
    policy = load_policy(str(path))
    assert policy.name == "jilin"
    assert policy.rule("unverified", "weibo") is None
    assert policy.rule("stale", "website").param("days") == 30  # type: ignore[union-attr]
    assert policy.rule("stale", "weibo").param("days") == 14  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[x]\nextends = "nowhere"', "no policy preset 'nowhere'"),
        ("[x]\n[x.flags.vanished]\ndays = 1", "unknown flag 'vanished'"),
        ("[x]\n[x.platforms.myspace.stale]\ndays = 1", "unknown platform 'myspace'"),
        ("[x\n", "cannot read policy file"),
    ],
)
def test_bad_files_are_clear(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / f"bad{abs(hash(text))}.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=needle):
        load_policy(str(path))


def test_unknown_preset() -> None:
    with pytest.raises(PolicyError, match="known: beijing-2019, demo, guizhou-2025, national"):
        load_policy("mars")
