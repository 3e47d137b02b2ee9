"""Optional API keys: ``Authorization: Bearer KEY``, checked in constant time.

Keys come from the config, a keys file and ``$EMBEDLAB_API_KEYS`` (see ``ServerConfig``). With no
keys configured the server is open, which is the right default on 127.0.0.1 only: ``embedlab
serve`` warns when it listens on another address without keys.

A wrong or missing key costs the client's address a token of its own rate-limit bucket, so
guessing keys is answered 429 after a few tries instead of 401 forever.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Request

from embedlab.server.http.errors import ApiError


class ApiKeys:
    """The accepted keys; ``identify`` returns a stable, non-secret id for the caller's key."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = [key.encode("utf-8") for key in dict.fromkeys(keys)]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def identify(self, authorization: str | None) -> str | None:
        """None when keys are off; else the key's id, or a 401 for a missing or wrong key."""
        if not self._keys:
            return None
        if not authorization:
            raise ApiError(
                401,
                "this server needs an API key: send the header Authorization: Bearer YOUR_KEY",
                code="missing_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError(
                401,
                "the Authorization header must be 'Bearer YOUR_KEY'",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        candidate = given.strip().encode("utf-8", "surrogatepass")
        match = None
        for key in self._keys:  # every key is compared, so timing says nothing about which
            if hmac.compare_digest(candidate, key):
                match = key
        if match is None:
            raise ApiError(
                401,
                "incorrect API key provided",
                code="invalid_api_key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return "key-" + hashlib.sha256(match).hexdigest()[:12]


def authenticate(state: Any, authorization: str | None, address: str) -> str | None:
    """The key check, then the rate limit (by key, or by address when keys are off).

    A refused key first charges ``address`` in ``state.auth_failures``: once that bucket is
    empty the answer is 429 with ``Retry-After`` instead of 401.
    """
    try:
        key_id = state.keys.identify(authorization)
    except ApiError:
        state.auth_failures.check(address)
        raise
    state.rate_limiter.check(key_id or address)
    return key_id


async def require_api_key(request: Request) -> str | None:
    """FastAPI dependency: :func:`authenticate` with the request's header and address."""
    address = request.client.host if request.client else "unknown"
    return authenticate(request.app.state.embedlab, request.headers.get("authorization"), address)
