"""The monitor contract: what every platform adapter returns and how it is called.

Monitors know HTTP and platforms and nothing of the database (DESIGN §4). An adapter's
``observe`` never raises for anything an upstream does; it returns an :class:`Observation`
whose :class:`Outcome` says what happened. It raises ``ValueError`` only for a handle that is
malformed for the platform.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import httpx

__all__ = [
    "Evidence",
    "Monitor",
    "Observation",
    "Outcome",
    "OutcomeClass",
    "Post",
    "utcnow",
]


class OutcomeClass(enum.StrEnum):
    """Whether an outcome shows the account alive, gone, or tells us nothing."""

    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"


class Outcome(enum.StrEnum):
    """The ten outcomes of DESIGN §4.2. Only a positive marker may produce a gone outcome."""

    OK = "ok"
    EMPTY = "empty"
    PRIVATE = "private"
    NOT_FOUND = "not_found"
    DELETED = "deleted"
    BANNED = "banned"
    BLOCKED = "blocked"
    RATE_LIMITED = "rate_limited"
    AUTH_REQUIRED = "auth_required"
    ERROR = "error"

    @property
    def outcome_class(self) -> OutcomeClass:
        """The class (alive, gone, unknown) this outcome belongs to."""
        return _CLASS_OF[self]

    @property
    def is_gone(self) -> bool:
        return _CLASS_OF[self] is OutcomeClass.GONE

    @property
    def is_alive(self) -> bool:
        return _CLASS_OF[self] is OutcomeClass.ALIVE

    @property
    def is_unknown(self) -> bool:
        return _CLASS_OF[self] is OutcomeClass.UNKNOWN


_CLASS_OF: dict[Outcome, OutcomeClass] = {
    Outcome.OK: OutcomeClass.ALIVE,
    Outcome.EMPTY: OutcomeClass.ALIVE,
    Outcome.PRIVATE: OutcomeClass.ALIVE,
    Outcome.NOT_FOUND: OutcomeClass.GONE,
    Outcome.DELETED: OutcomeClass.GONE,
    Outcome.BANNED: OutcomeClass.GONE,
    Outcome.BLOCKED: OutcomeClass.UNKNOWN,
    Outcome.RATE_LIMITED: OutcomeClass.UNKNOWN,
    Outcome.AUTH_REQUIRED: OutcomeClass.UNKNOWN,
    Outcome.ERROR: OutcomeClass.UNKNOWN,
}


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Post:
    """One item of an account's first page of content, newest first."""

    id: str
    published_at: datetime | None
    title: str | None = None
    url: str | None = None
    pinned: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the decision rests on, kept so a supervisor can see why an outcome was given.

    ``marker`` is the exact text, flag or code that decided a gone (or blocked) outcome;
    ``excerpt`` is a short, bounded slice of the response body.
    """

    http_status: int | None = None
    final_url: str | None = None
    source: str | None = None
    marker: str | None = None
    excerpt: str | None = None
    retry_after_s: float | None = None


@dataclass(slots=True)
class Observation:
    """The result of observing one account once. All datetimes are aware UTC."""

    platform: str
    handle: str
    outcome: Outcome
    observed_at: datetime = field(default_factory=utcnow)
    display_name: str | None = None
    verified: bool | None = None
    followers: int | None = None
    post_count: int | None = None
    last_post_at: datetime | None = None
    recent_posts: list[Post] = field(default_factory=list)
    interaction_enabled: bool | None = None
    evidence: Evidence = field(default_factory=Evidence)
    error: str | None = None
    elapsed_ms: float | None = None


@runtime_checkable
class Monitor(Protocol):
    """A platform adapter. ``observe`` never raises for upstream behaviour."""

    platform: str

    def validate_handle(self, handle: str) -> str:
        """Return the normalised handle, or raise ValueError with a message a supervisor reads."""
        ...

    async def observe(self, handle: str, client: httpx.AsyncClient) -> Observation:
        """Observe one account and classify the platform's answer into an Outcome."""
        ...
