"""A webhook receiver on a real 127.0.0.1 socket, scripted per test, recording every request."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it: path, lower-cased headers, raw body."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def msg_id(self) -> str:
        return self.headers["webhook-id"]


# (request, how many requests with this webhook-id came before it) -> (status, headers)
Responder = Callable[[Received, int], tuple[int, dict[str, str]]]


def always_ok(_request: Received, _seen: int) -> tuple[int, dict[str, str]]:
    return 204, {}


@dataclass
class Receiver:
    """What the receiver got, and what it answered to each request."""

    url: str
    respond: Responder
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self, status: int | None = None) -> list[str]:
        """webhook-ids received, in order (only those answered ``status`` when given)."""
        with self.lock:
            return [
                r.msg_id
                for r, code in zip(self.received, self.answered, strict=True)
                if status is None or code == status
            ]


@contextmanager
def running_receiver(respond: Responder = always_ok) -> Iterator[Receiver]:
    """Serve ``respond`` on a free port in a thread; always shut down at the end."""
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            request = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            receiver = holder[0]
            with receiver.lock:
                seen = sum(
                    1
                    for r in receiver.received
                    if r.headers.get("webhook-id") == request.headers.get("webhook-id")
                )
                status, headers = receiver.respond(request, seen)
                receiver.received.append(request)
                receiver.answered.append(status)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", respond))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
