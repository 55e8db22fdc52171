"""A fake native OpenAI Responses API upstream (a real Tornado app on loopback) for the
format tests, recording every request it got (method, path, query, headers, raw body).

* ``POST /v1/responses``: a ``response`` object (JSON) or its SSE stream (``event:`` +
  ``data:`` with ``sequence_number``, as OpenAI sends them); a ``function_call`` of the first
  function tool when the request has tools, else the text :data:`TEXT`. Usage carries cached
  input and reasoning tokens (:data:`USAGE`). Stored (unless ``store`` is false) with its input
  items for the calls below.
* ``POST /v1/responses/input_tokens``: ``{"object": "response.input_tokens", "input_tokens"}``.
* ``POST /v1/responses/compact``: a ``response.compaction`` object.
* ``GET``/``DELETE /v1/responses/{id}``, ``GET …/input_items``, ``POST …/cancel``: from the store,
  404 in OpenAI's shape for an unknown id or another key's response (OpenAI keeps responses per
  project).
* ``POST /v1/messages``: a Claude upstream answering with thinking (or 429/529 errors).
* ``POST /v1/chat/completions``: chat answers whose streams carry tool calls (the shared fake
  OpenAI upstream streams text only): a stream of several tool calls, arguments in fragments,
  one call per tool up to :data:`STREAM_CALLS`.

The channel key picks failures as in tests/fakeupstream.py: ``fail-429``, ``fail-401``,
``fail-500``.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import tornado.web

TEXT = "Hello from Responses"
TEXT_FRAGMENTS = ["Hello", " from", " Responses"]
CALL_ARGS = '{"city":"Paris"}'
CALL_ARG_FRAGMENTS = ['{"ci', 'ty":', '"Paris"}']
USAGE = {"input_tokens": 30, "input_tokens_details": {"cached_tokens": 10},
         "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 8}, "total_tokens": 50}
INPUT_TOKENS_COUNT = 42
STREAM_CALLS = 2  # tool calls in a chat stream
CHAT_USAGE = {"prompt_tokens": 40, "completion_tokens": 15, "total_tokens": 55}

_ids = itertools.count(1)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    raw: bytes
    json: Any
    key: str


@dataclass
class FakeResponsesState:
    requests: list[Seen] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> response
    inputs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # id -> input items
    owners: dict[str, str] = field(default_factory=dict)  # id -> the key that created it

    def reset(self) -> None:
        self.requests.clear()
        self.stored.clear()
        self.inputs.clear()
        self.owners.clear()

    def last(self, path_end: str = "") -> Seen:
        return next(r for r in reversed(self.requests) if r.path.endswith(path_end))


class _Base(tornado.web.RequestHandler):
    def initialize(self, state: FakeResponsesState) -> None:
        self.state = state

    def check_xsrf_cookie(self) -> None:
        return None

    def record(self) -> Seen:
        raw = self.request.body or b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        auth = self.request.headers.get("Authorization", "")
        seen = Seen(self.request.method or "", self.request.path, self.request.query, dict(self.request.headers),
                    raw, body, auth[7:] if auth.startswith("Bearer ") else auth)
        self.state.requests.append(seen)
        return seen

    def error(self, status: int, message: str, type_: str, code: Any = None, param: Any = None) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}))

    def failed(self, key: str) -> bool:
        if key == "fail-429":
            self.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded")
        elif key == "fail-401":
            self.error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        elif key == "fail-500":
            self.error(500, "The server had an error while processing your request", "server_error")
        else:
            return False
        return True

    def not_found(self, rid: str) -> None:
        self.error(404, f"Response with id '{rid}' not found.", "invalid_request_error", None, "response_id")


def _function_tool(body: dict[str, Any]) -> str | None:
    for t in body.get("tools") or ():
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str):
            return str(t["name"])
    return None


def _response(rid: str, body: dict[str, Any], status: str, output: list[dict[str, Any]],
              usage: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": rid, "object": "response", "created_at": int(time.time()), "status": status,
        "background": False, "error": None, "incomplete_details": None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model") or "gpt-4o", "output": output, "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None}, "store": body.get("store", True),
        "temperature": 1.0, "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto", "tools": body.get("tools") or [], "top_p": 1.0,
        "truncation": "disabled", "usage": usage, "user": None, "metadata": body.get("metadata") or {},
    }


def _input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    inp = body.get("input")
    if isinstance(inp, str):
        inp = [{"role": "user", "content": inp}]
    items = []
    for i, item in enumerate(inp if isinstance(inp, list) else ()):
        item = dict(item)
        item.setdefault("type", "message")
        if item["type"] == "message":
            content = item.get("content")
            if isinstance(content, str):
                item["content"] = [{"type": "input_text", "text": content}]
            item.setdefault("status", "completed")
        item.setdefault("id", f"msg_in_{i}")
        items.append(item)
    return items


class ResponsesHandler(_Base):
    """``POST /v1/responses`` and ``/v1/responses/input_tokens`` and ``/compact``."""

    async def post(self, sub: str | None = None) -> None:
        seen = self.record()
        if self.failed(seen.key):
            return
        body = seen.json
        if not isinstance(body, dict) or not body.get("model"):
            return self.error(400, "Missing required parameter: 'model'.", "invalid_request_error",
                              "missing_required_parameter", "model")
        if sub == "/input_tokens":
            return self.finish({"object": "response.input_tokens", "input_tokens": INPUT_TOKENS_COUNT})
        if sub == "/compact":
            return self.finish({"id": f"cmp_{next(_ids):04d}", "object": "response.compaction",
                                "created_at": int(time.time()),
                                "output": [{"id": "cmp_item_1", "type": "compaction",
                                            "encrypted_content": "gAAAA-fake"}],
                                "usage": USAGE})
        prev = body.get("previous_response_id")
        if prev is not None and prev not in self.state.stored:
            return self.not_found(prev)
        rid = f"resp_fake{next(_ids):06d}"
        tool = _function_tool(body)
        if body.get("stream") is True:
            await self._stream(rid, body, tool)
        else:
            if tool:
                output = [{"id": f"fc_{rid}", "type": "function_call", "status": "completed",
                           "call_id": f"call_{rid}", "name": tool, "arguments": CALL_ARGS}]
            else:
                output = [{"id": f"msg_{rid}", "type": "message", "role": "assistant", "status": "completed",
                           "content": [{"type": "output_text", "text": TEXT, "annotations": [], "logprobs": []}]}]
            resp = _response(rid, body, "completed", output, USAGE)
            self._store(rid, body, resp)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(resp))

    def _store(self, rid: str, body: dict[str, Any], resp: dict[str, Any]) -> None:
        if body.get("store", True) is not False:
            self.state.stored[rid] = resp
            self.state.inputs[rid] = _input_items(body)
            self.state.owners[rid] = self.state.requests[-1].key

    async def _stream(self, rid: str, body: dict[str, Any], tool: str | None) -> None:
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        seq = itertools.count()

        async def event(kind: str, **fields: Any) -> None:
            data = {"type": kind, "sequence_number": next(seq), **fields}
            self.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n")
            await self.flush()

        await event("response.created", response=_response(rid, body, "in_progress", [], None))
        await event("response.in_progress", response=_response(rid, body, "in_progress", [], None))
        if tool:
            item = {"id": f"fc_{rid}", "type": "function_call", "status": "in_progress",
                    "call_id": f"call_{rid}", "name": tool, "arguments": ""}
            await event("response.output_item.added", output_index=0, item=item)
            for frag in CALL_ARG_FRAGMENTS:
                await event("response.function_call_arguments.delta", item_id=item["id"], output_index=0, delta=frag)
            await event("response.function_call_arguments.done", item_id=item["id"], output_index=0,
                        arguments=CALL_ARGS)
            item = {**item, "status": "completed", "arguments": CALL_ARGS}
        else:
            mid = f"msg_{rid}"
            item = {"id": mid, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
            await event("response.output_item.added", output_index=0, item=item)
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            await event("response.content_part.added", item_id=mid, output_index=0, content_index=0, part=part)
            for frag in TEXT_FRAGMENTS:
                await event("response.output_text.delta", item_id=mid, output_index=0, content_index=0,
                            delta=frag, logprobs=[])
            await event("response.output_text.done", item_id=mid, output_index=0, content_index=0, text=TEXT,
                        logprobs=[])
            part = {**part, "text": TEXT}
            await event("response.content_part.done", item_id=mid, output_index=0, content_index=0, part=part)
            item = {**item, "status": "completed", "content": [part]}
        await event("response.output_item.done", output_index=0, item=item)
        resp = _response(rid, body, "completed", [item], USAGE)
        self._store(rid, body, resp)
        await event("response.completed", response=resp)
        self.finish()


class ResponseItemHandler(_Base):
    """``GET``/``DELETE /v1/responses/{id}``, ``GET …/input_items``, ``POST …/cancel``."""

    def _find(self, rid: str) -> dict[str, Any] | None:
        seen = self.record()
        if self.failed(seen.key):
            return None
        resp = self.state.stored.get(rid)
        if resp is None or self.state.owners.get(rid, seen.key) != seen.key:  # another project's key
            self.not_found(rid)
            return None
        return resp

    async def get(self, rid: str, rest: str | None = None) -> None:
        resp = self._find(rid)
        if resp is None:
            return
        if rest == "/input_items":
            items = self.state.inputs.get(rid, [])
            if self.get_query_argument("order", "desc") == "desc":
                items = list(reversed(items))
            after = self.get_query_argument("after", "")
            ids = [i["id"] for i in items]
            if after in ids:
                items = items[ids.index(after) + 1:]
            limit = int(self.get_query_argument("limit", "20"))
            data = items[:limit]
            return self.finish({"object": "list", "data": data, "has_more": len(items) > limit,
                                "first_id": data[0]["id"] if data else None,
                                "last_id": data[-1]["id"] if data else None})
        if rest:
            return self.error(404, "Invalid URL", "invalid_request_error")
        self.finish(resp)

    async def delete(self, rid: str, rest: str | None = None) -> None:
        if self._find(rid) is None:
            return
        del self.state.stored[rid]
        self.finish({"id": rid, "object": "response.deleted", "deleted": True})

    async def post(self, rid: str, rest: str | None = None) -> None:
        resp = self._find(rid)
        if resp is None:
            return
        if rest != "/cancel":
            return self.error(404, "Invalid URL", "invalid_request_error")
        resp["status"] = "cancelled"
        self.finish(resp)


class ChatToolsHandler(_Base):
    """``POST /v1/chat/completions``: streamed tool calls (one per tool, up to STREAM_CALLS)."""

    async def post(self) -> None:
        seen = self.record()
        if self.failed(seen.key):
            return
        body = seen.json if isinstance(seen.json, dict) else {}
        tools = [t["function"]["name"] for t in body.get("tools") or () if isinstance(t, dict)]
        base = {"id": "chatcmpl-tools", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model")}
        calls = tools[:STREAM_CALLS]
        if not body.get("stream"):
            msg: dict[str, Any] = {"role": "assistant", "content": TEXT if not calls else None}
            if calls:
                msg["tool_calls"] = [{"id": f"call_{i}", "type": "function",
                                      "function": {"name": n, "arguments": CALL_ARGS}} for i, n in enumerate(calls)]
            return self.finish({"id": "chatcmpl-tools", "object": "chat.completion", "created": int(time.time()),
                                "model": body.get("model"),
                                "choices": [{"index": 0, "message": msg,
                                             "finish_reason": "tool_calls" if calls else "stop"}],
                                "usage": CHAT_USAGE})
        self.set_header("Content-Type", "text/event-stream")

        async def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            frame = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.write(b"data: " + json.dumps(frame).encode() + b"\n\n")
            await self.flush()

        await chunk({"role": "assistant", "content": ""})
        if not calls:
            for frag in TEXT_FRAGMENTS:
                await chunk({"content": frag})
        else:
            await chunk({"content": "Let me check."})
        for i, name in enumerate(calls):
            await chunk({"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                                         "function": {"name": name, "arguments": ""}}]})
            for frag in CALL_ARG_FRAGMENTS:
                await chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]})
        await chunk({}, "tool_calls" if calls else "stop")
        so = body.get("stream_options")
        if isinstance(so, dict) and so.get("include_usage"):
            self.write(b"data: " + json.dumps({**base, "choices": [], "usage": CHAT_USAGE}).encode() + b"\n\n")
        self.write(b"data: [DONE]\n\n")
        self.finish()


THINKING = "The user greets me; answer briefly."
THINKING_SIGNATURE = "EqQBCkYIARgCIkD-fake-signature"
CLAUDE_USAGE = {"input_tokens": 25, "output_tokens": 14, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0}


class FakeClaudeHandler(_Base):
    """``POST /v1/messages`` for what tests/fake_anthropic.py does not answer: ``x-api-key``
    ``fail-429`` (rate_limit_error) or ``fail-529`` (overloaded_error) in Anthropic's error
    shape, else a message with a ``thinking`` block (with signature) then the text TEXT."""

    async def post(self) -> None:
        seen = self.record()
        key = self.request.headers.get("x-api-key", "")
        if key in ("fail-429", "fail-529"):
            status = int(key[5:])
            etype = "rate_limit_error" if status == 429 else "overloaded_error"
            self.set_status(status)
            self.set_header("Content-Type", "application/json")
            return self.finish(json.dumps({"type": "error", "error": {"type": etype, "message": f"fake {etype}"}}))
        body = seen.json if isinstance(seen.json, dict) else {}
        msg = {"id": "msg_fake_thinking", "type": "message", "role": "assistant",
               "model": body.get("model"), "stop_reason": "end_turn", "stop_sequence": None}
        blocks = [{"type": "thinking", "thinking": THINKING, "signature": THINKING_SIGNATURE},
                  {"type": "text", "text": TEXT}]
        if not body.get("stream"):
            self.set_header("Content-Type", "application/json")
            return self.finish(json.dumps({**msg, "content": blocks, "usage": CLAUDE_USAGE}))
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")

        async def event(data: dict[str, Any]) -> None:
            self.write(f"event: {data['type']}\ndata: {json.dumps(data)}\n\n")
            await self.flush()

        await event({"type": "message_start", "message": {
            **msg, "content": [], "stop_reason": None, "usage": {**CLAUDE_USAGE, "output_tokens": 1}}})
        await event({"type": "content_block_start", "index": 0,
                     "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
        for frag in (THINKING[:10], THINKING[10:]):
            await event({"type": "content_block_delta", "index": 0,
                         "delta": {"type": "thinking_delta", "thinking": frag}})
        await event({"type": "content_block_delta", "index": 0,
                     "delta": {"type": "signature_delta", "signature": THINKING_SIGNATURE}})
        await event({"type": "content_block_stop", "index": 0})
        await event({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}})
        for frag in TEXT_FRAGMENTS:
            await event({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": frag}})
        await event({"type": "content_block_stop", "index": 1})
        await event({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                     "usage": {"output_tokens": CLAUDE_USAGE["output_tokens"]}})
        await event({"type": "message_stop"})
        self.finish()


def make_fake_responses_app(state: FakeResponsesState) -> tornado.web.Application:
    kw = {"state": state}
    return tornado.web.Application([
        (r"/v1/responses(/input_tokens|/compact)?", ResponsesHandler, kw),
        (r"/v1/responses/([^/]+)(/input_items|/cancel)?", ResponseItemHandler, kw),
        (r"/v1/chat/completions", ChatToolsHandler, kw),
        (r"/v1/messages", FakeClaudeHandler, kw),
    ])


__all__ = ["FakeResponsesState", "Seen", "make_fake_responses_app", "TEXT", "CALL_ARGS", "USAGE",
           "INPUT_TOKENS_COUNT", "STREAM_CALLS", "CHAT_USAGE", "THINKING", "THINKING_SIGNATURE", "CLAUDE_USAGE"]
