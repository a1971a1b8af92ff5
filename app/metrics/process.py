"""What a process counts as it works. Each process (API, scheduler, worker) exposes its own."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import ThreadingWSGIServer, make_wsgi_app
from pydantic import SecretStr

import monitors
from app import __version__
from app.config import Settings
from app.errors import PROBLEM_JSON, problem_body
from app.metrics.access import UNAUTHORIZED_DETAIL, bearer_credentials, token_matches
from monitors import Outcome

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "CHECKS",
    "CHECK_DURATION",
    "DELIVERY_OUTCOMES",
    "WEBHOOK_DELIVERIES",
    "record_check",
    "record_delivery",
    "serve_process_metrics",
    "set_build_info",
]

logger = logging.getLogger(__name__)

# The classic text format shows each counter's *_created as a gauge of its own: noise.
disable_created_metrics()  # type: ignore[no-untyped-call]

CHECKS = Counter(
    "liveness_checks_total",
    "Checks made, by platform and outcome.",
    ["platform", "outcome"],
)
CHECK_DURATION = Histogram(
    "liveness_check_duration_seconds",
    "Time to observe one account (all its upstream requests).",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
)
WEBHOOK_DELIVERIES = Counter(
    "liveness_webhook_deliveries_total",
    "Webhook delivery attempts: success, retry (will be tried again) or failed (given up).",
    ["outcome"],
)
BUILD_INFO = Gauge("liveness_build_info", "The running build; value 1.", ["version", "revision"])
# A delivery's status after an attempt, as the counter's outcome label.
DELIVERY_OUTCOMES = {"succeeded": "success", "pending": "retry", "failed": "failed"}

# Every series exists from the start, so rate() and panels have data before the first event.
for _platform in monitors.PLATFORMS:
    CHECK_DURATION.labels(_platform)
    for _outcome in Outcome:
        CHECKS.labels(_platform, _outcome.value)
for _label in DELIVERY_OUTCOMES.values():
    WEBHOOK_DELIVERIES.labels(_label)


def set_build_info(revision: str) -> None:
    """Publish the version and the source revision (LIVENESS_BUILD_REVISION)."""
    BUILD_INFO.clear()
    BUILD_INFO.labels(__version__, revision).set(1)


def record_check(platform: str, outcome: Outcome, seconds: float) -> None:
    """Count one observation and how long it took."""
    if platform in monitors.PLATFORMS:  # an unknown stored platform must not add a series
        CHECKS.labels(platform, outcome.value).inc()
        CHECK_DURATION.labels(platform).observe(max(seconds, 0.0))


def record_delivery(status: str | None) -> None:
    """Count one webhook attempt by the status it left its delivery in (None: lease lost)."""
    label = DELIVERY_OUTCOMES.get(status or "")
    if label is not None:
        WEBHOOK_DELIVERIES.labels(label).inc()


def serve_process_metrics(port: int | None, settings: Settings) -> WSGIServer | None:
    """Serve this process's counters on ``port`` (at LIVENESS_METRICS_HOST) in a background
    thread (scheduler and workers, whose counters the API process cannot see); None: off.
    With LIVENESS_METRICS_TOKEN set, only its bearer may read them. Returns the server."""
    set_build_info(settings.build_revision)
    if port is None:
        return None
    host = settings.metrics_host
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    server_class: type[WSGIServer] = type(
        "MetricsServer", (ThreadingWSGIServer,), {"address_family": family[0][0]}
    )
    app = _guarded(make_wsgi_app(REGISTRY), settings.metrics_token)
    server: WSGIServer = make_server(host, port, app, server_class, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics on http://%s:%d/metrics", host, port)
    return server


class _QuietHandler(WSGIRequestHandler):
    """No line per scrape on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing."""


def _guarded(app: WSGIApplication, token: SecretStr | None) -> WSGIApplication:
    """``app``, answering 401 problem details to a request without the token (when set)."""
    if token is None:
        return app

    def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        given = bearer_credentials(environ.get("HTTP_AUTHORIZATION"))
        if token_matches(given, token):
            return app(environ, start_response)
        path = str(environ.get("PATH_INFO") or "/")
        body = json.dumps(problem_body(401, UNAUTHORIZED_DETAIL, path)).encode()
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", PROBLEM_JSON),
                ("Content-Length", str(len(body))),
                ("WWW-Authenticate", "Bearer"),
            ],
        )
        return [body]

    return guarded
