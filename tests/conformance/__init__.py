"""The ``openai`` SDK's own generated API tests, run against OneRelay (issue 10).

The SDK's source distribution ships ``tests/api_resources/``: for every API method, calls
with minimal and with all parameters (sync and async; plain, raw and streaming-response
wrappers; loose and strict response validation) that are normally pointed at a Prism mock of
the OpenAPI spec through ``TEST_API_BASE_URL``. ``tests/test_openai_conformance.py`` points
them at OneRelay instead:

1. ``harness.sdk_tests_dir()`` runs ``pip download --no-binary :all: --no-deps
   openai==<installed version>`` and keeps the sdist's ``tests/`` and ``pyproject.toml`` under
   the git-ignored ``test-artifacts/openai-sdist/<version>/`` (downloaded once per version,
   never committed); ``harness.ensure_test_deps()`` pip-installs what those tests import that
   OneRelay's test extra does not (``rich``, ``aiohttp``).
2. ``fake_upstream`` is a Tornado server answering every route those tests call with a body
   of the right shape (JSON objects, list pages, audio bytes, SSE streams for ``stream: true``).
3. A OneRelay gateway (``tests.conftest.running_gateway``) gets one type-1 (OpenAI) channel
   to the fake with every model name the tests use, and an unlimited token. The Responses ids
   the by-id tests ask for (retrieve, delete, cancel, input_items) are first created through
   OneRelay (the fake answers them), since OneRelay forwards only ids it created.
4. The selected test files (``harness.SELECTED``: chat completions, completions, embeddings,
   images, audio speech/transcriptions/translations, moderations, models, responses and its
   input items / input tokens) run twice, concurrently, in ``python -m pytest`` subprocesses:
   with ``TEST_API_BASE_URL`` = the fake's ``/v1``, and = OneRelay's ``/v1`` with the token
   as API key (``onerelay_sdk_plugin`` swaps it in for the conftest's hard-coded key and
   turns SDK retries off in both runs).
5. Every test that passed against the fake must pass through OneRelay, unless it fails exactly
   as a ``harness.KNOWN_DIVERGENCES`` entry says (a route OneRelay answers differently on
   purpose, or a listed bug). The test prints a per-resource table (tests / passed directly /
   passed through OneRelay / known / regressions), then the known divergences and each
   regression with its failure line.

Note: the SDK's ``audio/test_speech.py`` tests mock the HTTP layer (respx) at the base URL, so
they pass in both runs without reaching the fake or OneRelay.

Run it alone: ``python -m pytest -q tests/test_openai_conformance.py -s``.
"""
