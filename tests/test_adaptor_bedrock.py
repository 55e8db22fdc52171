"""AWS Bedrock (type 33): SigV4 against AWS's published examples, model ids, credentials, the
event-stream transcoder, errors, a fake Bedrock that verifies signatures on its own, and the
official openai SDK through OneRelay."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any, AsyncIterator

import openai
import pytest

from adaptors import build_registry
from adaptors.base import CHAT, DONE_FRAME, MESSAGES, ChannelTarget, RelayRequest, UpstreamRejected, Usage
from adaptors.bedrock import (
    MODEL_IDS,
    PROFILE_ONLY,
    BedrockAdaptor,
    BedrockStream,
    ConverseStream,
    credentials,
    is_claude,
    model_id,
    parse_bedrock_error,
    signing_key,
    sigv4,
    to_bedrock_request,
    to_converse_request,
    to_openai_from_converse,
)
from adaptors.registry import PROVIDERS
from tests.adaptor_helpers import (
    ask,
    assert_every_split,
    byte_by_byte,
    channel_target,
    channel_token,
    decode_frames,
    read_stream,
    read_text,
    relay_request,
    send,
    send_stream,
    simplify_chunks,
    serving,
    transcode,
)
from tests.conftest import Gateway
from tests.fake_bedrock import (
    CACHE_READ_TOKENS,
    CONVERSE_INPUT_TOKENS,
    CONVERSE_OUTPUT_TOKENS,
    CONVERSE_REPLY,
    CONVERSE_TOOL_OUTPUT_TOKENS,
    CONVERSE_TOOL_PREFACE,
    CONVERSE_TOOL_USE_ID,
    EU_REGION,
    GOOD_KEY,
    INPUT_TOKENS,
    MESSAGE_ID,
    REGION,
    SECRET,
    SESSION_TOKEN,
    TEXT_OUTPUT_TOKENS,
    TEXT_REPLY,
    TOOL_INPUT,
    TOOL_OUTPUT_TOKENS,
    TOOL_USE_ID,
    chunk_frame,
    converse_frame,
    encode_frame,
    exception_frame,
    make_bedrock_app,
    verify_sigv4,
)
from tests.test_adaptor_anthropic import EXPECTED_CHUNKS, RECORDED_EVENTS, simplify

PROMPT_TOKENS = INPUT_TOKENS + CACHE_READ_TOKENS
MODEL = "claude-3-5-sonnet-20241022"
MODEL_ID = "anthropic.claude-3-5-sonnet-20241022-v2:0"

# --------------------------------------------------------------------------- SigV4 vectors

EXAMPLE_AK = "AKIDEXAMPLE"
EXAMPLE_SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EXAMPLE_TIME = dt.datetime(2015, 8, 30, 12, 36, 0, tzinfo=dt.timezone.utc)
HOST = "https://example.amazonaws.com"

# (name, method, url, headers, body, session token, expected signature): AWS's SigV4 test suite
# (service "service", region us-east-1, 20150830T123600Z, the example credentials).
SUITE: list[tuple[str, str, str, Any, bytes, str, str]] = [
    ("get-vanilla", "GET", HOST + "/", {}, b"", "",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("post-vanilla", "POST", HOST + "/", {}, b"", "",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("get-vanilla-query-order-key-case", "GET", HOST + "/?Param2=value2&Param1=value1", {}, b"", "",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("get-vanilla-query-order-encoded", "GET", HOST + "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1", {}, b"",
     "", "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"),
    ("get-vanilla-utf8-query", "GET", HOST + "/?ሴ=bar", {}, b"", "",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    ("post-vanilla-query", "POST", HOST + "/?Param1=value1", {}, b"", "",
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
    ("get-unreserved", "GET", HOST + "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {},
     b"", "", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    ("get-utf8", "GET", HOST + "/ሴ", {}, b"", "",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ("get-space", "GET", HOST + "/example space/", {}, b"", "",
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
    ("get-special-character", "GET", HOST + "/example/$delete", {}, b"", "",
     "a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27"),
    ("get-slashes", "GET", HOST + "//example//", {}, b"", "",
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
    ("get-relative-relative", "GET", HOST + "/example1/example2/../..", {}, b"", "",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-slash-pointless-dot", "GET", HOST + "/./example", {}, b"", "",
     "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"),
    ("get-header-key-duplicate", "GET", HOST + "/",
     [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")], b"", "",
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
    ("get-header-value-trim", "GET", HOST + "/", {"My-Header1": " value1", "My-Header2": ' "a   b   c"'}, b"", "",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("get-header-value-multiline", "GET", HOST + "/", {"My-Header1": "value1\n  value2\n     value3"}, b"", "",
     "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd"),
    ("post-header-key-sort", "POST", HOST + "/", {"My-Header1": "value1"}, b"", "",
     "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"),
    ("post-x-www-form-urlencoded", "POST", HOST + "/", {"Content-Type": "application/x-www-form-urlencoded"},
     b"Param1=value1", "", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    ("post-x-www-form-urlencoded-parameters", "POST", HOST + "/",
     {"Content-Type": "application/x-www-form-urlencoded; charset=utf8"}, b"Param1=value1", "",
     "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"),
    ("get-vanilla-with-session-token", "GET", HOST + "/", {}, b"",
     "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
     "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
]


@pytest.mark.parametrize("name, method, url, headers, body, token, expected", SUITE, ids=[s[0] for s in SUITE])
def test_sigv4_test_suite(name: str, method: str, url: str, headers: Any, body: bytes, token: str,
                          expected: str) -> None:
    signed = sigv4(access_key=EXAMPLE_AK, secret_key=EXAMPLE_SK, region="us-east-1", service="service",
                   when=EXAMPLE_TIME, method=method, url=url, headers=headers, body=body, session_token=token)
    assert signed.signature == expected
    assert signed.headers["X-Amz-Date"] == "20150830T123600Z"
    assert signed.headers["Authorization"] == (
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={signed.signed_headers}, Signature={expected}")
    if token:
        assert signed.headers["X-Amz-Security-Token"] == token


def test_sigv4_canonical_request_and_string_to_sign_of_the_suite() -> None:
    signed = sigv4(access_key=EXAMPLE_AK, secret_key=EXAMPLE_SK, region="us-east-1", service="service",
                   when=EXAMPLE_TIME, method="GET", url=HOST + "/?Param2=value2&Param1=value1")
    assert signed.canonical_request == (
        "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert signed.string_to_sign.split("\n")[:3] == [
        "AWS4-HMAC-SHA256", "20150830T123600Z", "20150830/us-east-1/service/aws4_request"]
    # the time may be given as epoch seconds too
    again = sigv4(access_key=EXAMPLE_AK, secret_key=EXAMPLE_SK, region="us-east-1", service="service",
                  when=EXAMPLE_TIME.timestamp(), method="GET", url=HOST + "/?Param2=value2&Param1=value1")
    assert again.signature == signed.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"


def test_sigv4_documentation_examples_iam() -> None:
    """The worked examples of AWS's SigV4 documentation (IAM ListUsers)."""
    assert signing_key(EXAMPLE_SK, "20150830", "us-east-1", "iam").hex() == \
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    signed = sigv4(access_key=EXAMPLE_AK, secret_key=EXAMPLE_SK, region="us-east-1", service="iam",
                   when=EXAMPLE_TIME, method="GET", url="https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                   headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body=b"")
    assert signed.canonical_request == (
        "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
        "content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\n"
        "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert signed.string_to_sign.endswith("f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
    assert signed.signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    older = sigv4(access_key=EXAMPLE_AK, secret_key=EXAMPLE_SK, region="us-east-1", service="iam",
                  when=dt.datetime(2011, 9, 9, 23, 36, tzinfo=dt.timezone.utc), method="POST",
                  url="http://iam.amazonaws.com/",
                  headers={"Content-type": "application/x-www-form-urlencoded; charset=utf-8"},
                  body=b"Action=ListUsers&Version=2010-05-08")
    assert older.signature == "ced6826de92d2bdeed8f846f0bf508e8559e98e4b0199114b84c54174deb456c"


def test_sigv4_bedrock_path_is_encoded_twice_and_port_kept() -> None:
    url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke"
    signed = sigv4(access_key="AK", secret_key="SK", region="us-east-1", service="bedrock", when=EXAMPLE_TIME,
                   method="POST", url=url, headers={"Content-Type": "application/json"}, body=b"{}")
    lines = signed.canonical_request.split("\n")
    assert lines[1] == "/model/anthropic.claude-3-5-sonnet-20241022-v2%253A0/invoke"
    assert lines[3:5] == ["content-type:application/json", "host:bedrock-runtime.us-east-1.amazonaws.com"]
    assert signed.scope == "20150830/us-east-1/bedrock/aws4_request"
    signed = sigv4(access_key="AK", secret_key="SK", region="us-east-1", service="bedrock", when=EXAMPLE_TIME,
                   method="POST", url="http://127.0.0.1:8123/model/x/invoke")
    assert "host:127.0.0.1:8123" in signed.canonical_request.split("\n")
    signed = sigv4(access_key="AK", secret_key="SK", region="us-east-1", service="bedrock", when=EXAMPLE_TIME,
                   method="POST", url="https://h.example:443/")
    assert "host:h.example" in signed.canonical_request.split("\n")


def test_fake_verifier_accepts_the_adaptor_and_rejects_tampering() -> None:
    """The fake's own SigV4 check (no shared code) agrees with the adaptor's signatures."""
    now = 1_700_000_000.0
    ad = BedrockAdaptor(clock=lambda: now)
    req = make_req()
    t = target(base_url="http://127.0.0.1:9")
    up = ad.build_request(req, t)
    path = up.url.split("127.0.0.1:9", 1)[1]
    wire = [(k, v) for k, v in up.headers.items()] + [("Host", "127.0.0.1:9")]
    assert verify_sigv4("POST", path, "", wire, up.body or b"", now=now) is None
    assert verify_sigv4("POST", path, "", wire, (up.body or b"") + b" ", now=now)[0] == "InvalidSignatureException"
    assert verify_sigv4("POST", path.replace("%3A", ":"), "", wire, up.body or b"", now=now) is not None
    assert verify_sigv4("POST", path, "", wire, up.body or b"", now=now + 3600)[1].startswith("Signature expired")
    other = [(k, v.replace("AKIDFAKEBEDROCK", "AKIDUNKNOWN")) for k, v in wire]
    assert verify_sigv4("POST", path, "", other, up.body or b"", now=now)[0] == "UnrecognizedClientException"
    # the pinned clock makes the request reproducible
    assert up.headers["X-Amz-Date"] == "20231114T221320Z"
    assert ad.build_request(req, t).headers == up.headers


# --------------------------------------------------------------------------- helpers


def make_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = MODEL,
             requested: str = "my-claude", include_usage: bool | None = None) -> RelayRequest:
    body = body if body is not None else {"model": requested, "messages": [{"role": "user", "content": "Hi"}]}
    if stream:
        body = {**body, "stream": True}
    return relay_request(body, model=model, requested=requested, stream=stream, include_usage=include_usage)


def target(**kw: Any) -> ChannelTarget:
    return channel_target({"id": 33, "type": 33, "key": GOOD_KEY}, **kw)


# --------------------------------------------------------------------------- model ids, credentials


@pytest.mark.parametrize("model, region, expected", [
    ("claude-3-5-sonnet-20241022", "us-east-1", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
    ("claude-3-5-sonnet-latest", "us-west-2", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
    ("claude-3-haiku-20240307", "eu-central-1", "anthropic.claude-3-haiku-20240307-v1:0"),
    ("claude-2.1", "us-east-1", "anthropic.claude-v2:1"),
    ("claude-instant-1.2", "us-east-1", "anthropic.claude-instant-v1"),
    # served only through an inference profile: the region's geography prefix
    ("claude-3-7-sonnet-20250219", "us-east-1", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("claude-sonnet-4-20250514", "eu-west-1", "eu.anthropic.claude-sonnet-4-20250514-v1:0"),
    ("claude-opus-4-20250514", "ap-northeast-1", "apac.anthropic.claude-opus-4-20250514-v1:0"),
    ("claude-sonnet-4-5-20250929", "us-gov-west-1", "us-gov.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("claude-sonnet-4-5-20250929", "sa-east-1", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    # a dated Claude name the table does not know follows the pattern of newer models
    ("claude-opus-5-20260101", "us-east-2", "us.anthropic.claude-opus-5-20260101-v1:0"),
    # ids, profiles and ARNs are used as given
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "us-east-1", "anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "us-east-1", "us.anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1",
     "global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
     "us-east-1",
     "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ("claude-custom", "us-east-1", "claude-custom"),
])
def test_model_ids(model: str, region: str, expected: str) -> None:
    assert model_id(model, region) == expected


def test_registry_models_all_have_ids() -> None:
    spec = PROVIDERS[33]
    for m in spec.models + (spec.test_model,):
        if is_claude(m):
            assert m in MODEL_IDS, m
        else:  # other vendors' Bedrock ids, used as given, through the Converse API
            assert model_id(m, "us-east-1") == m and m.split(".")[0] in ("meta", "mistral", "amazon", "cohere"), m
    assert {"meta.llama3-8b-instruct-v1:0", "meta.llama3-70b-instruct-v1:0"} <= set(spec.models)
    assert any(m.startswith("meta.llama3-1-") for m in spec.models)
    assert any(m.startswith("mistral.") for m in spec.models) and any(m.startswith("amazon.nova-") for m in spec.models)
    assert any(m.startswith("cohere.command-r") for m in spec.models) and "Converse" in spec.note
    assert PROFILE_ONLY <= set(MODEL_IDS.values())
    assert spec.adaptor == "bedrock" and spec.modes == (CHAT, MESSAGES) and spec.auth == "signed"
    assert spec.key_from_config == "{ak}|{sk}|{region}" and spec.supported
    assert type(build_registry()[33]) is BedrockAdaptor


def test_credentials_from_key_config_and_session_token() -> None:
    c = credentials(target(key="AK|SK|eu-west-1"))
    assert (c.access_key, c.secret_key, c.region, c.session_token, c.api_key) == ("AK", "SK", "eu-west-1", "", "")
    c = credentials(target(key=" AK | SK | us-east-1 | tok "))
    assert (c.access_key, c.secret_key, c.region, c.session_token) == ("AK", "SK", "us-east-1", "tok")
    c = credentials(target(key="AK|SK", config={"region": "us-west-2"}))
    assert c.region == "us-west-2"
    c = credentials(target(key="", config={"ak": "CAK", "sk": "CSK", "region": "ap-south-1"}))
    assert (c.access_key, c.secret_key, c.region) == ("CAK", "CSK", "ap-south-1")
    c = credentials(target(key="||", config={"ak": "CAK", "sk": "CSK", "region": "ap-south-1"}))
    assert c.access_key == "CAK"
    c = credentials(target(key="ABSKbedrockapikey", config={"region": "us-east-1"}))  # a Bedrock API key
    assert c.api_key == "ABSKbedrockapikey" and c.region == "us-east-1" and not c.access_key
    c = credentials(target(key="ABSKkey", config={"ak": "CAK", "sk": "CSK", "region": "eu-west-3"}))
    assert c.api_key == "ABSKkey" and c.region == "eu-west-3" and not c.access_key


@pytest.mark.parametrize("key, config, match", [
    ("AK||us-east-1", {}, "secret access key"),
    ("|SK|us-east-1", {}, "access key ID"),
    ("AK|SK", {}, "no region"),
    ("ABSKkey", {}, "no region"),
    ("AK|SK|us east 1", {}, "not an AWS region"),
])
def test_credentials_missing_parts_are_a_config_error(key: str, config: dict[str, Any], match: str) -> None:
    with pytest.raises(UpstreamRejected, match=match) as e:
        BedrockAdaptor().build_request(make_req(), target(key=key, config=config))
    f = e.value.failure
    assert f.status == 503 and f.code == "channel_config_missing" and f.retryable and not f.disables_channel


# --------------------------------------------------------------------------- request


def test_body_is_the_anthropic_body_without_model_and_stream() -> None:
    body = to_bedrock_request({
        "model": "x", "stream": True, "stream_options": {"include_usage": True}, "seed": 1, "n": 1,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "max_tokens": 64, "temperature": 0.5, "stop": "END", "user": "u-1",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "required"}, ["token-efficient-tools-2025-02-19"])
    assert list(body)[0] == "anthropic_version" and body["anthropic_version"] == "bedrock-2023-05-31"
    assert body == {
        "anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["token-efficient-tools-2025-02-19"],
        "system": "Be brief.", "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "max_tokens": 64, "temperature": 0.5, "stop_sequences": ["END"], "metadata": {"user_id": "u-1"},
        "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": {"type": "any"},
    }


def test_build_request_url_headers_and_signature() -> None:
    ad = BedrockAdaptor(clock=lambda: EXAMPLE_TIME.timestamp())
    up = ad.build_request(make_req(), target(key="AKIDEXAMPLE|" + EXAMPLE_SK + "|us-east-1"))
    assert up.method == "POST"
    assert up.url == "https://bedrock-runtime.us-east-1.amazonaws.com/model/" \
                     "anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke"
    assert up.headers["Content-Type"] == "application/json" and up.headers["Accept"] == "application/json"
    assert up.headers["X-Amz-Date"] == "20150830T123600Z"
    auth = up.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
                           "SignedHeaders=content-type;host;x-amz-date, Signature=")
    sent = json.loads(up.body or b"")
    assert "model" not in sent and "stream" not in sent and sent["anthropic_version"] == "bedrock-2023-05-31"

    up = ad.build_request(make_req(stream=True), target(base_url="http://127.0.0.1:9/", key="A|S|eu-west-1|TOKEN",
                                                          config={"anthropic_beta": "a-1, b-2"}))
    assert up.url == "http://127.0.0.1:9/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke-with-response-stream"
    assert up.headers["Accept"] == "application/vnd.amazon.eventstream"
    assert up.headers["X-Amzn-Bedrock-Accept"] == "application/json"
    assert up.headers["X-Amz-Security-Token"] == "TOKEN"
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in up.headers["Authorization"]
    assert "/eu-west-1/bedrock/" in up.headers["Authorization"]
    sent = json.loads(up.body or b"")
    assert "stream" not in sent and sent["anthropic_beta"] == ["a-1", "b-2"]

    # an ARN is one path segment: ":" and "/" are percent-encoded
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
    up = ad.build_request(make_req(model=arn), target())
    assert up.url.endswith("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
                           "%2Fus.anthropic.claude-3-7-sonnet-20250219-v1%3A0/invoke")
    # a {region} placeholder in a custom endpoint is filled in
    up = ad.build_request(make_req(), target(base_url="https://vpce-1.bedrock-runtime.{region}.vpce.amazonaws.com"))
    assert up.url.startswith("https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com/model/")
    # a Bedrock API key is a Bearer token, unsigned
    up = ad.build_request(make_req(), target(key="ABSKkey", config={"region": "us-west-2"}))
    assert up.headers["Authorization"] == "Bearer ABSKkey" and "X-Amz-Date" not in up.headers
    assert up.url.startswith("https://bedrock-runtime.us-west-2.amazonaws.com/")


# --------------------------------------------------------------------------- responses, errors


def test_parse_response_is_the_anthropic_conversion() -> None:
    msg = {"id": "msg_bdrk_1", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20241022",
           "content": [{"type": "text", "text": "Hi"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}],
           "stop_reason": "tool_use", "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 2}}
    parsed = BedrockAdaptor().parse_response(make_req(), 200, json.dumps(msg).encode())
    data = json.loads(parsed.body)
    assert data["model"] == "my-claude" and data["id"] == "msg_bdrk_1"
    assert data["choices"][0]["finish_reason"] == "tool_calls"
    assert data["choices"][0]["message"]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert parsed.usage == Usage(7, 7)
    assert BedrockAdaptor().parse_response(make_req(), 200, b"<html>").body == b"<html>"


AMZN = "http://internal.amazon.com/coral/com.amazon.bedrock/"


@pytest.mark.parametrize("status, message, header, etype, retryable, disables", [
    (403, "The security token included in the request is invalid.", "UnrecognizedClientException:" + AMZN,
     "UnrecognizedClientException", True, True),
    (403, "The security token included in the request is invalid.", None, "UnrecognizedClientException", True, True),
    (403, "The request signature we calculated does not match the signature you provided.", None,
     "InvalidSignatureException", True, True),
    (403, "You don't have access to the model with the specified model ID.", None, "AccessDeniedException", True, True),
    (429, "Too many requests, please wait before trying again.", "ThrottlingException:" + AMZN,
     "ThrottlingException", True, False),
    (429, "Too many tokens, please wait before trying again.", None, "ThrottlingException", True, False),
    (400, "The provided model identifier is invalid.", "ValidationException:" + AMZN, "ValidationException",
     False, False),
    (400, "Malformed input request: #: extraneous key [seed] is not permitted", None, "ValidationException",
     False, False),
    (404, "Model not found", None, "ResourceNotFoundException", True, False),
    (408, "Model has timed out in processing the request.", None, "ModelTimeoutException", True, False),
    (424, "Model returned an error", None, "ModelErrorException", True, False),
    (500, "The server encountered an internal error.", None, "InternalServerException", True, False),
    (503, "Bedrock is unable to process your request.", None, "ServiceUnavailableException", True, False),
])
def test_errors(status: int, message: str, header: str | None, etype: str, retryable: bool, disables: bool) -> None:
    headers = {"X-Amzn-ErrorType": header} if header else None
    f = BedrockAdaptor().parse_error(status, json.dumps({"message": message}).encode(), headers)
    assert (f.status, f.message, f.type, f.code) == (status, message, etype, etype)
    assert (f.retryable, f.disables_channel) == (retryable, disables)
    assert f.payload == {"message": message, "type": etype, "param": "", "code": etype}


def test_error_other_shapes() -> None:
    f = parse_bedrock_error(400, b'{"__type":"com.amazon.coral.validate#ValidationException","Message":"bad"}')
    assert f.message == "bad" and f.code == "ValidationException" and not f.retryable
    f = parse_bedrock_error(502, b"<html>Bad Gateway</html>")
    assert f.message == "<html>Bad Gateway</html>" and f.code == "upstream_error" and f.retryable
    f = parse_bedrock_error(500, b"")
    assert f.message == "upstream returned HTTP 500"
    f = parse_bedrock_error(400, b'{"message":"Your credit balance is too low"}')
    assert f.disables_channel and not f.retryable


# --------------------------------------------------------------------------- stream

RECORDED = b"".join(chunk_frame(data) for _, data in RECORDED_EVENTS)


def run_stream(pieces: list[bytes], req: RelayRequest | None = None) -> tuple[BedrockStream, bytes]:
    ts = BedrockStream(req or make_req(stream=True), created=1700000000)
    return ts, transcode(ts, pieces)


def check_recorded(ts: BedrockStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    for c in chunks:
        c["model"] = "my-claude"
    assert simplify(chunks) == EXPECTED_CHUNKS
    assert ts.usage == Usage(582, 89) and ts.done and ts.error is None


def test_stream_split_at_every_byte() -> None:
    assert_every_split(RECORDED, run_stream, check_recorded, Usage(582, 89))


def test_stream_byte_by_byte_and_in_one_piece() -> None:
    ts, out = run_stream(byte_by_byte(RECORDED))
    check_recorded(ts, out)
    check_recorded(*run_stream([RECORDED]))


def test_stream_exception_frame_becomes_an_error_frame() -> None:
    data = b"".join(chunk_frame(d) for _, d in RECORDED_EVENTS[:4]) + exception_frame(
        "throttlingException", "Too many tokens, please wait before trying again.") + RECORDED
    ts, out = run_stream([data])
    chunks, dones = decode_frames(out)
    assert dones == 1
    assert chunks[-1] == {"error": {"message": "Too many tokens, please wait before trying again.",
                                    "type": "throttlingException", "param": "", "code": "throttlingException"}}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]) == "Okay, let's check "
    assert ts.error == "Too many tokens, please wait before trying again."
    # the error-message kind of frame, too
    err = encode_frame({":message-type": "error", ":error-code": "InternalFailure",
                        ":error-message": "An internal error occurred"}, b"")
    ts, out = run_stream([err])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1]["error"]["code"] == "InternalFailure"
    assert ts.error == "An internal error occurred"


def test_stream_corrupt_frame_ends_with_an_error() -> None:
    frames = [chunk_frame(d) for _, d in RECORDED_EVENTS]
    bad = bytearray(frames[4])
    bad[-10] ^= 0x20
    data = b"".join(frames[:4]) + bytes(bad) + b"".join(frames[5:])
    for cut in (len(data) // 2, len(b"".join(frames[:4])) + 3):
        ts, out = run_stream([data[:cut], data[cut:]])
        chunks, dones = decode_frames(out)
        assert dones == 1
        assert chunks[-1]["error"]["code"] == "InvalidEventStream" and "CRC" in chunks[-1]["error"]["message"]
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1] if c.get("choices")) \
            == "Okay, let's check "


def test_stream_without_message_usage_takes_the_invocation_metrics() -> None:
    events = [
        {"type": "message_start", "message": {"id": "msg_x", "content": []}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 9, "outputTokenCount": 4}},
    ]
    ts, out = run_stream([b"".join(chunk_frame(e) for e in events)])
    assert ts.usage == Usage(9, 4) and ts.done
    # other event types (initial-response) and junk payloads are skipped
    skip = encode_frame({":message-type": "event", ":event-type": "initial-response"}, b"{}")
    junk = encode_frame({":message-type": "event", ":event-type": "chunk"}, b'{"bytes":"!!"}')
    ts, out = run_stream([skip + junk + RECORDED])
    check_recorded(ts, out)
    ts, out = run_stream([b""])  # cut before anything: still [DONE]
    assert out == DONE_FRAME


# --------------------------------------------------------------------------- the fake, directly


class FakeBedrock:
    def __init__(self, recorder: list[dict[str, Any]], url: str) -> None:
        self.recorder, self.url = recorder, url

    def keys(self) -> list[str]:
        return [r["access_key"] for r in self.recorder]


@pytest.fixture
async def bedrock() -> AsyncIterator[FakeBedrock]:
    recorder: list[dict[str, Any]] = []
    async with serving(make_bedrock_app(recorder)) as url:
        yield FakeBedrock(recorder, url)


async def test_round_trip_with_fake_bedrock(bedrock: FakeBedrock) -> None:
    ad = BedrockAdaptor()
    t = target(base_url=bedrock.url)
    req = make_req({"model": "my-claude", "messages": [{"role": "user", "content": "Hi"}], "seed": 1})
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    parsed = ad.parse_response(req, resp.code, resp.body)
    assert json.loads(parsed.body)["choices"][0]["message"]["content"] == TEXT_REPLY
    assert parsed.usage == Usage(PROMPT_TOKENS, TEXT_OUTPUT_TOKENS)
    assert bedrock.recorder[-1]["path"] == "/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke"

    req = make_req(stream=True)
    resp, ts, out = await send_stream(ad, req, t)
    assert resp.code == 200
    chunks, dones = decode_frames(out)
    assert dones == 1 and ts.done
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == TEXT_REPLY
    assert ts.usage == Usage(PROMPT_TOKENS, TEXT_OUTPUT_TOKENS)

    # temporary credentials, an EU key with a profile-only model, an ARN
    for key, model in ((f"ASIAFAKETEMP|{SECRET}|{REGION}|{SESSION_TOKEN}", MODEL),
                       (f"AKIDFAKEEU|{SECRET}|{EU_REGION}", "claude-sonnet-4-20250514"),
                       (GOOD_KEY, "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                                  "us.anthropic.claude-3-7-sonnet-20250219-v1:0")):
        resp = await send(ad.build_request(make_req(model=model), target(base_url=bedrock.url, key=key)))
        assert resp.code == 200, resp.body
    assert bedrock.recorder[-2]["model"] == "eu.anthropic.claude-sonnet-4-20250514-v1:0"
    assert bedrock.recorder[-1]["path"].startswith("/model/arn%3Aaws%3Abedrock%3A")

    # what Bedrock rejects, the fake rejects
    for key, status, etype in ((f"AKIDFAKEBEDROCK|wrong-secret|{REGION}", 403, "InvalidSignatureException"),
                               (f"AKIDNOBODY|{SECRET}|{REGION}", 403, "UnrecognizedClientException"),
                               (f"ASIAFAKETEMP|{SECRET}|{REGION}", 403, "UnrecognizedClientException"),
                               (f"AKIDFAKEBEDROCK|{SECRET}|{EU_REGION}", 403, "InvalidSignatureException"),
                               (f"AKIDTHROTTLED|{SECRET}|{REGION}", 429, "ThrottlingException")):
        resp = await send(ad.build_request(make_req(), target(base_url=bedrock.url, key=key)))
        assert resp.code == status, (key, resp.body)
        f = ad.parse_error(resp.code, resp.body, dict(resp.headers))
        assert f.code == etype, key
        assert f.disables_channel == (status == 403)
    up = ad.build_request(make_req(model="anthropic.claude-3-7-sonnet-20250219-v1:0"), t)
    resp = await send(up)
    assert resp.code == 400 and b"inference profile" in resp.body
    up = ad.build_request(make_req(), t)
    up.body = json.dumps({**json.loads(up.body or b""), "model": "x"}).encode()
    resp = await send(up)  # the body changed after signing
    assert resp.code == 403
    up = ad.build_request(make_req(), t)
    sent = {**json.loads(up.body or b""), "stream": True}
    up.body = json.dumps(sent).encode()
    up.headers = {k: v for k, v in up.headers.items() if k not in ("Authorization", "X-Amz-Date")}
    up.headers.update(ad.build_request(make_req(), t).headers)  # re-signed for the old body: still rejected
    assert (await send(up)).code == 403


# --------------------------------------------------------------------------- through OneRelay


async def _setup(gw: Gateway, bedrock: FakeBedrock, key: str = GOOD_KEY, **fields: Any) -> str:
    return await channel_token(gw, type=33, key=key, base_url=bedrock.url,
                               models=f"{MODEL},claude-3-haiku-20240307", **fields)


WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                              "parameters": {"type": "object",
                                                             "properties": {"city": {"type": "string"}}}}}]


