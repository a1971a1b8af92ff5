"""Who may read /metrics when ``LIVENESS_METRICS_TOKEN`` is set: a bearer of that token.

One rule for the API's /metrics and for the scheduler's and workers' own metrics servers. The
token is compared in constant time and never logged (it is a SecretStr everywhere).
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr

__all__ = ["UNAUTHORIZED_DETAIL", "bearer_credentials", "token_matches"]

UNAUTHORIZED_DETAIL = (
    "/metrics needs the metrics token: Authorization: Bearer <LIVENESS_METRICS_TOKEN>"
)


def bearer_credentials(authorization: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer <credentials>`` header (the scheme in any
    case, RFC 9110); None for no header or another scheme."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def token_matches(given: str | None, token: SecretStr) -> bool:
    """Whether ``given`` is the token, in time that does not depend on where they differ."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())
