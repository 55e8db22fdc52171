"""What the provider adaptors share, written once (pure: no I/O, like the adaptors).

* JSON: :func:`dumps` (compact, non-ASCII kept), :func:`loads_or_none`;
* client fields: :func:`is_number`, :func:`positive_int`, :func:`count`,
  :func:`max_output_tokens`, :func:`stop_list`, :func:`tool_arguments`;
* message content: :func:`content_text`, :func:`split_content`, :func:`parse_data_url`;
* ids: :func:`new_completion_id`, :func:`new_call_id`;
* OpenAI answers: :func:`assistant_message`, :func:`choice`, :func:`chat_completion`,
  :func:`normalize_tool_calls`, :func:`finish_lookup`, embeddings (:func:`embedding_texts`,
  :func:`base64_floats`, :func:`embeddings_list`);
* errors: :func:`error_payload`, :func:`failure`, :func:`raw_message`;
* streams: :class:`ChatStream` (chunk ids, the role on each choice's first delta, the error
  frame, the usage chunk and ``[DONE]``), :class:`WholeBodyStream` (providers that do not
  stream), :class:`LineBuffer` (line-delimited bodies, split anywhere) and
  :func:`tool_call_deltas` (OpenAI-shaped streamed tool calls).
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from typing import Any, Callable, TypeGuard

from .base import (
    DONE_FRAME,
    ChannelTarget,
    RelayRequest,
    StreamTranscoder,
    UpstreamFailure,
    Usage,
    chat_chunk,
    client_wants_usage,
    now,
    sse_frame,
)

_JSON_SEPARATORS = (",", ":")

# --------------------------------------------------------------------------- JSON


def dumps(obj: Any) -> str:
    """Compact JSON with non-ASCII text kept as it is (what every adaptor sends and answers)."""
    return json.dumps(obj, ensure_ascii=False, separators=_JSON_SEPARATORS)


def loads_or_none(body: bytes | str) -> Any:
    """The JSON value of a body; None when it is not JSON (or not UTF-8)."""
    try:
        return json.loads(body)
    except ValueError:  # UnicodeDecodeError is a ValueError
        return None


# --------------------------------------------------------------------------- channel settings


def channel_config(target: ChannelTarget) -> dict[str, Any]:
    """The channel's config object (``{}`` when it holds something else)."""
    return target.config if isinstance(target.config, dict) else {}


def channel_base_url(target: ChannelTarget, default: str = "") -> str:
    """The channel's base URL, trimmed and without a trailing ``/``; ``default`` when it has none."""
    return (target.base_url or "").strip().rstrip("/") or default


def config_text(target: ChannelTarget, name: str) -> str:
    """A config value as stripped text; ``""`` when absent."""
    value = channel_config(target).get(name)
    return str(value).strip() if value is not None else ""


# --------------------------------------------------------------------------- client fields


def is_number(v: Any) -> TypeGuard[float]:
    """An int or float, not a bool."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def positive_int(v: Any) -> int | None:
    """A positive whole number (``3.0`` counts as 3); None for anything else, bools included."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int) and v > 0:
        return v
    if isinstance(v, float) and v.is_integer() and v > 0:
        return int(v)
    return None


def count(v: Any) -> int:
    """A token count from an upstream field: the number, truncated; 0 when absent or negative."""
    return int(v) if is_number(v) and v > 0 else 0


def max_output_tokens(body: dict[str, Any]) -> int | None:
    """``max_completion_tokens``, else ``max_tokens``, when a positive whole number."""
    return positive_int(body.get("max_completion_tokens")) or positive_int(body.get("max_tokens"))


def stop_list(stop: Any) -> list[str]:
    """OpenAI ``stop`` (a string or a list) as a list of its non-empty strings."""
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    return [s for s in stops if isinstance(s, str) and s]


def tool_arguments(arguments: Any) -> dict[str, Any]:
    """OpenAI tool-call ``arguments`` (a JSON string) as an object; ``{}`` when empty, invalid
    or not an object."""
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str) and arguments.strip():
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return {}
        if isinstance(parsed, dict):
            return parsed
    return {}


# --------------------------------------------------------------------------- message content