async def test_gateway_chat_plain(gw: Gateway, bedrock: FakeBedrock) -> None:
    key = await _setup(gw, bedrock)
    resp = await gw.client(key).chat.completions.create(
        model=MODEL, max_tokens=100, temperature=0.3, seed=7,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == TEXT_REPLY and resp.choices[0].finish_reason == "stop"
    assert resp.model == MODEL and resp.id == MESSAGE_ID
    assert resp.usage is not None and (resp.usage.prompt_tokens, resp.usage.completion_tokens) == \
        (PROMPT_TOKENS, TEXT_OUTPUT_TOKENS)
    sent = bedrock.recorder[-1]
    assert sent["path"] == "/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke"
    assert sent["json"] == {"anthropic_version": "bedrock-2023-05-31", "system": "Be brief.",
                            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                            "max_tokens": 100, "temperature": 0.3}
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0 and logs[0]["model_name"] == MODEL
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (PROMPT_TOKENS, TEXT_OUTPUT_TOKENS)


async def test_gateway_stream(gw: Gateway, bedrock: FakeBedrock) -> None:
    key = await _setup(gw, bedrock)
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == TEXT_REPLY and seen.finish == "stop" and seen.models == {MODEL}
    assert seen.usage is not None
    assert (seen.usage.prompt_tokens, seen.usage.completion_tokens) == (PROMPT_TOKENS, TEXT_OUTPUT_TOKENS)
    sent = bedrock.recorder[-1]
    assert sent["action"] == "invoke-with-response-stream"
    assert "stream" not in sent["json"] and "stream_options" not in sent["json"]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["is_stream"] and logs[0]["quota"] > 0
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == (PROMPT_TOKENS, TEXT_OUTPUT_TOKENS)


async def test_gateway_tool_calls(gw: Gateway, bedrock: FakeBedrock) -> None:
    key = await _setup(gw, bedrock)
    client = gw.client(key)
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages, tools=WEATHER,  # type: ignore
                                                tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.id == TOOL_USE_ID and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == TOOL_INPUT
    assert resp.usage is not None and resp.usage.completion_tokens == TOOL_OUTPUT_TOKENS
    sent = bedrock.recorder[-1]["json"]
    assert sent["tools"][0]["name"] == "get_weather" and sent["tool_choice"] == {"type": "tool", "name": "get_weather"}

    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    resp = await client.chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == TEXT_REPLY
    turns = bedrock.recorder[-1]["json"]["messages"]
    assert turns[1]["content"] == [{"type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": TOOL_INPUT}]
    assert turns[2]["content"] == [{"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": "sunny"}]

    stream = await client.chat.completions.create(model=MODEL, messages=messages[:1], tools=WEATHER,  # type: ignore
                                                  stream=True)
    name, args, finish, indexes = None, "", None, set()
    async for chunk in stream:
        for ch in chunk.choices:
            for tc in ch.delta.tool_calls or ():
                indexes.add(tc.index)
                name = (tc.function.name if tc.function else None) or name
                args += (tc.function.arguments if tc.function else None) or ""
            finish = ch.finish_reason or finish
    assert name == "get_weather" and json.loads(args) == TOOL_INPUT and finish == "tool_calls" and indexes == {0}
    logs = await gw.logs()
    assert len(logs) == 3 and all(log["quota"] > 0 for log in logs)
    assert {log["completion_tokens"] for log in logs} == {TOOL_OUTPUT_TOKENS, TEXT_OUTPUT_TOKENS}


async def test_gateway_model_mapping_to_a_profile_arn(gw: Gateway, bedrock: FakeBedrock) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
    await gw.channel(type=33, key=GOOD_KEY, base_url=bedrock.url, models="sonnet",
                     model_mapping=json.dumps({"sonnet": arn}))
    key = await gw.token()
    resp = await gw.client(key).chat.completions.create(model="sonnet", messages=[{"role": "user", "content": "x"}])
    assert resp.model == "sonnet" and resp.choices[0].message.content == TEXT_REPLY
    assert bedrock.recorder[-1]["model"] == arn  # signature verified by the fake despite the ":" and "/"


async def test_gateway_error_in_openai_shape_and_channel_disabled(gw: Gateway, bedrock: FakeBedrock) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"})
    cid = await gw.channel(type=33, key=f"AKIDFAKEBEDROCK|wrong-secret|{REGION}", base_url=bedrock.url, models=MODEL)
    key = await gw.token()
    with pytest.raises(openai.PermissionDeniedError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 403
    assert "signature we calculated does not match" in e.value.message
    assert e.value.code == "InvalidSignatureException"
    assert isinstance(e.value.body, dict) and e.value.body["type"] == "InvalidSignatureException"
    status = None
    for _ in range(50):
        status = (await gw.ok("GET", f"/api/channel/{cid}"))["status"]
        if status == 3:
            break
        await asyncio.sleep(0.05)
    assert status == 3
    assert await gw.logs() == []


async def test_gateway_validation_error_is_not_retried(gw: Gateway, bedrock: FakeBedrock) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "2"})
    await gw.channel(type=33, key=GOOD_KEY, base_url=bedrock.url, models="bad-model", priority=5,
                     model_mapping=json.dumps({"bad-model": "meta.llama3-8b"}))
    await gw.channel(type=33, key=GOOD_KEY, base_url=bedrock.url, models="bad-model")
    key = await gw.token()
    with pytest.raises(openai.BadRequestError) as e:
        await gw.client(key).chat.completions.create(model="bad-model", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "ValidationException" and "model identifier is invalid" in e.value.message
    assert len(bedrock.recorder) == 1


@pytest.mark.parametrize("failing, stream", [("AKIDBROKEN", False), ("AKIDUNAVAILABLE", True),
                                             ("AKIDTHROTTLED", False)])
async def test_gateway_retries_another_channel(gw: Gateway, bedrock: FakeBedrock, failing: str, stream: bool) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    await gw.channel(type=33, key=f"{failing}|{SECRET}|{REGION}", base_url=bedrock.url, models=MODEL, priority=10)
    await gw.channel(type=33, key=GOOD_KEY, base_url=bedrock.url, models=MODEL, priority=0)
    key = await gw.token()
    client = gw.client(key)
    assert await ask(client, MODEL, stream) == TEXT_REPLY
    assert bedrock.keys() == [failing, "AKIDFAKEBEDROCK"]
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0


async def test_gateway_throttled_without_retry_is_a_rate_limit(gw: Gateway, bedrock: FakeBedrock) -> None:
    key = await _setup(gw, bedrock, key=f"AKIDTHROTTLED|{SECRET}|{REGION}")
    with pytest.raises(openai.RateLimitError) as e:
        await gw.client(key).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "ThrottlingException"


async def test_gateway_mid_stream_exception(gw: Gateway, bedrock: FakeBedrock) -> None:
    key = await _setup(gw, bedrock, key=f"AKIDSTREAMERR|{SECRET}|{REGION}")
    stream = await gw.client(key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
    parts: list[str] = []
    with pytest.raises(openai.APIError) as e:
        await read_text(stream, parts)
    assert "model stream was interrupted" in str(e.value.message)
    assert "".join(parts) == "Hello"
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["completion_tokens"] > 0


async def test_gateway_channel_test(gw: Gateway, bedrock: FakeBedrock) -> None:
    cid = await gw.channel(type=33, key=GOOD_KEY, base_url=bedrock.url, models="claude-3-haiku-20240307")
    code, data = await gw.api("GET", f"/api/channel/test/{cid}")
    assert code == 200 and data["success"] is True, data
    assert bedrock.recorder[-1]["model"] == "anthropic.claude-3-haiku-20240307-v1:0"
    cid = await gw.channel(type=33, key="AK|SK", base_url=bedrock.url, models="claude-3-haiku-20240307")
    code, data = await gw.api("GET", f"/api/channel/test/{cid}")
    assert code == 200 and data["success"] is False and "region" in data["message"], data


# =========================================================================== Anthropic Messages (/v1/messages)

# A Claude Code-like request, written as a client writes it: spacing, key order, number forms and
# escapes that a re-serialisation would change, a thinking signature, cache_control, tool blocks.
CLIENT_BODY = (
    b'{ "model" : "claude-3-5-sonnet-20241022", "max_tokens": 1024,\n'
    b' "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],\n'
    b' "messages": [{"role": "user", "content": "Weather in Paris? caf\\u00e9"},\n'
    b'  {"role": "assistant", "content": [{"type": "thinking", "thinking": "Use the tool.",'
    b' "signature": "EqQBCgIYAhIM+/=="}, {"type": "tool_use", "id": "toolu_1", "name": "get_weather",'
    b' "input": {"city": "Paris"}}]},\n'
    b'  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny",'
    b' "cache_control": {"type": "ephemeral"}}]}],\n'
    b' "temperature": 1.0, "top_k": 5e0, "stream": true,\n'
    b' "thinking": {"type": "enabled", "budget_tokens": 1024},\n'
    b' "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],'
    b' "metadata": {"user_id": "u-1"} }'
)
# What Bedrock gets: anthropic_version first, model and stream gone, every other member as written.
BEDROCK_BODY = (
    b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"system":[{"type": "text", "text": '
    b'"Be brief.", "cache_control": {"type": "ephemeral"}}],"messages":[{"role": "user", "content": '
    b'"Weather in Paris? caf\\u00e9"},\n  {"role": "assistant", "content": [{"type": "thinking", "thinking": '
    b'"Use the tool.", "signature": "EqQBCgIYAhIM+/=="}, {"type": "tool_use", "id": "toolu_1", "name": '
    b'"get_weather", "input": {"city": "Paris"}}]},\n  {"role": "user", "content": [{"type": "tool_result", '
    b'"tool_use_id": "toolu_1", "content": "sunny", "cache_control": {"type": "ephemeral"}}]}],'
    b'"temperature":1.0,"top_k":5e0,"thinking":{"type": "enabled", "budget_tokens": 1024},'
    b'"tools":[{"name": "get_weather", "input_schema": {"type": "object"}}],"metadata":{"user_id": "u-1"}}'
)


def messages_req(raw: bytes = CLIENT_BODY, *, model: str = MODEL, stream: bool | None = None,
                 headers: dict[str, str] | None = None, mapped: str | None = None) -> RelayRequest:
    body = json.loads(raw)
    rewrite = False
    if mapped is not None:  # the channel maps the model: the pipeline rewrites body["model"]
        body = {**body, "model": mapped}
        model, rewrite = mapped, True
    return RelayRequest(mode=MESSAGES, body=body, raw=raw, model=model, requested_model=body["model"],
                        stream=bool(body.get("stream")) if stream is None else stream, rewrite=rewrite,
                        headers=headers or {})


@pytest.mark.parametrize("model, claude", [
    (MODEL, True), ("claude-opus-4-1-20250805", True), ("anthropic.claude-3-haiku-20240307-v1:0", True),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", True), ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", True),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0", True),
    ("meta.llama3-1-70b-instruct-v1:0", False), ("us.amazon.nova-pro-v1:0", False), ("mistral.mistral-large", False),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", False),
])
def test_speaks_messages_for_claude_only(model: str, claude: bool) -> None:
    ad = BedrockAdaptor()
    assert ad.speaks(MESSAGES, model) is claude
    assert ad.speaks(CHAT, model) and not ad.speaks("embeddings", model) and not ad.speaks("responses", model)
    assert build_registry()[33].speaks(MESSAGES, model) is claude


def test_messages_body_is_the_clients_bytes_for_invoke_model() -> None:
    now = 1_700_000_000.0
    ad = BedrockAdaptor(clock=lambda: now)
    up = ad.build_request(messages_req(), target(base_url="http://127.0.0.1:9"))
    assert up.body == BEDROCK_BODY
    sent = json.loads(up.body)
    assert sent["messages"][1]["content"][0]["signature"] == "EqQBCgIYAhIM+/=="
    assert up.url == "http://127.0.0.1:9/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke-with-response-stream"
    assert up.headers["Accept"] == "application/vnd.amazon.eventstream"
    assert "anthropic-version" not in {k.lower() for k in up.headers}
    # the fake's own SigV4 verifier accepts the signature of exactly these bytes
    path = up.url.split("127.0.0.1:9", 1)[1]
    wire = list(up.headers.items()) + [("Host", "127.0.0.1:9")]
    assert verify_sigv4("POST", path, "", wire, up.body, now=now) is None
    assert verify_sigv4("POST", path, "", wire, up.body.replace(b"1.0", b"1"), now=now) is not None

    # non-stream: /invoke; the betas (client header, then the channel's, no repeats) go into the body
    raw = CLIENT_BODY.replace(b'"stream": true', b'"stream": false')
    up = ad.build_request(messages_req(raw, headers={"anthropic-beta": "interleaved-thinking-2025-05-14, a-1"}),
                          target(config={"anthropic_beta": "a-1,b-2"}))
    assert up.url.endswith("/invoke") and up.headers["Accept"] == "application/json"
    assert up.body == BEDROCK_BODY[:-1] + b',"anthropic_beta":["interleaved-thinking-2025-05-14","a-1","b-2"]}'
    # a mapped model (the pipeline rewrote "model") changes nothing but the URL
    profile = "us.anthropic.claude-sonnet-4-20250514-v1:0"
    up = ad.build_request(messages_req(mapped=profile), target())
    assert up.body == BEDROCK_BODY and "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/" in up.url
    # a Bedrock API key: Bearer, unsigned, same body
    up = ad.build_request(messages_req(), target(key="ABSKkey", config={"region": "us-west-2"}))
    assert up.headers["Authorization"] == "Bearer ABSKkey" and up.body == BEDROCK_BODY


def test_messages_body_falls_back_to_the_parsed_body() -> None:
    ad = BedrockAdaptor()
    # duplicate keys: the bytes say two things, the parsed body one (the last): that one is sent
    raw = b'{"model":"m","max_tokens":1,"max_tokens":7,"messages":[{"role":"user","content":"x"}]}'
    up = ad.build_request(messages_req(raw, stream=False), target())
    assert json.loads(up.body or b"") == {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 7,
                                          "messages": [{"role": "user", "content": "x"}]}
    assert up.body.count(b"max_tokens") == 1
    # a body the pipeline changed beyond the model
    req = messages_req(stream=False)
    req.body = {**req.body, "temperature": 0.2}
    req.rewrite = True
    assert json.loads(ad.build_request(req, target()).body or b"")["temperature"] == 0.2
    # a client anthropic_version / anthropic_beta in the body: Bedrock's version wins, betas merged
    raw = b'{"anthropic_version":"x","model":"m","anthropic_beta":["a"],"max_tokens":1,"messages":[]}'
    body = json.loads(ad.build_request(messages_req(raw, stream=False, headers={"anthropic-beta": "b,a"}),
                                       target()).body or b"")
    assert body == {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1, "messages": [],
                    "anthropic_beta": ["a", "b"]}


def test_messages_answer_passed_through() -> None:
    ad = BedrockAdaptor()
    answer = json.dumps({"id": "msg_1", "type": "message", "role": "assistant", "model": MODEL, "content": [
        {"type": "thinking", "thinking": "hm", "signature": "sig=="}, {"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn", "usage": {"input_tokens": 10, "output_tokens": 5,
                                             "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2}}).encode()
    parsed = ad.parse_response(messages_req(stream=False), 200, answer)
    assert parsed.body == answer and parsed.usage == Usage(15, 5)


# A Bedrock Messages stream: thinking with its signature, a tool call, invocation metrics.
MSG_EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_bdrk_1", "type": "message", "role": "assistant",
                                          "model": "claude-3-5-sonnet-20241022", "content": [], "stop_reason": None,
                                          "stop_sequence": None,
                                          "usage": {"input_tokens": 20, "cache_read_input_tokens": 5,
                                                    "cache_creation_input_tokens": 1, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Use the tool."}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIY+/=="}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_9",
                                                                  "name": "get_weather", "input": {}}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}},
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"output_tokens": 30}},
    {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 26, "outputTokenCount": 30,
                                                                  "invocationLatency": 500, "firstByteLatency": 90}},
]
MSG_RECORDED = encode_frame({":message-type": "event", ":event-type": "initial-response"}, b"{}") + \
    b"".join(chunk_frame(e) for e in MSG_EVENTS)
MSG_SSE = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in MSG_EVENTS)


