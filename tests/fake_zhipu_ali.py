"""Fake Zhipu (BigModel v4 + v3) and Alibaba DashScope servers for integration tests.

``make_zhipu_app(recorder)`` serves

* ``POST /api/paas/v4/chat/completions`` and ``/api/paas/v4/embeddings``: ``Authorization:
  Bearer <id.secret>`` with a key of ``ZHIPU_KEYS``; keys choose failures: ``bad.key`` → 401
  code 1002, ``arrears.key`` → 429 code 1113, ``fail429.key`` → 429 code 1302, ``fail500.key``
  → 500; a key containing ``nousage`` → no usage, ``neterror`` → finish_reason
  ``network_error``. A user message containing ``SENSITIVE`` is answered with finish_reason
  ``sensitive``. The body is checked against Zhipu's field list (unknown fields, temperature
  outside [0, 1], top_p outside (0, 1), more than one stop word, a tool_choice other than
  ``auto``, ``data:`` image URLs are all 400 code 1214).
* ``POST /api/paas/v3/model-api/{model}/invoke|sse-invoke``: the ``Authorization`` header is
  a JWT verified independently (:func:`verify_jwt`: HS256 over the secret of the key id it
  names, header ``sign_type: SIGN``, ``timestamp``/``exp`` in milliseconds); errors are HTTP
  200 ``{"code", "msg", "success": false}`` as v3 answers them. ``sse-invoke`` sends raw text
  frames (``event:add``, a fragment with a leading space, one with a newline) and a
  ``event:finish`` frame with a ``meta:`` usage line.

``make_ali_app(recorder)`` serves DashScope's text-generation, multimodal-generation and
text-embedding endpoints: ``Authorization: Bearer`` with a key starting ``sk-ali``; keys
``sk-bad`` → 401 InvalidApiKey, ``sk-arrears`` → 400 Arrearage, ``sk-fail429`` → 429
Throttling.RateQuota, ``sk-fail500`` → 500 InternalError, ``sk-invalid`` → 400
InvalidParameter (a stream request gets its error
SSE-framed: ``event:error``, ``:HTTP_STATUS/…``); a key containing ``streamerror`` → an
error frame after the first chunk. Streams need ``X-DashScope-SSE: enable`` and
``incremental_output: true``; ``result_format`` must be ``message``; top_p must be < 1;
text-generation content must be a string, multimodal content a list of ``{text|image|…}``.

Images: Zhipu's ``POST /api/paas/v4/images/generations`` (same Bearer check and key failures;
fields ``model`` (``cogview-*``), ``prompt``, ``size`` (W x H, 512–2048, multiples of 16),
``quality`` (hd|standard), ``user_id`` (6–128 characters), ``watermark_enabled``; a prompt
containing ``SENSITIVE`` → 400 code 1301) answers one ``{url}`` a request. DashScope's
``POST /api/v1/services/aigc/text2image/image-synthesis`` needs ``X-DashScope-Async: enable``
(else 403 AccessDenied), ``parameters.size`` as ``W*H`` and ``n`` in 1–4, and answers a PENDING
task; ``GET /api/v1/tasks/{id}`` (Bearer, the creating key) answers RUNNING on the first poll,
then the end: SUCCEEDED with ``n`` results (``actual_prompt`` for wanx2 models); a prompt with
``UNSAFE`` → FAILED DataInspectionFailed, ``BROKEN`` → FAILED InternalError.Algo, ``PARTIAL`` →
the last result a ``{code, message}`` failure; an unknown id → UNKNOWN. Both servers serve the
generated files at ``GET /files/{name}`` (:func:`image_bytes`); a file request carrying an
``Authorization`` header is refused (403), as signed OSS URLs would not need one.

Every request is recorded as ``{"path", "headers", "json"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from tornado.web import Application, RequestHandler

# --------------------------------------------------------------------------- shared answers

TEXT_FRAGMENTS = ["Hello", " from", " the fake"]
TEXT_REPLY = "".join(TEXT_FRAGMENTS)
TOOL_RESULT_REPLY = "It is sunny in Paris."
TOOL_ARGS = {"city": "Paris"}
PROMPT_TOKENS = 13
TEXT_TOKENS = 5
TOOL_TOKENS = 9
EMBEDDING = [0.25, -0.5, 0.125]

# --------------------------------------------------------------------------- Zhipu

ZHIPU_KEYS = {"zp-id": "zp-secret", "zp2": "second-secret", "bad": "key", "arrears": "key", "fail429": "key",
              "fail500": "key", "zp-nousage": "k", "zp-neterror": "k"}
ZHIPU_ID = "20240601123456abcdef"
V3_TASK_ID = "8311577435637212345"
V3_FRAGMENTS = ["Hello", " from", " ChatGLM\nv3"]
V3_REPLY = "".join(V3_FRAGMENTS)
V4_FIELDS = frozenset({"model", "messages", "stream", "temperature", "top_p", "do_sample", "max_tokens", "stop",
                       "tools", "tool_choice", "response_format", "user_id", "request_id", "thinking", "meta"})
V3_FIELDS = frozenset({"prompt", "temperature", "top_p", "request_id", "incremental", "return_type", "ref"})


class ZhipuInvalid(Exception):
    def __init__(self, message: str, code: str = "1214", status: int = 400) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jwt(token: str, keys: dict[str, str], now_ms: int | None = None) -> str:
    """The key id a v3 JWT was signed for; raises ZhipuInvalid (code 1002/1003/1004)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    parts = token.split(".")
    if len(parts) != 3:
        raise ZhipuInvalid("Authorization Token非法，请确认Authorization Token正确传递。", "1002", 401)
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
    except ValueError:
        raise ZhipuInvalid("Authorization Token非法，请确认Authorization Token正确传递。", "1002", 401) from None
    if header.get("alg") != "HS256" or header.get("sign_type") != "SIGN":
        raise ZhipuInvalid("Authorization Token非法 (header)", "1002", 401)
    kid = claims.get("api_key")
    secret = keys.get(kid) if isinstance(kid, str) else None
    if secret is None:
        raise ZhipuInvalid("鉴权失败: unknown api_key", "1004", 401)
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64decode(parts[2])):
        raise ZhipuInvalid("Authorization Token非法 (signature)", "1002", 401)
    ts, exp = claims.get("timestamp"), claims.get("exp")
    if not isinstance(ts, int) or not isinstance(exp, int) or abs(ts - now_ms) > 300_000:
        raise ZhipuInvalid("Authorization Token非法 (timestamp must be milliseconds, now)", "1002", 401)
    if exp <= now_ms:
        raise ZhipuInvalid("Authorization Token已过期", "1003", 401)
    return kid


