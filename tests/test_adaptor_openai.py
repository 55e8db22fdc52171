"""Pure tests of the SSE decoder and the OpenAI/Azure adaptors (input split anywhere)."""

from __future__ import annotations

import json

from adaptors.base import CHAT, COMPLETIONS, EMBEDDINGS, ChannelTarget, RelayRequest
from adaptors.openai import AzureAdaptor, OpenAIAdaptor, parse_openai_error
from adaptors.sse import SSEDecoder


def _chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


FRAMES = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": "Héllo"}),
    _chunk({"tool_calls": [{"index": 0, "id": "t", "type": "function",
                            "function": {"name": "f", "arguments": "{\"a\":"}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
    _chunk({"reasoning_content": "think"}),
    _chunk({}, "stop"),
    {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
     "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}},
]
STREAM = b"".join(b"data: " + json.dumps(f, ensure_ascii=False).encode() + b"\n\n" for f in FRAMES) \
    + b": keep-alive comment\n\ndata: [DONE]\n\n"


def _req(mode: str = CHAT, body: dict | None = None, **kw: object) -> RelayRequest:
    body = body or {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    return RelayRequest(mode=mode, body=body, raw=json.dumps(body).encode(), model="gpt-4o",
                        requested_model="gpt-4o", **kw)  # type: ignore[arg-type]


def _run(data: bytes, splits: list[int]) -> tuple[bytes, object]:
    ts = OpenAIAdaptor().new_stream(_req(stream=True))
    out = []
    prev = 0
    for i in splits + [len(data)]:
        out += ts.feed(data[prev:i])
        prev = i
    out += ts.finish()
    return b"".join(out), ts


def test_sse_decoder_any_split_and_line_endings() -> None:
    for raw in (STREAM, STREAM.replace(b"\n", b"\r\n"), STREAM.replace(b"\n", b"\r")):
        d0 = SSEDecoder()
        whole = [e.data for e in d0.feed(raw)] + [e.data for e in d0.flush()]  # a final lone \r may be \r\n
        assert len(whole) == len(FRAMES) + 1 and whole[-1] == "[DONE]"
        for i in range(len(raw)):
            d = SSEDecoder()
            parts = [e.data for e in d.feed(raw[:i])] + [e.data for e in d.feed(raw[i:])]
            parts += [e.data for e in d.flush()]
            assert parts == whole, i


def test_sse_decoder_multiline_data_and_flush() -> None:
    d = SSEDecoder()
    evs = d.feed(b"event: x\ndata: a\ndata: b\n\ndata: tail")
    assert [(e.event, e.data) for e in evs] == [("x", "a\nb")]
    assert [e.data for e in d.flush()] == ["tail"]


def test_openai_stream_passthrough_at_every_split() -> None:
    expected, ts0 = _run(STREAM, [])
    assert expected == STREAM  # byte for byte, comments included (SSE clients ignore them)
    assert ts0.usage.completion_tokens == 7  # type: ignore[attr-defined]
    for i in range(1, len(STREAM)):
        out, ts = _run(STREAM, [i])
        assert out == expected, i
        assert ts.usage.prompt_tokens == 5  # type: ignore[attr-defined]
    out, _ = _run(STREAM, list(range(1, len(STREAM))))  # byte by byte
    assert out == expected


def test_openai_stream_without_usage_collects_all_generated_text() -> None:
    data = b"".join(b"data: " + json.dumps(f, ensure_ascii=False).encode() + b"\n\n" for f in FRAMES[:-1])
    out, ts = _run(data, [7])  # no [DONE] either: finish() adds one
    assert ts.usage is None  # type: ignore[attr-defined]
    assert ts.completion_text == "Héllof{\"a\":1}think"  # type: ignore[attr-defined]
    assert out.endswith(b"data: [DONE]\n\n") and out.count(b"[DONE]") == 1


def test_openai_stream_mid_stream_error_and_last_usage_kept() -> None:
    data = (b'data: {"choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n'
            b'data: {"choices":[{"index":0,"delta":{"content":"b"}}],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
            b'data: {"error":{"message":"boom","code":502}}\n\n')
    _, ts = _run(data, [])
    assert ts.usage.completion_tokens == 2 and ts.error == "boom"  # type: ignore[attr-defined]


def test_openai_stream_reads_only_non_null_usage_and_errors() -> None:
    """OpenAI sends "usage":null in every chunk with include_usage: those are not parsed, the
    final usage is; text that mentions "usage" or "error" (escaped quotes) is not taken for one;
    usage inside a choice (Moonshot) is read."""
    frames = [b'data: {"choices":[{"index":0,"delta":{"content":"say \\"usage\\": {\\"error\\": 1"}}],"usage":null}\n\n',
              b'data: {"choices":[{"index":0,"delta":{"content":"x"}}],"usage" : null , "error":null}\n\n',
              b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":{"prompt_tokens":4,'
              b'"completion_tokens":9}}]}\n\n', b"data: [DONE]\n\n"]
    data = b"".join(frames)
    for splits in ([], [len(frames[0])], list(range(1, len(data), 7))):
        out, ts = _run(data, splits)
        assert out == data
        assert ts.error is None and ts.done  # type: ignore[attr-defined]
        assert (ts.usage.prompt_tokens, ts.usage.completion_tokens) == (4, 9)  # type: ignore[attr-defined]
    assert ts.completion_text == 'say "usage": {"error": 1x'  # type: ignore[attr-defined]


def test_openai_stream_last_event_without_blank_line_is_ended_once() -> None:
    """An upstream that ends without the blank line after its last event: the event already went
    out as it came, so the client gets the line end that completes it (never the event twice)."""
    for tail, end in ((b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}', b"\n\n"),
                      (b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}\n', b"\n")):
        data = b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n' + tail
        out, ts = _run(data, [9])
        assert out == data + end + b"data: [DONE]\n\n"
        assert ts.usage.completion_tokens == 2  # type: ignore[attr-defined]
    out, ts = _run(b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: [DONE]', [])
    assert out.count(b"[DONE]") == 1 and out.endswith(b"data: [DONE]\n\n") and ts.done  # type: ignore[attr-defined]


def test_openai_stream_after_done_and_with_cr_line_ends() -> None:
    """Events after [DONE] are dropped; \r\n line ends switch to the general decoder (the bytes
    still pass as they came until [DONE])."""
    data = STREAM + b'data: {"choices":[{"index":0,"delta":{"content":"late"}}]}\n\n'
    out, ts = _run(data, [len(STREAM)])
    assert out == STREAM and "late" not in ts.completion_text  # type: ignore[attr-defined]
    crlf = STREAM.replace(b"\n", b"\r\n")
    for splits in ([], [40], [len(crlf) // 2]):
        out, ts = _run(crlf, splits)
        assert out == crlf and ts.usage.completion_tokens == 7  # type: ignore[attr-defined]
        assert ts.completion_text == "Héllof{\"a\":1}think"  # type: ignore[attr-defined]


def test_request_urls_and_headers() -> None:
    a = OpenAIAdaptor()
    for t, base, url in [(1, "", "https://api.openai.com/v1/chat/completions"),
                         (36, "", "https://api.deepseek.com/v1/chat/completions"),
                         (41, "", "https://api.novita.ai/v3/openai/chat/completions"),
                         (40, "", "https://ark.cn-beijing.volces.com/api/v3/chat/completions"),
                         (50, "http://x:1/v1/", "http://x:1/v1/chat/completions"),
                         (1, "http://proxy/", "http://proxy/v1/chat/completions")]:
        up = a.build_request(_req(), ChannelTarget(1, t, "k", base_url=base))
        assert up.url == url, t
        assert up.headers["Authorization"] == "Bearer k"
    up = a.build_request(_req(EMBEDDINGS, {"model": "e", "input": "x"}), ChannelTarget(1, 1, "k"))
    assert up.url.endswith("/v1/embeddings")
    up = a.build_request(_req(COMPLETIONS, {"model": "i", "prompt": "x"}), ChannelTarget(1, 1, "k"))
    assert up.url.endswith("/v1/completions")


def test_passthrough_keeps_bytes_unless_rewritten() -> None:
    raw = b'{"model":"gpt-4o",   "messages":[{"role":"user","content":"hi"}]}'
    req = RelayRequest(CHAT, json.loads(raw), raw, "gpt-4o", "gpt-4o")
    assert OpenAIAdaptor().build_request(req, ChannelTarget(1, 1, "k")).body == raw
    req.rewrite = True
    assert OpenAIAdaptor().build_request(req, ChannelTarget(1, 1, "k")).body != raw


def test_azure_url_and_filter_chunk_dropped() -> None:
    az = AzureAdaptor()
    up = az.build_request(_req(), ChannelTarget(1, 3, "key", base_url="https://r.openai.azure.com",
                                                config={"api_version": "2024-10-21"}))
    assert up.url == "https://r.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    assert up.headers["api-key"] == "key" and "Authorization" not in up.headers
    ts = az.new_stream(_req(stream=True))
    out = ts.feed(b'data: {"choices":[],"prompt_filter_results":[{"prompt_index":0}]}\n\n'
                  b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n')
    assert len(out) == 1 and b'"x"' in out[0]


def test_error_parsing_verdicts() -> None:
    f = parse_openai_error(401, b'{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}')
    assert f.disables_channel and f.retryable and f.code == "invalid_api_key"
    f = parse_openai_error(400, b'{"error":{"message":"bad","type":"invalid_request_error"}}')
    assert not f.retryable and not f.disables_channel
    f = parse_openai_error(429, b'{"error":{"message":"You exceeded your current quota, check billing","type":"insufficient_quota"}}')
    assert f.disables_channel
    f = parse_openai_error(502, b"<html>Bad gateway</html>")
    assert f.message == "<html>Bad gateway</html>" and f.retryable
    f = parse_openai_error(500, b'{"error":"plain text error"}')
    assert f.message == "plain text error"


# --------------------------------------------------------------------------- types 3, 22, 26, 27, 50


def _url(t: int, base: str = "", mode: str = CHAT, model: str = "gpt-4o", **cfg: object) -> str:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]} if mode == CHAT \
        else {"model": model, "input": "x"}
    req = RelayRequest(mode=mode, body=body, raw=json.dumps(body).encode(), model=model, requested_model=model)
    adaptor = AzureAdaptor() if t == 3 else OpenAIAdaptor()
    return adaptor.build_request(req, ChannelTarget(1, t, "k", base_url=base, config=dict(cfg))).url


def test_azure_deployment_is_the_model_without_dots() -> None:
    base = "https://r.openai.azure.com/"
    assert _url(3, base, model="gpt-3.5-turbo", api_version="2024-06-01") == \
        "https://r.openai.azure.com/openai/deployments/gpt-35-turbo/chat/completions?api-version=2024-06-01"
    assert _url(3, base, model="gpt-4.1-mini") == \
        "https://r.openai.azure.com/openai/deployments/gpt-41-mini/chat/completions?api-version=2024-10-21"
    assert _url(3, base, EMBEDDINGS, model="text-embedding-3.5") == \
        "https://r.openai.azure.com/openai/deployments/text-embedding-35/embeddings?api-version=2024-10-21"
    assert _url(3, base, model="my-deployment") == \
        "https://r.openai.azure.com/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"


def test_fastgpt_path_for_default_and_user_bases() -> None:
    want = "/api/openapi/v1/chat/completions"
    assert _url(22) == "https://fastgpt.run" + want  # the registry default (One API's url.go)
    for base in ("https://fastgpt.example.com", "https://fastgpt.example.com/",
                 "https://fastgpt.example.com/api/openapi", "https://fastgpt.example.com/api/openapi/",
                 "https://fastgpt.example.com/api/openapi/v1"):
        assert _url(22, base) == "https://fastgpt.example.com" + want, base
    assert _url(22, "http://10.0.0.9:3000/fastgpt") == "http://10.0.0.9:3000/fastgpt" + want


def test_minimax_chat_path() -> None:
    assert _url(27) == "https://api.minimax.chat/v1/text/chatcompletion_v2"
    assert _url(27, "https://api.minimaxi.com/") == "https://api.minimaxi.com/v1/text/chatcompletion_v2"


def test_openai_compatible_base_is_used_as_given() -> None:
    assert _url(50, "https://host/api/v3") == "https://host/api/v3/chat/completions"
    assert _url(50, "https://host/api/v3/", EMBEDDINGS) == "https://host/api/v3/embeddings"
    assert _url(50, "http://10.0.0.5:8000/v1") == "http://10.0.0.5:8000/v1/chat/completions"
    assert _url(50, "http://10.0.0.5:8000") == "http://10.0.0.5:8000/chat/completions"  # no forced /v1
    assert _url(50, "http://x/v1", COMPLETIONS) == "http://x/v1/completions"


def test_baichuan_body_is_re_encoded_without_what_baichuan_rejects() -> None:
    body = {"model": "Baichuan4", "messages": [{"role": "user", "content": "你好"}],
            "frequency_penalty": 0, "presence_penalty": 0.0, "temperature": 0.3, "top_p": 0.85,
            "max_tokens": 0, "n": 1, "stop": None, "tools": None, "stream": False, "user": "u",
            "with_search_enhance": True, "knowledge_base": {"ids": ["kb-1"]}}
    raw = json.dumps(body, indent=2).encode()
    req = RelayRequest(CHAT, body, raw, "Baichuan4", "Baichuan4")  # not rewritten by the pipeline
    up = OpenAIAdaptor().build_request(req, ChannelTarget(1, 26, "k"))
    assert up.url == "https://api.baichuan-ai.com/v1/chat/completions"
    assert up.headers["Authorization"] == "Bearer k"
    assert up.body != raw and "你好".encode() in up.body and b"\n" not in up.body
    sent = json.loads(up.body)  # type: ignore[arg-type]
    assert sent == {"model": "Baichuan4", "messages": [{"role": "user", "content": "你好"}],
                    "temperature": 0.3, "top_p": 0.85, "n": 1, "stream": False, "user": "u",
                    "with_search_enhance": True, "knowledge_base": {"ids": ["kb-1"]}}
    # a non-zero penalty is the client's choice and goes through; the pipeline's rewrite is used
    req = RelayRequest(CHAT, {**body, "model": "Baichuan2-Turbo", "frequency_penalty": 0.5}, raw,
                       "Baichuan2-Turbo", "Baichuan4", rewrite=True)
    sent = json.loads(OpenAIAdaptor().build_request(req, ChannelTarget(1, 26, "k")).body)  # type: ignore[arg-type]
    assert sent["frequency_penalty"] == 0.5 and sent["model"] == "Baichuan2-Turbo"
    assert "presence_penalty" not in sent
    # other OpenAI-compatible types keep the client's bytes, zero penalties and all
    req = RelayRequest(CHAT, body, raw, "Baichuan4", "Baichuan4")
    for t in (1, 22, 27, 50):
        assert OpenAIAdaptor().build_request(req, ChannelTarget(1, t, "k", base_url="http://h")).body == raw, t
