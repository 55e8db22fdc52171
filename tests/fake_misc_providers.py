"""Fake Cloudflare Workers AI, DeepL and Coze upstreams: one real Tornado app serving all three.

* Cloudflare: ``POST /client/v4/accounts/{account}/ai/v1/chat/completions`` and ``…/embeddings``
  (and the same under an AI Gateway path ``/v1/{account}/{gateway}/workers-ai/v1/…``). Bearer
  token required (``cf-bad`` → 401 in Cloudflare's ``errors`` envelope); the account must be
  :data:`CF_ACCOUNT`; a model not starting with ``@cf/`` or ``@hf/`` → 400. Chat answers
  OpenAI JSON with usage, or an OpenAI SSE stream (usage chunk only when
  ``stream_options.include_usage``), then ``[DONE]``.
* DeepL: ``POST /v2/translate`` with ``Authorization: DeepL-Auth-Key …`` (``deepl-bad`` → 403,
  ``deepl-quota`` → 456); ``{"text": [...], "target_lang"}`` → ``{"translations": [...]}``;
  the "translation" is ``f"[{LANG}] {text}"``.
* Coze: ``POST /v3/chat`` with a Bearer token; errors as ``{"code", "msg"}`` on HTTP 200, as
  Coze does (``pat_bad`` → 4101, bot ``missing`` → 4200). ``stream: true`` → the v3 event
  stream (``event:``/``data:`` lines without a space, the answer in deltas, a follow-up
  suggestion, ``conversation.chat.completed`` with usage, ``done``); bot ``fail`` → a
  ``conversation.chat.failed``; ``stream: false`` → only the in-progress chat (Coze wants it
  polled).

Every request is recorded as ``{"provider", "path", "headers", "json"}`` in ``state.requests``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tornado.web import Application, RequestHandler

CF_ACCOUNT = "acct-0123456789abcdef"
CF_REPLY = "Hello from Workers AI"
CF_FRAGMENTS = ["Hello", " from", " Workers", " AI"]
CF_USAGE = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
CF_EMBED_USAGE = {"prompt_tokens": 3, "total_tokens": 3}

DEEPL_SUPPORTED = {"ZH", "ZH-HANS", "ZH-HANT", "EN", "EN-GB", "EN-US", "JA", "DE", "FR", "PT-BR", "PT-PT"}

COZE_CHAT_ID = "7390000000000000001"
COZE_CONVERSATION_ID = "7390000000000000002"
COZE_ANSWER_ID = "7390000000000000003"
COZE_FRAGMENTS = ["Hi", " there", ", I am", " a Coze bot"]
COZE_REPLY = "".join(COZE_FRAGMENTS)
COZE_USAGE = {"token_count": 57, "output_count": 9, "input_count": 48}


@dataclass
class FakeState:
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.requests.clear()

    def last(self, provider: str) -> dict[str, Any]:
        return [r for r in self.requests if r["provider"] == provider][-1]


class _Base(RequestHandler):
    provider = ""
    state: FakeState

    def initialize(self, state: FakeState) -> None:
        self.state = state

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        return None

    def _record(self) -> Any:
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        self.state.requests.append({"provider": self.provider, "path": self.request.path,
                                    "headers": dict(self.request.headers), "json": body})
        return body

    def _json(self, status: int, obj: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(obj))

    def _bearer(self) -> str:
        auth = self.request.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""


# --------------------------------------------------------------------------- Cloudflare


class CloudflareHandler(_Base):
    provider = "cloudflare"

    def _cf_error(self, status: int, code: int, message: str) -> None:
        self._json(status, {"result": None, "success": False, "errors": [{"code": code, "message": message}],
                            "messages": []})

    async def post(self, account: str, mode: str) -> None:
        body = self._record()
        token = self._bearer()
        if not token or token == "cf-bad":
            return self._cf_error(401, 10000, "Authentication error")
        if account != CF_ACCOUNT:
            return self._cf_error(404, 7003, f"Could not route to /client/v4/accounts/{account}/ai/v1/{mode}, "
                                             "perhaps your object identifier is invalid?")
        if not isinstance(body, dict):
            return self._cf_error(400, 7001, "Invalid JSON")
        model = str(body.get("model") or "")
        if not model.startswith(("@cf/", "@hf/")):
            return self._cf_error(400, 5007, f"No such model {model} or task")
        if mode == "embeddings":
            inputs = body.get("input")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            return self._json(200, {"object": "list", "model": model, "usage": CF_EMBED_USAGE, "data": [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(inputs))]})
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return self._cf_error(400, 5006, "Required properties missing: messages")
        if body.get("stream") is True:
            return await self._stream(model, body)
        self._json(200, {
            "id": "id-1700000000000", "object": "chat.completion", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": CF_REPLY},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": CF_USAGE,
        })

    async def _stream(self, model: str, body: dict[str, Any]) -> None:
        self.set_header("Content-Type", "text/event-stream")
        base = {"id": "id-1700000000001", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
        for i, frag in enumerate(CF_FRAGMENTS):
            delta = {"role": "assistant", "content": frag} if i == 0 else {"content": frag}
            self.write("data: " + json.dumps({**base, "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]}) + "\n\n")
            await self.flush()
        self.write("data: " + json.dumps({**base, "choices": [
            {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}) + "\n\n")
        so = body.get("stream_options")
        if isinstance(so, dict) and so.get("include_usage"):
            self.write("data: " + json.dumps({**base, "choices": [], "usage": CF_USAGE}) + "\n\n")
        self.write("data: [DONE]\n\n")
        self.finish()


class CloudflareGatewayHandler(CloudflareHandler):
    async def post(self, account: str, gateway: str, mode: str) -> None:  # type: ignore[override]
        await super().post(account, mode)


# --------------------------------------------------------------------------- DeepL


class DeepLHandler(_Base):
    provider = "deepl"

    async def post(self) -> None:
        body = self._record()
        auth = self.request.headers.get("Authorization", "")
        if not auth.startswith("DeepL-Auth-Key "):
            return self._json(403, {"message": "Authorization failure, check auth_key"})
        key = auth[len("DeepL-Auth-Key "):]
        if key == "deepl-bad":
            return self._json(403, {"message": "Wrong endpoint. Use https://api.deepl.com"})
        if key == "deepl-quota":
            return self._json(456, {"message": "Quota Exceeded"})
        if not isinstance(body, dict) or not isinstance(body.get("text"), list) or not body["text"]:
            return self._json(400, {"message": "Bad request. Reason: Parameter 'text' not specified."})
        lang = str(body.get("target_lang") or "").upper()
        if lang not in DEEPL_SUPPORTED:
            return self._json(400, {"message": "Value for 'target_lang' not supported."})
        self._json(200, {"translations": [
            {"detected_source_language": "EN", "text": f"[{lang}] {t}"} for t in body["text"]]})


# --------------------------------------------------------------------------- Coze


def _coze_message(content: str, type_: str = "answer", mid: str = COZE_ANSWER_ID, **kw: Any) -> dict[str, Any]:
    return {"id": mid, "conversation_id": COZE_CONVERSATION_ID, "bot_id": "b", "chat_id": COZE_CHAT_ID,
            "role": "assistant", "type": type_, "content": content, "content_type": "text", **kw}


def _coze_chat(bot: str, status: str, **kw: Any) -> dict[str, Any]:
    return {"id": COZE_CHAT_ID, "conversation_id": COZE_CONVERSATION_ID, "bot_id": bot,
            "created_at": 1700000000, "status": status, **kw}


class CozeHandler(_Base):
    provider = "coze"

    async def _event(self, name: str, data: Any) -> None:
        payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        self.write(f"event:{name}\ndata:{payload}\n\n")
        await self.flush()

    async def post(self) -> None:
        body = self._record()
        token = self._bearer()
        if not token or token == "pat_bad":
            return self._json(200, {"code": 4101, "msg": "The token you entered is incorrect. "
                                                         "Please double-check and try again."})
        if not isinstance(body, dict) or not body.get("bot_id") or not body.get("user_id"):
            return self._json(200, {"code": 4000, "msg": "The requested parameter is invalid: bot_id, user_id"})
        msgs = body.get("additional_messages")
        if not isinstance(msgs, list) or not msgs or any(
                not isinstance(m, dict) or m.get("role") not in ("user", "assistant")
                or m.get("content_type") not in ("text", "object_string") for m in msgs):
            return self._json(200, {"code": 4000, "msg": "The requested parameter is invalid: additional_messages"})
        bot = str(body["bot_id"])
        if bot == "missing":
            return self._json(200, {"code": 4200, "msg": f"Requested resource bot_id={bot} does not exist."})
        if body.get("stream") is not True:
            return self._json(200, {"code": 0, "msg": "", "data": _coze_chat(bot, "in_progress")})
        self.set_header("Content-Type", "text/event-stream")
        await self._event("conversation.chat.created", _coze_chat(bot, "created"))
        await self._event("conversation.chat.in_progress", _coze_chat(bot, "in_progress"))
        if bot == "fail":
            await self._event("conversation.chat.failed", _coze_chat(
                bot, "failed", last_error={"code": 5000, "msg": "The bot's model call failed"}))
            await self._event("done", '"[DONE]"')
            return self.finish()
        for frag in COZE_FRAGMENTS:
            await self._event("conversation.message.delta", _coze_message(frag))
        await self._event("conversation.message.completed", _coze_message(COZE_REPLY))
        await self._event("conversation.message.completed", _coze_message(
            "What else can you do?", type_="follow_up", mid="7390000000000000004"))
        await self._event("conversation.chat.completed", _coze_chat(
            bot, "completed", completed_at=1700000001, usage=COZE_USAGE))
        await self._event("done", '"[DONE]"')
        self.finish()


def make_app(state: FakeState) -> Application:
    kw = {"state": state}
    return Application([
        (r"/client/v4/accounts/([^/]+)/ai/v1/(chat/completions|embeddings)", CloudflareHandler, kw),
        (r"/v1/([^/]+)/([^/]+)/workers-ai/v1/(chat/completions|embeddings)", CloudflareGatewayHandler, kw),
        (r"/v2/translate", DeepLHandler, kw),
        (r"/v3/chat", CozeHandler, kw),
    ])


__all__ = ["FakeState", "make_app", "CF_ACCOUNT", "CF_REPLY", "CF_USAGE", "COZE_REPLY", "COZE_USAGE",
           "COZE_CHAT_ID"]
