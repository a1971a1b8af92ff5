"""A pure-ASGI guard that refuses request bodies over the size limit before they are read.

It checks the declared Content-Length and counts the bytes of bodies sent without one, so a
chunked upload cannot slip past. Pure ASGI keeps it off the hot path's cost (no
BaseHTTPMiddleware task per request).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_response

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Answer 413 problem details for bodies larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        length = request.headers.get("content-length")
        if length is not None and (
            not (length.isascii() and length.isdigit()) or int(length) > self.limit
        ):
            await self._refuse(request, scope, receive, send)
            return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # End the body here; whatever the app answers is replaced by a 413.
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        refused = False

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if not too_large:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(request, scope, receive, send)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            request, 413, f"the request body is larger than the {self.limit} byte limit"
        )
        await response(scope, receive, send)
