"""A fake Cohere v1 Chat API (``POST /v1/chat``) for tests.

``make_cohere_app(state)`` gives a Tornado app; every request is recorded in
``state.requests`` as ``{"path", "headers", "json"}`` and answered as Cohere's v1
chat would (cohere-python ``chat`` / ``chat_stream``):

* ``Authorization: Bearer`` is required (missing → 401 ``no api key supplied``;
  ``bad-key`` → 401 ``invalid api token``); ``fail-500`` → 500, ``fail-429`` → 429;
* the body is checked: only v1 chat fields, ``message`` a string (empty only with
  ``tool_results``), ``chat_history`` roles USER/CHATBOT/SYSTEM/TOOL, ``tool_results``
  only with ``tools``, ``parameter_definitions`` with a type per parameter;
* answer: with tools (and no tool results) a tool plan plus a call of the first tool
  (``{"city": "Paris"}``); with tool results a sentence about them; else
  "Hello from Cohere"; ``max_tokens`` ≤ 2 ends with MAX_TOKENS;
* ``"stream": true`` → NDJSON (``application/stream+json``), one write + flush per event:
  stream-start, text-generation… or tool-calls-chunk… + tool-calls-generation, then
  stream-end with the whole response (``meta.tokens`` / ``meta.billed_units``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import tornado.web

V1_FIELDS = frozenset({
    "message", "model", "stream", "preamble", "chat_history", "conversation_id", "prompt_truncation",
    "connectors", "search_queries_only", "documents", "citation_quality", "temperature", "max_tokens",
    "max_input_tokens", "k", "p", "seed", "stop_sequences", "frequency_penalty", "presence_penalty",
    "raw_prompting", "tools", "tool_results", "force_single_step", "response_format", "safety_mode",
})
TEXT_REPLY = "Hello from Cohere"
TEXT_FRAGMENTS = ["Hello", " from", " Cohere"]
TOOL_PLAN = "I will look up the weather."
TOOL_PLAN_FRAGMENTS = ["I will", " look up the weather."]
TOOL_ARGS = {"city": "Paris"}
TOOL_PARAM_FRAGMENTS = ['{\n    "', 'city": "', 'Paris"\n}']
TOOL_RESULT_REPLY = "It is sunny in Paris."
INPUT_TOKENS = 14
OUTPUT_TOKENS = 5
BILLED_INPUT = 8
GENERATION_ID = "5c2b8a4e-1d6f-4e0b-9d5a-0b1f2c3d4e5f"
RESPONSE_ID = "9a8b7c6d-0000-4000-8000-123456789abc"


@dataclass
class FakeCohereState:
    requests: list[dict[str, Any]] = field(default_factory=list)

    def keys(self) -> list[str | None]:
        out = []
        for r in self.requests:
            auth = r["headers"].get("Authorization")
            out.append(auth[7:] if auth and auth.startswith("Bearer ") else auth)
        return out


def _check(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "invalid request: could not parse body"
    extra = sorted(set(body) - V1_FIELDS)
    if extra:
        return f"invalid request: unknown field: parameter {extra[0]} is not a valid field"
    if not isinstance(body.get("message"), str):
        return "invalid request: message must be a string"
    if not body["message"] and not body.get("tool_results"):
        return "invalid request: message must be at least 1 token long or tool results must be specified."
    if body.get("tool_results") and not body.get("tools"):
        return "invalid request: tool_results were provided but no tools were specified"
    for i, m in enumerate(body.get("chat_history") or ()):
        if not isinstance(m, dict) or m.get("role") not in ("USER", "CHATBOT", "SYSTEM", "TOOL"):
            return f"invalid request: chat_history[{i}].role must be one of USER, CHATBOT, SYSTEM, TOOL"
        if m["role"] != "TOOL" and not isinstance(m.get("message"), str):
            return f"invalid request: chat_history[{i}].message must be a string"
        if m["role"] == "TOOL" and not isinstance(m.get("tool_results"), list):
            return f"invalid request: chat_history[{i}].tool_results must be a list"
    for t in body.get("tools") or ():
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            return "invalid request: tool name is required"
        for pname, spec in (t.get("parameter_definitions") or {}).items():
            if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
                return f"invalid request: parameter {pname} has no type"
    for r in body.get("tool_results") or ():
        if not isinstance(r, dict) or not isinstance(r.get("call"), dict) or not isinstance(r.get("outputs"), list):
            return "invalid request: tool_results must have call and outputs"
    p = body.get("p")
    if p is not None and not 0.01 <= p <= 0.99:
        return "invalid request: p must be between 0.01 and 0.99"
    return None


class ChatHandler(tornado.web.RequestHandler):
    state: FakeCohereState

    def initialize(self, state: FakeCohereState) -> None:
        self.state = state

    def check_xsrf_cookie(self) -> None:
        return None

    def _error(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    async def post(self) -> None:
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        self.state.requests.append({"path": self.request.path, "headers": dict(self.request.headers),
                                    "json": body})
        auth = self.request.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return self._error(401, "no api key supplied")
        key = auth[7:]
        if key == "bad-key":
            return self._error(401, "invalid api token")
        if key == "fail-500":
            return self._error(500, "internal server error, this has been reported to our developers")
        if key == "fail-429":
            return self._error(429, "You are using a Trial key, which is limited to 10 API calls / minute.")
        problem = _check(body)
        if problem:
            return self._error(400, problem)

        tool_name = None
        tools = body.get("tools")
        if tools and not body.get("tool_results"):
            tool_name = tools[0]["name"]
        if body.get("tool_results"):
            text, fragments = TOOL_RESULT_REPLY, [TOOL_RESULT_REPLY]
        elif tool_name:
            text, fragments = TOOL_PLAN, []
        else:
            text, fragments = TEXT_REPLY, TEXT_FRAGMENTS
        max_tokens = body.get("max_tokens")
        finish = "MAX_TOKENS" if isinstance(max_tokens, int) and max_tokens <= 2 else "COMPLETE"
        tool_calls = [{"name": tool_name, "parameters": TOOL_ARGS}] if tool_name else None
        response: dict[str, Any] = {
            "response_id": RESPONSE_ID, "text": text, "generation_id": GENERATION_ID,
            "chat_history": [{"role": "USER", "message": body["message"]}, {"role": "CHATBOT", "message": text}],
            "finish_reason": finish,
            "meta": {"api_version": {"version": "1"},
                     "billed_units": {"input_tokens": BILLED_INPUT, "output_tokens": OUTPUT_TOKENS},
                     "tokens": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}},
        }
        if tool_calls:
            response["tool_calls"] = tool_calls
        if body.get("stream") is not True:
            self.set_header("Content-Type", "application/json")
            return self.finish(json.dumps(response))

        self.set_header("Content-Type", "application/stream+json")

        async def event(obj: dict[str, Any]) -> None:
            self.write(json.dumps({"is_finished": obj["event_type"] == "stream-end", **obj}) + "\n")
            await self.flush()

        await event({"event_type": "stream-start", "generation_id": GENERATION_ID})
        if tool_name:
            for frag in TOOL_PLAN_FRAGMENTS:
                await event({"event_type": "tool-calls-chunk", "text": frag})
            await event({"event_type": "tool-calls-chunk", "tool_call_delta": {"index": 0, "name": tool_name}})
            for frag in TOOL_PARAM_FRAGMENTS:
                await event({"event_type": "tool-calls-chunk",
                             "tool_call_delta": {"index": 0, "parameters": frag}})
            await event({"event_type": "tool-calls-generation", "text": TOOL_PLAN, "tool_calls": tool_calls})
        for frag in fragments:
            await event({"event_type": "text-generation", "text": frag})
        await event({"event_type": "stream-end", "finish_reason": finish, "response": response})
        self.finish()


def make_cohere_app(state: FakeCohereState) -> tornado.web.Application:
    return tornado.web.Application([(r"/v1/chat", ChatHandler, {"state": state})])


__all__ = ["FakeCohereState", "make_cohere_app", "TEXT_REPLY", "TOOL_PLAN", "TOOL_ARGS", "TOOL_RESULT_REPLY",
           "INPUT_TOKENS", "OUTPUT_TOKENS", "BILLED_INPUT", "V1_FIELDS"]
