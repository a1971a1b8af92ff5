"""The request layer every adapter uses: one place that knows what a refusal looks like.

``fetch`` sends a request and either returns a :class:`Fetched` response the adapter should
classify itself, or raises :class:`Failure` carrying an unknown-class outcome (blocked,
rate_limited, auth_required, error) and its evidence. An adapter's ``observe`` wraps its work
in :func:`guarded_observe`, which turns a Failure (and any shape error while parsing) into an
Observation, so an upstream can never make ``observe`` raise and never make an account "gone".
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from monitors.base import Evidence, Observation, Outcome, utcnow
from monitors.blockpages import frequency_marker, looks_like_captcha, marker_in_url
from monitors.parsing import parse_datetime

__all__ = [
    "BLOCKED_STATUSES",
    "EGRESS_REFUSED",
    "MAX_BODY_BYTES",
    "EgressRefused",
    "Failure",
    "Fetched",
    "excerpt",
    "failure_observation",
    "fetch",
    "finish",
    "guarded_observe",
    "looks_like_captcha",
    "parse_json",
    "parse_json_object",
    "redact_url",
    "retry_after_seconds",
    "start_clock",
]

#: Statuses with which platforms refuse our request (risk control, WAF), not the account.
BLOCKED_STATUSES: frozenset[int] = frozenset({403, 412, 414, 418, 432})
EXCERPT_LIMIT = 300
#: The most of a body read, once decompressed; the rest is left unread, as crawlers do
#: (Googlebot reads the first 15 MB of a page). It bounds a check's memory against endless
#: bodies and compression bombs: a government homepage is well under 1 MB.
MAX_BODY_BYTES = 5 * 1024 * 1024

#: The evidence marker of a request the client refused to send: the address is one the
#: egress guard blocks (loopback, private, metadata …). It says nothing of the account, and
#: asking again sooner will not change it.
EGRESS_REFUSED = "egress refused"

_WHITESPACE = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


# Query parameters that carry credentials (WeChat's MP token, Douyin's msToken, an RSSHub key).
_SECRET_PARAM = re.compile(r"token|secret|password|^(access_?)?key$|^sig(nature)?$", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with the values of credential-like query parameters replaced by ``***``: the
    form a URL takes in evidence (shown to every viewer) and in logs."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(_SECRET_PARAM.search(name) for name, _ in pairs):
        return url
    query = urlencode(
        [(name, "***" if _SECRET_PARAM.search(name) else value) for name, value in pairs],
        safe="*",
    )
    return urlunsplit(parts._replace(query=query))


class _RedactRequestLog(logging.Filter):
    """httpx logs every request's full URL at INFO; credentials in its query must not reach
    a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


# Installed on import: every process that sends platform requests imports this module.
logging.getLogger("httpx").addFilter(_RedactRequestLog())