def content_text(content: Any, *, scalars: bool = False) -> str:
    """The text of OpenAI message content: a string as it is, else its text parts (and bare
    string parts) joined by newlines, empty ones skipped; media dropped. Any other value is
    ``""``, or with ``scalars`` its ``str()`` (a number sent as content)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return str(content) if scalars and content is not None else ""
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(t for t in texts if t)


def split_content(content: Any, *, scalars: bool = False) -> tuple[list[str], list[str]]:
    """(non-empty texts, image URLs) of OpenAI message content; a part without a ``type`` is text
    when it has a string ``text``. Image URLs are stripped (the caller keeps the kinds its
    provider takes). Any other value gives nothing, or with ``scalars`` its ``str()`` as text."""
    if content is None:
        return [], []
    if isinstance(content, str):
        return ([content] if content else []), []
    if isinstance(content, dict):
        content = [content]
    texts: list[str] = []
    images: list[str] = []
    if not isinstance(content, list):
        return ([str(content)] if scalars else []), []
    for part in content:
        if isinstance(part, str):
            if part:
                texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        ptype = part.get("type")
        if (ptype == "text" or ptype is None) and isinstance(part.get("text"), str):
            if part["text"]:
                texts.append(part["text"])
        elif ptype in ("image_url", "image"):
            img = part.get("image_url")
            url = img.get("url") if isinstance(img, dict) else img
            if isinstance(url, str) and url.strip():
                images.append(url.strip())
    return texts, images


def parse_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a ``data:<type>;base64,<data>`` URL; the media type is ``""``
    when the URL names none. None for any other URL (plain ``data:`` text included)."""
    if not url.startswith("data:"):
        return None
    header, sep, data = url[5:].partition(",")
    if not sep:
        return None
    media_type, _, params = header.partition(";")
    if "base64" not in params.split(";"):
        return None
    return media_type, data


# --------------------------------------------------------------------------- ids


def new_completion_id(tag: str = "") -> str:
    """A fresh ``chatcmpl-`` id (``tag`` names the provider after the prefix: ``deepl-``)."""
    return "chatcmpl-" + tag + uuid.uuid4().hex


def new_call_id() -> str:
    """A fresh tool-call id, ``call_`` and 24 hex digits."""
    return "call_" + uuid.uuid4().hex[:24]


# --------------------------------------------------------------------------- OpenAI answers


def finish_lookup(table: dict[str, str], reason: Any, tool_calls: bool = False) -> str:
    """A provider's finish reason through its table (an unknown reason is ``stop``); ``stop``
    with tool calls in the answer is ``tool_calls``. Whether there is a reason at all (None,
    ``""``, ``"null"``…) each adaptor decides first."""
    mapped = table.get(str(reason), "stop")
    return "tool_calls" if tool_calls and mapped == "stop" else mapped


def assistant_message(text: str, tool_calls: list[dict[str, Any]] | None = None,
                      reasoning: str = "") -> dict[str, Any]:
    """An OpenAI assistant message; ``content`` is null when the answer is only tool calls."""
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not tool_calls else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return message


def choice(message: dict[str, Any], finish_reason: str | None, index: int = 0) -> dict[str, Any]:
    return {"index": index, "message": message, "finish_reason": finish_reason}


def chat_completion(id_: str, model: str, choices: list[dict[str, Any]], usage: Usage | None = None,
                    created: int | None = None) -> dict[str, Any]:
    """A ``chat.completion`` (``created`` now unless given; ``usage`` only when known)."""
    out: dict[str, Any] = {
        "id": id_,
        "object": "chat.completion",
        "created": created if created is not None else now(),
        "model": model,
        "choices": choices,
    }
    if usage is not None:
        out["usage"] = usage.to_openai()
    return out


def tool_choice_name(tool_choice: Any) -> str | None:
    """The function an OpenAI ``tool_choice`` object forces (``{"type": "function", "function":
    {"name"}}``, or a bare ``{"name"}``); None when it names none."""
    if not isinstance(tool_choice, dict):
        return None
    fn = tool_choice.get("function")
    name = fn.get("name") if isinstance(fn, dict) else tool_choice.get("name")
    return name if isinstance(name, str) and name else None


def function_tool(tool: Any) -> dict[str, Any] | None:
    """An OpenAI function tool re-made with only what OpenAI-shaped upstreams take (name,
    description when a string, the whole parameters schema, an empty object schema when there
    is none); None for anything else (other tool types, a function without a string name)."""
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        return None
    fn = tool.get("function")
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        return None
    entry: dict[str, Any] = {"name": fn["name"]}
    if isinstance(fn.get("description"), str):
        entry["description"] = fn["description"]
    params = fn.get("parameters")
    entry["parameters"] = params if isinstance(params, dict) and params else {"type": "object", "properties": {}}
    return {"type": "function", "function": entry}


def normalize_tool_calls(calls: Any) -> list[dict[str, Any]]:
    """OpenAI-shaped tool calls made whole: named function calls only, an id made up where
    missing, arguments as a JSON string (an object is encoded)."""
    out: list[dict[str, Any]] = []
    for tc in calls if isinstance(calls, list) else ():
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        args = fn.get("arguments")
        if not isinstance(args, str):
            args = dumps(args if args is not None else {})
        call_id = tc.get("id") if isinstance(tc.get("id"), str) and tc.get("id") else new_call_id()
        out.append({"id": call_id, "type": "function", "function": {"name": fn["name"], "arguments": args}})
    return out