def _zhipu_error(handler: RequestHandler, status: int, code: str, message: str) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json; charset=UTF-8")
    handler.finish(json.dumps({"error": {"code": code, "message": message}}, ensure_ascii=False))


def check_v4_chat(body: Any) -> None:
    if not isinstance(body, dict):
        raise ZhipuInvalid("请求参数格式错误")
    for key in body:
        if key not in V4_FIELDS:
            raise ZhipuInvalid(f"不支持的参数 {key}")
    if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list) or not body["messages"]:
        raise ZhipuInvalid("model and messages are required")
    t = body.get("temperature")
    if t is not None and not (isinstance(t, (int, float)) and 0 <= t <= 1):
        raise ZhipuInvalid("temperature 取值范围 [0, 1]")
    p = body.get("top_p")
    if p is not None and not (isinstance(p, (int, float)) and 0 < p < 1):
        raise ZhipuInvalid("top_p 取值范围 (0, 1)")
    stop = body.get("stop")
    if stop is not None and (not isinstance(stop, list) or len(stop) > 1):
        raise ZhipuInvalid("stop 目前仅支持单个停止词")
    if "tool_choice" in body and body["tool_choice"] != "auto":
        raise ZhipuInvalid("tool_choice 当前仅支持 auto")
    for i, msg in enumerate(body["messages"]):
        if not isinstance(msg, dict) or msg.get("role") not in ("system", "user", "assistant", "tool"):
            raise ZhipuInvalid(f"messages[{i}].role 非法")
        content = msg.get("content")
        if msg["role"] == "assistant" and content is None and msg.get("tool_calls"):
            continue
        if isinstance(content, list):
            if msg["role"] != "user":
                raise ZhipuInvalid(f"messages[{i}].content 类型错误")
            for part in content:
                if part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    if url.startswith("data:"):
                        raise ZhipuInvalid("图片输入格式/大小有误")
                elif part.get("type") != "text":
                    raise ZhipuInvalid("content 类型错误")
        elif not isinstance(content, str):
            raise ZhipuInvalid(f"messages[{i}].content 类型错误")
        if msg["role"] == "tool" and not msg.get("tool_call_id"):
            raise ZhipuInvalid(f"messages[{i}].tool_call_id 缺失")
        for tc in msg.get("tool_calls") or ():
            if not isinstance(tc.get("function", {}).get("arguments"), str) or not tc.get("id"):
                raise ZhipuInvalid("tool_calls 格式错误")
    for tool in body.get("tools") or ():
        if tool.get("type") != "function" or not tool.get("function", {}).get("name"):
            raise ZhipuInvalid("tools 格式错误")


