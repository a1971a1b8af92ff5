"""Create, find and revoke API keys. Keys are random and only their SHA-256 is stored.

A key carries 256 bits of randomness, so a fast hash is enough: nothing can be brute-forced
from the hash, and looking a key up by its hash keeps authentication one indexed query.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.auth.models import ApiKey
from app.auth.schemas import Role
from app.db import utcnow

__all__ = [
    "Principal",
    "authenticate",
    "create_key",
    "hash_key",
    "key_ids_within",
    "list_keys",
    "revoke_key",
]

KEY_PREFIX = "lv_"
# Touch last_used_at at most this often, so reads do not turn into writes.
_LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, name, role and region scope."""

    key_id: int | None
    name: str
    role: Role
    region_prefix: str | None

    def allows(self, role: Role) -> bool:
        """Whether this principal holds ``role`` or a stronger one."""
        return self.role.rank >= role.rank

    def covers(self, region_code: str) -> bool:
        """Whether an account in ``region_code`` is inside this principal's scope."""
        return self.region_prefix is None or region_code.startswith(self.region_prefix)


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(
    session: AsyncSession, *, name: str, role: Role, region_prefix: str | None = None
) -> tuple[ApiKey, str]:
    """Create a key and return its row and the plain key, which is never stored."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        prefix=plain[: len(KEY_PREFIX) + 6],
        key_hash=hash_key(plain),
        role=role.value,
        region_prefix=region_prefix,
    )
    session.add(row)
    await session.flush()
    return row, plain


async def authenticate(session: AsyncSession, presented: str) -> ApiKey | None:
    """The live key matching ``presented``, or None. Compares hashes in constant time."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    digest = hash_key(presented)
    row = (await session.exec(select(ApiKey).where(ApiKey.key_hash == digest))).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        return None
    return row


def needs_touch(row: ApiKey) -> bool:
    """Whether the key's last use is old enough to be worth recording."""
    return row.last_used_at is None or utcnow() - row.last_used_at > _LAST_USED_RESOLUTION


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, newest first, revoked ones included."""
    return list((await session.exec(select(ApiKey).order_by(col(ApiKey.id).desc()))).all())


async def key_ids_within(session: AsyncSession, region_prefix: str) -> list[int]:
    """Ids of the keys (revoked ones included) scoped inside ``region_prefix``."""
    query = select(ApiKey.id).where(col(ApiKey.region_prefix).startswith(region_prefix))
    return [key_id for key_id in (await session.exec(query)).all() if key_id is not None]


async def get_key(session: AsyncSession, key_id: int) -> ApiKey | None:
    """One key by id."""
    return await session.get(ApiKey, key_id)


async def revoke_key(session: AsyncSession, key: ApiKey) -> ApiKey:
    """Revoke ``key`` (idempotent); it stops working at once."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        await session.flush()
    return key