# --------------------------------------------------------------------------- embeddings


_counter: Any = None


def _token_counter() -> Any:
    """The relay's token counter (tiktoken, offline data), loaded on first use."""
    global _counter
    if _counter is None:
        from relay.tokenizer import TokenCounter  # the adaptors stay importable without it
        _counter = TokenCounter()
    return _counter


def count_tokens(texts: list[str], model: str) -> int:
    """Tokens of ``texts`` counted locally (for providers that report none)."""
    counter = _token_counter()
    return sum(counter.count_text(t, model) for t in texts)


def embedding_texts(inp: Any, model: str = "") -> list[str]:
    """The texts of an OpenAI embeddings ``input`` (token-id arrays are decoded with the
    counter's encoding: LangChain sends cl100k token ids by default)."""
    if isinstance(inp, str):
        return [inp]
    if not isinstance(inp, list) or not inp:
        return []
    if all(isinstance(v, int) and not isinstance(v, bool) for v in inp):
        inp = [inp]
    texts: list[str] = []
    for item in inp:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in item):
            texts.append(_token_counter().encoder_for(model).decode(item))
        else:
            texts.append("" if item is None else str(item))
    return texts


def base64_floats(values: list[float]) -> str:
    """A vector as OpenAI's ``encoding_format: base64``: little-endian float32, base64."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def embeddings_list(vectors: list[tuple[int, Any]], model: str, encoding_format: Any,
                    usage: Usage | None) -> dict[str, Any]:
    """An OpenAI embeddings ``list`` from (index, vector) pairs, sorted by index; the numbers of a
    vector are kept (as floats), base64 float32 when the client asked; ``usage`` only when known."""
    items = []
    for index, vec in sorted(vectors, key=lambda p: p[0]):
        floats = [float(v) for v in vec if is_number(v)] if isinstance(vec, list) else []
        items.append({"object": "embedding", "index": index,
                      "embedding": base64_floats(floats) if encoding_format == "base64" else floats})
    out: dict[str, Any] = {"object": "list", "data": items, "model": model}
    if usage is not None:
        out["usage"] = {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}
    return out


# --------------------------------------------------------------------------- errors


def error_payload(message: str, type_: str = "upstream_error", code: Any = None) -> dict[str, Any]:
    """The OpenAI error object relayed to the client (``{"error": <this>}``)."""
    return {"message": message, "type": type_, "param": "", "code": code}


def failure(status: int, message: str, type_: str = "upstream_error", code: Any = None, *,
            retryable: bool, disables: bool) -> UpstreamFailure:
    """An :class:`UpstreamFailure` whose payload is the OpenAI error object of the same fields."""
    return UpstreamFailure(status=status, message=message, type=type_, code=code, retryable=retryable,
                           disables_channel=disables, payload=error_payload(message, type_, code))


def raw_message(body: bytes, status: int) -> str:
    """An error body that has no message field, as the message: its text (500 characters at
    most), or ``upstream returned HTTP <status>`` when it is empty."""
    return body.decode("utf-8", "replace").strip()[:500] or f"upstream returned HTTP {status}"


# --------------------------------------------------------------------------- streams


class ChatStream(StreamTranscoder):
    """The frame-making every converting transcoder shares.

    Chunks answer the model the client asked for, with one id for the whole stream (``id_``,
    else one made at the first frame) and one ``created``; the first delta of each choice
    carries ``role: assistant``. :meth:`_fail` sends an OpenAI error frame and ``[DONE]``;
    :meth:`_usage_frame` the usage chunk when the client wants one; :meth:`_close` that chunk
    and ``[DONE]``. ``req`` None (a whole body read outside a stream) answers model ``""``
    and wants no usage chunk.
    """

    def __init__(self, req: RelayRequest | None, created: int | None = None, id_: str = "") -> None:
        super().__init__()
        self._model = req.requested_model if req is not None else ""
        self._emit_usage = client_wants_usage(req) if req is not None else False
        self._created = created if created is not None else now()
        self._id = id_
        self._role_sent: set[int] = set()  # choice indexes whose role went out
        self._sent_done = False

    def _frame(self, delta: dict[str, Any] | None, finish: str | None = None, usage: Usage | None = None,
               index: int = 0) -> bytes:
        """One chunk frame; ``delta=None`` with ``usage`` is the usage-only chunk."""
        if not self._id:
            self._id = new_completion_id()
        if delta is not None and index not in self._role_sent:
            delta = {"role": "assistant", **delta}
            self._role_sent.add(index)
        return sse_frame(chat_chunk(self._id, self._model, self._created, delta, finish, usage, index))

    def _fail(self, payload: dict[str, Any], out: list[bytes]) -> None:
        """End the stream with ``{"error": payload}`` and ``[DONE]``."""
        self.error = payload["message"]
        out.append(sse_frame({"error": payload}))
        self._sent_done = True
        out.append(DONE_FRAME)

    def _usage_frame(self, out: list[bytes]) -> None:
        if self._emit_usage and self.usage is not None:
            out.append(self._frame(None, usage=self.usage))

    def _close(self, out: list[bytes]) -> None:
        """End the stream normally: the usage chunk (when wanted) and ``[DONE]``."""
        self._usage_frame(out)
        self._sent_done = True
        out.append(DONE_FRAME)


class WholeBodyStream(ChatStream):
    """For providers that do not stream: the whole answer is collected and turned into chunks
    once, when the upstream body ends (:meth:`_answer`, which also ends the stream)."""

    def __init__(self, req: RelayRequest, created: int | None = None, id_: str = "") -> None:
        super().__init__(req, created, id_)
        self._buf = bytearray()
        self._finished = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        return []

    def finish(self) -> list[bytes]:
        if self._finished:
            return []
        self._finished = True
        return self._answer(bytes(self._buf))

    def _answer(self, body: bytes) -> list[bytes]:
        raise NotImplementedError


class LineBuffer:
    """Line-delimited bodies (NDJSON, ``data:`` lines) split anywhere: :meth:`feed` hands each
    complete line (without its ``\\n``; a ``\\r`` before it is left to the caller's strip) to
    ``handle`` until ``stop()`` says the stream is over, and keeps the unfinished rest;
    :meth:`rest` takes that rest when the body ends."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes, handle: Callable[[bytes], None], stop: Callable[[], bool]) -> None:
        buf = self._buf + data if self._buf else data
        start = 0
        while not stop():
            end = buf.find(b"\n", start)
            if end < 0:
                self._buf = buf[start:]
                return
            handle(buf[start:end])
            start = end + 1
        self._buf = b""  # the stream is over: what follows is not read

    def rest(self) -> bytes:
        rest, self._buf = self._buf, b""
        return rest


class LineStream(ChatStream):
    """A converting transcoder for a line-framed upstream (NDJSON, ``data:`` lines, websocket
    messages): each complete line goes to :meth:`_line`; at the end, the unfinished rest too,
    then :meth:`_end` closes a stream the upstream cut before its last line."""

    def __init__(self, req: RelayRequest, created: int | None = None, id_: str = "") -> None:
        super().__init__(req, created, id_)
        self._lines = LineBuffer()

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        self._lines.feed(data, lambda line: self._line(line, out), lambda: self._sent_done)
        return out

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        rest = self._lines.rest()
        if rest and not self._sent_done:
            self._line(rest, out)
        if not self._sent_done:
            self._end(out)
        return out

    def _line(self, line: bytes, out: list[bytes]) -> None:
        raise NotImplementedError

    def _end(self, out: list[bytes]) -> None:
        """The body ended before the upstream's last line: ``[DONE]`` (override to say more)."""
        self._sent_done = True
        out.append(DONE_FRAME)


def append_turn(turns: list[dict[str, Any]], role: str, blocks: list[Any]) -> None:
    """Consecutive messages of one role become one turn (providers that want roles to alternate)."""
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def tool_call_deltas(calls: Any, idx: int, started: dict[int, int], text_parts: list[str]) -> list[dict[str, Any]]:
    """OpenAI stream tool-call deltas re-made from an OpenAI-like upstream's (``index`` kept or
    counted on from ``started[idx]``, the calls choice ``idx`` has started; a delta with an id
    opens a call). Names and arguments go to ``text_parts`` for local counting."""
    out: list[dict[str, Any]] = []
    for j, tc in enumerate(calls if isinstance(calls, list) else ()):
        if not isinstance(tc, dict):
            continue
        fn = tc.get("function") if isinstance(tc.get("function"), dict) else {}
        assert isinstance(fn, dict)
        k = tc.get("index") if isinstance(tc.get("index"), int) else started.get(idx, 0) + j
        entry: dict[str, Any] = {"index": k}
        f: dict[str, Any] = {}
        if isinstance(tc.get("id"), str) and tc["id"]:
            entry["id"] = tc["id"]
            entry["type"] = "function"
            started[idx] = max(started.get(idx, 0), k + 1)
        if isinstance(fn.get("name"), str) and fn["name"]:
            f["name"] = fn["name"]
            text_parts.append(fn["name"])
        args = fn.get("arguments")
        if args is not None and not isinstance(args, str):
            args = dumps(args)
        if isinstance(args, str) and (args or "id" in entry):
            f["arguments"] = args
            text_parts.append(args)
        if f:
            entry["function"] = f
        if len(entry) > 1:
            out.append(entry)
    return out
