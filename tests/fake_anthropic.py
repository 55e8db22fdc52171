"""A fake Anthropic Messages upstream (``POST /v1/messages``) for integration tests.

Mount it as ``(r"/v1/messages", FakeAnthropicHandler, {"recorder": recorder_list})``.
Every request is recorded as ``{"path", "headers", "json"}`` and then answered the
way Anthropic would: the same validation errors (bad key, missing
``anthropic-version``, unknown top-level fields, missing ``max_tokens``) and,
on success, a canned message — a ``tool_use`` of the first tool when the
request has tools, else the text "Hello from Claude" — as JSON or as an SSE
stream (one write + flush per event, text and tool input split into fragments).
"""

from __future__ import annotations

import json
from typing import Any

from tornado.web import RequestHandler

ALLOWED_FIELDS = frozenset({
    "model", "messages", "system", "max_tokens", "metadata", "stop_sequences", "stream",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking",
})

TEXT_REPLY = "Hello from Claude"
TEXT_FRAGMENTS = ["Hello", " from", " Claude"]
TOOL_INPUT = {"city": "Paris"}
TOOL_INPUT_FRAGMENTS = ["", '{"city"', ': "Pa', 'ris"}']  # real streams open with ""
TOOL_USE_ID = "toolu_01FakeWeatherCall0001"
INPUT_TOKENS = 12
TEXT_OUTPUT_TOKENS = 5
TOOL_OUTPUT_TOKENS = 9
MESSAGE_ID = "msg_01FakeAnthropicReply01"


class FakeAnthropicHandler(RequestHandler):
    recorder: list[dict[str, Any]]

    def initialize(self, recorder: list[dict[str, Any]]) -> None:
        self.recorder = recorder

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        return None

    def _error(self, status: int, etype: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("request-id", "req_fake_error")
        self.finish(json.dumps({"type": "error", "error": {"type": etype, "message": message},
                                "request_id": "req_fake_error"}))

    async def post(self) -> None:
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        self.recorder.append({
            "path": self.request.path,
            "headers": dict(self.request.headers),
            "json": body,
        })
        headers = self.request.headers
        if headers.get("x-api-key") == "bad-key":
            return self._error(401, "authentication_error", "invalid x-api-key")
        if not headers.get("anthropic-version"):
            return self._error(400, "invalid_request_error", "anthropic-version: header is required")
        if not isinstance(body, dict):
            return self._error(400, "invalid_request_error", "There was an error parsing the body")
        extra = sorted(set(body) - ALLOWED_FIELDS)
        if extra:
            return self._error(400, "invalid_request_error", f"{extra[0]}: Extra inputs are not permitted")
        if "max_tokens" not in body:
            return self._error(400, "invalid_request_error", "max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "invalid_request_error", "messages: at least one message is required")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
                return self._error(400, "invalid_request_error",
                                   f"messages.{i}.role: Input should be 'user' or 'assistant'")

        model = str(body.get("model") or "claude-fake")
        tools = body.get("tools")
        tool_name = tools[0].get("name") if isinstance(tools, list) and tools and isinstance(tools[0], dict) else None
        if body.get("stream") is True:
            await self._stream(model, tool_name)
        else:
            self._message(model, tool_name)

    def _message(self, model: str, tool_name: str | None) -> None:
        if tool_name:
            content: list[dict[str, Any]] = [
                {"type": "tool_use", "id": TOOL_USE_ID, "name": tool_name, "input": TOOL_INPUT}]
            stop, output = "tool_use", TOOL_OUTPUT_TOKENS
        else:
            content = [{"type": "text", "text": TEXT_REPLY}]
            stop, output = "end_turn", TEXT_OUTPUT_TOKENS
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": output,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }))

    async def _event(self, name: str, data: dict[str, Any]) -> None:
        self.write(f"event: {name}\ndata: {json.dumps(data)}\n\n")
        await self.flush()

    async def _stream(self, model: str, tool_name: str | None) -> None:
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        await self._event("message_start", {"type": "message_start", "message": {
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}})
        await self._event("ping", {"type": "ping"})
        if tool_name:
            await self._event("content_block_start", {"type": "content_block_start", "index": 0,
                              "content_block": {"type": "tool_use", "id": TOOL_USE_ID,
                                                "name": tool_name, "input": {}}})
            for frag in TOOL_INPUT_FRAGMENTS:
                await self._event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                  "delta": {"type": "input_json_delta", "partial_json": frag}})
            stop, output = "tool_use", TOOL_OUTPUT_TOKENS
        else:
            await self._event("content_block_start", {"type": "content_block_start", "index": 0,
                              "content_block": {"type": "text", "text": ""}})
            for frag in TEXT_FRAGMENTS:
                await self._event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                  "delta": {"type": "text_delta", "text": frag}})
            stop, output = "end_turn", TEXT_OUTPUT_TOKENS
        await self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
        await self._event("message_delta", {"type": "message_delta",
                          "delta": {"stop_reason": stop, "stop_sequence": None},
                          "usage": {"output_tokens": output}})
        await self._event("message_stop", {"type": "message_stop"})
        self.finish()


__all__ = ["FakeAnthropicHandler", "ALLOWED_FIELDS", "TEXT_REPLY", "TOOL_INPUT",
           "INPUT_TOKENS", "TEXT_OUTPUT_TOKENS", "TOOL_OUTPUT_TOKENS"]
