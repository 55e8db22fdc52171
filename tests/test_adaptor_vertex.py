"""Vertex AI (type 42) adaptor: URLs, bodies (the Anthropic and Gemini converters), the
service-account JWT checked here with the test key pair's public key (cryptography, not the
adaptor's code), token answers and errors; then OpenAI SDK clients through OneRelay against the
fake Vertex, whose token endpoint verifies the JWT too."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from typing import Any, AsyncIterator

import openai
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from adaptors import build_registry
from adaptors.anthropic import AnthropicStream, to_anthropic_request
from adaptors.base import CHAT, EMBEDDINGS, MESSAGES, ChannelTarget, RelayRequest, UpstreamRejected, Usage
from adaptors.gemini import GeminiStream, to_gemini_request
from adaptors.registry import PROVIDERS
from adaptors.vertex import VertexAdaptor, parse_vertex_error
from tests.conftest import Gateway, listen
from tests.fake_baidu_vertex import (
    CLAUDE_REPLY,
    CLAUDE_TOOL_ID,
    CLAUDE_TOOL_INPUT,
    CLAUDE_TOOL_OUTPUT_TOKENS,
    CLAUDE_USAGE,
    EMBEDDING,
    GEMINI_PROMPT_TOKENS,
    GEMINI_REPLY,
    GEMINI_TEXT_TOKENS,
    JWT_GRANT,
    SCOPE,
    VERTEX_EMAIL,
    VERTEX_EMBED_TOKENS_PER_TEXT,
    VERTEX_KEY_ID,
    VERTEX_PROJECT,
    FakeState,
    make_app,
    new_rsa_key,
    service_account_json,
)

CLAUDE = "claude-3-5-sonnet-v2@20241022"
GEMINI = "gemini-2.0-flash-001"
TOKEN_URI = "https://oauth2.googleapis.com/token"


@pytest.fixture(scope="module")
def keypair() -> tuple[str, bytes]:
    return new_rsa_key()


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = GEMINI,
             requested: str = "my-model", mode: str = CHAT) -> RelayRequest:
    body = body if body is not None else {"model": requested, "messages": [{"role": "user", "content": "Hi"}]}
    return RelayRequest(mode=mode, body=body, raw=json.dumps(body).encode(), model=model, requested_model=requested,
                        stream=stream, include_usage=stream)


def target(private_key: str, token_uri: str = TOKEN_URI, **kw: Any) -> ChannelTarget:
    config = {"region": "us-east5", "vertex_ai_project_id": "my-proj",
              "vertex_ai_adc": json.dumps(service_account_json(private_key, token_uri))}
    config.update(kw.pop("config", {}))
    base: dict[str, Any] = {"id": 9, "type": 42, "key": "my-proj", "config": config, "token": "ya29.tok"}
    base.update(kw)
    return ChannelTarget(**base)


def b64url_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def verify_jwt(assertion: str, public_pem: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of an RS256 JWT whose signature the public key verifies."""
    h, c, s = assertion.split(".")
    public = serialization.load_pem_public_key(public_pem)
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), f"{h}.{c}".encode(), padding.PKCS1v15(),
                  hashes.SHA256())  # raises InvalidSignature
    return b64url_json(h), b64url_json(c)


# --------------------------------------------------------------------------- URLs and bodies


def test_urls_by_publisher_method_region_and_base(keypair: tuple[str, bytes]) -> None:
    pk = keypair[0]
    ad = VertexAdaptor()
    t = target(pk)
    host = "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5/publishers"
    assert ad.build_request(make_req(model=CLAUDE), t).url == f"{host}/anthropic/models/{CLAUDE}:rawPredict"
    assert ad.build_request(make_req(model=CLAUDE, stream=True), t).url == \
        f"{host}/anthropic/models/{CLAUDE}:streamRawPredict"
    assert ad.build_request(make_req(), t).url == f"{host}/google/models/{GEMINI}:generateContent"
    assert ad.build_request(make_req(stream=True), t).url == \
        f"{host}/google/models/{GEMINI}:streamGenerateContent?alt=sse"
    emb = make_req({"model": "e", "input": "x"}, model="text-embedding-005", mode=EMBEDDINGS)
    assert ad.build_request(emb, t).url == f"{host}/google/models/text-embedding-005:predict"
    g = target(pk, config={"region": "global"})
    assert ad.build_request(make_req(), g).url == ("https://aiplatform.googleapis.com/v1/projects/my-proj/locations/"
                                                   f"global/publishers/google/models/{GEMINI}:generateContent")
    p = target(pk, base_url="http://proxy.local:8080/")
    assert ad.build_request(make_req(), p).url.startswith("http://proxy.local:8080/v1/projects/my-proj/locations/us-east5/")
    p = target(pk, base_url="http://proxy.local/v1beta1")
    assert ad.build_request(make_req(), p).url.startswith("http://proxy.local/v1beta1/projects/")
    up = ad.build_request(make_req(), t)
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer ya29.tok"}


