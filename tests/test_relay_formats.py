"""``/v1/messages`` and ``/v1/responses`` end to end, through a real OneRelay, with the official
SDKs as clients: the ``anthropic`` SDK against Claude channels (bytes passed through) and OpenAI
channels (converted to chat), the ``openai`` SDK's Responses API against a native Responses
upstream (tests/fake_responses.py: ids remembered for the follow-up calls) and a chat-only
channel (converted). Billing and logs are checked as for chat.

One gateway and one fake Responses server serve the whole module; every test starts with no
channels, RetryTimes 0 and empty upstream records, and reads only the logs of its own token.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, AsyncIterator

import anthropic
import openai
import pytest

try:  # the HTTP library these SDK builds use (httpx2 here, httpx in others)
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

from relay import ratios
from tests.conftest import Gateway, Upstream, listen, start_gateway
from tests.fake_anthropic import (
    INPUT_TOKENS as CLAUDE_IN,
    MESSAGE_ID as CLAUDE_MESSAGE_ID,
    TEXT_OUTPUT_TOKENS as CLAUDE_TEXT_OUT,
    TEXT_REPLY as CLAUDE_TEXT,
    TOOL_INPUT as CLAUDE_TOOL_INPUT,
    TOOL_OUTPUT_TOKENS as CLAUDE_TOOL_OUT,
)
from tests.fake_responses import (
    CALL_ARGS,
    CHAT_USAGE as TOOLS_CHAT_USAGE,
    CLAUDE_USAGE as THINKING_USAGE,
    INPUT_TOKENS_COUNT,
    STREAM_CALLS,
    TEXT as RESP_TEXT,
    THINKING,
    THINKING_SIGNATURE,
    USAGE as RESP_USAGE,
    FakeResponsesState,
    make_fake_responses_app,
)
from tests.fakeupstream import REPLY as CHAT_TEXT, USAGE as CHAT_USAGE

CLAUDE = "claude-3-5-sonnet-20241022"
GPT = "gpt-3.5-turbo"
NATIVE = "gpt-4o"
DEEPSEEK = "deepseek-chat"
OTHER_USER_TOKEN = "f" * 32

WEATHER_TOOL = {"name": "get_weather", "description": "The weather of a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}}
FN_WEATHER = {"type": "function", "name": "get_weather", "description": "The weather of a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
              "strict": False}
_names = itertools.count(1)


# --------------------------------------------------------------------------- fixtures


class Fake:
    def __init__(self, state: FakeResponsesState, url: str) -> None:
        self.state, self.url = state, url


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[Fake]:
    state = FakeResponsesState()
    server, port = listen(make_fake_responses_app(state))
    yield Fake(state, f"http://127.0.0.1:{port}")
    server.stop()


@pytest.fixture(scope="module")
async def shared_gw(mongo: Any, upstream: Upstream, tmp_root: str) -> AsyncIterator[Gateway]:
    gateway, server = await start_gateway(mongo, upstream, tmp_root)
    await gateway.ctx.users.create("other", "password123", role=1, quota=10**9, access_token=OTHER_USER_TOKEN)
    try:
        yield gateway
    finally:
        server.stop()
        await gateway.ctx.stop()
        gateway.http.close()


@pytest.fixture
async def gw(shared_gw: Gateway, fake: Fake) -> AsyncIterator[Gateway]:
    """The module's gateway, with no channels and nothing recorded upstream."""
    await _clean(shared_gw, fake)
    yield shared_gw
    await _clean(shared_gw, fake)


async def _clean(gw: Gateway, fake: Fake) -> None:
    for doc in [d async for d in gw.ctx.db.channels.find({}, {"_id": 1})]:
        await gw.ok("DELETE", f"/api/channel/{doc['_id']}")
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "0"})
    gw.upstream.state.reset()
    fake.state.reset()


async def new_token(gw: Gateway, **fields: Any) -> tuple[str, str]:
    """(key, name): a fresh token whose logs no other test shares."""
    name = f"fmt{next(_names)}"
    return await gw.token(name=name, **fields), name


async def logs_of(gw: Gateway, name: str) -> list[dict[str, Any]]:
    return await gw.logs(token_name=name)


def quota(gw: Gateway, model: str, channel_type: int, prompt: int, completion: int) -> int:
    opts = gw.ctx.options
    mr = ratios.model_ratio(opts.json("ModelRatio"), model, channel_type)
    gr = ratios.group_ratio(opts.json("GroupRatio"), "default")
    cr = ratios.completion_ratio(opts.json("CompletionRatio"), model, channel_type)
    return ratios.quota_for(prompt, completion, mr * gr, cr)


def recording_http(sent: list[Any]) -> Any:
    async def hook(request: Any) -> None:
        sent.append(request)
    return httpx.AsyncClient(event_hooks={"request": [hook]}, timeout=60.0)


