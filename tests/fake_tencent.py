"""A fake Tencent Hunyuan API (Tencent Cloud API 3.0) for integration tests: a real Tornado app.

``make_tencent_app(recorder)`` serves ``POST /`` for the actions ``ChatCompletions`` (plain
JSON, or SSE when ``Stream`` is true) and ``GetEmbedding``. Every request is recorded as
``{"path", "headers", "raw", "json"}`` and then checked the way Tencent Cloud checks it:

* the TC3-HMAC-SHA256 ``Authorization`` header is parsed and the signature **recomputed
  here** (its own implementation of the recipe, not the adaptor's) from the headers the
  request really carried (``SignedHeaders``), the path, the exact body bytes, the credential
  scope (UTC date of ``X-TC-Timestamp``, service ``hunyuan``) and the secret key of the
  SecretId; a wrong signature is ``AuthFailure.SignatureFailure``, an unknown SecretId
  ``AuthFailure.SecretIdNotFound``, a timestamp over 5 minutes off or a scope date that is
  not the timestamp's ``AuthFailure.SignatureExpire`` / ``AuthFailure.InvalidAuthorization``;
* ``X-TC-Version`` must be ``2023-09-01`` and ``X-TC-Action`` a known action;
* the body's fields are PascalCase and known (``UnknownParameter`` otherwise); Messages
  (at most 40) start with an optional system message, then user, alternating user (or tool
  results) and assistant, ending with user or tool; Content is never empty; tool results
  answer a call made earlier; tool Parameters are JSON strings; ranges of Temperature, TopP
  and Seed; ToolChoice ``custom`` needs a CustomTool.

Like Tencent, every error is **HTTP 200** ``{"Response": {"Error": {"Code", "Message"},
"RequestId"}}`` (``application/json``, also for stream requests). Every SecretId starting
``AKID`` has the secret key ``SECRET_KEY``; the SecretId chooses failures: ``fail500``
(substring) → a plain HTTP 500; ``internal`` → ``InternalError``; ``limit`` →
``RequestLimitExceeded``; ``arrears`` → ``ResourceUnavailable.InArrears``; ``streamerror`` →
a stream that sends ``ErrorMsg`` after its first line; ``nousage`` → no ``Usage``.

On success the answer is a tool call (``TOOL_ARGS``) of the CustomTool or first tool when the
request has tools (ToolChoice not none, last message not a tool result), else a text:
``TOOL_RESULT_REPLY`` after a tool result, else ``TEXT_REPLY`` (a stream sends
``TEXT_FRAGMENTS`` with cumulative usage, FinishReason ``""`` then ``stop``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from tornado.web import Application, RequestHandler

SECRET_KEY = "fake-hunyuan-secret-key-0123456789"
TEXT_REPLY = "Hello from Hunyuan"
TEXT_FRAGMENTS = ["Hello", " from", " Hunyuan"]
TOOL_RESULT_REPLY = "It is sunny in Shenzhen."
TOOL_ARGS = {"city": "Shenzhen"}
TOOL_CALL_ID = "call_fakehunyuan01"
PROMPT_TOKENS = 13
TEXT_TOKENS = 5
TOOL_TOKENS = 9
EMBEDDING = [0.5, -0.25, 0.125]
EMBED_TOKENS_PER_INPUT = 2
RESPONSE_ID = "fake-hunyuan-0001"
CREATED = 1719816830
NOTE = "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"

CHAT_FIELDS = frozenset({
    "Model", "Messages", "Stream", "StreamModeration", "TopP", "Temperature", "EnableEnhancement", "Tools",
    "ToolChoice", "CustomTool", "SearchInfo", "Citation", "EnableSpeedSearch", "EnableMultimedia",
    "EnableDeepSearch", "Seed", "ForceSearchEnhancement", "Stop", "EnableRecommendedQuestions", "EnableDeepRead",
    "WebSearchOptions", "TopicChoice", "EnableThinking",
})
MESSAGE_FIELDS = frozenset({"Role", "Content", "Contents", "ToolCallId", "ToolCalls", "FileIDs"})
EMBED_FIELDS = frozenset({"Input", "InputList"})
_AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


class TencentError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def expected_signature(secret_key: str, method: str, path: str, query: str, headers: dict[str, str],
                       signed: list[str], body: bytes, timestamp: str, date: str, service: str) -> str:
    """The recipe of Tencent's "Signature v3" page, written out step by step."""
    canonical_headers = "".join(f"{h}:{headers.get(h, '').strip().lower()}\n" for h in signed)
    canonical = "\n".join([method, path, query, canonical_headers, ";".join(signed),
                           hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k_date = hmac.new(("TC3" + secret_key).encode(), date.encode(), hashlib.sha256).digest()
    k_service = hmac.new(k_date, service.encode(), hashlib.sha256).digest()
    k_signing = hmac.new(k_service, b"tc3_request", hashlib.sha256).digest()
    return hmac.new(k_signing, to_sign.encode(), hashlib.sha256).hexdigest()


def secret_key_of(secret_id: str) -> str | None:
    return SECRET_KEY if secret_id.startswith("AKID") else None


def check_signature(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> str:
    """The SecretId of a correctly signed request; raises TencentError otherwise."""
    auth = headers.get("authorization", "")
    m = _AUTH_RE.match(auth)
    if not m:
        raise TencentError("AuthFailure.InvalidAuthorization", "Authorization header format error.")
    secret_id, date, service, signed_s, signature = m.groups()
    signed = signed_s.split(";")
    if "content-type" not in signed or "host" not in signed or signed != sorted(signed):
        raise TencentError("AuthFailure.InvalidAuthorization",
                           "SignedHeaders must include content-type and host, in ASCII order.")
    ts = headers.get("x-tc-timestamp", "")
    if not ts.isdigit():
        raise TencentError("MissingParameter", "The request is missing a required parameter `Timestamp`.")
    if abs(int(ts) - time.time()) > 300:
        raise TencentError("AuthFailure.SignatureExpire", "Signature expired. Timestamp and server time are "
                           "more than 5 minutes apart.")
    if date != datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%d"):
        raise TencentError("AuthFailure.InvalidAuthorization",
                           "Credential date does not match the UTC date of X-TC-Timestamp.")
    if service != "hunyuan":
        raise TencentError("AuthFailure.InvalidAuthorization", f"Credential service {service} is not hunyuan.")
    secret = secret_key_of(secret_id)
    if secret is None:
        raise TencentError("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your "
                           "SecretId is correct.")
    want = expected_signature(secret, method, path, query, headers, signed, body, ts, date, service)
    if not hmac.compare_digest(want, signature):
        raise TencentError("AuthFailure.SignatureFailure", "The provided credentials could not be validated. "
                           "Please check your signature is correct.")
    return secret_id


def _invalid(message: str) -> TencentError:
    return TencentError("InvalidParameter", message)


def check_chat(body: Any) -> None:
    if not isinstance(body, dict):
        raise TencentError("InvalidParameter", "The request body is not a JSON object.")
    for key in body:
        if key not in CHAT_FIELDS:
            raise TencentError("UnknownParameter", f"The parameter `{key}` is not recognized.")
    if not isinstance(body.get("Model"), str) or not body["Model"]:
        raise TencentError("MissingParameter", "The request is missing a required parameter `Model`.")
    if not body["Model"].startswith("hunyuan"):
        raise TencentError("InvalidParameterValue.Model", f"模型不存在: {body['Model']}")
    msgs = body.get("Messages")
    if not isinstance(msgs, list) or not msgs:
        raise TencentError("MissingParameter", "The request is missing a required parameter `Messages`.")
    if len(msgs) > 40:
        raise _invalid("Messages 长度最多为 40")
    call_ids: set[str] = set()
    expect = "user"  # what may come next: user (or tool), assistant
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise _invalid(f"Messages[{i}] is not an object")
        for key in m:
            if key not in MESSAGE_FIELDS:
                raise TencentError("UnknownParameter", f"The parameter `Messages.{i}.{key}` is not recognized.")
        role = m.get("Role")
        if role not in ("system", "user", "assistant", "tool"):
            raise _invalid(f"Messages[{i}].Role must be system, user, assistant or tool")
        if role == "system":
            if i != 0:
                raise _invalid("system 角色必须位于列表的最开始")
        elif role == "assistant":
            if expect != "assistant":
                raise _invalid("user（tool） 和 assistant 需交替出现")
            expect = "user"
        else:  # user, tool
            if expect != "user" and not (role == "tool" and msgs[i - 1].get("Role") == "tool"):
                raise _invalid("user（tool） 和 assistant 需交替出现")
            if role == "tool" and (i == 0 or msgs[i - 1].get("Role") not in ("assistant", "tool")):
                raise _invalid("tool 消息必须跟在带 ToolCalls 的 assistant 消息之后")
            expect = "assistant"
        contents = m.get("Contents")
        if contents is not None:
            if role != "user" or not isinstance(contents, list) or not contents:
                raise _invalid(f"Messages[{i}].Contents: only a non-empty list on a user message")
            for c in contents:
                if c.get("Type") == "text" and isinstance(c.get("Text"), str):
                    continue
                if c.get("Type") == "image_url" and isinstance((c.get("ImageUrl") or {}).get("Url"), str):
                    continue
                raise _invalid(f"Messages[{i}].Contents: bad item {c!r}")
            if "Content" in m:
                raise _invalid(f"Messages[{i}]: Content and Contents together")
        elif not isinstance(m.get("Content"), str) or (not m["Content"] and not m.get("ToolCalls")):
            raise _invalid(f"Messages[{i}].Content 不能为空")
        if m.get("ToolCalls") is not None:
            if role != "assistant" or not isinstance(m["ToolCalls"], list):
                raise _invalid(f"Messages[{i}].ToolCalls: only on an assistant message")
            for tc in m["ToolCalls"]:
                fn = tc.get("Function") or {}
                if tc.get("Type") != "function" or not isinstance(tc.get("Id"), str) \
                        or not isinstance(fn.get("Name"), str) or not isinstance(fn.get("Arguments"), str):
                    raise _invalid(f"Messages[{i}].ToolCalls: bad call {tc!r}")
                call_ids.add(tc["Id"])
        if role == "tool" and m.get("ToolCallId") not in call_ids:
            raise _invalid(f"Messages[{i}].ToolCallId {m.get('ToolCallId')!r} answers no tool call")
    if expect != "assistant":
        raise _invalid("Messages 需以 user（tool） 提问结束")
    if "Stream" in body and not isinstance(body["Stream"], bool):
        raise _invalid("Stream must be a boolean")
    t = body.get("Temperature")
    if t is not None and not (isinstance(t, (int, float)) and 0 <= t <= 2):
        raise _invalid("Temperature must be 2 or less")
    p = body.get("TopP")
    if p is not None and not (isinstance(p, (int, float)) and 0 <= p <= 1):
        raise _invalid("TopP must be between 0 and 1")
    seed = body.get("Seed")
    if seed is not None and not (isinstance(seed, int) and 0 < seed <= 10000):
        raise _invalid("Seed 取值区间为非0正整数，最大值10000")
    stop = body.get("Stop")
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise _invalid("Stop must be a list of strings")
    tools = body.get("Tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _invalid("Tools must be a list")
        for tool in tools:
            check_tool(tool)
    choice = body.get("ToolChoice")
    if choice is not None and choice not in ("none", "auto", "custom"):
        raise _invalid("ToolChoice 可选值包括 none、auto、custom")
    if choice == "custom":
        if body.get("CustomTool") is None:
            raise _invalid("ToolChoice 为 custom 时 CustomTool 必填")
        check_tool(body["CustomTool"])


def check_tool(tool: Any) -> None:
    if not isinstance(tool, dict) or tool.get("Type") != "function" or not isinstance(tool.get("Function"), dict):
        raise _invalid(f"Tool {tool!r}: Type must be function with a Function")
    fn = tool["Function"]
    if set(fn) - {"Name", "Parameters", "Description"}:
        raise TencentError("UnknownParameter", f"Tool function fields {sorted(set(fn))}")
    if not isinstance(fn.get("Name"), str) or not re.fullmatch(r"[A-Za-z0-9_-]+", fn["Name"]):
        raise _invalid("function名称，只能包含a-z，A-Z，0-9，_或-")
    params = fn.get("Parameters")
    if params is not None:
        if not isinstance(params, str):
            raise _invalid("Function.Parameters must be a string")
        try:
            json.loads(params)
        except ValueError:
            raise _invalid("Function.Parameters is not JSON") from None


class FakeTencentHandler(RequestHandler):
    recorder: list[dict[str, Any]]

    def initialize(self, recorder: list[dict[str, Any]]) -> None:
        self.recorder = recorder

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        return None

    def _error(self, code: str, message: str) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("X-TC-RequestId", str(uuid.uuid4()))
        self.finish(json.dumps({"Response": {"Error": {"Code": code, "Message": message},
                                             "RequestId": str(uuid.uuid4())}}))

    async def post(self) -> None:
        raw = self.request.body or b""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.request.headers.get_all()}
        self.recorder.append({"path": self.request.path, "headers": headers, "raw": raw, "json": body})
        try:
            if self.request.headers.get("Content-Type") != "application/json":
                raise TencentError("InvalidParameter", "Content-Type must be application/json")
            secret_id = check_signature("POST", self.request.path, self.request.query, headers, raw)
            if headers.get("x-tc-version") != "2023-09-01":
                raise TencentError("NoSuchVersion", "The requested version does not exist.")
            action = headers.get("x-tc-action")
            if action not in ("ChatCompletions", "GetEmbedding"):
                raise TencentError("InvalidAction", f"The action {action!r} does not exist.")
            if "fail500" in secret_id:
                self.set_status(500)
                self.set_header("Content-Type", "text/html")
                return self.finish("<html><body>502 Bad Gateway from the load balancer</body></html>")
            if "internal" in secret_id:
                raise TencentError("InternalError", "An internal error has occurred. Retry your request.")
            if "limit" in secret_id:
                raise TencentError("RequestLimitExceeded", "Your request rate exceeds the limit.")
            if "arrears" in secret_id:
                raise TencentError("ResourceUnavailable.InArrears", "账号已欠费。")
            if action == "GetEmbedding":
                return self._embed(body)
            check_chat(body)
        except TencentError as e:
            return self._error(e.code, e.message)
        if body.get("Stream"):
            await self._stream(body, usage="nousage" not in secret_id, error_midway="streamerror" in secret_id)
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"Response": {**self._answer(body, "nousage" not in secret_id),
                                                 "RequestId": RESPONSE_ID}}, ensure_ascii=False))

    def _embed(self, body: Any) -> None:
        if not isinstance(body, dict) or set(body) - EMBED_FIELDS:
            raise TencentError("UnknownParameter", f"GetEmbedding takes Input or InputList, got {body!r}")
        texts = body.get("InputList") if "InputList" in body else [body.get("Input")]
        if not isinstance(texts, list) or not texts or len(texts) > 50 or not all(isinstance(t, str) for t in texts):
            raise _invalid("InputList: 1 to 50 strings")
        tokens = EMBED_TOKENS_PER_INPUT * len(texts)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"Response": {
            "Data": [{"Embedding": EMBEDDING, "Index": i, "Object": "embedding"} for i in range(len(texts))],
            "Usage": {"PromptTokens": tokens, "TotalTokens": tokens}, "RequestId": RESPONSE_ID}}))

    # -- answers -------------------------------------------------------------------------------
    @staticmethod
    def _tool_to_call(body: dict[str, Any]) -> str | None:
        tools = body.get("Tools") or []
        if not tools or body.get("ToolChoice") == "none" or body["Messages"][-1]["Role"] == "tool":
            return None
        if body.get("ToolChoice") == "custom":
            return str(body["CustomTool"]["Function"]["Name"])
        return str(tools[0]["Function"]["Name"])

    @staticmethod
    def _usage(completion: int) -> dict[str, int]:
        return {"PromptTokens": PROMPT_TOKENS, "CompletionTokens": completion,
                "TotalTokens": PROMPT_TOKENS + completion}

    def _answer(self, body: dict[str, Any], usage: bool) -> dict[str, Any]:
        tool = self._tool_to_call(body)
        message: dict[str, Any] = {"Role": "assistant"}
        if tool:
            message["Content"] = ""
            message["ToolCalls"] = [{"Id": TOOL_CALL_ID, "Type": "function", "Index": 0,
                                     "Function": {"Name": tool, "Arguments": json.dumps(TOOL_ARGS)}}]
            reason, tokens = "tool_calls", TOOL_TOKENS
        else:
            answered = body["Messages"][-1]["Role"] == "tool"
            message["Content"] = TOOL_RESULT_REPLY if answered else TEXT_REPLY
            reason, tokens = "stop", TEXT_TOKENS
        out: dict[str, Any] = {"Note": NOTE, "Choices": [{"Index": 0, "Message": message, "FinishReason": reason}],
                               "Created": CREATED, "Id": RESPONSE_ID}
        if usage:
            out["Usage"] = self._usage(tokens)
        return out

    async def _stream(self, body: dict[str, Any], usage: bool, error_midway: bool) -> None:
        tool = self._tool_to_call(body)
        lines: list[dict[str, Any]] = []
        if tool:  # Hunyuan's way: the call opens with its name, its arguments follow under the same Id
            pieces = [{"Id": TOOL_CALL_ID, "Type": "function", "Function": {"Name": tool, "Arguments": ""}},
                      {"Id": TOOL_CALL_ID, "Type": "function",
                       "Function": {"Name": "", "Arguments": json.dumps(TOOL_ARGS)}}]
            for i, piece in enumerate(pieces):
                lines.append({"Choices": [{"Delta": {"Role": "assistant", "Content": "", "ToolCalls": [piece]},
                                           "FinishReason": ""}], "tokens": TOOL_TOKENS * i})
            lines.append({"Choices": [{"Delta": {"Role": "assistant", "Content": ""}, "FinishReason": "tool_calls"}],
                          "tokens": TOOL_TOKENS})
        else:
            frags = TEXT_FRAGMENTS if body["Messages"][-1]["Role"] != "tool" else [TOOL_RESULT_REPLY]
            for i, frag in enumerate(frags):
                lines.append({"Choices": [{"Delta": {"Role": "assistant", "Content": frag}, "FinishReason": ""}],
                              "tokens": TEXT_TOKENS * (i + 1) // len(frags)})
            lines.append({"Choices": [{"Delta": {"Role": "assistant", "Content": ""}, "FinishReason": "stop"}],
                          "tokens": TEXT_TOKENS})
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        for n, line in enumerate(lines):
            tokens = line.pop("tokens")
            obj: dict[str, Any] = {"Note": NOTE, **line, "Created": CREATED, "Id": RESPONSE_ID}
            if usage:
                obj["Usage"] = self._usage(tokens)
            if error_midway and n == 1:
                obj = {"Note": NOTE, "Choices": [], "Created": CREATED, "Id": RESPONSE_ID,
                       "ErrorMsg": {"Code": 4000, "Msg": "服务内部异常 (engine overloaded)"}}
            self.write("data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n\n")
            await self.flush()
            if error_midway and n == 1:
                break
        self.finish()


def make_tencent_app(recorder: list[dict[str, Any]]) -> Application:
    return Application([(r"/", FakeTencentHandler, {"recorder": recorder})])


__all__ = ["make_tencent_app", "expected_signature", "check_signature", "SECRET_KEY", "TEXT_REPLY",
           "TEXT_FRAGMENTS", "TOOL_RESULT_REPLY", "TOOL_ARGS", "TOOL_CALL_ID", "PROMPT_TOKENS", "TEXT_TOKENS",
           "TOOL_TOKENS", "EMBEDDING", "EMBED_TOKENS_PER_INPUT", "RESPONSE_ID", "CREATED"]