def test_project_id_sources_and_config_errors(keypair: tuple[str, bytes]) -> None:
    pk = keypair[0]
    ad = VertexAdaptor()
    t = target(pk, config={"vertex_ai_project_id": ""})  # falls back to the account's project_id
    assert f"/projects/{VERTEX_PROJECT}/" in ad.build_request(make_req(), t).url
    cfg = {"region": "us-central1"}
    t = ChannelTarget(id=1, type=42, key="key-proj", config=cfg, token="x")
    assert "/projects/key-proj/locations/us-central1/" in ad.build_request(make_req(), t).url
    for bad, code in ((target(pk, config={"region": ""}), "channel_config_missing"),
                      (target(pk, config={"region": "us east/1"}), "channel_config_invalid")):
        with pytest.raises(UpstreamRejected) as e:
            ad.build_request(make_req(), bad)
        f = e.value.failure
        assert f.status == 503 and f.code == code and f.retryable and not f.disables_channel
    for cfg2, code in (({"vertex_ai_adc": ""}, "channel_config_missing"),
                       ({"vertex_ai_adc": "{not json"}, "channel_config_invalid"),
                       ({"vertex_ai_adc": json.dumps({"client_email": "a@b"})}, "channel_config_invalid"),
                       ({"vertex_ai_adc": json.dumps(service_account_json("-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                                                          "-----END PRIVATE KEY-----\n", TOKEN_URI))},
                        "channel_config_invalid")):
        with pytest.raises(UpstreamRejected) as e:
            ad.token_request(target(pk, config=cfg2))
        assert e.value.failure.code == code and e.value.failure.status == 503


def test_claude_body_is_the_anthropic_body_for_vertex(keypair: tuple[str, bytes]) -> None:
    body = {"model": "x", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "max_tokens": 50, "stop": ["END"], "temperature": 0.5, "stream_options": {"include_usage": True},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": "required"}
    ad = VertexAdaptor()
    sent = json.loads(ad.build_request(make_req(body, model=CLAUDE), target(keypair[0])).body or b"")
    expected = to_anthropic_request(body, CLAUDE)
    del expected["model"]
    assert sent == {**expected, "anthropic_version": "vertex-2023-10-16"}
    assert "model" not in sent and "stream" not in sent and sent["stop_sequences"] == ["END"]
    assert sent["tool_choice"] == {"type": "any"} and sent["system"] == "Be brief."
    sent = json.loads(ad.build_request(make_req(body, model=CLAUDE, stream=True), target(keypair[0])).body or b"")
    assert sent["stream"] is True


def test_gemini_body_is_the_gemini_body(keypair: tuple[str, bytes]) -> None:
    body = {"model": "x", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "max_tokens": 20}
    sent = json.loads(VertexAdaptor().build_request(make_req(body), target(keypair[0])).body or b"")
    assert sent == to_gemini_request(body, GEMINI)
    assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_embeddings_body_and_answer(keypair: tuple[str, bytes]) -> None:
    ad = VertexAdaptor()
    req = make_req({"model": "e", "input": ["a", "b"], "dimensions": 2}, model="text-embedding-005",
                   requested="emb", mode=EMBEDDINGS)
    assert json.loads(ad.build_request(req, target(keypair[0])).body or b"") == {
        "instances": [{"content": "a"}, {"content": "b"}], "parameters": {"outputDimensionality": 2}}
    answer = {"predictions": [{"embeddings": {"values": [0.5, 1.0], "statistics": {"token_count": 3}}},
                              {"embeddings": {"values": [-0.5, 0.0], "statistics": {"token_count": 2}}}]}
    parsed = ad.parse_response(req, 200, json.dumps(answer).encode())
    data = json.loads(parsed.body)
    assert [d["embedding"] for d in data["data"]] == [[0.5, 1.0], [-0.5, 0.0]]
    assert data["model"] == "emb" and parsed.usage == Usage(5, 0)


# --------------------------------------------------------------------------- token


def test_token_request_is_a_signed_jwt_bearer_grant(keypair: tuple[str, bytes]) -> None:
    private, public = keypair
    before = int(time.time())
    up = VertexAdaptor().token_request(target(private, token_uri="https://tokens.example/token"))
    assert up.method == "POST" and up.url == "https://tokens.example/token"
    assert up.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = urllib.parse.parse_qs((up.body or b"").decode())
    assert form["grant_type"] == [JWT_GRANT] and len(form["assertion"]) == 1
    header, claims = verify_jwt(form["assertion"][0], public)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": VERTEX_KEY_ID}
    assert claims["iss"] == VERTEX_EMAIL and claims["scope"] == SCOPE
    assert claims["aud"] == "https://tokens.example/token"
    assert before <= claims["iat"] <= int(time.time()) and claims["exp"] == claims["iat"] + 3600
    other_public = new_rsa_key()[1]
    with pytest.raises(Exception):
        verify_jwt(form["assertion"][0], other_public)


def test_key_json_in_the_channel_key_and_default_token_uri(keypair: tuple[str, bytes]) -> None:
    sa = service_account_json(keypair[0], TOKEN_URI)
    del sa["token_uri"]
    t = ChannelTarget(id=1, type=42, key=json.dumps(sa), config={"region": "us-central1"})
    up = VertexAdaptor().token_request(t)
    assert up.url == TOKEN_URI
    _, claims = verify_jwt(urllib.parse.parse_qs((up.body or b"").decode())["assertion"][0], keypair[1])
    assert claims["aud"] == TOKEN_URI
    assert f"/projects/{VERTEX_PROJECT}/" in VertexAdaptor().build_request(make_req(), t).url


def test_parse_token() -> None:
    ad = VertexAdaptor()
    grant = ad.parse_token(200, b'{"access_token": "ya29.a", "expires_in": 3599, "token_type": "Bearer"}')
    assert (grant.token, grant.expires_in) == ("ya29.a", 3599.0)
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_token(400, b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}')
    f = e.value.failure
    assert f.disables_channel and f.status == 401 and f.code == "invalid_grant" and "Invalid JWT Signature" in f.message
    assert f.payload is not None and f.payload["code"] == "invalid_grant"
    with pytest.raises(UpstreamRejected) as e:
        ad.parse_token(503, b"unavailable")
    assert e.value.failure.retryable and not e.value.failure.disables_channel


# --------------------------------------------------------------------------- answers and errors


def test_parse_response_claude_and_gemini() -> None:
    ad = VertexAdaptor()
    claude = {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hi!"}],
              "stop_reason": "max_tokens", "usage": {"input_tokens": 4, "output_tokens": 2}}
    parsed = ad.parse_response(make_req(model=CLAUDE, requested="c"), 200, json.dumps(claude).encode())
    data = json.loads(parsed.body)
    assert data["choices"][0]["message"]["content"] == "Hi!" and data["choices"][0]["finish_reason"] == "length"
    assert data["model"] == "c" and parsed.usage == Usage(4, 2)
    gemini = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Yo"}]}, "finishReason": "STOP"}],
              "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}
    parsed = ad.parse_response(make_req(requested="g"), 200, json.dumps(gemini).encode())
    assert json.loads(parsed.body)["choices"][0]["message"]["content"] == "Yo" and parsed.usage == Usage(3, 1)
    assert isinstance(ad.new_stream(make_req(model=CLAUDE, stream=True)), AnthropicStream)
    assert isinstance(ad.new_stream(make_req(stream=True)), GeminiStream)


def test_errors_google_and_anthropic_shapes() -> None:
    f = parse_vertex_error(429, b'{"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}')
    assert f.status == 429 and f.code == "RESOURCE_EXHAUSTED" and f.retryable and not f.disables_channel
    f = parse_vertex_error(529, b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}')
    assert f.message == "Overloaded" and f.code == "overloaded_error" and f.retryable
    f = parse_vertex_error(401, b'{"error": {"code": 401, "message": "invalid credentials", "status": "UNAUTHENTICATED"}}')
    assert not f.disables_channel and f.retryable  # a stale token: dropped and exchanged again
    f = parse_vertex_error(403, b'[{"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}]')
    assert f.disables_channel and f.message == "denied"
    f = parse_vertex_error(400, b'{"error": {"type": "invalid_request_error", "message": "bad"}}')
    assert f.type == "invalid_request_error" and not f.retryable
    assert parse_vertex_error(502, b"<html>").message == "<html>"


def test_registry_entry() -> None:
    s = PROVIDERS[42]
    assert s.adaptor == "vertex" and s.supported and set(s.modes) == {CHAT, EMBEDDINGS, MESSAGES} and s.auth == "signed"
    assert s.test_model in s.models and CLAUDE in s.models and s.key_from_config == "{vertex_ai_project_id}"
    assert [c.key for c in s.config] == ["region", "vertex_ai_project_id", "vertex_ai_adc"]
    assert isinstance(build_registry()[42], VertexAdaptor) and VertexAdaptor.credentials


# --------------------------------------------------------------------------- through OneRelay


@pytest.fixture
async def fake(keypair: tuple[str, bytes]) -> AsyncIterator[FakeState]:
    state = FakeState(public_key_pem=keypair[1])
    server, port = listen(make_app(state))
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.stop()
    await server.close_all_connections()


async def _channel(gw: Gateway, fake: FakeState, private_key: str, models: str = f"{GEMINI},{CLAUDE}",
                   **config: Any) -> int:
    cfg = {"region": "us-east5", "vertex_ai_project_id": VERTEX_PROJECT,
           "vertex_ai_adc": json.dumps(service_account_json(private_key, fake.url + "/token"))}
    cfg.update(config)
    return await gw.channel(type=42, key=VERTEX_PROJECT, base_url=fake.url, models=models, config=json.dumps(cfg))


async def _channel_status(gw: Gateway, cid: int, want: int | None = None) -> int:
    status = 0
    for _ in range(40):
        status = int((await gw.ok("GET", f"/api/channel/{cid}"))["status"])
        if want is None or status == want:
            break
        await asyncio.sleep(0.05)
    return status


async def _stream_text(client: openai.AsyncOpenAI, model: str) -> tuple[str, str | None, Any]:
    text, finish, usage = "", None, None
    async for chunk in await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True,
            stream_options={"include_usage": True}):
        usage = chunk.usage or usage
        for ch in chunk.choices:
            text += ch.delta.content or ""
            finish = ch.finish_reason or finish
    return text, finish, usage


async def test_gateway_gemini_and_claude_plain_and_stream(gw: Gateway, fake: FakeState,
                                                          keypair: tuple[str, bytes]) -> None:
    await _channel(gw, fake, keypair[0])
    client = gw.client(await gw.token())
    resp = await client.chat.completions.create(
        model=GEMINI, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == GEMINI_REPLY and resp.model == GEMINI
    assert resp.usage is not None and (resp.usage.prompt_tokens, resp.usage.completion_tokens) == \
        (GEMINI_PROMPT_TOKENS, GEMINI_TEXT_TOKENS)
    sent = fake.last("vertex")
    assert sent["path"] == (f"/v1/projects/{VERTEX_PROJECT}/locations/us-east5/publishers/google/models/"
                            f"{GEMINI}:generateContent")
    assert sent["headers"]["Authorization"] == "Bearer ya29.fake-1"

    resp = await client.chat.completions.create(model=CLAUDE, max_tokens=64,
                                                messages=[{"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == CLAUDE_REPLY and resp.model == CLAUDE
    assert resp.choices[0].finish_reason == "stop" and resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (12, 7)
    sent = fake.last("vertex")
    assert sent["path"].endswith(f"/publishers/anthropic/models/{CLAUDE}:rawPredict")
    assert sent["json"]["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent["json"]

    text, finish, usage = await _stream_text(client, GEMINI)
    assert text == GEMINI_REPLY and finish == "stop"
    assert (usage.prompt_tokens, usage.completion_tokens) == (GEMINI_PROMPT_TOKENS, GEMINI_TEXT_TOKENS)
    assert fake.last("vertex")["query"] == "alt=sse"
    text, finish, usage = await _stream_text(client, CLAUDE)
    assert text == CLAUDE_REPLY and finish == "stop"
    assert (usage.prompt_tokens, usage.completion_tokens) == (CLAUDE_USAGE["input_tokens"],
                                                              CLAUDE_USAGE["output_tokens"])
    assert fake.last("vertex")["path"].endswith(":streamRawPredict")

    assert len(fake.vertex_exchanges) == 1  # one token for all four requests
    claims = fake.vertex_exchanges[0]
    assert claims["iss"] == VERTEX_EMAIL and claims["aud"] == fake.url + "/token"
    logs = await gw.logs()
    assert len(logs) == 4 and all(log["quota"] > 0 for log in logs)
    assert sorted((log["model_name"], log["prompt_tokens"], log["completion_tokens"], log["is_stream"])
                  for log in logs) == [
        (CLAUDE, 12, 7, False), (CLAUDE, 12, 7, True),
        (GEMINI, GEMINI_PROMPT_TOKENS, GEMINI_TEXT_TOKENS, False),
        (GEMINI, GEMINI_PROMPT_TOKENS, GEMINI_TEXT_TOKENS, True)]


async def test_gateway_concurrent_requests_share_one_exchange_and_embeddings(
        gw: Gateway, fake: FakeState, keypair: tuple[str, bytes]) -> None:
    await _channel(gw, fake, keypair[0], models=f"{GEMINI},text-embedding-005")
    client = gw.client(await gw.token())
    results = await asyncio.gather(*(client.chat.completions.create(
        model=GEMINI, messages=[{"role": "user", "content": f"q{i}"}]) for i in range(5)))
    assert all(r.choices[0].message.content == GEMINI_REPLY for r in results)
    emb = await client.embeddings.create(model="text-embedding-005", input=["a", "b"])  # SDK asks base64
    assert [d.embedding for d in emb.data] == [EMBEDDING, EMBEDDING]
    assert emb.usage.prompt_tokens == 2 * VERTEX_EMBED_TOKENS_PER_TEXT
    assert fake.last("vertex")["path"].endswith("/publishers/google/models/text-embedding-005:predict")
    assert len(fake.vertex_exchanges) == 1


async def test_gateway_invalid_token_is_exchanged_again(gw: Gateway, fake: FakeState,
                                                        keypair: tuple[str, bytes]) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await _channel(gw, fake, keypair[0])
    client = gw.client(await gw.token())
    await client.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": "a"}])
    fake.revoke()
    with pytest.raises(openai.AuthenticationError) as e:
        await client.chat.completions.create(model=CLAUDE, messages=[{"role": "user", "content": "b"}])
    assert e.value.code == "UNAUTHENTICATED" and "request id" in e.value.message
    resp = await client.chat.completions.create(model=CLAUDE, messages=[{"role": "user", "content": "c"}])
    assert resp.choices[0].message.content == CLAUDE_REPLY
    assert len(fake.vertex_exchanges) == 2
    assert fake.last("vertex")["headers"]["Authorization"] == "Bearer ya29.fake-2"
    assert await _channel_status(gw, cid) == 1


async def test_gateway_upstream_errors_in_openai_shape(gw: Gateway, fake: FakeState,
                                                       keypair: tuple[str, bytes]) -> None:
    await _channel(gw, fake, keypair[0], models="gemini-quota,claude-overloaded@1")
    client = gw.client(await gw.token())
    with pytest.raises(openai.RateLimitError) as e:
        await client.chat.completions.create(model="gemini-quota", messages=[{"role": "user", "content": "a"}])
    assert e.value.code == "RESOURCE_EXHAUSTED" and "Quota exceeded" in e.value.message
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "RESOURCE_EXHAUSTED"
    with pytest.raises(openai.APIStatusError) as e2:
        await client.chat.completions.create(model="claude-overloaded@1", messages=[{"role": "user", "content": "a"}])
    assert e2.value.status_code == 529 and e2.value.code == "overloaded_error" and "Overloaded" in e2.value.message
    assert await gw.logs() == []


async def test_gateway_refused_service_account_disables_channel(gw: Gateway, fake: FakeState) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    wrong_private, _ = new_rsa_key()  # signs with a key the fake does not know
    cid = await _channel(gw, fake, wrong_private)
    with pytest.raises(openai.AuthenticationError) as e:
        await gw.client(await gw.token()).chat.completions.create(
            model=GEMINI, messages=[{"role": "user", "content": "a"}])
    assert e.value.code == "invalid_grant" and "Invalid JWT Signature" in e.value.message
    assert fake.vertex_exchanges == [] and fake.of("vertex") == []
    assert await _channel_status(gw, cid, 3) == 3


async def test_gateway_missing_region_is_a_config_error(gw: Gateway, fake: FakeState,
                                                        keypair: tuple[str, bytes]) -> None:
    await _channel(gw, fake, keypair[0], region="")
    with pytest.raises(openai.InternalServerError) as e:
        await gw.client(await gw.token()).chat.completions.create(
            model=GEMINI, messages=[{"role": "user", "content": "a"}])
    assert e.value.status_code == 503 and e.value.code == "channel_config_missing" and "region" in e.value.message


async def test_gateway_channel_test(gw: Gateway, fake: FakeState, keypair: tuple[str, bytes]) -> None:
    cid = await _channel(gw, fake, keypair[0], models=GEMINI)
    code, data = await gw.api("GET", f"/api/channel/test/{cid}")
    assert data["success"], data
    assert len(fake.vertex_exchanges) == 1


# =========================================================================== Anthropic Messages (/v1/messages)

try:  # the HTTP library this anthropic build uses (httpx2 here, httpx in others)
    import httpx2 as httpx  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

import anthropic  # noqa: E402

from adaptors.messages import MessagesPassthroughStream  # noqa: E402
from tests.adaptor_helpers import assert_every_split, byte_by_byte, transcode  # noqa: E402

# As a client writes it: spacing, number forms, escapes, a thinking signature, cache_control.
CLIENT_BODY = (
    b'{"model": "claude-sonnet-4@20250514", "max_tokens": 1024, "stream": true,\n'
    b' "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],\n'
    b' "messages": [{"role": "user", "content": "caf\\u00e9?"}, {"role": "assistant", "content": [{"type": '
    b'"thinking", "thinking": "hm", "signature": "Eq+/=="}, {"type": "text", "text": "Yes."}]},'
    b' {"role": "user", "content": "more"}], "temperature": 1.0,'
    b' "thinking": {"type": "enabled", "budget_tokens": 1024}}'
)
VERTEX_BODY = (
    b'{"anthropic_version":"vertex-2023-10-16","max_tokens":1024,"stream":true,"system":[{"type": "text", '
    b'"text": "Be brief.", "cache_control": {"type": "ephemeral"}}],"messages":[{"role": "user", "content": '
    b'"caf\\u00e9?"}, {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": '
    b'"Eq+/=="}, {"type": "text", "text": "Yes."}]}, {"role": "user", "content": "more"}],"temperature":1.0,'
    b'"thinking":{"type": "enabled", "budget_tokens": 1024}}'
)


def messages_req(raw: bytes = CLIENT_BODY, *, headers: dict[str, str] | None = None,
                 mapped: str | None = None) -> RelayRequest:
    body = json.loads(raw)
    model, rewrite = body["model"], False
    if mapped is not None:
        body, model, rewrite = {**body, "model": mapped}, mapped, True
    return RelayRequest(mode=MESSAGES, body=body, raw=raw, model=model, requested_model=json.loads(raw)["model"],
                        stream=bool(body.get("stream")), rewrite=rewrite, headers=headers or {})


def test_speaks_messages_for_claude_only() -> None:
    ad = VertexAdaptor()
    for model in (CLAUDE, "claude-sonnet-4@20250514", "claude-opus-4-1@20250805", "Claude-3-Haiku@20240307"):
        assert ad.speaks(MESSAGES, model) and build_registry()[42].speaks(MESSAGES, model)
    for model in (GEMINI, "gemini-2.5-pro", "text-embedding-005", "llama-3.1-405b-instruct-maas"):
        assert not ad.speaks(MESSAGES, model)
    assert ad.speaks(CHAT, GEMINI) and ad.speaks(EMBEDDINGS, GEMINI) and not ad.speaks("responses", CLAUDE)


def test_messages_request_is_the_clients_bytes_for_raw_predict(keypair: tuple[str, bytes]) -> None:
    ad = VertexAdaptor()
    up = ad.build_request(messages_req(headers={"anthropic-beta": "a-1, interleaved-thinking-2025-05-14,a-1",
                                                "anthropic-version": "2023-06-01"}), target(keypair[0]))
    assert up.method == "POST" and up.url == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5/publishers/anthropic/"
        "models/claude-sonnet-4@20250514:streamRawPredict")
    assert up.body == VERTEX_BODY
    assert up.headers == {"Content-Type": "application/json", "Authorization": "Bearer ya29.tok",
                          "anthropic-beta": "a-1,interleaved-thinking-2025-05-14"}
    # non-stream: rawPredict, "stream": false kept as the client wrote it (as the SDK does)
    raw = CLIENT_BODY.replace(b'"stream": true', b'"stream": false')
    up = ad.build_request(messages_req(raw), target(keypair[0], config={"region": "global"}))
    assert up.url == ("https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/publishers/anthropic/"
                      "models/claude-sonnet-4@20250514:rawPredict")
    assert up.body == VERTEX_BODY.replace(b'"stream":true', b'"stream":false') and "anthropic-beta" not in up.headers
    # a mapped model: only the URL changes
    up = ad.build_request(messages_req(mapped="claude-opus-4-1@20250805"), target(keypair[0]))
    assert up.body == VERTEX_BODY and up.url.endswith("/models/claude-opus-4-1@20250805:streamRawPredict")
    # a client anthropic_version in the body is replaced by Vertex's
    raw = b'{"anthropic_version":"2023-06-01","model":"claude-x","max_tokens":5,"messages":[]}'
    assert ad.build_request(messages_req(raw), target(keypair[0])).body == \
        b'{"anthropic_version":"vertex-2023-10-16","max_tokens":5,"messages":[]}'


MSG_SSE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_vrtx_1","type":"message",'
    b'"role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"usage":'
    b'{"input_tokens":30,"cache_creation_input_tokens":4,"cache_read_input_tokens":6,"output_tokens":1}}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":'
    b'{"type":"thinking","thinking":"","signature":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta",'
    b'"thinking":"Hm."}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta",'
    b'"signature":"Eq+/=="}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"text",'
    b'"text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta",'
    b'"text":"Caf\\u00e9!"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":21}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def test_messages_answer_and_stream_passed_through() -> None:
    ad = VertexAdaptor()
    req = messages_req()
    answer = b'{"id":"msg_1","type":"message","content":[{"type":"text","text":"Hi"}],"usage":' \
             b'{"input_tokens":10,"cache_read_input_tokens":2,"output_tokens":3}}'
    parsed = ad.parse_response(req, 200, answer)
    assert parsed.body == answer and parsed.usage == Usage(12, 3)
    assert isinstance(ad.new_stream(req), MessagesPassthroughStream)

    def run(pieces: list[bytes]) -> tuple[Any, bytes]:
        ts = ad.new_stream(req)
        return ts, transcode(ts, pieces)

    def check(ts: Any, out: bytes) -> None:
        assert out == MSG_SSE and ts.completion_text == "Hm.Café!"

    assert_every_split(MSG_SSE, run, check, Usage(40, 21))
    check(*run(byte_by_byte(MSG_SSE)))


# --------------------------------------------------------------------------- the anthropic SDK through OneRelay

VERTEX_TOOLS: list[Any] = [{"name": "get_weather", "description": "Weather",
                            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def claude_client(gw: Gateway, key: str, sent: list[bytes]) -> anthropic.AsyncAnthropic:
    async def hook(request: Any) -> None:
        sent.append(request.read())
    http = httpx.AsyncClient(event_hooks={"request": [hook]}, timeout=60.0)
    return anthropic.AsyncAnthropic(base_url=gw.url, api_key=key, max_retries=0, http_client=http)


async def test_gateway_messages_claude_plain_stream_and_tools(gw: Gateway, fake: FakeState,
                                                              keypair: tuple[str, bytes]) -> None:
    await _channel(gw, fake, keypair[0])
    sent: list[bytes] = []
    client = claude_client(gw, await gw.token(), sent)
    system: Any = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    msg = await client.messages.create(model=CLAUDE, max_tokens=64, system=system,
                                       messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"})
    assert msg.id == "msg_vrtx_01FakeClaude" and msg.content[0].type == "text"
    assert msg.content[0].text == CLAUDE_REPLY and msg.model == CLAUDE
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (12, 7)
    up = fake.last("vertex")
    assert up["path"] == (f"/v1/projects/{VERTEX_PROJECT}/locations/us-east5/publishers/anthropic/models/"
                          f"{CLAUDE}:rawPredict")
    assert up["headers"]["Authorization"] == "Bearer ya29.fake-1"
    assert up["headers"]["Anthropic-Beta"] == "prompt-caching-2024-07-31"
    client_json = json.loads(sent[-1])
    assert up["json"] == {"anthropic_version": "vertex-2023-10-16",
                          **{k: v for k, v in client_json.items() if k != "model"}}
    assert up["raw"] == b'{"anthropic_version":"vertex-2023-10-16",' + sent[-1][1:].replace(
        f'"model":"{CLAUDE}",'.encode(), b"")  # the SDK's compact JSON, model taken out

    async with client.messages.stream(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
        texts = [t async for t in s.text_stream]
        final = await s.get_final_message()
    assert "".join(texts) == CLAUDE_REPLY and final.content[0].text == CLAUDE_REPLY  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 7
    up = fake.last("vertex")
    assert up["path"].endswith(":streamRawPredict") and up["json"]["stream"] is True and "model" not in up["json"]

    turns: Any = [{"role": "user", "content": "weather in Paris?"}]
    msg = await client.messages.create(model=CLAUDE, max_tokens=64, messages=turns, tools=VERTEX_TOOLS)
    assert msg.stop_reason == "tool_use"
    (call,) = msg.content
    assert call.type == "tool_use" and call.id == CLAUDE_TOOL_ID and call.input == CLAUDE_TOOL_INPUT
    assert fake.last("vertex")["json"]["tools"] == VERTEX_TOOLS
    turns += [{"role": "assistant", "content": msg.content},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]}]
    answer = await client.messages.create(model=CLAUDE, max_tokens=64, messages=turns, tools=VERTEX_TOOLS)
    assert answer.content[0].type == "text" and answer.content[0].text == CLAUDE_REPLY
    assert fake.last("vertex")["json"]["messages"][1]["content"] == [
        {"type": "tool_use", "id": CLAUDE_TOOL_ID, "name": "get_weather", "input": CLAUDE_TOOL_INPUT}]
    async with client.messages.stream(model=CLAUDE, max_tokens=64, messages=turns[:1], tools=VERTEX_TOOLS) as s:
        final = await s.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[0].input == CLAUDE_TOOL_INPUT  # type: ignore[union-attr]

    assert len(fake.vertex_exchanges) == 1
    logs = await gw.logs()
    assert len(logs) == 5 and all(log["quota"] > 0 and log["model_name"] == CLAUDE for log in logs)
    assert sorted((log["prompt_tokens"], log["completion_tokens"], log["is_stream"]) for log in logs) == sorted([
        (12, 7, False), (12, 7, True), (12, CLAUDE_TOOL_OUTPUT_TOKENS, False), (12, 7, False),
        (12, CLAUDE_TOOL_OUTPUT_TOKENS, True)])


async def test_gateway_messages_gemini_on_the_same_channel_is_converted(gw: Gateway, fake: FakeState,
                                                                        keypair: tuple[str, bytes]) -> None:
    await _channel(gw, fake, keypair[0])
    client = claude_client(gw, await gw.token(), [])
    msg = await client.messages.create(model=GEMINI, max_tokens=64, system="Be brief.",
                                       messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].type == "text" and msg.content[0].text == GEMINI_REPLY and msg.model == GEMINI
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (GEMINI_PROMPT_TOKENS, GEMINI_TEXT_TOKENS)
    assert fake.last("vertex")["path"].endswith(f"/publishers/google/models/{GEMINI}:generateContent")
    async with client.messages.stream(model=GEMINI, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
        final = await s.get_final_message()
    assert final.content[0].text == GEMINI_REPLY  # type: ignore[union-attr]
    assert fake.last("vertex")["query"] == "alt=sse"
    logs = await gw.logs()
    assert len(logs) == 2 and all(log["quota"] > 0 for log in logs)
    assert {(log["prompt_tokens"], log["completion_tokens"]) for log in logs} == \
        {(GEMINI_PROMPT_TOKENS, GEMINI_TEXT_TOKENS)}


async def test_gateway_messages_claude_errors_in_anthropic_shape(gw: Gateway, fake: FakeState,
                                                                 keypair: tuple[str, bytes]) -> None:
    await _channel(gw, fake, keypair[0], models="claude-overloaded@1")
    client = claude_client(gw, await gw.token(), [])
    with pytest.raises(anthropic.APIStatusError) as e:
        await client.messages.create(model="claude-overloaded@1", max_tokens=64,
                                     messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 529 and "Overloaded" in e.value.message
    assert await gw.logs() == []