def run_messages_stream(pieces: list[bytes]) -> tuple[Any, bytes]:
    ts = BedrockAdaptor().new_stream(messages_req())
    return ts, transcode(ts, pieces)


def check_messages_stream(ts: Any, out: bytes) -> None:
    assert out == MSG_SSE  # each event's JSON exactly as Bedrock encoded it
    assert ts.usage == Usage(26, 30) and ts.done and ts.error is None
    assert ts.completion_text == 'Use the tool.{"city": "Paris"}'


def test_messages_stream_split_at_every_byte() -> None:
    assert_every_split(MSG_RECORDED, run_messages_stream, check_messages_stream, Usage(26, 30))
    check_messages_stream(*run_messages_stream(byte_by_byte(MSG_RECORDED)))


def test_messages_stream_usage_from_metrics_and_errors() -> None:
    # no usage in the events: the invocation metrics
    events = [{"type": "message_start", "message": {"id": "m", "content": []}},
              {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 9,
                                                                            "outputTokenCount": 4}}]
    ts, out = run_messages_stream([b"".join(chunk_frame(e) for e in events)])
    assert ts.usage == Usage(9, 4) and ts.done and out.count(b"event: ") == 2
    # an exception frame: an Anthropic error event, then nothing more
    data = b"".join(chunk_frame(e) for e in MSG_EVENTS[:3]) + exception_frame(
        "throttlingException", "Too many tokens, please wait before trying again.") + chunk_frame(MSG_EVENTS[3])
    ts, out = run_messages_stream([data])
    frames = out.split(b"\n\n")[:-1]
    assert len(frames) == 4 and frames[:3] == MSG_SSE.split(b"\n\n")[:3]
    assert frames[3] == (b'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error",'
                         b'"message":"Too many tokens, please wait before trying again."}}')
    assert ts.error == "Too many tokens, please wait before trying again." and not ts.done
    ts, out = run_messages_stream([exception_frame("modelStreamErrorException", "interrupted")])
    assert json.loads(out.split(b"data: ", 1)[1])["error"] == {"type": "api_error", "message": "interrupted"}
    # a corrupt frame, and a stream cut inside a frame
    bad = bytearray(chunk_frame(MSG_EVENTS[1]))
    bad[-10] ^= 0x20
    ts, out = run_messages_stream([chunk_frame(MSG_EVENTS[0]) + bytes(bad)])
    assert out.count(b"event: ") == 2 and b"event: error" in out and b"corrupt event stream" in out
    assert ts.error and "CRC" in ts.error
    ts, out = run_messages_stream([chunk_frame(MSG_EVENTS[0]) + chunk_frame(MSG_EVENTS[1])[:20]])
    assert out.endswith(b"\n\n") and b"event: error" in out and ts.error
    # an Anthropic error event inside a chunk is relayed as it is
    err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    ts, out = run_messages_stream([chunk_frame(err) + chunk_frame(MSG_EVENTS[0])])
    assert out == f"event: error\ndata: {json.dumps(err)}\n\n".encode() and ts.error == "Overloaded"


