"""OpenAI clients talking to an Anthropic (type 14) channel through the gateway."""

from __future__ import annotations

import json

import openai
import pytest

from tests.conftest import Gateway
from tests.fake_anthropic import INPUT_TOKENS, TEXT_OUTPUT_TOKENS, TEXT_REPLY, TOOL_OUTPUT_TOKENS

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


async def _setup(gw: Gateway, key: str = "sk-ant") -> str:
    await gw.channel(type=14, key=key, base_url=gw.upstream.url, models="claude-3-5-sonnet-20241022")
    return await gw.token()


async def test_chat_non_stream_converted(gw: Gateway) -> None:
    key = await _setup(gw)
    resp = await gw.client(key).chat.completions.create(
        model="claude-3-5-sonnet-20241022", max_tokens=100,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (INPUT_TOKENS, TEXT_OUTPUT_TOKENS)
    sent = gw.upstream.state.anthropic[-1]
    assert sent["headers"]["X-Api-Key"] == "sk-ant"
    assert sent["headers"]["Anthropic-Version"] == "2023-06-01"
    assert sent["json"]["system"] == "Be brief." and sent["json"]["max_tokens"] == 100
    logs = await gw.logs()
    # claude-3-5-sonnet: ratio 1.5, completion ratio 5 → ceil((12 + 5*5) * 1.5) = 56
    assert logs[0]["quota"] == 56 and logs[0]["prompt_tokens"] == INPUT_TOKENS


async def test_stream_with_tools(gw: Gateway) -> None:
    key = await _setup(gw)
    stream = await gw.client(key).chat.completions.create(
        model="claude-3-5-sonnet-20241022", messages=[{"role": "user", "content": "weather?"}],
        tools=TOOLS, stream=True, stream_options={"include_usage": True})
    args, name, finish, usage = "", None, None, None
    async for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or ():
                assert tc.index == 0
                name = tc.function.name or name
                args += tc.function.arguments or ""
            finish = ch.finish_reason or finish
    assert name == "get_weather" and json.loads(args) == {"city": "Paris"}
    assert finish == "tool_calls"
    assert usage is not None and usage.completion_tokens == TOOL_OUTPUT_TOKENS
    sent = gw.upstream.state.anthropic[-1]["json"]
    assert sent["stream"] is True and "stream_options" not in sent
    assert sent["tools"][0]["input_schema"]["properties"] == {"city": {"type": "string"}}
    logs = await gw.logs()
    assert logs[0]["is_stream"] and logs[0]["completion_tokens"] == TOOL_OUTPUT_TOKENS


async def test_anthropic_auth_error_relayed(gw: Gateway) -> None:
    key = await _setup(gw, key="bad-key")
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(key).chat.completions.create(
            model="claude-3-5-sonnet-20241022", messages=[{"role": "user", "content": "hi"}])
    assert "invalid x-api-key" in e.value.message


async def test_embeddings_on_anthropic_channel_is_refused(gw: Gateway) -> None:
    await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models="claude-embed")
    key = await gw.token()
    with pytest.raises(openai.APIStatusError) as e:
        await gw.client(key).embeddings.create(model="claude-embed", input="x")
    assert e.value.status_code == 503 and "does not support" in e.value.message