class _Recording(RequestHandler):
    recorder: list[dict[str, Any]]

    def initialize(self, recorder: list[dict[str, Any]]) -> None:
        self.recorder = recorder

    def check_xsrf_cookie(self) -> None:
        return None

    def _record(self) -> Any:
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        self.recorder.append({"path": self.request.path, "headers": dict(self.request.headers), "json": body})
        return body


def _tool_to_call(body: dict[str, Any], tools: Any, messages: list[dict[str, Any]]) -> str | None:
    if not tools or (messages and messages[-1].get("role") == "tool"):
        return None
    return str(tools[0]["function"]["name"])


class ZhipuV4Handler(_Recording):
    async def post(self, method: str) -> None:
        body = self._record()
        auth = self.request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _zhipu_error(self, 401, "1001", "Header中未收到Authorization参数，无法进行身份验证。")
        key = auth[7:]
        kid, _, secret = key.partition(".")
        if ZHIPU_KEYS.get(kid) != secret or kid == "bad":
            return _zhipu_error(self, 401, "1002", "Authorization Token非法，请确认Authorization Token正确传递。")
        if kid == "arrears":
            return _zhipu_error(self, 429, "1113", "您的账户已欠费，请充值后重试。")
        if kid == "fail429":
            return _zhipu_error(self, 429, "1302", "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。")
        if kid == "fail500":
            return _zhipu_error(self, 500, "500", "Internal Error")
        try:
            if method == "embeddings":
                return self._embeddings(body)
            check_v4_chat(body)
        except ZhipuInvalid as e:
            return _zhipu_error(self, e.status, e.code, e.message)
        usage = "nousage" not in kid
        messages = body["messages"]
        tool = _tool_to_call(body, body.get("tools"), messages)
        sensitive = any("SENSITIVE" in str(m.get("content")) for m in messages if m.get("role") == "user")
        reply = TOOL_RESULT_REPLY if messages[-1].get("role") == "tool" else TEXT_REPLY
        if body.get("stream"):
            return await self._stream(body, tool, reply, sensitive, usage, "neterror" in kid)
        message: dict[str, Any] = {"role": "assistant", "content": "" if (tool or sensitive) else reply}
        finish = "stop"
        if tool:
            message["tool_calls"] = [{"id": "call_zp" + "1" * 16, "index": 0, "type": "function",
                                      "function": {"name": tool, "arguments": json.dumps(TOOL_ARGS)}}]
            finish = "tool_calls"
        elif sensitive:
            finish = "sensitive"
        elif "neterror" in kid:
            finish = "network_error"
        out: dict[str, Any] = {"id": ZHIPU_ID, "created": 1700000000, "model": body["model"], "request_id": ZHIPU_ID,
                               "choices": [{"index": 0, "finish_reason": finish, "message": message}]}
        if usage:
            completion = TOOL_TOKENS if tool else TEXT_TOKENS
            out["usage"] = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": completion,
                            "total_tokens": PROMPT_TOKENS + completion}
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(out, ensure_ascii=False))

    def _embeddings(self, body: Any) -> None:
        if not isinstance(body, dict) or set(body) - {"model", "input", "dimensions"}:
            raise ZhipuInvalid("embeddings: unknown field")
        inp = body.get("input")
        texts = [inp] if isinstance(inp, str) else inp
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            raise ZhipuInvalid("input 不能为空")
        tokens = sum(len(t.split()) for t in texts)
        out = {"model": body["model"], "object": "list",
               "data": [{"embedding": EMBEDDING, "index": i, "object": "embedding"} for i in range(len(texts))],
               "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}}
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(out))

    async def _stream(self, body: dict[str, Any], tool: str | None, reply: str, sensitive: bool, usage: bool,
                      neterror: bool) -> None:
        self.set_header("Content-Type", "text/event-stream;charset=UTF-8")
        base = {"id": ZHIPU_ID, "created": 1700000000, "model": body["model"]}
        chunks: list[dict[str, Any]] = []
        if tool:
            chunks.append({"index": 0, "finish_reason": "tool_calls", "delta": {"role": "assistant", "tool_calls": [
                {"id": "call_zp" + "1" * 16, "index": 0, "type": "function",
                 "function": {"name": tool, "arguments": json.dumps(TOOL_ARGS)}}]}})
        else:
            frags = TEXT_FRAGMENTS if reply == TEXT_REPLY and not sensitive else [reply] if not sensitive else ["Hm"]
            for frag in frags:
                chunks.append({"index": 0, "delta": {"role": "assistant", "content": frag}})
            end = "sensitive" if sensitive else "network_error" if neterror else "stop"
            chunks.append({"index": 0, "finish_reason": end, "delta": {"role": "assistant", "content": ""}})
        for i, choice in enumerate(chunks):
            obj: dict[str, Any] = {**base, "choices": [choice]}
            if i == len(chunks) - 1 and usage:
                completion = TOOL_TOKENS if tool else TEXT_TOKENS
                obj["usage"] = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": completion,
                                "total_tokens": PROMPT_TOKENS + completion}
            self.write("data: " + json.dumps(obj, ensure_ascii=False) + "\n\n")
            await self.flush()
        self.write("data: [DONE]\n\n")
        self.finish()


