"""Access tokens exchanged from channel keys (Baidu's OAuth token, Vertex's service-account
token), cached per key until shortly before they expire.

Adaptors stay pure: an adaptor with ``credentials`` builds the token request and reads the
answer; this cache does the I/O, once per key at a time (concurrent requests share one
exchange), and refreshes a token ``REFRESH_MARGIN`` seconds before it expires. Tokens live in
each process only: every node exchanges its own, which providers allow.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from adaptors.base import Adaptor, ChannelTarget, UpstreamFailure, UpstreamRejected

from .upstream import UpstreamCall, transport_error

REFRESH_MARGIN = 60.0  # seconds before expiry a token is renewed
MAX_ENTRIES = 10000


class CredentialCache:
    def __init__(self, http: Any, proxy: Any = None, timeout: float = 30.0) -> None:
        self.http = http
        self.proxy = proxy
        self.timeout = timeout
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}  # key -> (token, expires at)
        self._pending: dict[tuple[str, str], asyncio.Future[str]] = {}

    @staticmethod
    def _key(adaptor: Adaptor, target: ChannelTarget) -> tuple[str, str]:
        material = f"{target.key}\x00{target.base_url}\x00{sorted(target.config.items())!r}"
        return adaptor.name, hashlib.sha256(material.encode()).hexdigest()

    async def token(self, adaptor: Adaptor, target: ChannelTarget) -> str:
        """A valid token for this channel key; raises :class:`UpstreamRejected` when the
        provider refuses the key or cannot be reached."""
        key = self._key(adaptor, target)
        hit = self._tokens.get(key)
        if hit is not None and hit[1] - REFRESH_MARGIN > time.monotonic():
            return hit[0]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        try:
            token = await self._exchange(adaptor, target, key)
            fut.set_result(token)
            return token
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # retrieved: waiters get it through shield
            raise
        finally:
            self._pending.pop(key, None)

    async def _exchange(self, adaptor: Adaptor, target: ChannelTarget, key: tuple[str, str]) -> str:
        req = adaptor.token_request(target)
        resp = await UpstreamCall(self.http, req, timeout=self.timeout, proxy=self.proxy).fetch()
        if resp.code == 599:
            message = "token exchange failed: " + transport_error(resp)[0]
            raise UpstreamRejected(UpstreamFailure(
                status=502, message=message, code="token_exchange_failed", retryable=True,
                payload={"message": message, "type": "upstream_error", "param": "",
                         "code": "token_exchange_failed"}))
        grant = adaptor.parse_token(resp.code, resp.body or b"")
        if len(self._tokens) >= MAX_ENTRIES:
            self._tokens.clear()
        self._tokens[key] = (grant.token, time.monotonic() + max(0.0, grant.expires_in))
        return grant.token

    def forget(self, adaptor: Adaptor, target: ChannelTarget) -> None:
        """Drop a token the provider no longer accepts (the next request exchanges again)."""
        self._tokens.pop(self._key(adaptor, target), None)