# --------------------------------------------------------------------------- the anthropic SDK through OneRelay

try:  # the HTTP library this anthropic build uses (httpx2 here, httpx in others)
    import httpx2 as httpx  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

import anthropic  # noqa: E402

from adaptors.bedrock import _top_level_members  # noqa: E402
from tests.fake_bedrock import THINKING_SIGNATURE, THINKING_TEXT, THINKING_TOKENS  # noqa: E402

CLAUDE_TOOLS: list[Any] = [{"name": "get_weather", "description": "Weather",
                            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def claude_client(gw: Gateway, key: str, sent: list[bytes]) -> anthropic.AsyncAnthropic:
    """The anthropic SDK pointed at OneRelay; the bodies it sends are kept in ``sent``."""
    async def hook(request: Any) -> None:
        sent.append(request.read())
    http = httpx.AsyncClient(event_hooks={"request": [hook]}, timeout=60.0)
    return anthropic.AsyncAnthropic(base_url=gw.url, api_key=key, max_retries=0, http_client=http)


def assert_members_verbatim(client_body: bytes, upstream_body: bytes) -> None:
    """Every member of the client's body but model and stream reaches Bedrock as written."""
    members = _top_level_members(client_body.decode())
    assert members
    for name, raw_key, raw_value in members:
        if name not in ("model", "stream"):
            assert f"{raw_key}:{raw_value}".encode() in upstream_body, name


async def test_gateway_messages_plain_with_thinking_cache_control_and_beta(gw: Gateway, bedrock: FakeBedrock) -> None:
    key = await _setup(gw, bedrock)
    sent: list[bytes] = []
    system: Any = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    msg = await claude_client(gw, key, sent).messages.create(
        model=MODEL, max_tokens=2048, system=system, messages=[{"role": "user", "content": "hi"}],
        thinking={"type": "enabled", "budget_tokens": 1024}, metadata={"user_id": "u-1"},
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"})
    assert msg.id == MESSAGE_ID and msg.stop_reason == "end_turn"
    assert msg.content[0].type == "thinking" and msg.content[0].thinking == THINKING_TEXT
    assert msg.content[0].signature == THINKING_SIGNATURE
    assert msg.content[1].type == "text" and msg.content[1].text == TEXT_REPLY
    assert (msg.usage.input_tokens, msg.usage.cache_read_input_tokens) == (INPUT_TOKENS, CACHE_READ_TOKENS)
    up = bedrock.recorder[-1]
    assert up["path"] == "/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/invoke"
    assert up["json"] == {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 2048,
                          "messages": [{"role": "user", "content": "hi"}], "metadata": {"user_id": "u-1"},
                          "system": system, "thinking": {"type": "enabled", "budget_tokens": 1024},
                          "anthropic_beta": ["interleaved-thinking-2025-05-14"]}
    assert_members_verbatim(sent[-1], up["raw"])
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["quota"] > 0 and logs[0]["model_name"] == MODEL and not logs[0]["is_stream"]
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == \
        (PROMPT_TOKENS, TEXT_OUTPUT_TOKENS + THINKING_TOKENS)

    # the thinking block (with its signature) sent back in the next turn reaches Bedrock unchanged
    turns: Any = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": msg.content},
                  {"role": "user", "content": "and again"}]
    again = await claude_client(gw, key, sent).messages.create(model=MODEL, max_tokens=2048, messages=turns)
    assert again.content[0].type == "text" and again.content[0].text == TEXT_REPLY
    block = bedrock.recorder[-1]["json"]["messages"][1]["content"][0]
    assert block == {"type": "thinking", "thinking": THINKING_TEXT, "signature": THINKING_SIGNATURE}
    assert_members_verbatim(sent[-1], bedrock.recorder[-1]["raw"])


async def test_gateway_messages_stream(gw: Gateway, bedrock: FakeBedrock) -> None:
    key = await _setup(gw, bedrock)
    sent: list[bytes] = []
    async with claude_client(gw, key, sent).messages.stream(
            model=MODEL, max_tokens=2048, messages=[{"role": "user", "content": "hi"}],
            thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        texts = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == TEXT_REPLY and final.id == MESSAGE_ID and final.stop_reason == "end_turn"
    assert final.content[0].type == "thinking" and final.content[0].signature == THINKING_SIGNATURE
    assert final.content[1].type == "text" and final.content[1].text == TEXT_REPLY
    assert final.usage.output_tokens == TEXT_OUTPUT_TOKENS + THINKING_TOKENS
    assert final.usage.cache_read_input_tokens == CACHE_READ_TOKENS
    up = bedrock.recorder[-1]
    assert up["action"] == "invoke-with-response-stream" and "stream" not in up["json"] and "model" not in up["json"]
    assert_members_verbatim(sent[-1], up["raw"])
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["is_stream"] and logs[0]["quota"] > 0
    assert (logs[0]["prompt_tokens"], logs[0]["completion_tokens"]) == \
        (PROMPT_TOKENS, TEXT_OUTPUT_TOKENS + THINKING_TOKENS)


async def test_gateway_messages_tool_use(gw: Gateway, bedrock: FakeBedrock) -> None:
    key = await _setup(gw, bedrock)
    client = claude_client(gw, key, [])
    turns: Any = [{"role": "user", "content": "weather in Paris?"}]
    msg = await client.messages.create(model=MODEL, max_tokens=256, messages=turns, tools=CLAUDE_TOOLS,
                                       tool_choice={"type": "tool", "name": "get_weather"})
    assert msg.stop_reason == "tool_use"
    (call,) = msg.content
    assert call.type == "tool_use" and call.id == TOOL_USE_ID and call.name == "get_weather"
    assert call.input == TOOL_INPUT
    up = bedrock.recorder[-1]["json"]
    assert up["tools"] == CLAUDE_TOOLS and up["tool_choice"] == {"type": "tool", "name": "get_weather"}

    turns += [{"role": "assistant", "content": msg.content},
              {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny",
                                            "cache_control": {"type": "ephemeral"}}]}]
    answer = await client.messages.create(model=MODEL, max_tokens=256, messages=turns)
    assert answer.content[0].type == "text" and answer.content[0].text == TEXT_REPLY
    sent_turns = bedrock.recorder[-1]["json"]["messages"]
    assert sent_turns[1]["content"] == [{"type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather",
                                         "input": TOOL_INPUT}]
    assert sent_turns[2]["content"][0]["cache_control"] == {"type": "ephemeral"}

    async with client.messages.stream(model=MODEL, max_tokens=256, messages=turns[:1], tools=CLAUDE_TOOLS) as s:
        final = await s.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[0].type == "tool_use"
    assert final.content[0].input == TOOL_INPUT and final.usage.output_tokens == TOOL_OUTPUT_TOKENS
    logs = await gw.logs()
    assert len(logs) == 3 and all(log["quota"] > 0 for log in logs)
    assert sorted(log["completion_tokens"] for log in logs) == sorted(
        [TOOL_OUTPUT_TOKENS, TEXT_OUTPUT_TOKENS, TOOL_OUTPUT_TOKENS])


async def test_gateway_messages_errors(gw: Gateway, bedrock: FakeBedrock) -> None:
    # an exception frame in the middle of the stream: the SDK sees Anthropic's error event
    key = await _setup(gw, bedrock, key=f"AKIDSTREAMERR|{SECRET}|{REGION}")
    texts: list[str] = []
    with pytest.raises(anthropic.APIError) as e:
        async with claude_client(gw, key, []).messages.stream(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
            async for t in stream.text_stream:
                texts.append(t)
    assert "model stream was interrupted" in str(e.value) and "".join(texts) == "Hello"
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["completion_tokens"] > 0
    # Bedrock refusing the request: an Anthropic-shaped error with Bedrock's status
    key = await channel_token(gw, type=33, key=f"AKIDTHROTTLED|{SECRET}|{REGION}", base_url=bedrock.url,
                              models="claude-3-opus-20240229")
    with pytest.raises(anthropic.RateLimitError) as r:
        await claude_client(gw, key, []).messages.create(model="claude-3-opus-20240229", max_tokens=64,
                                                         messages=[{"role": "user", "content": "hi"}])
    assert r.value.status_code == 429 and "Too many requests" in r.value.message


async def test_gateway_messages_to_a_model_that_is_not_claude_are_converted(gw: Gateway, bedrock: FakeBedrock) -> None:
    """The same channel serves Claude natively and another model (here an application inference
    profile, whose ARN names no model) through the chat conversion and the Converse API."""
    app_profile = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    await gw.channel(type=33, key=GOOD_KEY, base_url=bedrock.url, models=f"{MODEL},team-model",
                     model_mapping=json.dumps({"team-model": app_profile}))
    key = await gw.token()
    client = claude_client(gw, key, [])
    msg = await client.messages.create(model="team-model", max_tokens=64, system="Be brief.",
                                       messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].type == "text" and msg.content[0].text == CONVERSE_REPLY and msg.model == "team-model"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (CONVERSE_INPUT_TOKENS, CONVERSE_OUTPUT_TOKENS)
    up = bedrock.recorder[-1]
    assert up["model"] == app_profile and up["action"] == "converse"
    # the chat conversion's body (Messages -> OpenAI chat -> Converse), not the client's bytes
    assert up["json"] == {"messages": [{"role": "user", "content": [{"text": "hi"}]}],
                          "system": [{"text": "Be brief."}], "inferenceConfig": {"maxTokens": 64}}
    async with client.messages.stream(model="team-model", max_tokens=64,
                                      messages=[{"role": "user", "content": "hi"}]) as stream:
        final = await stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == CONVERSE_REPLY
    assert bedrock.recorder[-1]["action"] == "converse-stream"
    # and Claude on the same channel still passes through
    msg = await client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    assert msg.id == MESSAGE_ID and bedrock.recorder[-1]["json"]["messages"] == [{"role": "user", "content": "hi"}]
    logs = await gw.logs()
    assert len(logs) == 3 and all(log["quota"] > 0 for log in logs)


# =========================================================================== Converse API (non-Claude models)

LLAMA = "meta.llama3-1-70b-instruct-v1:0"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
JPEG_B64 = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQ"


def llama_req(body: dict[str, Any] | None = None, *, stream: bool = False, model: str = LLAMA,
              include_usage: bool | None = None) -> RelayRequest:
    return make_req(body, stream=stream, model=model, requested="my-llama", include_usage=include_usage)


@pytest.mark.parametrize("model, path_id, claude", [
    (LLAMA, "meta.llama3-1-70b-instruct-v1%3A0", False),
    ("llama3-8b-8192", "meta.llama3-8b-instruct-v1%3A0", False),  # One API's name
    ("llama3-70b-8192", "meta.llama3-70b-instruct-v1%3A0", False),
    ("us.amazon.nova-pro-v1:0", "us.amazon.nova-pro-v1%3A0", False),
    ("mistral.mistral-large-2402-v1:0", "mistral.mistral-large-2402-v1%3A0", False),
    ("cohere.command-r-plus-v1:0", "cohere.command-r-plus-v1%3A0", False),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
     "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123", False),
    (MODEL, "anthropic.claude-3-5-sonnet-20241022-v2%3A0", True),
])
def test_converse_for_every_model_but_claude(model: str, path_id: str, claude: bool) -> None:
    now = 1_700_000_000.0
    ad = BedrockAdaptor(clock=lambda: now)
    for stream in (False, True):
        up = ad.build_request(llama_req(stream=stream, model=model), target(base_url="http://127.0.0.1:9"))
        action = ("invoke-with-response-stream" if stream else "invoke") if claude else \
            ("converse-stream" if stream else "converse")
        assert up.url == f"http://127.0.0.1:9/model/{path_id}/{action}"
        sent = json.loads(up.body or b"")
        assert ("anthropic_version" in sent) is claude
        if not claude:
            assert sent == {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
            assert "X-Amzn-Bedrock-Accept" not in up.headers
        assert up.headers["Accept"] == ("application/vnd.amazon.eventstream" if stream else "application/json")
        # the fake's own SigV4 verifier accepts the signature
        path = up.url.split("127.0.0.1:9", 1)[1]
        wire = list(up.headers.items()) + [("Host", "127.0.0.1:9")]
        assert verify_sigv4("POST", path, "", wire, up.body or b"", now=now) is None
        assert ad.speaks(MESSAGES, model) is claude and ad.speaks(CHAT, model)
        assert type(ad.new_stream(llama_req(stream=True, model=model))) is (BedrockStream if claude else ConverseStream)
    # a Bedrock API key: Bearer, unsigned
    up = ad.build_request(llama_req(), target(key="ABSKkey", config={"region": "us-west-2"}))
    assert up.headers["Authorization"] == "Bearer ABSKkey" and "X-Amz-Date" not in up.headers
    assert up.url == "https://bedrock-runtime.us-west-2.amazonaws.com/model/meta.llama3-1-70b-instruct-v1%3A0/converse"


WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                                 "parameters": {"type": "object",
                                                                "properties": {"city": {"type": "string"}}}}}


