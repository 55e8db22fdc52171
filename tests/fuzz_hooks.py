"""Schemathesis checks for the /v1 runs (loaded with SCHEMATHESIS_HOOKS=tests.fuzz_hooks): a
relay may answer 502/503/504 (no channel for a made-up model, the upstream refused), but never a
500 of its own, and every error is in the API's format."""

from __future__ import annotations

import schemathesis


@schemathesis.check
def relay_errors_are_clean(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    if response.status_code >= 400:
        body = response.json()
        # The fake upstream's own 500s (it chokes on some odd-but-valid bodies) are relayed with
        # their status as One API does, typed upstream_error; OneRelay's own failures never are.
        relayed = (body.get("error") or {}).get("type") == "upstream_error"
        assert response.status_code != 500 or relayed, f"HTTP 500: {response.text[:300]}"
        if case.path.startswith("/v1/messages"):
            assert body.get("type") == "error" and isinstance(body["error"]["message"], str), body
        else:
            assert isinstance(body["error"]["message"], str), body
