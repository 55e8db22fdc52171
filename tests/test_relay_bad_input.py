"""Bad input never yields a 500: every malformed request gets a 4xx OpenAI error."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Gateway

BODIES = [
    b"null", b"42", b'"str"', b"{", b"\xff\xfe", b'{"model": 5, "messages": []}',
    b'{"model": "M", "messages": "hello"}', b'{"model": "M", "messages": [1, "x", null]}',
    b'{"model": "M", "messages": [{"role": "user", "content": {"a": 1}}]}',
    b'{"model": "M", "messages": [{"role": "user", "content": [1, {"type": "image_url"}]}]}',
    b'{"model": "M", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}',
    b'{"model": "M", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5}',
    b'{"model": "M", "messages": [{"role": "user", "content": "x"}], "stream": "yes", "tools": "x"}',
    b'{"model": "M", "messages": [{"role": "tool"}, {"role": "assistant", "tool_calls": [1]}]}',
    b'{"model": "M", "messages": [{"role": "user", "content": "x"}], "stream_options": [], "stream": true}',
]


@pytest.mark.parametrize("channel_type", [1, 14])
async def test_malformed_bodies_never_500(gw: Gateway, channel_type: int) -> None:
    await gw.channel(type=channel_type, key="sk-ok", models="M")
    key = await gw.token()
    for body in BODIES:
        code, data = await gw.api("POST", "/v1/chat/completions", body, token="Bearer " + key)
        assert code < 500, (body, code, data)
        if code >= 400:
            assert isinstance(data, dict) and "message" in data["error"], (body, data)


async def test_wrong_method_and_embeddings_bad_input(gw: Gateway) -> None:
    await gw.channel(models="e")
    key = await gw.token()
    code, data = await gw.api("GET", "/v1/chat/completions", token="Bearer " + key)
    assert code == 404 and "Invalid URL" in data["error"]["message"]
    for body in (b'{"model": "e"}', b'{"model": "e", "input": []}', json.dumps({"model": "e", "input": ""}).encode()):
        code, data = await gw.api("POST", "/v1/embeddings", body, token="Bearer " + key)
        assert code == 400 and data["error"]["code"] == "invalid_input"
    code, data = await gw.api("POST", "/v1/completions", b'{"model": "e"}', token="Bearer " + key)
    assert code == 400 and data["error"]["code"] == "invalid_prompt"