class ZhipuV3Handler(_Recording):
    def _fail(self, code: str, message: str) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"code": int(code), "msg": message, "success": False}, ensure_ascii=False))

    async def post(self, model: str, method: str) -> None:
        body = self._record()
        try:
            verify_jwt(self.request.headers.get("Authorization", ""), ZHIPU_KEYS)
            if not isinstance(body, dict) or set(body) - V3_FIELDS:
                raise ZhipuInvalid("参数非法")
            prompt = body.get("prompt")
            if not isinstance(prompt, list) or not prompt:
                raise ZhipuInvalid("prompt 不能为空")
            for i, turn in enumerate(prompt):
                if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant") \
                        or not isinstance(turn.get("content"), str) or not turn["content"]:
                    raise ZhipuInvalid(f"prompt[{i}] 非法")
                if i and turn["role"] == prompt[i - 1]["role"]:
                    raise ZhipuInvalid("prompt 须 user/assistant 交替")
            if prompt[-1]["role"] != "user":
                raise ZhipuInvalid("最后一条须为 user")
        except ZhipuInvalid as e:
            return self._fail(e.code, e.message)
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": TEXT_TOKENS,
                 "total_tokens": PROMPT_TOKENS + TEXT_TOKENS}
        if method == "invoke":
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            return self.finish(json.dumps({"code": 200, "msg": "操作成功", "success": True, "data": {
                "request_id": "req-v3", "task_id": V3_TASK_ID, "task_status": "SUCCESS",
                "choices": [{"role": "assistant", "content": json.dumps(V3_REPLY)}], "usage": usage}},
                ensure_ascii=False))
        if body.get("incremental") is not True:
            return self._fail("1214", "incremental must be true for this fake")
        self.set_header("Content-Type", "text/event-stream;charset=UTF-8")
        for frag in V3_FRAGMENTS:
            data = "".join(f"data:{line}\n" for line in frag.split("\n"))
            self.write(f"event:add\nid:{V3_TASK_ID}\n{data}\n")
            await self.flush()
        meta = {"task_status": "SUCCESS", "usage": usage, "task_id": V3_TASK_ID, "request_id": "req-v3"}
        self.write(f"event:finish\nid:{V3_TASK_ID}\ndata:\nmeta:{json.dumps(meta)}\n\n")
        self.finish()


def image_bytes(name: str) -> bytes:
    """The bytes the fakes serve for a generated file (a PNG signature and the file's name)."""
    return b"\x89PNG\r\n\x1a\n" + name.encode()


class FileHandler(_Recording):
    def get(self, name: str) -> None:
        self._record()
        if "Authorization" in self.request.headers:
            self.set_status(403)
            return self.finish("<Error><Code>AccessDenied</Code></Error>")
        self.set_header("Content-Type", "image/png")
        self.finish(image_bytes(name))


