"""A pytest plugin loaded (``-p onerelay_sdk_plugin``) into the SDK's own test run.

The SDK's ``tests/conftest.py`` hard-codes ``api_key = "My API Key"``; OneRelay needs one of its
tokens. This sets the conftest's module-level key (read by the ``client`` / ``async_client``
fixtures when they are created) from ``ONERELAY_CONFORMANCE_API_KEY`` once the conftest is
imported, without touching the downloaded source.

It also makes every client fail fast in both runs alike (no retries, a 30 s timeout) so a
failing endpoint costs one request instead of the SDK's three with back-off.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import openai


def _fast(cls: Any) -> None:
    init = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 30.0)
        init(self, *args, **kwargs)

    cls.__init__ = __init__


_fast(openai.OpenAI)
_fast(openai.AsyncOpenAI)


def pytest_collection_finish(session: Any) -> None:
    key = os.environ.get("ONERELAY_CONFORMANCE_API_KEY")
    if not key:
        return
    conftest = sys.modules.get("tests.conftest")
    if conftest is None or not hasattr(conftest, "api_key"):
        raise RuntimeError("the SDK's tests/conftest.py was not imported as tests.conftest, or has no api_key")
    conftest.api_key = key
    if hasattr(conftest, "admin_api_key"):
        conftest.admin_api_key = key