def test_converse_request_conversion() -> None:
    body = {
        "model": "x", "stream": True, "stream_options": {"include_usage": True}, "seed": 1, "n": 1, "user": "u",
        "max_tokens": 64, "temperature": 1.5, "top_p": 0.9, "stop": ["END", " ", "STOP"],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                {"type": "image_url", "image_url": {"url": f"data:;base64,{JPEG_B64}"}},  # sniffed: jpeg
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},  # cannot be fetched
                {"type": "image_url", "image_url": {"url": "s3://bucket/cat.webp"}},
                {"type": "text", "text": "   "}]},
            {"role": "user", "content": "And in Paris?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"X"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
            {"role": "user", "content": "Thanks, and tomorrow?"},
            {"role": "assistant", "content": ""},  # empty: dropped
        ],
        "tools": [WEATHER_TOOL, {"type": "function", "function": {"name": "noop"}}, {"type": "retrieval"}],
        "tool_choice": "required",
    }
    out = to_converse_request(body, "us.amazon.nova-pro-v1:0")
    assert out == {
        "messages": [
            {"role": "user", "content": [
                {"text": "Weather here?"},
                {"image": {"format": "png", "source": {"bytes": PNG_B64}}},
                {"image": {"format": "jpeg", "source": {"bytes": JPEG_B64}}},
                {"image": {"format": "webp", "source": {"s3Location": {"uri": "s3://bucket/cat.webp"}}}},
                {"text": "And in Paris?"}]},
            {"role": "assistant", "content": [
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "X"}}},
                {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {}}}]},
            {"role": "user", "content": [  # the turn's tool results merged, first, then the user's text
                {"toolResult": {"toolUseId": "call_1", "content": [{"text": "sunny"}]}},
                {"toolResult": {"toolUseId": "call_2", "content": [{"text": "rain"}]}},
                {"text": "Thanks, and tomorrow?"}]},
        ],
        "system": [{"text": "Be brief."}, {"text": "Use tools."}],
        "inferenceConfig": {"maxTokens": 64, "temperature": 1.0, "topP": 0.9, "stopSequences": ["END", "STOP"]},
        "toolConfig": {"tools": [
            {"toolSpec": {"name": "get_weather", "description": "Weather",
                          "inputSchema": {"json": WEATHER_TOOL["function"]["parameters"]}}},
            {"toolSpec": {"name": "noop", "inputSchema": {"json": {"type": "object", "properties": {}}}}}],
            "toolChoice": {"any": {}}},
    }