def _base_url(handler: RequestHandler) -> str:
    return f"{handler.request.protocol}://{handler.request.host}"


ZHIPU_IMAGE_FIELDS = frozenset({"model", "prompt", "size", "quality", "user_id", "watermark_enabled", "request_id"})


class ZhipuImageHandler(_Recording):
    def post(self) -> None:
        body = self._record()
        auth = self.request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _zhipu_error(self, 401, "1001", "Header中未收到Authorization参数，无法进行身份验证。")
        kid, _, secret = auth[7:].partition(".")
        if ZHIPU_KEYS.get(kid) != secret or kid == "bad":
            return _zhipu_error(self, 401, "1002", "Authorization Token非法，请确认Authorization Token正确传递。")
        if kid == "fail500":
            return _zhipu_error(self, 500, "500", "Internal Error")
        if not isinstance(body, dict) or set(body) - ZHIPU_IMAGE_FIELDS:
            return _zhipu_error(self, 400, "1214", "不支持的参数")
        if not str(body.get("model", "")).startswith("cogview") or not isinstance(body.get("prompt"), str) \
                or not body["prompt"]:
            return _zhipu_error(self, 400, "1214", "model 与 prompt 不能为空")
        size = body.get("size")
        if size is not None:
            w, _, h = str(size).partition("x")
            if not (w.isdigit() and h.isdigit() and all(512 <= int(v) <= 2048 and int(v) % 16 == 0 for v in (w, h))):
                return _zhipu_error(self, 400, "1214", "size 参数非法")
        if body.get("quality") not in (None, "hd", "standard"):
            return _zhipu_error(self, 400, "1214", "quality 参数非法")
        user = body.get("user_id")
        if user is not None and not (isinstance(user, str) and 6 <= len(user) <= 128):
            return _zhipu_error(self, 400, "1214", "user_id 长度须在 6 到 128 之间")
        if "SENSITIVE" in body["prompt"]:
            return _zhipu_error(self, 400, "1301", "系统检测到输入或生成内容可能包含不安全或敏感内容，"
                                                   "请您避免输入易产生敏感内容的提示语，感谢您的配合。")
        count = sum(1 for r in self.recorder if r["path"] == self.request.path)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"created": 1700000000, "data": [
            {"url": f"{_base_url(self)}/files/cogview-{count}.png"}],
            "content_filter": [{"role": "assistant", "level": 3}]}))


def make_zhipu_app(recorder: list[dict[str, Any]]) -> Application:
    return Application([
        (r"/api/paas/v4/(chat/completions|embeddings)", ZhipuV4Handler, {"recorder": recorder}),
        (r"/api/paas/v4/images/generations", ZhipuImageHandler, {"recorder": recorder}),
        (r"/api/paas/v3/model-api/([^/]+)/(invoke|sse-invoke)", ZhipuV3Handler, {"recorder": recorder}),
        (r"/files/([^/]+)", FileHandler, {"recorder": recorder}),
    ])


# --------------------------------------------------------------------------- DashScope

