"""Fake Baidu ERNIE (v1 wenxinworkshop) and Google Vertex AI upstreams: one real Tornado app.

Baidu:

* ``POST /oauth/2.0/token?grant_type=client_credentials&client_id=AK&client_secret=SK`` issues an
  access token (``expires_in`` 30 days) and counts the exchange per AK; AK ``bad-ak`` → HTTP 401
  ``{"error": "invalid_client", …}``.
* ``POST /rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{endpoint}?access_token=…``: the token must be
  one the fake issued and has not revoked (``state.revoke()``), else error 111 on HTTP 200; an
  unknown endpoint → error 3; the AK ``ak-qps`` → error 18 (QPS limit). The body is checked as
  ERNIE checks it (known fields only; messages non-empty, odd in number, user first, user and
  assistant alternating, a ``function`` message after an assistant ``function_call``; no
  ``system`` role; temperature in (0, 1]; penalty_score in [1, 2]…): a violation → error 336003.
  The answer is :data:`BAIDU_REPLY` (a ``function_call`` of the first function when the body has
  functions and the last message is the user's; :data:`BAIDU_TOOL_RESULT_REPLY` after a
  ``function`` message) with usage; ``stream: true`` → SSE, one ``data:`` object per sentence
  (cumulative usage, ``is_end`` on the last, no ``[DONE]``). Errors on a stream request are JSON
  (HTTP 200), as Baidu sends them.
* ``POST …/wenxinworkshop/embeddings/{endpoint}``: ``{"input": [1..16 texts]}`` →
  :data:`EMBEDDING` per text, usage :data:`EMBED_TOKENS_PER_TEXT` per text.

Vertex AI:

* ``POST /token``: the JWT-bearer grant. The assertion is verified with the test's RSA public key
  (``state.public_key_pem``; ``cryptography``, PKCS#1 v1.5 SHA-256) and its claims checked
  (``kid``, ``iss`` = the account's email, ``aud`` = this endpoint's URL, the cloud-platform
  scope, ``iat`` now, ``exp`` at most an hour later); a failure → HTTP 400 ``invalid_grant``.
  Issued tokens are counted in ``state.vertex_exchanges`` (the decoded claims).
* ``POST /v1/projects/{project}/locations/{region}/publishers/{anthropic|google}/models/{m}:{method}``
  with ``Authorization: Bearer <issued token>`` (else 401 UNAUTHENTICATED); the project must be
  ``state.project`` (else 403 PERMISSION_DENIED). ``anthropic``: ``rawPredict`` /
  ``streamRawPredict`` with an Anthropic body that has ``anthropic_version: vertex-2023-10-16`` and
  no ``model`` (Anthropic-shaped 400s otherwise; a model containing ``overloaded`` → 529
  ``overloaded_error``); a body with ``tools`` whose last message is the user's text is answered
  with a ``tool_use`` of the first tool (:data:`CLAUDE_TOOL_INPUT`, streamed as
  ``input_json_delta`` fragments), and the body's bytes are recorded (``raw``); ``google``: ``generateContent`` / ``streamGenerateContent?alt=sse``
  checked by the fake Gemini's rules (a model containing ``quota`` → 429 RESOURCE_EXHAUSTED), and
  ``predict`` for embeddings.

Every request is recorded in ``state.requests`` as ``{"provider", "path", "query", "headers",
"json"}`` (``form`` for the Vertex token endpoint).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from tornado.web import Application, RequestHandler

from tests.fake_gemini import Invalid, check_generate

# --- Baidu facts
BAIDU_FRAGMENTS = ["你好，", "我是", "文心一言。"]
BAIDU_REPLY = "".join(BAIDU_FRAGMENTS)
BAIDU_TOOL_RESULT_REPLY = "北京今天晴。"
BAIDU_TOOL_ARGS = {"city": "北京"}
BAIDU_USAGE = {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}
BAIDU_ID = "as-fake0123ab"
EMBEDDING = [0.25, -0.5, 0.75]
EMBED_TOKENS_PER_TEXT = 3
BAIDU_CHAT_ENDPOINTS = frozenset({
    "completions", "completions_pro", "ernie_speed", "eb-instant", "ernie-speed-128k", "ernie-lite-8k",
    "ernie-tiny-8k", "ernie_bot_8k", "ernie-3.5-8k-0205", "ernie-3.5-8k-1222", "ernie-3.5-4k-0205",
    "bloomz_7b1", "ernie-char-8k", "ernie-func-8k", "my_custom_service",
})
BAIDU_EMBED_ENDPOINTS = frozenset({"embedding-v1", "bge_large_zh", "bge_large_en", "tao_8k"})
BAIDU_FIELDS = frozenset({
    "messages", "temperature", "top_p", "penalty_score", "stream", "system", "stop", "disable_search",
    "enable_citation", "enable_trace", "max_output_tokens", "response_format", "user_id", "functions",
    "tool_choice",
})

# --- Vertex facts
VERTEX_PROJECT = "fake-project-42"
VERTEX_EMAIL = "relay@fake-project-42.iam.gserviceaccount.com"
VERTEX_KEY_ID = "0123456789abcdef0123456789abcdef01234567"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLAUDE_FRAGMENTS = ["Hello", " from", " Claude", " on Vertex"]
CLAUDE_REPLY = "".join(CLAUDE_FRAGMENTS)
CLAUDE_USAGE = {"input_tokens": 12, "output_tokens": 7}
CLAUDE_TOOL_INPUT = {"city": "Paris"}
CLAUDE_TOOL_ID = "toolu_vrtx_01FakeWeatherCall"
CLAUDE_TOOL_OUTPUT_TOKENS = 15
GEMINI_FRAGMENTS = ["Hello", " from", " Gemini", " on Vertex"]
GEMINI_REPLY = "".join(GEMINI_FRAGMENTS)
GEMINI_PROMPT_TOKENS = 9
GEMINI_TEXT_TOKENS = 5
VERTEX_EMBED_TOKENS_PER_TEXT = 4
ANTHROPIC_FIELDS = frozenset({
    "anthropic_version", "messages", "system", "max_tokens", "metadata", "stop_sequences", "stream",
    "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking",
})


def new_rsa_key() -> tuple[str, bytes]:
    """(private key PEM (PKCS#8, as in a service-account JSON), public key PEM) of a new pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def service_account_json(private_key: str, token_uri: str, **over: Any) -> dict[str, Any]:
    sa = {
        "type": "service_account", "project_id": VERTEX_PROJECT, "private_key_id": VERTEX_KEY_ID,
        "private_key": private_key, "client_email": VERTEX_EMAIL, "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    }
    sa.update(over)
    return sa


@dataclass
class FakeState:
    url: str = ""  # set once listening (the Vertex token endpoint checks aud against it)
    public_key_pem: bytes = b""
    requests: list[dict[str, Any]] = field(default_factory=list)
    baidu_exchanges: list[str] = field(default_factory=list)  # the AK of each token exchange
    baidu_tokens: dict[str, str] = field(default_factory=dict)  # live token -> AK
    vertex_exchanges: list[dict[str, Any]] = field(default_factory=list)  # verified JWT claims
    vertex_tokens: set[str] = field(default_factory=set)
    jwt_headers: list[dict[str, Any]] = field(default_factory=list)

    def revoke(self) -> None:
        """Every issued token stops working (as if expired upstream)."""
        self.baidu_tokens.clear()
        self.vertex_tokens.clear()

    def last(self, provider: str) -> dict[str, Any]:
        return [r for r in self.requests if r["provider"] == provider][-1]

    def of(self, provider: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["provider"] == provider]


class _Base(RequestHandler):
    provider = ""
    state: FakeState

    def initialize(self, state: FakeState) -> None:
        self.state = state

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        return None

    def _record(self, **extra: Any) -> Any:
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        self.state.requests.append({"provider": self.provider, "path": self.request.path,
                                    "query": self.request.query, "headers": dict(self.request.headers),
                                    "json": body, **extra})
        return body

    def _json(self, status: int, obj: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(obj, ensure_ascii=False))

    async def _sse(self, frames: list[str]) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        for frame in frames:
            self.write(frame)
            await self.flush()
        self.finish()


# --------------------------------------------------------------------------- Baidu


class BaiduInvalid(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def check_baidu_chat(body: Any) -> None:
    if not isinstance(body, dict):
        raise BaiduInvalid(336002, "Invalid JSON")
    for key in body:
        if key not in BAIDU_FIELDS:
            raise BaiduInvalid(336003, f"Invalid argument: unknown field {key}")
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise BaiduInvalid(336003, "the messages field is required and must not be empty")
    if len(msgs) % 2 == 0:
        raise BaiduInvalid(336003, "the length of messages must be an odd number")
    prev: dict[str, Any] | None = None
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or set(m) - {"role", "content", "name", "function_call"}:
            raise BaiduInvalid(336003, f"invalid message at {i}")
        role = m.get("role")
        if role not in ("user", "assistant", "function"):
            raise BaiduInvalid(336003, f"the role of message {i} must be user, assistant or function")
        if not isinstance(m.get("content"), str):
            raise BaiduInvalid(336003, f"the content of message {i} must be a string")
        if role == "user":
            if i % 2 != 0:
                raise BaiduInvalid(336003, "the role of message with even index in the messages must be user")
            if not m["content"]:
                raise BaiduInvalid(336003, "the content of a user message must not be empty")
        elif role == "assistant":
            if i % 2 != 1:
                raise BaiduInvalid(336003, "the role of message with odd index in the messages must be assistant")
            fc = m.get("function_call")
            if fc is not None and (not isinstance(fc, dict) or not fc.get("name")
                                   or not isinstance(fc.get("arguments"), str)):
                raise BaiduInvalid(336003, f"invalid function_call at {i}")
        else:  # function
            if i % 2 != 0 or prev is None or "function_call" not in prev or not m.get("name"):
                raise BaiduInvalid(336003, f"a function message must answer an assistant function_call ({i})")
        prev = m
    if msgs[-1]["role"] == "assistant":
        raise BaiduInvalid(336003, "the last message must be from the user")
    t = body.get("temperature")
    if t is not None and not (isinstance(t, (int, float)) and 0 < t <= 1):
        raise BaiduInvalid(336003, "temperature range is (0, 1.0]")
    p = body.get("top_p")
    if p is not None and not (isinstance(p, (int, float)) and 0 <= p <= 1):
        raise BaiduInvalid(336003, "top_p range is [0, 1.0]")
    ps = body.get("penalty_score")
    if ps is not None and not (isinstance(ps, (int, float)) and 1 <= ps <= 2):
        raise BaiduInvalid(336003, "penalty_score range is [1.0, 2.0]")
    mo = body.get("max_output_tokens")
    if mo is not None and not (isinstance(mo, int) and 2 <= mo <= 4096):
        raise BaiduInvalid(336003, "max_output_tokens range is [2, 4096]")
    stop = body.get("stop")
    if stop is not None and not (isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop)):
        raise BaiduInvalid(336003, "stop must be a list of at most 4 strings")
    if "system" in body and not isinstance(body["system"], str):
        raise BaiduInvalid(336003, "system must be a string")
    for f in body.get("functions") or ():
        if not isinstance(f, dict) or not f.get("name") or not f.get("description") \
                or not isinstance(f.get("parameters"), dict):
            raise BaiduInvalid(336003, "each function needs name, description and parameters")


class BaiduToken(_Base):
    provider = "baidu-token"

    def post(self) -> None:
        self._record()
        q = {k: self.get_query_argument(k, "") for k in ("grant_type", "client_id", "client_secret")}
        if q["grant_type"] != "client_credentials":
            return self._json(400, {"error": "unsupported_grant_type",
                                    "error_description": "The authorization grant type is not supported"})
        if not q["client_id"] or q["client_id"] == "bad-ak":
            return self._json(401, {"error": "invalid_client", "error_description": "unknown client id"})
        if not q["client_secret"]:
            return self._json(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        self.state.baidu_exchanges.append(q["client_id"])
        token = f"24.fake{len(self.state.baidu_exchanges)}.{q['client_id']}.2592000"
        self.state.baidu_tokens[token] = q["client_id"]
        self._json(200, {"refresh_token": "25.refresh", "expires_in": 2592000, "session_key": "9mzd",
                         "access_token": token, "scope": "public brain_all_scope", "session_secret": "x"})


class BaiduApi(_Base):
    provider = "baidu"

    def _error(self, code: int, msg: str) -> None:
        self._json(200, {"error_code": code, "error_msg": msg})

    async def post(self, kind: str, ep: str) -> None:
        body = self._record()
        token = self.get_query_argument("access_token", "")
        if not token:
            return self._error(100, "Invalid parameter")
        ak = self.state.baidu_tokens.get(token)
        if ak is None:
            return self._error(111, "Access token expired")
        if ak == "ak-qps":
            return self._error(18, "Open api qps request limit reached")
        if kind == "embeddings":
            if ep not in BAIDU_EMBED_ENDPOINTS:
                return self._error(3, "Unsupported openapi method")
            inp = body.get("input") if isinstance(body, dict) else None
            if not isinstance(inp, list) or not 1 <= len(inp) <= 16 or not all(isinstance(s, str) and s for s in inp):
                return self._error(336003, "input must be a list of 1 to 16 non-empty strings")
            n = len(inp) * EMBED_TOKENS_PER_TEXT
            return self._json(200, {"id": "as-emb01", "object": "embedding_list", "created": int(time.time()),
                                    "data": [{"object": "embedding", "embedding": EMBEDDING, "index": i}
                                             for i in range(len(inp))],
                                    "usage": {"prompt_tokens": n, "total_tokens": n}})
        if ep not in BAIDU_CHAT_ENDPOINTS:
            return self._error(3, "Unsupported openapi method")
        try:
            check_baidu_chat(body)
        except BaiduInvalid as e:
            return self._error(e.code, e.message)
        last = body["messages"][-1]
        created = int(time.time())
        base = {"id": BAIDU_ID, "object": "chat.completion", "created": created, "is_truncated": False,
                "need_clear_history": False}
        if body.get("functions") and last["role"] == "user":
            fn = body["functions"][0]["name"]
            tc = body.get("tool_choice")
            if isinstance(tc, dict):
                fn = tc["function"]["name"]
            call = {"name": fn, "thoughts": "需要查询天气", "arguments": json.dumps(BAIDU_TOOL_ARGS, ensure_ascii=False)}
            answer = {**base, "result": "", "function_call": call, "finish_reason": "function_call",
                      "usage": BAIDU_USAGE}
            if body.get("stream"):
                return await self._sse(["data: " + json.dumps({**answer, "sentence_id": 0, "is_end": True},
                                                              ensure_ascii=False) + "\n\n"])
            return self._json(200, answer)
        frags = [BAIDU_TOOL_RESULT_REPLY] if last["role"] == "function" else BAIDU_FRAGMENTS
        if not body.get("stream"):
            return self._json(200, {**base, "result": "".join(frags), "finish_reason": "normal",
                                    "usage": BAIDU_USAGE})
        frames = []
        for i, frag in enumerate(frags):
            done = (i + 1) * BAIDU_USAGE["completion_tokens"] // len(frags)
            frames.append("data: " + json.dumps({
                **base, "sentence_id": i, "is_end": i == len(frags) - 1, "result": frag,
                "finish_reason": "normal",
                "usage": {"prompt_tokens": BAIDU_USAGE["prompt_tokens"], "completion_tokens": done,
                          "total_tokens": BAIDU_USAGE["prompt_tokens"] + done}}, ensure_ascii=False) + "\n\n")
        await self._sse(frames)


# --------------------------------------------------------------------------- Vertex


def _b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class VertexToken(_Base):
    provider = "vertex-token"

    def _refuse(self, description: str) -> None:
        self._json(400, {"error": "invalid_grant", "error_description": description})

    def post(self) -> None:
        form = {k: v[-1].decode() for k, v in self.request.body_arguments.items()}
        self._record(form=form)
        if self.request.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return self._json(400, {"error": "invalid_request", "error_description": "form body required"})
        if form.get("grant_type") != JWT_GRANT:
            return self._json(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            return self._refuse("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except ValueError:
            return self._refuse("Invalid JWT: malformed")
        self.state.jwt_headers.append(header)
        if header.get("alg") != "RS256" or header.get("kid") != VERTEX_KEY_ID:
            return self._refuse("Invalid JWT header")
        public = serialization.load_pem_public_key(self.state.public_key_pem)
        assert isinstance(public, rsa.RSAPublicKey)
        try:
            public.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return self._refuse("Invalid JWT Signature.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if claims.get("iss") != VERTEX_EMAIL:
            return self._json(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        if claims.get("aud") != self.state.url + "/token":
            return self._refuse("Invalid JWT: aud")
        if SCOPE not in str(claims.get("scope", "")).split():
            return self._refuse("Invalid JWT: scope")
        if not isinstance(iat, int) or not isinstance(exp, int) or abs(iat - now) > 300 or not 0 < exp - iat <= 3600 \
                or exp < now:
            return self._refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                                "reasonable timeframe. Check your iat and exp values in the JWT claim.")
        self.state.vertex_exchanges.append(claims)
        token = f"ya29.fake-{len(self.state.vertex_exchanges)}"
        self.state.vertex_tokens.add(token)
        self._json(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


class VertexApi(_Base):
    provider = "vertex"

    def _google_error(self, status: int, gstatus: str, message: str) -> None:
        self._json(status, {"error": {"code": status, "message": message, "status": gstatus}})

    def _anthropic_error(self, status: int, etype: str, message: str) -> None:
        self._json(status, {"type": "error", "error": {"type": etype, "message": message}})

    async def post(self, project: str, location: str, publisher: str, model: str, method: str) -> None:
        body = self._record(raw=self.request.body)
        auth = self.request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.state.vertex_tokens:
            return self._google_error(
                401, "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.")
        if project != VERTEX_PROJECT:
            return self._google_error(403, "PERMISSION_DENIED",
                                      f"Permission 'aiplatform.endpoints.predict' denied on resource "
                                      f"'//aiplatform.googleapis.com/projects/{project}/locations/{location}'")
        if publisher == "anthropic":
            return await self._claude(body, model, method)
        if method == "predict":
            return self._predict(body)
        if method not in ("generateContent", "streamGenerateContent"):
            return self._google_error(404, "NOT_FOUND", f"method {method} not found")
        if "quota" in model:
            return self._google_error(429, "RESOURCE_EXHAUSTED",
                                      "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_"
                                      "minute_per_project_per_base_model.")
        if "claude" in model:
            return self._google_error(404, "NOT_FOUND", f"Publisher Model `{model}` not found.")
        try:
            check_generate(body)
        except Invalid as e:
            return self._google_error(e.status, e.gstatus, e.message)
        if method == "generateContent":
            return self._json(200, {
                "candidates": [{"content": {"role": "model", "parts": [{"text": GEMINI_REPLY}]},
                                "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": GEMINI_PROMPT_TOKENS,
                                  "candidatesTokenCount": GEMINI_TEXT_TOKENS,
                                  "totalTokenCount": GEMINI_PROMPT_TOKENS + GEMINI_TEXT_TOKENS},
                "modelVersion": model, "responseId": "vrtxGemini01"})
        if self.get_query_argument("alt", "") != "sse":
            return self._google_error(400, "INVALID_ARGUMENT", "this fake streams SSE only")
        frames = []
        for i, frag in enumerate(GEMINI_FRAGMENTS):
            cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": frag}]}}
            chunk: dict[str, Any] = {"candidates": [cand], "modelVersion": model, "responseId": "vrtxGemini01"}
            if i == len(GEMINI_FRAGMENTS) - 1:
                cand["finishReason"] = "STOP"
                chunk["usageMetadata"] = {"promptTokenCount": GEMINI_PROMPT_TOKENS,
                                          "candidatesTokenCount": GEMINI_TEXT_TOKENS,
                                          "totalTokenCount": GEMINI_PROMPT_TOKENS + GEMINI_TEXT_TOKENS}
            frames.append("data: " + json.dumps(chunk) + "\r\n\r\n")
        await self._sse(frames)

    def _predict(self, body: Any) -> None:
        inst = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(body, dict) or set(body) - {"instances", "parameters"} or not isinstance(inst, list) \
                or not inst or not all(isinstance(i, dict) and isinstance(i.get("content"), str) for i in inst):
            return self._google_error(400, "INVALID_ARGUMENT", "instances[].content is required")
        params = body.get("parameters") or {}
        dims = params.get("outputDimensionality") if isinstance(params, dict) else None
        values = EMBEDDING[:dims] if isinstance(dims, int) else EMBEDDING
        self._json(200, {"predictions": [{"embeddings": {
            "values": values, "statistics": {"truncated": False, "token_count": VERTEX_EMBED_TOKENS_PER_TEXT}}}
            for _ in inst], "metadata": {"billableCharacterCount": 10}})

    async def _claude(self, body: Any, model: str, method: str) -> None:
        if method not in ("rawPredict", "streamRawPredict"):
            return self._google_error(400, "FAILED_PRECONDITION", f"{method} is not supported by this model")
        if "overloaded" in model:
            return self._anthropic_error(529, "overloaded_error", "Overloaded")
        if not isinstance(body, dict):
            return self._anthropic_error(400, "invalid_request_error", "body must be a JSON object")
        for key in body:
            if key not in ANTHROPIC_FIELDS:
                return self._anthropic_error(400, "invalid_request_error", f"{key}: Extra inputs are not permitted")
        if body.get("anthropic_version") != "vertex-2023-10-16":
            return self._anthropic_error(400, "invalid_request_error",
                                         "anthropic_version: Input should be 'vertex-2023-10-16'")
        if not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
            return self._anthropic_error(400, "invalid_request_error", "max_tokens and messages are required")
        streaming = method == "streamRawPredict"
        if bool(body.get("stream")) != streaming:
            return self._anthropic_error(400, "invalid_request_error", "stream must match the method")
        msg_id = "msg_vrtx_01FakeClaude"
        tools, last = body.get("tools"), body["messages"][-1]
        tool = tools[0].get("name") if isinstance(tools, list) and tools and isinstance(tools[0], dict) else None
        if tool and isinstance(last, dict) and isinstance(last.get("content"), list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in last["content"]):
            tool = None  # the tool's result is in: answer with text
        if tool and not streaming:
            return self._json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                                    "content": [{"type": "tool_use", "id": CLAUDE_TOOL_ID, "name": tool,
                                                 "input": CLAUDE_TOOL_INPUT}],
                                    "stop_reason": "tool_use", "stop_sequence": None,
                                    "usage": {**CLAUDE_USAGE, "output_tokens": CLAUDE_TOOL_OUTPUT_TOKENS}})
        if not streaming:
            return self._json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                                    "content": [{"type": "text", "text": CLAUDE_REPLY}], "stop_reason": "end_turn",
                                    "stop_sequence": None, "usage": CLAUDE_USAGE})

        def ev(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n"

        frames = [
            ev("message_start", {"type": "message_start", "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": None, "usage": {"input_tokens": CLAUDE_USAGE["input_tokens"], "output_tokens": 1}}}),
            ev("ping", {"type": "ping"}),
            ev("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}),
        ]
        stop, output = "end_turn", CLAUDE_USAGE["output_tokens"]
        if tool:
            frames[-1] = ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": CLAUDE_TOOL_ID, "name": tool, "input": {}}})
            args = json.dumps(CLAUDE_TOOL_INPUT)
            frames += [ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                  "delta": {"type": "input_json_delta", "partial_json": part}})
                       for part in (args[:5], args[5:])]
            stop, output = "tool_use", CLAUDE_TOOL_OUTPUT_TOKENS
        else:
            frames += [ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                  "delta": {"type": "text_delta", "text": frag}})
                       for frag in CLAUDE_FRAGMENTS]
        frames += [
            ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                 "usage": {"output_tokens": output}}),
            ev("message_stop", {"type": "message_stop"}),
        ]
        await self._sse(frames)