@pytest.mark.parametrize("model, tool_choice, expected", [
    ("us.amazon.nova-pro-v1:0", "auto", {"auto": {}}),
    ("amazon.nova-lite-v1:0", {"type": "function", "function": {"name": "get_weather"}}, {"tool": {"name": "get_weather"}}),
    ("mistral.mistral-large-2407-v1:0", "required", {"any": {}}),
    ("mistral.mistral-large-2407-v1:0", {"type": "function", "function": {"name": "get_weather"}}, None),
    (LLAMA, "required", None),  # Llama and Cohere reject toolChoice: left to their default (auto)
    ("us.meta.llama3-3-70b-instruct-v1:0", "auto", None),
    ("cohere.command-r-plus-v1:0", {"type": "function", "function": {"name": "get_weather"}}, None),
    ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc", "required", None),
    ("amazon.nova-pro-v1:0", None, None),
])
def test_converse_tool_choice_only_where_the_model_takes_it(model: str, tool_choice: Any, expected: Any) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER_TOOL]}
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    config = to_converse_request(body, model)["toolConfig"]
    assert config.get("toolChoice") == expected and config["tools"][0]["toolSpec"]["name"] == "get_weather"


def test_converse_request_edge_cases() -> None:
    history: list[Any] = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": ""}]
    # tool blocks without tools in the request: Converse needs a toolConfig, so the tools used are named
    out = to_converse_request({"messages": history}, LLAMA)
    assert out["toolConfig"] == {"tools": [{"toolSpec": {"name": "get_weather",
                                                         "inputSchema": {"json": {"type": "object", "properties": {}}}}}]}
    assert out["messages"][2] == {"role": "user", "content": [
        {"toolResult": {"toolUseId": "call_9", "content": [{"text": "(no output)"}]}}]}
    # tool_choice "none": no tools offered, but the history's tools keep their definitions
    out = to_converse_request({"messages": history, "tools": [WEATHER_TOOL], "tool_choice": "none"}, LLAMA)
    assert out["toolConfig"]["tools"][0]["toolSpec"]["description"] == "Weather"
    assert "toolConfig" not in to_converse_request({"messages": history[:1], "tools": [WEATHER_TOOL],
                                                    "tool_choice": "none"}, LLAMA)
    # an is_error tool result (non-standard) has status error; a JSON object content goes as json
    out = to_converse_request({"messages": history[:2] + [
        {"role": "tool", "tool_call_id": "call_9", "content": {"temp": 21}, "is_error": True}]}, MODEL)
    assert out["messages"][2]["content"][0]["toolResult"] == {"toolUseId": "call_9", "content": [{"json": {"temp": 21}}],
                                                              "status": "error"}
    # models without system prompts (Titan, Mistral 7B, Mixtral): the system text leads the first user message
    body = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            "max_completion_tokens": 9, "max_tokens": 99}
    out = to_converse_request(body, "mistral.mixtral-8x7b-instruct-v0:1")
    assert out == {"messages": [{"role": "user", "content": [{"text": "Be brief."}, {"text": "hi"}]}],
                   "inferenceConfig": {"maxTokens": 9}}
    out = to_converse_request(body, LLAMA)
    assert out["system"] == [{"text": "Be brief."}] and out["messages"][0]["content"] == [{"text": "hi"}]
    # images in assistant or system messages are not sent; unknown image types are dropped
    out = to_converse_request({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}, {"type": "text", "text": "x"}]}]})
    assert out["messages"][0]["content"] == [{"text": "x"}]


