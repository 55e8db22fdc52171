"""Scaffolding the adaptor tests share: fake provider servers, sending an adaptor's request,
running a transcoder over a recorded stream (whole, split at every byte, byte by byte),
reading its OpenAI SSE output, and the SDK calls the end-to-end tests repeat."""

from __future__ import annotations

import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterable, TypeVar

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from adaptors.base import CHAT, ChannelTarget, RelayRequest, StreamTranscoder, Usage
from tests.conftest import Gateway, listen

T = TypeVar("T", bound=StreamTranscoder)

# --------------------------------------------------------------------------- what an adaptor is given


def relay_request(body: dict[str, Any] | None, *, model: str, requested: str, stream: bool = False,
                  include_usage: bool | None = None, mode: str = CHAT) -> RelayRequest:
    """A request as the pipeline hands it to an adaptor: ``raw`` is the body's JSON, the body a
    one-message chat asking ``requested`` when none is given, and the usage chunk wanted when
    streaming unless ``include_usage`` says otherwise."""
    body = body if body is not None else {"model": requested, "messages": [{"role": "user", "content": "Hi"}]}
    return RelayRequest(mode=mode, body=body, raw=json.dumps(body).encode(), model=model, requested_model=requested,
                        stream=stream, include_usage=stream if include_usage is None else include_usage)


def channel_target(defaults: dict[str, Any], **kw: Any) -> ChannelTarget:
    """A channel (one key of it) from a test file's defaults, any field overridden."""
    return ChannelTarget(**{**defaults, **kw})


# --------------------------------------------------------------------------- fake servers and requests


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """A fake provider app on a free loopback port, for the block's lifetime: its base URL."""
    server, port = listen(app)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        await server.close_all_connections()


class FakeServer:
    """A fake provider server: the state it records into and its base URL."""

    def __init__(self, state: Any, url: str) -> None:
        self.state, self.url = state, url


async def send(up: Any, streaming_callback: Callable[[bytes], Any] | None = None) -> Any:
    """Send an adaptor's UpstreamRequest as the relay would (errors come back as responses)."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(HTTPRequest(up.url, method=up.method, headers=up.headers, body=up.body,
                                              streaming_callback=streaming_callback, request_timeout=10),
                                  raise_error=False)
    finally:
        client.close()


async def send_stream(ad: Any, req: Any, target: Any) -> tuple[Any, StreamTranscoder, bytes]:
    """A stream request through the adaptor and its transcoder, as the relay runs it: (the
    upstream's response, the transcoder, everything the transcoder sent)."""
    ts = ad.new_stream(req)
    frames: list[bytes] = []
    resp = await send(ad.build_request(req, target), lambda b: frames.extend(ts.feed(b)))
    frames.extend(ts.finish())
    return resp, ts, b"".join(frames)


def sequential_ids(prefix: str = "call_test") -> Callable[[], str]:
    """A deterministic id maker for transcoders that take one: ``call_test0``, ``call_test1``…"""
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter)}"


# --------------------------------------------------------------------------- transcoders


def transcode(ts: StreamTranscoder, pieces: Iterable[bytes]) -> bytes:
    """Feed ``pieces`` one by one, then finish: everything the transcoder sent, joined."""
    out: list[bytes] = []
    for p in pieces:
        out.extend(ts.feed(p))
    out.extend(ts.finish())
    return b"".join(out)


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


def assert_every_split(data: bytes, run: Callable[[list[bytes]], tuple[T, bytes]],
                       check: Callable[[T, bytes], None], usage: Usage | None) -> tuple[T, bytes]:
    """Run ``data`` cut in two at every offset: the first output is examined by ``check`` and
    every other is the same bytes, with the same usage, the stream done and no error.
    Returns the last transcoder and the output."""
    reference: bytes | None = None
    ts: T | None = None
    for i in range(len(data) + 1):
        ts, out = run([data[:i], data[i:]])
        if reference is None:
            reference = out
            check(ts, out)
        assert out == reference, f"split at {i}"
        assert ts.usage == usage and ts.done and ts.error is None, f"split at {i}"
    assert ts is not None and reference is not None
    return ts, reference


def decode_frames(out: bytes) -> tuple[list[dict[str, Any]], int]:
    """(JSON payloads, number of [DONE] frames) of concatenated OpenAI SSE output; every frame
    is one ``data:`` line and nothing follows [DONE]."""
    assert out.endswith(b"\n\n")
    payloads: list[dict[str, Any]] = []
    dones = 0
    for frame in out.split(b"\n\n")[:-1]:
        assert frame.startswith(b"data: "), frame
        data = frame[6:]
        if data == b"[DONE]":
            dones += 1
            continue
        assert dones == 0, "a frame after [DONE]"
        payloads.append(json.loads(data))
    return payloads, dones


def simplify_chunks(chunks: list[dict[str, Any]], chat_id: str, model: str,
                    created: int | None = None) -> list[dict[str, Any]]:
    """Chunks reduced to what varies: the single choice's delta and finish reason, or the usage.
    Every chunk must be a ``chat.completion.chunk`` of this stream (id, model and, when given,
    created) with choice 0 only, and no usage beside a choice."""
    out: list[dict[str, Any]] = []
    for c in chunks:
        assert c["object"] == "chat.completion.chunk" and c["id"] == chat_id
        assert c["model"] == model and (created is None or c["created"] == created)
        if not c["choices"]:
            out.append({"usage": c["usage"]})
            continue
        (choice,) = c["choices"]
        assert choice["index"] == 0 and "usage" not in c
        item: dict[str, Any] = {"delta": choice["delta"]}
        if choice["finish_reason"] is not None:
            item["finish_reason"] = choice["finish_reason"]
        out.append(item)
    return out


# --------------------------------------------------------------------------- through OneRelay


async def channel_token(gw: Gateway, **fields: Any) -> str:
    """Add a channel with these fields and return a new token's key."""
    await gw.channel(**fields)
    return await gw.token()


async def ask(client: Any, model: str, stream: bool = False, content: str = "hi") -> str:
    """One user message through the SDK; the answer's text (the stream's deltas joined)."""
    messages = [{"role": "user", "content": content}]
    if not stream:
        resp = await client.chat.completions.create(model=model, messages=messages)
        return resp.choices[0].message.content  # type: ignore[no-any-return]
    text = ""
    async for chunk in await client.chat.completions.create(model=model, messages=messages, stream=True):
        text += "".join(ch.delta.content or "" for ch in chunk.choices)
    return text


@dataclass
class StreamRead:
    """What an SDK client saw of a chat stream."""

    text: str = ""  # the content deltas joined
    finish: str | None = None  # the last finish reason
    usage: Any = None  # the last usage chunk's
    models: set[str] = field(default_factory=set)
    roles: list[str] = field(default_factory=list)  # every role a delta carried


async def read_stream(stream: Any) -> StreamRead:
    """Read an SDK chat stream to its end."""
    seen = StreamRead()
    async for chunk in stream:
        seen.models.add(chunk.model)
        seen.usage = chunk.usage or seen.usage
        for ch in chunk.choices:
            seen.text += ch.delta.content or ""
            seen.finish = ch.finish_reason or seen.finish
            if ch.delta.role:
                seen.roles.append(ch.delta.role)
    return seen


async def read_text(stream: Any, parts: list[str]) -> None:
    """Collect a stream's content deltas into ``parts`` as they come (so a test still sees the
    text that arrived before the stream failed)."""
    async for chunk in stream:
        parts.extend(ch.delta.content or "" for ch in chunk.choices)
