"""Standard Webhooks signing: ``whsec_`` secrets and ``v1,`` HMAC-SHA256 signatures.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` over the exact bytes sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["SECRET_PREFIX", "new_secret", "sign", "signature_header", "verify"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` sent as ``msg_id`` at ``timestamp``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated (two during
    a rotation, so receivers holding either secret verify)."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


def verify(secret: str, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """Whether any ``v1`` signature in ``header`` matches (constant-time compare)."""
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, part) for part in header.split())