def claude_client(gw: Gateway, key: str, *, bearer: bool = False, sent: list[Any] | None = None,
                  **kw: Any) -> anthropic.AsyncAnthropic:
    """The anthropic SDK pointed at OneRelay (it appends /v1/messages to the base URL), sending
    the key as ``x-api-key`` (as Claude Code does), or as ``Authorization: Bearer`` (this SDK's
    own way with ``api_key``)."""
    http = recording_http(sent if sent is not None else [])
    if bearer:
        return anthropic.AsyncAnthropic(base_url=gw.url, max_retries=0, http_client=http, api_key=key, **kw)
    headers = {**kw.pop("default_headers", {}), "X-Api-Key": key}
    return anthropic.AsyncAnthropic(base_url=gw.url, max_retries=0, http_client=http, api_key=None,
                                    auth_token=None, default_headers=headers, **kw)


def oai_client(gw: Gateway, key: str, sent: list[Any] | None = None) -> openai.AsyncOpenAI:
    return gw.client(key, http_client=recording_http(sent if sent is not None else []))


# =========================================================================== anthropic SDK → Claude


async def test_claude_plain_passes_bytes_and_beta_header(gw: Gateway) -> None:
    ch = await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models=CLAUDE)
    key, name = await new_token(gw)
    sent: list[Any] = []
    client = claude_client(gw, key, sent=sent, default_headers={"anthropic-beta": "prompt-caching-2024-07-31"})
    msg = await client.messages.create(
        model=CLAUDE, max_tokens=100, system="Be brief.", metadata={"user_id": "u-1"}, extra_body={"temperature": 0.2},
        messages=[{"role": "user", "content": "hi"}])
    assert msg.id == CLAUDE_MESSAGE_ID and msg.type == "message" and msg.role == "assistant"
    assert msg.content[0].type == "text" and msg.content[0].text == CLAUDE_TEXT
    assert msg.stop_reason == "end_turn"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (CLAUDE_IN, CLAUDE_TEXT_OUT)
    # what the SDK sent is what the Claude upstream got, with the channel's key and the client's beta
    got = gw.upstream.state.anthropic[-1]
    assert got["path"] == "/v1/messages"
    assert got["json"] == json.loads(sent[-1].content)
    assert got["headers"]["X-Api-Key"] == "sk-ant"
    assert "prompt-caching-2024-07-31" in got["headers"]["Anthropic-Beta"].split(",")
    assert got["headers"]["Anthropic-Version"] == sent[-1].headers["anthropic-version"]
    [log] = await logs_of(gw, name)
    assert log["channel"] == ch and log["model_name"] == CLAUDE and not log["is_stream"]
    assert (log["prompt_tokens"], log["completion_tokens"]) == (CLAUDE_IN, CLAUDE_TEXT_OUT)
    assert log["quota"] == quota(gw, CLAUDE, 14, CLAUDE_IN, CLAUDE_TEXT_OUT) == 56


async def test_claude_stream_passthrough(gw: Gateway) -> None:
    await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models=CLAUDE)
    key, name = await new_token(gw)
    sent: list[Any] = []
    async with claude_client(gw, key, sent=sent).messages.stream(
            model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "hi"}]) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert text == CLAUDE_TEXT and final.content[0].text == CLAUDE_TEXT  # type: ignore[union-attr]
    assert final.id == CLAUDE_MESSAGE_ID and final.usage.output_tokens == CLAUDE_TEXT_OUT
    got = gw.upstream.state.anthropic[-1]["json"]
    assert got == json.loads(sent[-1].content) and got["stream"] is True
    [log] = await logs_of(gw, name)
    assert log["is_stream"] and (log["prompt_tokens"], log["completion_tokens"]) == (CLAUDE_IN, CLAUDE_TEXT_OUT)
    assert log["quota"] == 56


async def test_claude_tool_use_plain_and_stream(gw: Gateway) -> None:
    await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models=CLAUDE)
    key, name = await new_token(gw)
    client = claude_client(gw, key)
    msg = await client.messages.create(model=CLAUDE, max_tokens=100, tools=[WEATHER_TOOL],  # type: ignore[list-item]
                                       messages=[{"role": "user", "content": "weather in Paris?"}])
    assert msg.stop_reason == "tool_use"
    [use] = msg.content
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == CLAUDE_TOOL_INPUT
    async with client.messages.stream(model=CLAUDE, max_tokens=100, tools=[WEATHER_TOOL],  # type: ignore[list-item]
                                      messages=[{"role": "user", "content": "weather?"}]) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[0].input == CLAUDE_TOOL_INPUT  # type: ignore[union-attr]
    assert gw.upstream.state.anthropic[-1]["json"]["tools"] == [WEATHER_TOOL]
    logs = await logs_of(gw, name)
    assert [l["completion_tokens"] for l in logs] == [CLAUDE_TOOL_OUT, CLAUDE_TOOL_OUT]
    assert {l["quota"] for l in logs} == {quota(gw, CLAUDE, 14, CLAUDE_IN, CLAUDE_TOOL_OUT)}