def make_app(state: FakeState) -> Application:
    kw = {"state": state}
    return Application([
        (r"/oauth/2\.0/token", BaiduToken, kw),
        (r"/rpc/2\.0/ai_custom/v1/wenxinworkshop/(chat|embeddings)/([^/?]+)", BaiduApi, kw),
        (r"/token", VertexToken, kw),
        (r"/v1/projects/([^/]+)/locations/([^/]+)/publishers/(anthropic|google)/models/([^/:]+):(\w+)",
         VertexApi, kw),
    ])


__all__ = [
    "FakeState", "make_app", "new_rsa_key", "service_account_json", "BAIDU_REPLY", "BAIDU_FRAGMENTS",
    "BAIDU_TOOL_RESULT_REPLY", "BAIDU_TOOL_ARGS", "BAIDU_USAGE", "BAIDU_ID", "EMBEDDING", "EMBED_TOKENS_PER_TEXT",
    "VERTEX_PROJECT", "VERTEX_EMAIL", "VERTEX_KEY_ID", "SCOPE", "JWT_GRANT", "CLAUDE_REPLY", "CLAUDE_USAGE",
    "CLAUDE_TOOL_INPUT", "CLAUDE_TOOL_ID", "CLAUDE_TOOL_OUTPUT_TOKENS",
    "GEMINI_REPLY", "GEMINI_PROMPT_TOKENS", "GEMINI_TEXT_TOKENS", "VERTEX_EMBED_TOKENS_PER_TEXT",
]
