"""Types 3, 22, 26, 27 and 50 end to end: the official SDK talks to OneRelay, which talks to a
fake upstream that answers chat on any path and records the path, query and body it got."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

import pytest
import tornado.web

from tests.conftest import Gateway, listen
from tests.fakeupstream import REPLY, ChatHandler, UpstreamState

MSG = [{"role": "user", "content": "hi"}]


class AnyPath:
    def __init__(self, state: UpstreamState, url: str) -> None:
        self.state = state
        self.url = url

    def last(self) -> Any:
        assert self.state.requests, "the upstream got no request"
        return self.state.requests[-1]


@pytest.fixture
async def up() -> AsyncIterator[AnyPath]:
    """An OpenAI chat upstream on every path (the shared fake routes only OpenAI's and Azure's)."""
    state = UpstreamState()
    app = tornado.web.Application([(r"/.*", ChatHandler, {"state": state})])
    server, port = listen(app)
    yield AnyPath(state, f"http://127.0.0.1:{port}")
    server.stop()


async def _chat(gw: Gateway, model: str, stream: bool = False, **kw: Any) -> str:
    key = await gw.token()
    c = gw.client(key)
    if stream:
        text = []
        async for chunk in await c.chat.completions.create(model=model, messages=MSG, stream=True, **kw):
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
        return "".join(text)
    resp = await c.chat.completions.create(model=model, messages=MSG, **kw)
    return resp.choices[0].message.content or ""


async def test_azure_deployment_loses_the_dots(gw: Gateway, up: AnyPath) -> None:
    await gw.channel(type=3, key="az", base_url=up.url + "/", models="gpt-3.5-turbo,gpt-4o",
                     model_mapping=json.dumps({"gpt-4o": "gpt-4.1"}), config='{"api_version": "2024-06-01"}')
    assert await _chat(gw, "gpt-3.5-turbo") == REPLY
    rec = up.last()
    assert rec.path == "/openai/deployments/gpt-35-turbo/chat/completions"
    assert rec.query == "api-version=2024-06-01" and rec.headers.get("Api-Key") == "az"
    assert rec.json["model"] == "gpt-3.5-turbo"  # the body is the client's
    assert await _chat(gw, "gpt-4o", stream=True) == REPLY  # mapped first, then the dots go
    assert up.last().path == "/openai/deployments/gpt-41/chat/completions"


async def test_fastgpt_path(gw: Gateway, up: AnyPath) -> None:
    await gw.channel(type=22, key="fg-host", base_url=up.url, models="fastgpt-app")
    assert await _chat(gw, "fastgpt-app") == REPLY
    assert up.last().path == "/api/openapi/v1/chat/completions" and up.last().key == "fg-host"
    # a base written One API's way (…/api/openapi) reaches the same path
    up.state.reset()
    await gw.channel(type=22, key="fg-oneapi", base_url=up.url + "/api/openapi", models="fastgpt-app2")
    assert await _chat(gw, "fastgpt-app2", stream=True) == REPLY
    assert up.last().path == "/api/openapi/v1/chat/completions" and up.last().key == "fg-oneapi"


async def test_baichuan_body_is_rebuilt(gw: Gateway, up: AnyPath) -> None:
    await gw.channel(type=26, key="bc", base_url=up.url, models="Baichuan4")
    got = await _chat(gw, "Baichuan4", frequency_penalty=0, presence_penalty=0, temperature=0.3,
                      extra_body={"with_search_enhance": True, "stop": None})
    assert got == REPLY
    rec = up.last()
    assert rec.path == "/v1/chat/completions" and rec.key == "bc"
    assert rec.json == {"model": "Baichuan4", "messages": MSG, "temperature": 0.3, "with_search_enhance": True}
    assert await _chat(gw, "Baichuan4", stream=True, frequency_penalty=0) == REPLY
    assert "frequency_penalty" not in up.last().json and up.last().json["stream"] is True


async def test_minimax_path(gw: Gateway, up: AnyPath) -> None:
    await gw.channel(type=27, key="mm", base_url=up.url, models="abab6.5s-chat")
    assert await _chat(gw, "abab6.5s-chat") == REPLY
    assert up.last().path == "/v1/text/chatcompletion_v2" and up.last().key == "mm"
    assert await _chat(gw, "abab6.5s-chat", stream=True) == REPLY
    assert up.last().path == "/v1/text/chatcompletion_v2"


async def test_openai_compatible_base_used_as_given(gw: Gateway, up: AnyPath) -> None:
    await gw.channel(type=50, key="oc", base_url=up.url + "/api/v3", models="ep-model")
    assert await _chat(gw, "ep-model", frequency_penalty=0) == REPLY
    rec = up.last()
    assert rec.path == "/api/v3/chat/completions" and rec.key == "oc"
    assert rec.json["frequency_penalty"] == 0  # pass-through: the client's body
    assert await _chat(gw, "ep-model", stream=True) == REPLY
    assert up.last().path == "/api/v3/chat/completions"