async def test_claude_thinking_plain_and_stream(gw: Gateway, fake: Fake) -> None:
    await gw.channel(type=14, key="sk-think", base_url=fake.url, models=CLAUDE)
    key, name = await new_token(gw)
    client = claude_client(gw, key)
    thinking = {"type": "enabled", "budget_tokens": 2048}
    msg = await client.messages.create(model=CLAUDE, max_tokens=4096, thinking=thinking,  # type: ignore[arg-type]
                                       messages=[{"role": "user", "content": "hi"}])
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == THINKING and msg.content[0].signature == THINKING_SIGNATURE  # type: ignore[union-attr]
    async with client.messages.stream(model=CLAUDE, max_tokens=4096, thinking=thinking,  # type: ignore[arg-type]
                                      messages=[{"role": "user", "content": "hi"}]) as stream:
        final = await stream.get_final_message()
    assert final.content[0].thinking == THINKING and final.content[0].signature == THINKING_SIGNATURE  # type: ignore[union-attr]
    assert final.content[1].text == RESP_TEXT  # type: ignore[union-attr]
    assert fake.state.last("/v1/messages").json["thinking"] == thinking
    logs = await logs_of(gw, name)
    assert [(l["prompt_tokens"], l["completion_tokens"]) for l in logs] == \
        [(THINKING_USAGE["input_tokens"], THINKING_USAGE["output_tokens"])] * 2


async def test_count_tokens_is_local_and_free(gw: Gateway) -> None:
    await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models=CLAUDE)
    key, name = await new_token(gw)
    client = claude_client(gw, key)
    small = await client.messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "hi"}])
    big = await client.messages.count_tokens(
        model=CLAUDE, system="You are a careful assistant. " * 20, tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "What is the weather in Paris today?"}])
    assert 0 < small.input_tokens < big.input_tokens
    assert gw.upstream.state.anthropic == [] and await logs_of(gw, name) == []
    limited, _ = await new_token(gw, models=GPT)
    with pytest.raises(anthropic.PermissionDeniedError) as e:  # not one of the token's models
        await claude_client(gw, limited).messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["error"]["type"] == "permission_error"  # type: ignore[index]


async def test_claude_429_retried_on_next_channel(gw: Gateway, fake: Fake) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=14, key="fail-429", base_url=fake.url, models=CLAUDE, priority=10)
    good = await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models=CLAUDE, priority=0)
    key, name = await new_token(gw)
    msg = await claude_client(gw, key).messages.create(model=CLAUDE, max_tokens=10,
                                                       messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == CLAUDE_TEXT  # type: ignore[union-attr]
    assert len(fake.state.requests) == 1 and len(gw.upstream.state.anthropic) == 1
    [log] = await logs_of(gw, name)
    assert log["channel"] == good


async def test_claude_upstream_errors_in_anthropic_shape(gw: Gateway, fake: Fake) -> None:
    await gw.channel(type=14, key="fail-429", base_url=fake.url, models="claude-busy")
    await gw.channel(type=14, key="bad-key", base_url=gw.upstream.url, models="claude-badkey")
    await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models=CLAUDE)
    key, name = await new_token(gw)
    client = claude_client(gw, key)
    hi = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.RateLimitError) as rate:
        await client.messages.create(model="claude-busy", max_tokens=10, messages=hi)  # type: ignore[arg-type]
    assert rate.value.body["type"] == "error"  # type: ignore[index]
    assert rate.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    with pytest.raises(anthropic.AuthenticationError) as auth:
        await client.messages.create(model="claude-badkey", max_tokens=10, messages=hi)  # type: ignore[arg-type]
    assert auth.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert "invalid x-api-key" in auth.value.message
    # the upstream's own validation, relayed: an unknown top-level field
    with pytest.raises(anthropic.BadRequestError) as bad:
        await client.messages.create(model=CLAUDE, max_tokens=10, messages=hi,  # type: ignore[arg-type]
                                     extra_body={"not_a_field": 1})
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "Extra inputs are not permitted" in bad.value.message
    assert await logs_of(gw, name) == []


# =========================================================================== anthropic SDK → OpenAI


