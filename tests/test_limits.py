"""The body limit refuses what it cannot read as a size, before any handler runs."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.limits import BodyLimitMiddleware


async def _reached(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the app behind the limit was reached")


@pytest.mark.parametrize("length", ["²", "¹³", "1e3", "-1", "2000"])  # ² is latin-1
async def test_a_content_length_that_is_not_a_small_ascii_number_is_refused(length: str) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/accounts",
        "query_string": b"",
        "headers": [(b"content-length", length.encode("latin-1"))],
    }
    await BodyLimitMiddleware(_reached, limit=1000)(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