ALI_REQUEST_ID = "5d8c0a6e-ali-fake-request"
ALI_PARAMETERS = frozenset({
    "result_format", "incremental_output", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop",
    "presence_penalty", "repetition_penalty", "tools", "tool_choice", "parallel_tool_calls", "response_format",
    "enable_search", "search_options", "enable_thinking", "thinking_budget",
})
ALI_ERRORS = {
    "sk-bad": (401, "InvalidApiKey", "Invalid API-key provided."),
    "sk-arrears": (400, "Arrearage", "Access denied, plesase make sure your account is in good standing."),
    "sk-fail429": (429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    "sk-fail500": (500, "InternalError", "An internal error has occured, please try again later."),
    "sk-invalid": (400, "InvalidParameter", "Range of input length should be [1, 6000]"),
}


class AliInvalid(Exception):
    def __init__(self, message: str, code: str = "InvalidParameter", status: int = 400) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def check_generation(body: Any, multimodal: bool, sse: bool) -> None:
    if not isinstance(body, dict) or set(body) - {"model", "input", "parameters"}:
        raise AliInvalid("Required parameter(s) missing or invalid, please check the request parameters.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise AliInvalid('Required parameter "model" missing from request.', "BadRequest.EmptyModel")
    inp = body.get("input")
    if not isinstance(inp, dict) or set(inp) != {"messages"} or not inp["messages"]:
        raise AliInvalid("Required input parameter missing from request.", "BadRequest.EmptyInput")
    params = body.get("parameters") or {}
    for key in params:
        if key not in ALI_PARAMETERS:
            raise AliInvalid(f"<400> InternalError.Algo.InvalidParameter: unknown parameter {key}")
    if params.get("result_format") != "message":
        raise AliInvalid("result_format must be message for this fake")
    if sse != (params.get("incremental_output") is True):
        raise AliInvalid("incremental_output goes with X-DashScope-SSE: enable (and only with it)")
    p = params.get("top_p")
    if p is not None and not (0 < p < 1):
        raise AliInvalid("Range of top_p should be (0.0, 1.0)")
    t = params.get("temperature")
    if t is not None and not (0 <= t < 2):
        raise AliInvalid("Range of temperature should be [0.0, 2.0)")
    for i, msg in enumerate(inp["messages"]):
        if not isinstance(msg, dict) or msg.get("role") not in ("system", "user", "assistant", "tool"):
            raise AliInvalid(f"messages[{i}].role is invalid")
        content = msg.get("content")
        if multimodal:
            if not isinstance(content, list) or any(
                    not isinstance(c, dict) or len(c) != 1 or next(iter(c)) not in ("text", "image", "audio", "video")
                    for c in content):
                raise AliInvalid(f"messages[{i}].content must be a list of text/image parts")
        elif not isinstance(content, str):
            raise AliInvalid(f"messages[{i}].content must be a string")
        if msg["role"] == "tool" and not msg.get("tool_call_id"):
            raise AliInvalid(f"messages[{i}].tool_call_id is required")
    for tool in params.get("tools") or ():
        if tool.get("type") != "function" or not tool.get("function", {}).get("name"):
            raise AliInvalid("tools: invalid function")


class AliHandler(_Recording):
    def _error(self, status: int, code: str, message: str, sse: bool) -> None:
        self.set_status(status)
        obj = {"code": code, "message": message, "request_id": ALI_REQUEST_ID}
        if sse:
            self.set_header("Content-Type", "text/event-stream;charset=UTF-8")
            self.finish(f"id:1\nevent:error\n:HTTP_STATUS/{status}\ndata:{json.dumps(obj)}\n\n")
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(obj))

    async def post(self, service: str) -> None:
        body = self._record()
        sse = self.request.headers.get("X-DashScope-SSE") == "enable"
        auth = self.request.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if key in ALI_ERRORS:
            return self._error(*ALI_ERRORS[key], sse=sse)
        if not key.startswith("sk-ali"):
            return self._error(401, "InvalidApiKey", "Invalid API-key provided.", sse)
        try:
            if service == "embeddings/text-embedding/text-embedding":
                return self._embeddings(body)
            check_generation(body, service.startswith("aigc/multimodal"), sse)
        except AliInvalid as e:
            return self._error(e.status, e.code, e.message, sse)
        multimodal = service.startswith("aigc/multimodal")
        messages = body["input"]["messages"]
        tools = body.get("parameters", {}).get("tools")
        tool = None
        if tools and body["parameters"].get("tool_choice") != "none":
            tool = _tool_to_call(body, tools, messages)
        reply = TOOL_RESULT_REPLY if messages[-1]["role"] == "tool" else TEXT_REPLY
        if sse:
            return await self._stream(tool, reply, multimodal, "streamerror" in key)
        message: dict[str, Any] = {"role": "assistant",
                                   "content": [{"text": reply}] if multimodal else ("" if tool else reply)}
        finish = "stop"
        if tool:
            message["tool_calls"] = [{"function": {"name": tool, "arguments": json.dumps(TOOL_ARGS)}, "index": 0,
                                      "id": "call_ali0123456789", "type": "function"}]
            finish = "tool_calls"
        completion = TOOL_TOKENS if tool else TEXT_TOKENS
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"output": {"choices": [{"finish_reason": finish, "message": message}]},
                                "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": completion,
                                          "total_tokens": PROMPT_TOKENS + completion},
                                "request_id": ALI_REQUEST_ID}))

    def _embeddings(self, body: Any) -> None:
        if not isinstance(body, dict) or set(body) - {"model", "input", "parameters"}:
            raise AliInvalid("unknown field")
        texts = (body.get("input") or {}).get("texts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise AliInvalid("input.texts is required", "BadRequest.EmptyInput")
        if set(body.get("parameters") or {}) - {"text_type", "dimension", "output_type"}:
            raise AliInvalid("unknown parameter")
        tokens = sum(len(t.split()) for t in texts)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"output": {"embeddings": [{"text_index": i, "embedding": EMBEDDING}
                                                          for i in range(len(texts))]},
                                "usage": {"total_tokens": tokens}, "request_id": ALI_REQUEST_ID}))

    async def _stream(self, tool: str | None, reply: str, multimodal: bool, error_midway: bool) -> None:
        self.set_header("Content-Type", "text/event-stream;charset=UTF-8")
        events: list[tuple[dict[str, Any], str]] = []  # (message, finish_reason)
        if tool:
            args = json.dumps(TOOL_ARGS)
            events.append(({"role": "assistant", "content": "", "tool_calls": [
                {"index": 0, "id": "call_ali0123456789", "type": "function",
                 "function": {"name": tool, "arguments": args[:5]}}]}, "null"))
            events.append(({"role": "assistant", "content": "", "tool_calls": [
                {"index": 0, "id": "", "type": "function", "function": {"arguments": args[5:]}}]}, "null"))
            events.append(({"role": "assistant", "content": ""}, "tool_calls"))
            totals = [3, 6, TOOL_TOKENS]
        else:
            frags = TEXT_FRAGMENTS if reply == TEXT_REPLY else [reply]
            for frag in frags:
                events.append(({"role": "assistant", "content": [{"text": frag}] if multimodal else frag}, "null"))
            events.append(({"role": "assistant", "content": [] if multimodal else ""}, "stop"))
            totals = [min(TEXT_TOKENS, i + 1) for i in range(len(frags))] + [TEXT_TOKENS]
        for n, ((message, finish), total) in enumerate(zip(events, totals), 1):
            if error_midway and n == 2:
                err = {"code": "InternalError.Algo", "message": "Model inference failed midway.",
                       "request_id": ALI_REQUEST_ID}
                self.write(f"id:{n}\nevent:error\n:HTTP_STATUS/500\ndata:{json.dumps(err)}\n\n")
                break
            obj = {"output": {"choices": [{"message": message, "finish_reason": finish}]},
                   "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": total,
                             "total_tokens": PROMPT_TOKENS + total},
                   "request_id": ALI_REQUEST_ID}
            self.write(f"id:{n}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(obj, ensure_ascii=False)}\n\n")
            await self.flush()
        self.finish()


