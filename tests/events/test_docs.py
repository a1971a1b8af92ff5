"""docs/webhooks.md: one valid example per event type, and its hand-written verifier works."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from app.events.service import EVENT_TYPES
from app.events.signing import new_secret, signature_header

DOC = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def test_one_example_per_event_type() -> None:
    examples = [json.loads(block) for block in _blocks("json")]
    assert [e["type"] for e in examples] == [*EVENT_TYPES, "webhook.disabled"]
    for example in examples:
        assert set(example) == {"type", "timestamp", "data"}
        assert f"### {example['type']}" in DOC


def test_the_documented_hand_verifier_accepts_our_signatures() -> None:
    namespace: dict[str, Any] = {}
    exec(_blocks("python")[1], namespace)  # noqa: S102 - our own documentation
    verify = namespace["verify"]
    old, new = new_secret(), new_secret()
    body = b'{"type":"flag.opened","timestamp":"2026-11-23T08:00:00+00:00","data":{}}'
    now = int(time.time())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header([new, old], "evt_1", now, body),
    }
    assert verify(old, headers, body) and verify(new, headers, body)
    assert not verify(new_secret(), headers, body)
    assert not verify(new, headers, body + b" ")
    assert not verify(new, {**headers, "webhook-timestamp": str(now - 600)}, body)