def test_converse_answer_conversion() -> None:
    answer = {"output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "Need the tool.", "signature": "sig"}}},
        {"text": "Let me check."},
        {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}]}},
        "stopReason": "tool_use", "metrics": {"latencyMs": 100},
        "usage": {"inputTokens": 30, "outputTokens": 12, "totalTokens": 47, "cacheReadInputTokens": 5}}
    out, usage, text = to_openai_from_converse(answer, "my-llama", "chatcmpl-1", 1700000000)
    assert out == {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "my-llama",
                   "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                       "role": "assistant", "content": "Let me check.", "reasoning_content": "Need the tool.",
                       "tool_calls": [{"id": "tooluse_1", "type": "function", "function": {
                           "name": "get_weather", "arguments": '{"city":"Paris"}'}}]}}],
                   "usage": {"prompt_tokens": 35, "completion_tokens": 12, "total_tokens": 47}}
    assert usage == Usage(35, 12) and text == 'Need the tool.Let me check.get_weather{"city":"Paris"}'
    for stop, finish in (("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
                         ("guardrail_intervened", "content_filter"), ("content_filtered", "content_filter"),
                         ("model_context_window_exceeded", "length"), ("something_new", "stop")):
        data = {"output": {"message": {"role": "assistant", "content": [{"text": "x"}]}}, "stopReason": stop,
                "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}
        assert to_openai_from_converse(data, "m")[0]["choices"][0]["finish_reason"] == finish, stop
    # through the adaptor: the model the client asked for, a fresh chatcmpl id
    parsed = BedrockAdaptor().parse_response(llama_req(), 200, json.dumps(answer).encode())
    data = json.loads(parsed.body)
    assert data["model"] == "my-llama" and data["id"].startswith("chatcmpl-") and parsed.usage == Usage(35, 12)
    assert data["choices"][0]["message"]["tool_calls"][0]["id"] == "tooluse_1"
    only_tool = {"output": {"message": {"content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}]}},
                 "stopReason": "tool_use", "usage": {"inputTokens": 1, "outputTokens": 2}}
    assert to_openai_from_converse(only_tool, "m")[0]["choices"][0]["message"]["content"] is None
    assert BedrockAdaptor().parse_response(llama_req(), 200, b"<html>").body == b"<html>"


# A ConverseStream as Bedrock sends it: reasoning, text, a tool call, the stop, then the usage.
CONVERSE_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Need the tool."}}}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig=="}}}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Let me "}}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "check."}}),
    ("contentBlockStop", {"contentBlockIndex": 1}),
    ("contentBlockStart", {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_A", "name": "get_weather"}}}),
    ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"city"'}}}),
    ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": ': "Paris"}'}}}),
    ("contentBlockStop", {"contentBlockIndex": 2}),
    ("contentBlockStart", {"contentBlockIndex": 3, "start": {"toolUse": {"toolUseId": "tooluse_B", "name": "get_time"}}}),
    ("contentBlockDelta", {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
    ("contentBlockStop", {"contentBlockIndex": 3}),
    ("messageStop", {"stopReason": "tool_use"}),
    ("metadata", {"usage": {"inputTokens": 40, "outputTokens": 25, "totalTokens": 65}, "metrics": {"latencyMs": 9}}),
]
CONVERSE_RECORDED = b"".join(converse_frame(t, e) for t, e in CONVERSE_EVENTS)
CONVERSE_EXPECTED: list[dict[str, Any]] = [
    {"delta": {"role": "assistant", "content": ""}},
    {"delta": {"reasoning_content": "Need the tool."}},
    {"delta": {"content": "Let me "}},
    {"delta": {"content": "check."}},
    {"delta": {"tool_calls": [{"index": 0, "id": "tooluse_A", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"city"'}}]}},
    {"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ': "Paris"}'}}]}},
    {"delta": {"tool_calls": [{"index": 1, "id": "tooluse_B", "type": "function",
                               "function": {"name": "get_time", "arguments": ""}}]}},
    {"delta": {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}},
    {"delta": {}, "finish_reason": "tool_calls"},
    {"usage": {"prompt_tokens": 40, "completion_tokens": 25, "total_tokens": 65}},
]


def run_converse(pieces: list[bytes], req: RelayRequest | None = None) -> tuple[ConverseStream, bytes]:
    ts = ConverseStream(req or llama_req(stream=True), created=1700000000, id_="chatcmpl-conv")
    return ts, transcode(ts, pieces)


def check_converse(ts: ConverseStream, out: bytes) -> None:
    chunks, dones = decode_frames(out)
    assert dones == 1 and out.endswith(DONE_FRAME)
    assert simplify_chunks(chunks, "chatcmpl-conv", "my-llama", 1700000000) == CONVERSE_EXPECTED
    assert ts.usage == Usage(40, 25) and ts.done and ts.error is None
    assert ts.completion_text == 'Need the tool.Let me check.get_weather{"city": "Paris"}get_time{}'


def test_converse_stream_split_at_every_byte() -> None:
    assert_every_split(CONVERSE_RECORDED, run_converse, check_converse, Usage(40, 25))


def test_converse_stream_byte_by_byte_and_in_one_piece() -> None:
    check_converse(*run_converse(byte_by_byte(CONVERSE_RECORDED)))
    check_converse(*run_converse([CONVERSE_RECORDED]))
    # the adaptor picks this transcoder for a non-Claude model
    ts = BedrockAdaptor().new_stream(llama_req(stream=True))
    chunks, dones = decode_frames(transcode(ts, [CONVERSE_RECORDED]))
    assert dones == 1 and chunks[-1]["usage"]["total_tokens"] == 65 and chunks[0]["id"].startswith("chatcmpl-")
    assert len({c["id"] for c in chunks}) == 1


def test_converse_stream_usage_chunk_only_when_wanted_and_plain_text() -> None:
    events = [("messageStart", {"role": "assistant"}),
              ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
              ("contentBlockStop", {"contentBlockIndex": 0}),
              ("messageStop", {"stopReason": "max_tokens"}),
              ("metadata", {"usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}})]
    data = b"".join(converse_frame(t, e) for t, e in events)
    ts, out = run_converse([data], llama_req(stream=True, include_usage=False))
    chunks, dones = decode_frames(out)
    assert simplify_chunks(chunks, "chatcmpl-conv", "my-llama") == [
        {"delta": {"role": "assistant", "content": ""}}, {"delta": {"content": "Hi"}},
        {"delta": {}, "finish_reason": "length"}]
    assert dones == 1 and ts.usage == Usage(3, 1) and ts.done
    # no metadata event: [DONE] when the body ends; the usage is left to local counting
    ts, out = run_converse([b"".join(converse_frame(t, e) for t, e in events[:4])])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1]["choices"][0]["finish_reason"] == "length" and ts.usage is None and ts.done
    # metadata before messageStop (not Bedrock's order): still one usage chunk, after the finish
    ts, out = run_converse([b"".join(converse_frame(t, e) for t, e in events[:3] + events[4:] + events[3:4])])
    chunks, dones = decode_frames(out)
    assert dones == 1 and "usage" in chunks[-1] and chunks[-2]["choices"][0]["finish_reason"] == "length"
    # cut before messageStop: [DONE] without a finish reason
    ts, out = run_converse([b"".join(converse_frame(t, e) for t, e in events[:2])])
    chunks, dones = decode_frames(out)
    assert dones == 1 and not ts.done and all(c["choices"][0]["finish_reason"] is None for c in chunks)
    # a toolUse delta whose block never started still becomes a call; initial-response and junk are skipped
    odd = [("contentBlockDelta", {"contentBlockIndex": 4, "delta": {"toolUse": {"input": "{}"}}}),
           ("messageStop", {"stopReason": "tool_use"})]
    junk = encode_frame({":message-type": "event", ":event-type": "contentBlockDelta"}, b"not json")
    ts, out = run_converse([junk + b"".join(converse_frame(t, e) for t, e in odd)])
    chunks, _ = decode_frames(out)
    call = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert call["index"] == 0 and call["id"].startswith("call_") and chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_converse_stream_exception_and_corrupt_frames() -> None:
    head = b"".join(converse_frame(t, e) for t, e in CONVERSE_EVENTS[:5])
    data = head + exception_frame("throttlingException", "Too many tokens, please wait before trying again.") + \
        CONVERSE_RECORDED
    ts, out = run_converse([data])
    chunks, dones = decode_frames(out)
    assert dones == 1
    assert chunks[-1] == {"error": {"message": "Too many tokens, please wait before trying again.",
                                    "type": "throttlingException", "param": "", "code": "throttlingException"}}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]) == "Let me "
    assert ts.error == "Too many tokens, please wait before trying again." and not ts.done
    # every split of that stream gives the same frames
    reference = out
    for i in range(0, len(data) + 1, 7):
        assert run_converse([data[:i], data[i:]])[1] == reference, i
    err = encode_frame({":message-type": "error", ":error-code": "InternalFailure",
                        ":error-message": "An internal error occurred"}, b"")
    ts, out = run_converse([err])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1]["error"]["code"] == "InternalFailure" and ts.error == "An internal error occurred"
    # a corrupt frame, and a body cut inside a frame
    frames = [converse_frame(t, e) for t, e in CONVERSE_EVENTS]
    bad = bytearray(frames[5])
    bad[-10] ^= 0x20
    ts, out = run_converse([b"".join(frames[:5]) + bytes(bad) + b"".join(frames[6:])])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1]["error"]["code"] == "InvalidEventStream" and "CRC" in chunks[-1]["error"]["message"]
    ts, out = run_converse([b"".join(frames[:5]) + frames[5][:20]])
    chunks, dones = decode_frames(out)
    assert dones == 1 and chunks[-1]["error"]["code"] == "InvalidEventStream" and ts.error
    assert run_converse([b""])[1] == DONE_FRAME


# --------------------------------------------------------------------------- Converse against the fake


async def test_converse_round_trip_with_fake_bedrock(bedrock: FakeBedrock) -> None:
    ad = BedrockAdaptor()
    t = target(base_url=bedrock.url)
    req = llama_req({"model": "my-llama", "max_tokens": 50, "temperature": 0.2, "seed": 3,
                     "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
    resp = await send(ad.build_request(req, t))
    assert resp.code == 200, resp.body
    parsed = ad.parse_response(req, resp.code, resp.body)
    assert json.loads(parsed.body)["choices"][0]["message"]["content"] == CONVERSE_REPLY
    assert parsed.usage == Usage(CONVERSE_INPUT_TOKENS, CONVERSE_OUTPUT_TOKENS)
    up = bedrock.recorder[-1]
    assert up["path"] == "/model/meta.llama3-1-70b-instruct-v1%3A0/converse"
    assert up["json"] == {"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "system": [{"text": "Be brief."}],
                          "inferenceConfig": {"maxTokens": 50, "temperature": 0.2}}

    resp, ts, out = await send_stream(ad, llama_req(stream=True), t)
    assert resp.code == 200 and bedrock.recorder[-1]["action"] == "converse-stream"
    chunks, dones = decode_frames(out)
    assert dones == 1 and ts.done and ts.usage == Usage(CONVERSE_INPUT_TOKENS, CONVERSE_OUTPUT_TOKENS)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == CONVERSE_REPLY

    # tools: a text block and a toolUse, then the answer to the tool result (signed with a session token)
    tools_req = llama_req({"model": "my-llama", "messages": [{"role": "user", "content": "weather?"}],
                           "tools": [WEATHER_TOOL]}, stream=True)
    resp, ts, out = await send_stream(ad, tools_req, target(base_url=bedrock.url,
                                                             key=f"ASIAFAKETEMP|{SECRET}|{REGION}|{SESSION_TOKEN}"))
    assert resp.code == 200
    chunks, _ = decode_frames(out)
    args = "".join(tc["function"].get("arguments") or "" for c in chunks if c.get("choices")
                   for tc in c["choices"][0]["delta"].get("tool_calls") or ())
    assert json.loads(args) == TOOL_INPUT and chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert ts.usage == Usage(CONVERSE_INPUT_TOKENS, CONVERSE_TOOL_OUTPUT_TOKENS)

    # what Bedrock rejects, the fake rejects: signatures, and bodies Converse does not take
    for key, status, etype in ((f"AKIDFAKEBEDROCK|wrong-secret|{REGION}", 403, "InvalidSignatureException"),
                               (f"AKIDTHROTTLED|{SECRET}|{REGION}", 429, "ThrottlingException")):
        resp = await send(ad.build_request(llama_req(), target(base_url=bedrock.url, key=key)))
        assert resp.code == status and ad.parse_error(resp.code, resp.body, dict(resp.headers)).code == etype
    up = ad.build_request(llama_req(), t)
    up.body = json.dumps({**json.loads(up.body or b""), "inferenceConfig": {"maxTokens": 5}}).encode()
    assert (await send(up)).code == 403  # the body changed after signing
    for body, model, problem in (
            ({"messages": [{"role": "assistant", "content": "hi"}]}, LLAMA, "must start with a user message"),
            ({"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER_TOOL], "tool_choice": "required"},
             "mistral.mistral-7b-instruct-v0:2", None),
            ({"messages": [{"role": "user", "content": "hi"}]}, "meta.llama3-8b", "model identifier is invalid")):
        resp = await send(ad.build_request(llama_req(body, model=model), t))
        if problem is None:
            assert resp.code == 200, resp.body
        else:
            assert resp.code == 400 and problem.encode() in resp.body, resp.body
    # the fake's validation itself: tool blocks without toolConfig, toolChoice for Llama
    sent = to_converse_request({"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER_TOOL]}, LLAMA)
    from tests.fake_bedrock import converse_problem
    assert converse_problem(LLAMA, {**sent, "toolConfig": {**sent["toolConfig"], "toolChoice": {"any": {}}}})
    history = to_converse_request({"messages": [
        {"role": "user", "content": "w?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]}, LLAMA)
    assert converse_problem(LLAMA, history) is None
    assert "toolConfig field must be defined" in str(converse_problem(LLAMA, {"messages": history["messages"]}))


# --------------------------------------------------------------------------- Llama through OneRelay (openai SDK)


async def _llama(gw: Gateway, bedrock: FakeBedrock, key: str = GOOD_KEY) -> str:
    return await channel_token(gw, type=33, key=key, base_url=bedrock.url, models=f"{LLAMA},llama3-8b-8192,{MODEL}")


async def test_gateway_llama_plain_and_stream_with_usage(gw: Gateway, bedrock: FakeBedrock) -> None:
    client = gw.client(await _llama(gw, bedrock))
    resp = await client.chat.completions.create(
        model=LLAMA, max_tokens=100, temperature=0.3, stop=["END"],
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert resp.choices[0].message.content == CONVERSE_REPLY and resp.choices[0].finish_reason == "stop"
    assert resp.model == LLAMA and resp.id.startswith("chatcmpl-")
    assert resp.usage is not None and (resp.usage.prompt_tokens, resp.usage.completion_tokens) == \
        (CONVERSE_INPUT_TOKENS, CONVERSE_OUTPUT_TOKENS)
    sent = bedrock.recorder[-1]
    assert sent["path"] == "/model/meta.llama3-1-70b-instruct-v1%3A0/converse"
    assert sent["json"] == {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "system": [{"text": "Be brief."}],
                            "inferenceConfig": {"maxTokens": 100, "temperature": 0.3, "stopSequences": ["END"]}}

    stream = await client.chat.completions.create(model=LLAMA, messages=[{"role": "user", "content": "hi"}],
                                                  stream=True, stream_options={"include_usage": True})
    seen = await read_stream(stream)
    assert seen.text == CONVERSE_REPLY and seen.finish == "stop" and seen.models == {LLAMA}
    assert seen.roles == ["assistant"]
    assert seen.usage is not None and (seen.usage.prompt_tokens, seen.usage.completion_tokens) == \
        (CONVERSE_INPUT_TOKENS, CONVERSE_OUTPUT_TOKENS)
    assert bedrock.recorder[-1]["action"] == "converse-stream"

    # One API's name for Llama 3 8B
    assert await ask(client, "llama3-8b-8192") == CONVERSE_REPLY
    assert bedrock.recorder[-1]["model"] == "meta.llama3-8b-instruct-v1:0"
    # Claude on the same channel still goes to InvokeModel
    assert await ask(client, MODEL) == TEXT_REPLY and bedrock.recorder[-1]["action"] == "invoke"

    logs = await gw.logs()
    assert len(logs) == 4 and all(log["quota"] > 0 for log in logs)
    llama_logs = [log for log in logs if log["model_name"] == LLAMA]
    assert len(llama_logs) == 2 and {log["is_stream"] for log in llama_logs} == {True, False}
    assert all((log["prompt_tokens"], log["completion_tokens"]) == (CONVERSE_INPUT_TOKENS, CONVERSE_OUTPUT_TOKENS)
               for log in llama_logs)


async def test_gateway_llama_tool_calls(gw: Gateway, bedrock: FakeBedrock) -> None:
    client = gw.client(await _llama(gw, bedrock))
    messages: list[Any] = [{"role": "user", "content": "weather in Paris?"}]
    resp = await client.chat.completions.create(model=LLAMA, messages=messages, tools=WEATHER,  # type: ignore
                                                tool_choice="auto")
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == CONVERSE_TOOL_PREFACE
    (call,) = choice.message.tool_calls or []
    assert call.id == CONVERSE_TOOL_USE_ID and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == TOOL_INPUT
    assert resp.usage is not None and resp.usage.completion_tokens == CONVERSE_TOOL_OUTPUT_TOKENS
    sent = bedrock.recorder[-1]["json"]
    assert sent["toolConfig"] == {"tools": [{"toolSpec": {
        "name": "get_weather", "description": "Weather", "inputSchema": {"json": WEATHER[0]["function"]["parameters"]}}}]}

    # the tool's result, without the tools sent again: the fake insists on a toolConfig, as Bedrock does
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    resp = await client.chat.completions.create(model=LLAMA, messages=messages)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == CONVERSE_REPLY and resp.choices[0].finish_reason == "stop"
    turns = bedrock.recorder[-1]["json"]["messages"]
    assert turns[1] == {"role": "assistant", "content": [
        {"text": CONVERSE_TOOL_PREFACE},
        {"toolUse": {"toolUseId": CONVERSE_TOOL_USE_ID, "name": "get_weather", "input": TOOL_INPUT}}]}
    assert turns[2] == {"role": "user", "content": [
        {"toolResult": {"toolUseId": CONVERSE_TOOL_USE_ID, "content": [{"text": "sunny"}]}}]}

    stream = await client.chat.completions.create(model=LLAMA, messages=messages[:1], tools=WEATHER,  # type: ignore
                                                  stream=True, stream_options={"include_usage": True})
    text, name, args, ids, finish, usage, indexes = "", None, "", [], None, None, set()
    async for chunk in stream:
        usage = chunk.usage or usage
        for ch in chunk.choices:
            text += ch.delta.content or ""
            for tc in ch.delta.tool_calls or ():
                indexes.add(tc.index)
                ids += [tc.id] if tc.id else []
                name = (tc.function.name if tc.function else None) or name
                args += (tc.function.arguments if tc.function else None) or ""
            finish = ch.finish_reason or finish
    assert text == CONVERSE_TOOL_PREFACE and name == "get_weather" and json.loads(args) == TOOL_INPUT
    assert ids == [CONVERSE_TOOL_USE_ID] and indexes == {0} and finish == "tool_calls"
    assert usage is not None and usage.completion_tokens == CONVERSE_TOOL_OUTPUT_TOKENS
    logs = await gw.logs()
    assert len(logs) == 3 and all(log["quota"] > 0 for log in logs)
    assert sorted(log["completion_tokens"] for log in logs) == sorted(
        [CONVERSE_TOOL_OUTPUT_TOKENS, CONVERSE_OUTPUT_TOKENS, CONVERSE_TOOL_OUTPUT_TOKENS])
    assert all(log["prompt_tokens"] == CONVERSE_INPUT_TOKENS for log in logs)


async def test_gateway_llama_errors(gw: Gateway, bedrock: FakeBedrock) -> None:
    # an exception frame in the middle of the stream: an OpenAI error after the text so far
    client = gw.client(await _llama(gw, bedrock, key=f"AKIDSTREAMERR|{SECRET}|{REGION}"))
    stream = await client.chat.completions.create(model=LLAMA, messages=[{"role": "user", "content": "hi"}],
                                                  stream=True)
    parts: list[str] = []
    with pytest.raises(openai.APIError) as e:
        await read_text(stream, parts)
    assert "model stream was interrupted" in str(e.value.message) and "".join(parts) == "Hello"
    # Bedrock's validation error: a 400 in OpenAI's shape, not retried
    with pytest.raises(openai.BadRequestError) as b:
        await client.chat.completions.create(model=LLAMA, messages=[{"role": "assistant", "content": "hi"}])
    assert b.value.code == "ValidationException" and "start with a user message" in b.value.message
    logs = await gw.logs()
    assert len(logs) == 1 and logs[0]["completion_tokens"] > 0