def excerpt(text: str | None, limit: int = EXCERPT_LIMIT, *, around: str | None = None) -> str:
    """A whitespace-collapsed slice of at most ``limit`` characters for evidence.

    With ``around``, the slice is centred on that marker so a supervisor sees it in context.
    """
    if not text:
        return ""
    start = 0
    if around:
        found = text.find(around)
        if found > 0:
            start = max(0, found - limit // 2)
    # Collapse only a window: bodies can be megabytes and we keep 300 characters.
    collapsed = _WHITESPACE.sub(" ", text[start : start + limit * 4]).strip()
    if len(collapsed) <= limit:
        return collapsed
    return collapsed[: limit - 1] + "…"


class EgressRefused(httpx.TransportError):
    """The client would not connect: the egress guard refuses the address (the message says
    which, and why). Raised by the client's transport, which the service configures; every
    adapter's request, and every redirect hop, can meet it."""


class Failure(Exception):
    """An upstream answer that says nothing about the account: blocked, throttled or broken.

    Internal to monitors: raised by :func:`fetch` and :func:`parse_json`, caught by
    :func:`guarded_observe`, never seen outside an adapter.
    """

    def __init__(self, outcome: Outcome, error: str, evidence: Evidence | None = None) -> None:
        if not outcome.is_unknown:
            raise ValueError(f"a Failure must carry an unknown-class outcome, not {outcome}")
        super().__init__(error)
        self.outcome = outcome
        self.error = error
        self.evidence = evidence or Evidence()


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response the adapter classifies itself (2xx, or a status it asked to accept)."""

    status: int
    final_url: str
    text: str
    headers: httpx.Headers
    elapsed_ms: float
    source: str

    def evidence(self, *, marker: str | None = None, around: str | None = None) -> Evidence:
        """Evidence for an outcome decided from this response; the excerpt centres on marker."""
        return Evidence(
            http_status=self.status,
            final_url=self.final_url,
            source=self.source,
            marker=marker,
            excerpt=excerpt(self.text, around=around or marker),
        )

    def failure(self, outcome: Outcome, error: str, *, marker: str | None = None) -> Failure:
        """A Failure for this response, e.g. a captcha the adapter recognised in the body."""
        return Failure(outcome, error, self.evidence(marker=marker))

    def json(self) -> object:
        """The body as JSON; see :func:`parse_json`."""
        return parse_json(self)


def parse_json(body: Fetched | str) -> object:
    """Decode a JSON body, raising Failure: empty body -> blocked, anything else bad -> error.

    An empty 200 body is how Douyin and Weibo refuse a request (DESIGN §4.2), so it is blocked;
    a truncated or non-JSON body is an unexpected shape, so it is error. Neither is ever gone.
    """
    text = body.text if isinstance(body, Fetched) else body
    evidence = body.evidence() if isinstance(body, Fetched) else Evidence(excerpt=excerpt(text))
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise Failure(
            Outcome.BLOCKED, "empty response body", replace(evidence, marker="empty body")
        )
    try:
        return jsonlib.loads(stripped)
    except (ValueError, RecursionError) as exc:
        raise Failure(Outcome.ERROR, f"unexpected shape/truncated JSON: {exc}", evidence) from None


def parse_json_object(body: Fetched | str) -> dict[str, Any]:
    """Decode a body that must be a JSON object; any other JSON is an unexpected shape."""
    decoded = parse_json(body)
    if not isinstance(decoded, dict):
        evidence = body.evidence() if isinstance(body, Fetched) else Evidence(excerpt=excerpt(body))
        kind = type(decoded).__name__
        raise Failure(Outcome.ERROR, f"unexpected shape: JSON {kind}, not an object", evidence)
    return decoded


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        moment = parse_datetime(value)
        return None if moment is None else max(0.0, (moment - utcnow()).total_seconds())
    return seconds if seconds >= 0 and seconds == seconds else None  # rejects NaN


async def _read_body(response: httpx.Response) -> bytes:
    """The body, decompressed, cut at MAX_BODY_BYTES: reading stops there (the rest of a
    compressed body is never inflated)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY_BYTES:
            break
    return b"".join(chunks)[:MAX_BODY_BYTES]


def _decode(content: bytes, charset: str | None) -> str:
    """Decode the body; Chinese sites often send GBK with no charset in the headers."""
    if charset:
        try:
            return content.decode(charset, errors="replace")
        except LookupError:  # a charset Python does not know: sniff, as below
            pass
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _META_CHARSET.search(content[:4096])
    encoding = declared.group(1).decode("ascii") if declared else "gb18030"
    try:
        return content.decode(encoding, errors="replace")
    except LookupError:
        return content.decode("gb18030", errors="replace")


def _status_failure(status: int, headers: httpx.Headers, evidence: Evidence) -> Failure | None:
    """The shared meaning of a status no adapter asked to handle itself."""
    if 200 <= status < 300:
        return None
    retry_after = retry_after_seconds(headers.get("retry-after"))
    evidence = replace(evidence, marker=f"HTTP {status}", retry_after_s=retry_after)
    if status in BLOCKED_STATUSES:
        return Failure(
            Outcome.BLOCKED, f"request refused by the platform (HTTP {status})", evidence
        )
    if status == 429:
        return Failure(Outcome.RATE_LIMITED, "rate limited (HTTP 429)", evidence)
    if status == 401:
        return Failure(Outcome.AUTH_REQUIRED, "credentials missing or expired (HTTP 401)", evidence)
    if status >= 500:
        return Failure(Outcome.ERROR, f"upstream server error (HTTP {status})", evidence)
    return Failure(Outcome.ERROR, f"unexpected HTTP status {status}", evidence)


def _body_failure(fetched: Fetched, method: str) -> Failure | None:
    """Refusals served with a 2xx: empty body, captcha/WAF page, redirect to a verify page."""
    if url_marker := marker_in_url(fetched.final_url):
        return fetched.failure(
            Outcome.BLOCKED, "redirected to a verification page", marker=url_marker
        )
    if method != "HEAD" and fetched.status != 204 and not fetched.text.strip():
        return fetched.failure(Outcome.BLOCKED, "empty response body", marker="empty body")
    if fetched.text.lstrip()[:1] in ("{", "["):
        # JSON bodies are the adapter's to read: a post may well mention 验证码.
        return None
    if marker := frequency_marker(fetched.text):
        return fetched.failure(Outcome.RATE_LIMITED, "platform frequency limit", marker=marker)
    if marker := looks_like_captcha(fetched.text):
        return fetched.failure(Outcome.BLOCKED, "captcha or verification page", marker=marker)
    return None


async def fetch(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    source: str,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str | int] | None = None,
    data: Mapping[str, str] | None = None,
    json: object = None,
    follow_redirects: bool = True,
    timeout: float | None = None,  # noqa: ASYNC109 - httpx's per-request timeout
    accept: Collection[int] = (),
    check_body: bool = True,
) -> Fetched:
    """Send one request; return the response, or raise Failure for a refusal or an error.

    Shared status meanings: 403/412/414/418/432 blocked, 429 rate_limited (with Retry-After),
    401 auth_required, 5xx and anything else unexpected error. Statuses in ``accept`` are
    returned untouched for the adapter to classify (Weibo's 400 with a body, an App Store 404);
    so are 3xx when ``follow_redirects`` is off. With ``check_body``, a 2xx that is empty, a
    captcha/WAF page or a redirect to a verification URL is blocked (rate_limited for a
    frequency message); JSON bodies are left to the adapter. At most MAX_BODY_BYTES of the
    body are read.
    """
    started = time.perf_counter()
    request_timeout: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else timeout
    try:
        async with client.stream(
            method,
            url,
            headers=headers,
            params=params,
            data=data,
            json=json,
            follow_redirects=follow_redirects,
            timeout=request_timeout,
        ) as response:
            content = await _read_body(response)
    except httpx.TooManyRedirects as exc:
        # An endless redirect loop is how Weibo's visitor system turns away a bad IP or cookie.
        raise _transport_failure(Outcome.BLOCKED, "redirect loop", exc, url, source) from None
    except httpx.TimeoutException as exc:
        raise _transport_failure(Outcome.ERROR, "timeout", exc, url, source) from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise _transport_failure(Outcome.ERROR, "transport error", exc, url, source) from None
    fetched = Fetched(
        status=response.status_code,
        final_url=redact_url(str(response.url)),
        text=_decode(content, response.charset_encoding),
        headers=response.headers,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        source=source,
    )
    if fetched.status in accept or (not follow_redirects and 300 <= fetched.status < 400):
        return fetched
    if failure := _status_failure(fetched.status, fetched.headers, fetched.evidence()):
        raise failure
    if check_body and (failure := _body_failure(fetched, method.upper())):
        raise failure
    return fetched