async def test_openai_channel_plain(gw: Gateway) -> None:
    ch = await gw.channel(type=1, key="sk-oa", models=GPT)
    key, name = await new_token(gw)
    msg = await claude_client(gw, key).messages.create(
        model=GPT, max_tokens=64, system=[{"type": "text", "text": "Be brief."}],
        stop_sequences=["END"], messages=[{"role": "user", "content": "hi"}])
    assert msg.type == "message" and msg.model == GPT and msg.id.startswith("msg_")
    assert msg.content[0].text == CHAT_TEXT and msg.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (CHAT_USAGE["prompt_tokens"],
                                                                 CHAT_USAGE["completion_tokens"])
    rec = gw.upstream.state.requests[-1]
    assert rec.path == "/v1/chat/completions" and rec.key == "sk-oa"
    assert rec.json["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert rec.json["max_tokens"] == 64 and rec.json["stop"] == ["END"] and "stream" not in rec.json
    [log] = await logs_of(gw, name)
    assert log["channel"] == ch and log["quota"] == 12
    assert (log["prompt_tokens"], log["completion_tokens"]) == (9, 12)


async def test_openai_channel_stream(gw: Gateway) -> None:
    await gw.channel(type=1, key="sk-oa", models=GPT)
    key, name = await new_token(gw)
    async with claude_client(gw, key).messages.stream(
            model=GPT, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
        kinds = []
        async for event in stream:
            kinds.append(event.type)
        final = await stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.content[0].text == CHAT_TEXT and final.stop_reason == "end_turn"  # type: ignore[union-attr]
    assert final.usage.output_tokens == 12
    sent = gw.upstream.state.requests[-1].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    [log] = await logs_of(gw, name)
    assert log["is_stream"] and log["quota"] == 12 and log["completion_tokens"] == 12


async def test_openai_channel_tool_call_round_trip(gw: Gateway) -> None:
    await gw.channel(type=1, key="sk-oa", models=GPT)
    key, name = await new_token(gw)
    client = claude_client(gw, key)
    ask = {"role": "user", "content": "weather in Paris?"}
    msg = await client.messages.create(model=GPT, max_tokens=64, tools=[WEATHER_TOOL],  # type: ignore[list-item]
                                       tool_choice={"type": "any"}, messages=[ask])  # type: ignore[list-item]
    assert msg.stop_reason == "tool_use"
    [use] = msg.content
    assert use.type == "tool_use" and use.id == "call_1" and use.name == "get_weather"
    assert use.input == {"city": "Paris"}
    sent = gw.upstream.state.requests[-1].json
    assert sent["tool_choice"] == "required"
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tools"][0]["function"]["parameters"] == WEATHER_TOOL["input_schema"]
    # the tool's result back: an assistant tool call and a tool message upstream
    final = await client.messages.create(model=GPT, max_tokens=64, messages=[  # type: ignore[list-item]
        ask, {"role": "assistant", "content": [use.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21°C"}]}])
    assert final.content[0].text == CHAT_TEXT  # type: ignore[union-attr]
    msgs = gw.upstream.state.requests[-1].json["messages"]
    assert msgs[1]["tool_calls"][0]["id"] == "call_1"
    assert json.loads(msgs[1]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert msgs[2] == {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21°C"}
    assert len(await logs_of(gw, name)) == 2


async def test_messages_errors_in_anthropic_shape(gw: Gateway) -> None:
    await gw.channel(type=1, key="sk-oa", models=GPT)
    key, name = await new_token(gw)
    client = claude_client(gw, key)
    hi = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.APIStatusError) as none:
        await client.messages.create(model="gpt-unrouted", max_tokens=10, messages=hi)  # type: ignore[arg-type]
    assert none.value.status_code == 503 and none.value.body["type"] == "error"  # type: ignore[index]
    assert "No available channel for model gpt-unrouted" in none.value.message
    with pytest.raises(anthropic.AuthenticationError) as auth:
        await claude_client(gw, "sk-not-a-token").messages.create(model=GPT, max_tokens=10, messages=hi)  # type: ignore[arg-type]
    assert auth.value.body == {"type": "error", "error": {"type": "authentication_error",  # type: ignore[comparison-overlap]
                                                          "message": auth.value.body["error"]["message"]}}  # type: ignore[index]
    # invalid bodies the SDK would not send: raw requests
    for body, words in [({"model": GPT, "messages": hi}, "max_tokens"),
                        ({"model": GPT, "max_tokens": 10, "messages": []}, "messages"),
                        ({"model": GPT, "max_tokens": 10, "messages": [{"role": "tool", "content": "x"}]}, "role")]:
        code, data = await gw.api("POST", "/v1/messages", body, token=None, headers={"x-api-key": key})
        assert code == 400, (body, data)
        assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error", data
        assert words in data["error"]["message"], data
    code, data = await gw.api("POST", "/v1/messages", b"{not json", token=None, headers={"x-api-key": key})
    assert code == 400 and data["error"]["type"] == "invalid_request_error", data
    code, data = await gw.api("POST", "/v1/messages", {"model": GPT, "max_tokens": 1, "messages": hi}, token=None)
    assert code == 401 and data["error"]["type"] == "authentication_error", data
    assert gw.upstream.state.requests == [] and await logs_of(gw, name) == []


# =========================================================================== Claude-Code-like traffic

CC_BETA = "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
CC_TOOLS = [{"name": f"Tool{i:02d}", "description": f"Tool number {i}: " + "does things. " * 10,
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
                              "required": ["city"], "additionalProperties": False,
                              "$schema": "http://json-schema.org/draft-07/schema#"}} for i in range(24)]
CC_TOOLS[-1] = {**CC_TOOLS[-1], "cache_control": {"type": "ephemeral"}}
CC_SYSTEM = [
    {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
    {"type": "text", "text": "You are an interactive CLI tool that helps users with software engineering tasks. "
                             * 60, "cache_control": {"type": "ephemeral"}},
]
CC_MESSAGES = [
    {"role": "user", "content": [{"type": "text", "text": "<system-reminder>context</system-reminder>"},
                                 {"type": "text", "text": "List the files", "cache_control": {"type": "ephemeral"}}]},
    {"role": "assistant", "content": [{"type": "text", "text": "I'll look."},
                                      {"type": "tool_use", "id": "toolu_01A", "name": "Tool00",
                                       "input": {"city": "Paris"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A", "content": "a.py\nb.py"},
                                 {"type": "text", "text": "Now check the weather", "cache_control": {"type": "ephemeral"}}]},
]


async def _claude_code_stream(gw: Gateway, key: str, model: str, sent: list[Any]) -> Any:
    """Claude Code's way: the beta Messages endpoint (``?beta=true`` as Claude Code adds it, betas
    in ``anthropic-beta``),
    a token count first, then the streamed turn."""
    client = claude_client(gw, key, sent=sent)
    betas = CC_BETA.split(",")
    counted = await client.beta.messages.count_tokens(model=model, system=CC_SYSTEM, tools=CC_TOOLS,  # type: ignore[arg-type]
                                                      messages=CC_MESSAGES, betas=betas,  # type: ignore[arg-type]
                                                      extra_query={"beta": "true"})
    assert counted.input_tokens > 1000 and sent[-1].url.params.get("beta") == "true"
    async with client.beta.messages.stream(
            model=model, max_tokens=32000, system=CC_SYSTEM, tools=CC_TOOLS, messages=CC_MESSAGES,  # type: ignore[arg-type]
            metadata={"user_id": "user_abc_account_def_session_123"}, betas=betas,
            extra_body={"temperature": 1}, extra_query={"beta": "true"}) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_message()
    assert sent[-1].url.path == "/v1/messages" and sent[-1].url.params.get("beta") == "true"
    return final


async def test_claude_code_traffic_to_claude(gw: Gateway) -> None:
    await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models=CLAUDE)
    key, name = await new_token(gw)
    sent: list[Any] = []
    final = await _claude_code_stream(gw, key, CLAUDE, sent)
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "tool_use" and final.content[0].name == "Tool00"
    assert final.content[0].input == CLAUDE_TOOL_INPUT
    assert len(gw.upstream.state.anthropic) == 1  # the count was local
    got = gw.upstream.state.anthropic[-1]
    assert got["json"] == json.loads(sent[-1].content)  # cache_control and all, as sent
    assert got["headers"]["Anthropic-Beta"].split(",") == CC_BETA.split(",")
    [log] = await logs_of(gw, name)
    assert log["is_stream"] and log["completion_tokens"] == CLAUDE_TOOL_OUT


async def test_claude_code_traffic_to_openai_channel(gw: Gateway, fake: Fake) -> None:
    # an OpenAI-compatible channel whose chat streams carry tool calls (tests/fake_responses.py)
    await gw.channel(type=50, key="sk-compat", base_url=fake.url + "/v1", models=GPT)
    key, name = await new_token(gw)
    final = await _claude_code_stream(gw, key, GPT, [])
    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["text"] + ["tool_use"] * STREAM_CALLS
    assert final.content[0].text == "Let me check."  # type: ignore[union-attr]
    for i, block in enumerate(final.content[1:]):
        assert block.id == f"call_{i}" and block.name == f"Tool{i:02d}"  # type: ignore[union-attr]
        assert block.input == json.loads(CALL_ARGS)  # type: ignore[union-attr]
    assert final.usage.output_tokens == TOOLS_CHAT_USAGE["completion_tokens"]
    sent = fake.state.last("/chat/completions").json
    assert sent["stream"] is True and len(sent["tools"]) == len(CC_TOOLS)
    assert "cache_control" not in json.dumps(sent)
    assert sent["messages"][0]["role"] == "system" and sent["messages"][0]["content"].startswith("You are Claude Code")
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert sent["messages"][2]["tool_calls"][0]["id"] == "toolu_01A"
    assert sent["messages"][3] == {"role": "tool", "tool_call_id": "toolu_01A", "content": "a.py\nb.py"}
    assert sent["user"] == "user_abc_account_def_session_123"
    [log] = await logs_of(gw, name)
    assert log["is_stream"]
    assert (log["prompt_tokens"], log["completion_tokens"]) == (TOOLS_CHAT_USAGE["prompt_tokens"],
                                                                TOOLS_CHAT_USAGE["completion_tokens"])


# =========================================================================== auth and models


async def test_x_api_key_and_bearer_and_models_list(gw: Gateway) -> None:
    await gw.channel(type=14, key="sk-ant", base_url=gw.upstream.url, models=CLAUDE)
    await gw.channel(type=1, key="sk-oa", models=GPT)
    key, name = await new_token(gw)
    hi = [{"role": "user", "content": "hi"}]
    for bearer in (False, True):
        sent: list[Any] = []
        client = claude_client(gw, key, bearer=bearer, sent=sent)
        msg = await client.messages.create(model=CLAUDE, max_tokens=10, messages=hi)  # type: ignore[arg-type]
        assert msg.content[0].text == CLAUDE_TEXT  # type: ignore[union-attr]
        assert ("authorization" in sent[-1].headers) is bearer and ("x-api-key" in sent[-1].headers) is not bearer
        # the client's key never reaches the upstream: the channel's does
        assert gw.upstream.state.anthropic[-1]["headers"]["X-Api-Key"] == "sk-ant"
        assert "Authorization" not in gw.upstream.state.anthropic[-1]["headers"]
        models = [m async for m in client.models.list()]
        assert sorted(m.id for m in models) == sorted([CLAUDE, GPT])
        assert all(m.type == "model" and m.display_name for m in models)
        got = await client.models.retrieve(CLAUDE)
        assert got.id == CLAUDE and got.type == "model"
    assert len(await logs_of(gw, name)) == 2
    with pytest.raises(anthropic.AuthenticationError):
        await claude_client(gw, "sk-wrong", bearer=True).messages.create(model=CLAUDE, max_tokens=10, messages=hi)  # type: ignore[arg-type]
    limited, _ = await new_token(gw, models=GPT)
    assert [m.id async for m in claude_client(gw, limited).models.list()] == [GPT]
    with pytest.raises(anthropic.PermissionDeniedError):  # not in the token's models
        await claude_client(gw, limited).messages.create(model=CLAUDE, max_tokens=10, messages=hi)  # type: ignore[arg-type]


# =========================================================================== openai SDK Responses → native


async def test_responses_native_create_passthrough_and_billing(gw: Gateway, fake: Fake) -> None:
    ch = await gw.channel(type=1, key="sk-native", base_url=fake.url, models=NATIVE)
    key, name = await new_token(gw)
    sent: list[Any] = []
    resp = await oai_client(gw, key, sent).responses.create(
        model=NATIVE, input="hi", instructions="Be brief.", metadata={"k": "v"}, max_output_tokens=100)
    assert resp.id.startswith("resp_fake") and resp.output_text == RESP_TEXT and resp.status == "completed"
    assert resp.usage is not None and resp.usage.input_tokens_details.cached_tokens == 10
    assert resp.usage.output_tokens_details.reasoning_tokens == 8
    seen = fake.state.last("/v1/responses")
    assert seen.raw == sent[-1].content  # the bytes as the SDK sent them
    assert seen.key == "sk-native" and seen.method == "POST"
    [log] = await logs_of(gw, name)
    assert log["channel"] == ch and not log["is_stream"] and log["model_name"] == NATIVE
    assert (log["prompt_tokens"], log["completion_tokens"]) == (RESP_USAGE["input_tokens"], RESP_USAGE["output_tokens"])
    assert log["quota"] == quota(gw, NATIVE, 1, 30, 20)


async def test_responses_native_stream(gw: Gateway, fake: Fake) -> None:
    await gw.channel(type=1, key="sk-native", base_url=fake.url, models=NATIVE)
    key, name = await new_token(gw)
    client = oai_client(gw, key)
    async with client.responses.stream(model=NATIVE, input="hi") as stream:
        events = [e async for e in stream]
        final = await stream.get_final_response()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == RESP_TEXT
    assert final.output_text == RESP_TEXT and final.id.startswith("resp_fake")
    assert json.loads(fake.state.last("/v1/responses").raw)["stream"] is True
    [log] = await logs_of(gw, name)
    assert log["is_stream"] and (log["prompt_tokens"], log["completion_tokens"]) == (30, 20)
    # a streamed response is remembered too
    got = await client.responses.retrieve(final.id)
    assert got.id == final.id and got.output_text == RESP_TEXT


async def test_responses_native_follow_ups_reach_the_creating_channel(gw: Gateway, fake: Fake) -> None:
    first = await gw.channel(type=1, key="sk-native-a", base_url=fake.url, models=NATIVE)
    key, name = await new_token(gw)
    client = oai_client(gw, key)
    created = await client.responses.create(model=NATIVE, input=[
        {"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"}])
    # a newer, preferred channel for the model: follow-ups still go to the first one
    await gw.channel(type=1, key="sk-native-b", base_url=fake.url, models=NATIVE, priority=10)
    got = await client.responses.retrieve(created.id)
    assert got.id == created.id and got.output_text == RESP_TEXT
    page = await client.responses.input_items.list(created.id, order="asc", limit=2)
    assert [i.content[0].text for i in page.data] == ["one", "two"]  # type: ignore[union-attr]
    assert page.has_more and sorted(fake.state.last("/input_items").query.split("&")) == ["limit=2", "order=asc"]
    items = [i async for i in client.responses.input_items.list(created.id, order="asc", limit=2)]
    assert [i.content[0].text for i in items] == ["one", "two", "three"]  # type: ignore[union-attr]
    assert "after=" + page.data[-1].id in fake.state.last("/input_items").query  # the SDK's next page
    cancelled = await client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    deleted = await client.responses.delete(created.id)
    assert deleted is None
    with pytest.raises(openai.NotFoundError):  # gone upstream: its 404 relayed
        await client.responses.retrieve(created.id)
    follow_ups = [r for r in fake.state.requests if r.path != "/v1/responses"]
    assert [(r.method, r.path.removeprefix(f"/v1/responses/{created.id}")) for r in follow_ups] == [
        ("GET", ""), ("GET", "/input_items"), ("GET", "/input_items"), ("GET", "/input_items"),
        ("POST", "/cancel"), ("DELETE", ""), ("GET", "")]
    assert {r.key for r in follow_ups} == {"sk-native-a"}
    # another user's key does not see the response
    other, _ = await new_token(gw, as_token=OTHER_USER_TOKEN)
    with pytest.raises(openai.NotFoundError) as e:
        await oai_client(gw, other).responses.retrieve(created.id)
    assert e.value.code == "response_not_found"
    with pytest.raises(openai.NotFoundError):
        await oai_client(gw, other).responses.delete(created.id)
    assert len(fake.state.requests) == 1 + len(follow_ups)
    # follow-ups are not billed
    [log] = await logs_of(gw, name)
    assert log["channel"] == first


async def test_responses_native_follow_ups_use_the_creating_key(gw: Gateway, fake: Fake) -> None:
    await gw.channel(type=1, key="sk-proj-a\nsk-proj-b", key_mode="rotate", base_url=fake.url, models=NATIVE)
    key, _ = await new_token(gw)
    client = oai_client(gw, key)
    created = await client.responses.create(model=NATIVE, input="hi")
    creator = fake.state.requests[0].key
    for _ in range(2):  # whichever key is next in the rotation
        got = await client.responses.retrieve(created.id)
        assert got.id == created.id and fake.state.last().key == creator
    assert (await client.responses.cancel(created.id)).status == "cancelled"
    assert fake.state.last().key == creator
    with pytest.raises(openai.NotFoundError):  # never created here
        await client.responses.retrieve("resp_fake_unknown")


async def test_responses_native_input_tokens_compact_and_previous_id(gw: Gateway, fake: Fake) -> None:
    await gw.channel(type=1, key="sk-native", base_url=fake.url, models=NATIVE)
    key, name = await new_token(gw)
    client = oai_client(gw, key)
    counted = await client.responses.input_tokens.count(model=NATIVE, input="hello there")
    assert counted.input_tokens == INPUT_TOKENS_COUNT
    assert fake.state.last().path == "/v1/responses/input_tokens"
    compacted = await client.responses.compact(model=NATIVE, input="a long conversation")
    assert compacted.output[0].type == "compaction"
    assert fake.state.last().path == "/v1/responses/compact"
    first = await client.responses.create(model=NATIVE, input="hi")
    second = await client.responses.create(model=NATIVE, input="and?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert json.loads(fake.state.last("/v1/responses").raw)["previous_response_id"] == first.id
    logs = await logs_of(gw, name)
    assert len(logs) == 4 and sorted(l["quota"] for l in logs)[0] == 0  # the count is free


async def test_responses_native_429_retried_and_errors(gw: Gateway, fake: Fake) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=1, key="fail-429", base_url=fake.url, models=NATIVE, priority=10)
    good = await gw.channel(type=1, key="sk-native", base_url=fake.url, models=NATIVE)
    key, name = await new_token(gw)
    client = oai_client(gw, key)
    resp = await client.responses.create(model=NATIVE, input="hi")
    assert [r.key for r in fake.state.requests] == ["fail-429", "sk-native"]
    await client.responses.retrieve(resp.id)
    assert fake.state.last().key == "sk-native"
    [log] = await logs_of(gw, name)
    assert log["channel"] == good
    with pytest.raises(openai.NotFoundError) as e:
        await client.responses.retrieve("resp_unknown")
    assert "resp_unknown" in e.value.message
    with pytest.raises(openai.InternalServerError) as none:
        await client.responses.create(model="gpt-unrouted", input="hi")
    assert none.value.status_code == 503 and "No available channel" in none.value.message


# =========================================================================== openai SDK Responses → chat-only


async def test_responses_converted_plain(gw: Gateway) -> None:
    ch = await gw.channel(type=36, key="sk-ds", models=DEEPSEEK)
    key, name = await new_token(gw)
    resp = await oai_client(gw, key).responses.create(
        model=DEEPSEEK, input="hi", instructions="Be brief.", max_output_tokens=50, temperature=0.5)
    assert resp.id.startswith("resp_") and resp.object == "response" and resp.status == "completed"
    assert resp.output_text == CHAT_TEXT and resp.model == DEEPSEEK
    assert resp.usage is not None and (resp.usage.input_tokens, resp.usage.output_tokens) == (9, 12)
    rec = gw.upstream.state.requests[-1]
    assert rec.path == "/v1/chat/completions" and rec.key == "sk-ds"
    assert rec.json == {"model": DEEPSEEK, "messages": [{"role": "system", "content": "Be brief."},
                                                        {"role": "user", "content": "hi"}],
                        "max_completion_tokens": 50, "temperature": 0.5}
    [log] = await logs_of(gw, name)
    assert log["channel"] == ch and (log["prompt_tokens"], log["completion_tokens"]) == (9, 12)
    assert log["quota"] == quota(gw, DEEPSEEK, 36, 9, 12)


async def test_responses_converted_stream(gw: Gateway) -> None:
    await gw.channel(type=36, key="sk-ds", models=DEEPSEEK)
    key, name = await new_token(gw)
    async with oai_client(gw, key).responses.stream(model=DEEPSEEK, input="hi") as stream:
        events = [e async for e in stream]
        final = await stream.get_final_response()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == CHAT_TEXT
    assert final.output_text == CHAT_TEXT and final.usage is not None and final.usage.output_tokens == 12
    sent = gw.upstream.state.requests[-1].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    [log] = await logs_of(gw, name)
    assert log["is_stream"] and (log["prompt_tokens"], log["completion_tokens"]) == (9, 12)


async def test_responses_converted_function_call_round_trip_and_json_schema(gw: Gateway) -> None:
    await gw.channel(type=36, key="sk-ds", models=DEEPSEEK)
    key, name = await new_token(gw)
    client = oai_client(gw, key)
    ask = {"role": "user", "content": "weather in Paris?"}
    resp = await client.responses.create(model=DEEPSEEK, input=[ask], tools=[FN_WEATHER],  # type: ignore[list-item]
                                         tool_choice="required")
    [call] = resp.output
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id == "call_1"
    assert json.loads(call.arguments) == {"city": "Paris"}
    sent = gw.upstream.state.requests[-1].json
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": FN_WEATHER["description"],
        "parameters": FN_WEATHER["parameters"], "strict": False}}]
    assert sent["tool_choice"] == "required"
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"],
              "additionalProperties": False}
    final = await client.responses.create(
        model=DEEPSEEK, input=[ask, call.model_dump(exclude_none=True),  # type: ignore[list-item]
                               {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"}],
        text={"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}})
    assert final.output_text == CHAT_TEXT
    sent = gw.upstream.state.requests[-1].json
    assert sent["messages"][1]["role"] == "assistant"
    assert sent["messages"][1]["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "get_weather", "arguments": call.arguments}}]
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"}
    assert sent["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "weather", "schema": schema, "strict": True}}
    assert final.text is not None and final.text.format.type == "json_schema"  # echoed as the request had it
    assert len(await logs_of(gw, name)) == 2


async def test_responses_converted_streamed_function_calls(gw: Gateway, fake: Fake) -> None:
    await gw.channel(type=50, key="sk-compat", base_url=fake.url + "/v1", models=DEEPSEEK)
    key, name = await new_token(gw)
    tools = [FN_WEATHER, {**FN_WEATHER, "name": "get_time"}]
    async with oai_client(gw, key).responses.stream(model=DEEPSEEK, input="weather and time?",
                                                    tools=tools) as stream:  # type: ignore[arg-type]
        events = [e async for e in stream]
        final = await stream.get_final_response()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [o.type for o in final.output] == ["message", "function_call", "function_call"]
    assert [(o.name, o.call_id, o.arguments) for o in final.output[1:]] == [  # type: ignore[union-attr]
        ("get_weather", "call_0", CALL_ARGS), ("get_time", "call_1", CALL_ARGS)]
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [e.arguments for e in done] == [CALL_ARGS, CALL_ARGS]
    assert final.usage is not None and final.usage.input_tokens == TOOLS_CHAT_USAGE["prompt_tokens"]
    [log] = await logs_of(gw, name)
    assert log["completion_tokens"] == TOOLS_CHAT_USAGE["completion_tokens"]


async def test_responses_converted_refusals(gw: Gateway) -> None:
    await gw.channel(type=36, key="sk-ds", models=DEEPSEEK)
    key, name = await new_token(gw)
    client = oai_client(gw, key)
    with pytest.raises(openai.BadRequestError) as e:
        await client.responses.create(model=DEEPSEEK, input="and?", previous_response_id="resp_abc")
    assert "previous_response_id" in e.value.message and e.value.param == "previous_response_id"  # type: ignore[attr-defined]
    # a converted response is not stored anywhere: its follow-ups are a clear 404
    resp = await client.responses.create(model=DEEPSEEK, input="hi")
    with pytest.raises(openai.NotFoundError) as nf:
        await client.responses.retrieve(resp.id)
    assert resp.id in nf.value.message and "not found" in nf.value.message
    with pytest.raises(openai.NotFoundError):
        await client.responses.delete(resp.id)
    assert len(gw.upstream.state.requests) == 1 and len(await logs_of(gw, name)) == 1


# =========================================================================== streams that break off


async def test_converted_streams_that_break_off_end_in_the_clients_format(gw: Gateway) -> None:
    await gw.channel(type=1, key="sk-cut", models=GPT)  # the fake upstream resets after 3 chunks
    await gw.channel(type=36, key="sk-cut", models=DEEPSEEK)
    key, name = await new_token(gw)
    kinds: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as e:  # Anthropic's error event, raised by the SDK
        async with claude_client(gw, key).messages.stream(
                model=GPT, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
            async for event in stream:
                kinds.append(event.type)
    assert kinds[0] == "message_start" and "content_block_delta" in kinds
    assert e.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "upstream" in e.value.body["error"]["message"]  # type: ignore[index]
    async with oai_client(gw, key).responses.stream(model=DEEPSEEK, input="hi") as rstream:
        events = [ev async for ev in rstream]
    assert [ev.sequence_number for ev in events] == list(range(len(events)))
    assert events[-1].type == "response.failed"
    failed = events[-1].response  # type: ignore[union-attr]
    assert failed.status == "failed" and failed.error is not None and "upstream" in failed.error.message
    assert failed.output[0].status == "incomplete" and failed.output[0].content[0].text  # type: ignore[union-attr]
    logs = await logs_of(gw, name)
    assert len(logs) == 2 and all("stream ended early" in l["content"] for l in logs)