IMAGE_PARAMETERS = frozenset({"size", "n", "style", "seed", "prompt_extend", "watermark", "ref_img", "ref_mode"})


class AliImageHandler(_Recording):
    """Creates image tasks (kept in ``tasks``: id → {"key", "body", "polls", "base"})."""

    def initialize(self, recorder: list[dict[str, Any]], tasks: dict[str, dict[str, Any]]) -> None:
        super().initialize(recorder)
        self.tasks = tasks

    def _error(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"code": code, "message": message, "request_id": ALI_REQUEST_ID}))

    def post(self) -> None:
        body = self._record()
        auth = self.request.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if key in ALI_ERRORS:
            return self._error(*ALI_ERRORS[key])
        if not key.startswith("sk-ali"):
            return self._error(401, "InvalidApiKey", "Invalid API-key provided.")
        if self.request.headers.get("X-DashScope-Async") != "enable":
            return self._error(403, "AccessDenied", "current user api does not support synchronous calls")
        if not isinstance(body, dict) or set(body) - {"model", "input", "parameters"}:
            return self._error(400, "InvalidParameter", "Required parameter(s) missing or invalid.")
        inp, params = body.get("input"), body.get("parameters") or {}
        if not isinstance(inp, dict) or set(inp) - {"prompt", "negative_prompt"} or not inp.get("prompt"):
            return self._error(400, "InvalidParameter", "input.prompt is required")
        if set(params) - IMAGE_PARAMETERS:
            unknown = sorted(set(params) - IMAGE_PARAMETERS)
            return self._error(400, "InvalidParameter", f"unknown parameters {unknown}")
        size = params.get("size", "1024*1024")
        w, _, h = str(size).partition("*")
        if not (w.isdigit() and h.isdigit()):
            return self._error(400, "InvalidParameter", "size should be like 1024*1024")
        n = params.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= 4:
            return self._error(400, "InvalidParameter", "n should be in [1, 4]")
        style = params.get("style")
        if style is not None and not (isinstance(style, str) and style.startswith("<") and style.endswith(">")):
            return self._error(400, "InvalidParameter", "style is invalid")
        task_id = f"task-{len(self.tasks) + 1:04d}"
        self.tasks[task_id] = {"key": key, "body": body, "polls": 0, "base": _base_url(self)}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"output": {"task_id": task_id, "task_status": "PENDING"},
                                "request_id": ALI_REQUEST_ID}))