def _transport_failure(
    outcome: Outcome, what: str, exc: Exception, url: str, source: str
) -> Failure:
    if isinstance(exc, EgressRefused):
        # The hop refused, which after redirects is not the URL asked for.
        evidence = Evidence(
            final_url=redact_url(str(exc.request.url)), source=source, marker=EGRESS_REFUSED
        )
        return Failure(Outcome.ERROR, f"refused by the egress guard: {exc}", evidence)
    detail = str(exc) or type(exc).__name__
    evidence = Evidence(final_url=url, source=source, marker=type(exc).__name__)
    return Failure(outcome, f"{what}: {detail}", evidence)


def start_clock() -> float:
    """A start time for :func:`finish` and :func:`failure_observation`."""
    return time.perf_counter()


def finish(observation: Observation, started: float) -> Observation:
    """Stamp the elapsed time since ``started`` on an observation and return it."""
    observation.elapsed_ms = (time.perf_counter() - started) * 1000
    return observation


def failure_observation(
    platform: str, handle: str, failure: Failure, started: float
) -> Observation:
    """The Observation for a Failure: its unknown-class outcome, error and evidence."""
    observation = Observation(
        platform=platform,
        handle=handle,
        outcome=failure.outcome,
        evidence=failure.evidence,
        error=failure.error,
    )
    return finish(observation, started)


#: Errors that mean "the body had a shape we did not expect" while an adapter parses it.
SHAPE_ERRORS: tuple[type[Exception], ...] = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    UnicodeError,
)


async def guarded_observe(
    platform: str, handle: str, attempt: Callable[[], Awaitable[Observation]]
) -> Observation:
    """Run an adapter's observation so that nothing an upstream does can make it raise.

    Validate the handle before calling this (a malformed handle must still raise ValueError).
    A Failure becomes its observation; a shape error while parsing becomes error; httpx
    errors raised outside :func:`fetch` become error too. elapsed_ms is always set.
    """
    started = start_clock()
    try:
        observation = await attempt()
    except Failure as failure:
        return failure_observation(platform, handle, failure, started)
    except httpx.HTTPError as exc:
        transport = _transport_failure(Outcome.ERROR, "transport error", exc, "", "")
        return failure_observation(platform, handle, transport, started)
    except SHAPE_ERRORS as exc:
        error = f"unexpected response shape: {type(exc).__name__}: {exc}"
        shape = Failure(Outcome.ERROR, error[:500], Evidence(marker=type(exc).__name__))
        return failure_observation(platform, handle, shape, started)
    if observation.elapsed_ms is None:
        finish(observation, started)
    return observation