class AliTaskHandler(_Recording):
    def initialize(self, recorder: list[dict[str, Any]], tasks: dict[str, dict[str, Any]]) -> None:
        super().initialize(recorder)
        self.tasks = tasks

    def get(self, task_id: str) -> None:
        self._record()
        auth = self.request.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        self.set_header("Content-Type", "application/json")
        if not key.startswith("sk-ali"):
            self.set_status(401)
            return self.finish(json.dumps({"code": "InvalidApiKey", "message": "Invalid API-key provided.",
                                           "request_id": ALI_REQUEST_ID}))
        task = self.tasks.get(task_id)
        output: dict[str, Any] = {"task_id": task_id}
        if task is None or task["key"] != key:
            output["task_status"] = "UNKNOWN"
            return self.finish(json.dumps({"output": output, "request_id": ALI_REQUEST_ID}))
        task["polls"] += 1
        body = task["body"]
        prompt, model = body["input"]["prompt"], body["model"]
        n = body.get("parameters", {}).get("n", 1)
        if task["polls"] == 1:
            output["task_status"] = "RUNNING"
        elif "UNSAFE" in prompt:
            output.update(task_status="FAILED", code="DataInspectionFailed",
                          message="Output data may contain inappropriate content.")
        elif "BROKEN" in prompt:
            output.update(task_status="FAILED", code="InternalError.Algo", message="Algorithm process error.")
        else:
            results: list[dict[str, Any]] = []
            for i in range(n):
                if "PARTIAL" in prompt and i == n - 1:
                    results.append({"code": "DataInspectionFailed",
                                    "message": "Output data may contain inappropriate content."})
                    continue
                result = {"url": f"{task['base']}/files/{task_id}-{i}.png"}
                if model.startswith("wanx2"):
                    result.update(orig_prompt=prompt, actual_prompt="revised: " + prompt)
                results.append(result)
            ok = sum(1 for r in results if "url" in r)
            output.update(task_status="SUCCEEDED", results=results,
                          task_metrics={"TOTAL": n, "SUCCEEDED": ok, "FAILED": n - ok})
            return self.finish(json.dumps({"output": output, "usage": {"image_count": ok},
                                           "request_id": ALI_REQUEST_ID}))
        self.finish(json.dumps({"output": output, "request_id": ALI_REQUEST_ID}))


def make_ali_app(recorder: list[dict[str, Any]], tasks: dict[str, dict[str, Any]] | None = None) -> Application:
    tasks = {} if tasks is None else tasks
    return Application([
        (r"/api/v1/services/(aigc/text-generation/generation|aigc/multimodal-generation/generation|"
         r"embeddings/text-embedding/text-embedding)", AliHandler, {"recorder": recorder}),
        (r"/api/v1/services/aigc/text2image/image-synthesis", AliImageHandler,
         {"recorder": recorder, "tasks": tasks}),
        (r"/api/v1/tasks/([^/]+)", AliTaskHandler, {"recorder": recorder, "tasks": tasks}),
        (r"/files/([^/]+)", FileHandler, {"recorder": recorder}),
    ])


__all__ = ["make_zhipu_app", "make_ali_app", "verify_jwt", "ZHIPU_KEYS", "TEXT_REPLY", "TEXT_FRAGMENTS",
           "TOOL_RESULT_REPLY", "TOOL_ARGS", "PROMPT_TOKENS", "TEXT_TOKENS", "TOOL_TOKENS", "EMBEDDING", "V3_REPLY",
           "V3_FRAGMENTS", "V3_TASK_ID", "ZHIPU_ID", "ALI_REQUEST_ID", "image_bytes"]
