"""A fake AWS Bedrock runtime (``POST /model/{modelId}/invoke``, ``…/invoke-with-response-stream``,
``…/converse`` and ``…/converse-stream``) for integration tests.

Mount with :func:`make_bedrock_app`. Like Bedrock, it **verifies the SigV4 signature**
of every request — recomputed here from what arrived on the wire, with code of its own
(:func:`verify_sigv4`), not the adaptor's — and answers errors the way Bedrock does: a JSON
``{"message": …}`` with the error type in ``x-amzn-ErrorType`` (unknown access key → 403
UnrecognizedClientException, wrong secret → 403 InvalidSignatureException, extraneous body
keys → 400 ValidationException…). On success it answers Anthropic Messages JSON, or an
``application/vnd.amazon.eventstream`` of ``chunk`` events carrying base64 Anthropic stream
events (encoded here by :func:`encode_frame`, again independently of the adaptor's decoder).

Access keys (all share the region and secret of :data:`KEYS`) pick a behaviour:
``AKIDFAKEBEDROCK`` answers normally, ``AKIDTHROTTLED`` 429, ``AKIDBROKEN`` 500,
``AKIDUNAVAILABLE`` 503 (also for streams), ``AKIDNOACCESS`` 403 AccessDeniedException,
``AKIDSTREAMERR`` streams "Hello" then an exception frame, ``ASIAFAKETEMP`` needs the session
token :data:`SESSION_TOKEN`.

A body with ``thinking`` enabled is answered with a thinking block (:data:`THINKING_TEXT`, signed
with :data:`THINKING_SIGNATURE`; streamed as ``thinking_delta`` + ``signature_delta``) before the
text. ``anthropic_beta`` must be a list of strings. Every request's body bytes are recorded too
(``raw``).

The Converse endpoints take other vendors' ids (``meta.…``, ``mistral.…``, ``amazon.nova-…``,
``cohere.…``, with a profile prefix or as an ARN) and validate the body as Bedrock does
(:func:`converse_problem`: known members only, a conversation that starts with a user message and
alternates, no blank text, toolResult ids answering the previous turn's toolUse, a toolConfig
whenever tool blocks are present, no toolChoice for Llama/Cohere, no system prompt for Titan or
Mistral 7B/Mixtral). With tools and a user question last they answer a text block and a toolUse
(streamed as text deltas, then contentBlockStart + toolUse input fragments), else
:data:`CONVERSE_REPLY`; streams end with messageStop and a metadata event carrying the usage.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import json
import re
import struct
import time
import urllib.parse
from typing import Any

from tornado.web import Application, RequestHandler

SECRET = "fake/Secret+Key/EXAMPLE"
REGION = "us-east-1"
EU_REGION = "eu-west-1"
SESSION_TOKEN = "fake-session-token/+="
KEYS: dict[str, tuple[str, str]] = {  # access key -> (secret, region)
    "AKIDFAKEBEDROCK": (SECRET, REGION),
    "AKIDFAKEEU": (SECRET, EU_REGION),
    "AKIDTHROTTLED": (SECRET, REGION),
    "AKIDBROKEN": (SECRET, REGION),
    "AKIDUNAVAILABLE": (SECRET, REGION),
    "AKIDNOACCESS": (SECRET, REGION),
    "AKIDSTREAMERR": (SECRET, REGION),
    "ASIAFAKETEMP": (SECRET, REGION),
}
GOOD_KEY = f"AKIDFAKEBEDROCK|{SECRET}|{REGION}"

ALLOWED_FIELDS = frozenset({
    "anthropic_version", "anthropic_beta", "max_tokens", "system", "messages", "temperature", "top_p",
    "top_k", "stop_sequences", "tools", "tool_choice", "thinking", "metadata",
})
# Ids served only through an inference profile (what Bedrock says for the others).
PROFILE_ONLY_IDS = frozenset({
    "anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0",
    "anthropic.claude-opus-4-20250514-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0",
})
_MODEL_ID = re.compile(r"(?:(?:us|eu|apac|global|us-gov)\.)?anthropic\.claude-[a-z0-9.-]+-v\d+(?::\d+)?")
_ARN = re.compile(r"arn:aws:bedrock:[a-z0-9-]+:\d*:(?:inference-profile|application-inference-profile|"
                  r"foundation-model|provisioned-model)/[A-Za-z0-9.:/-]+")

THINKING_TEXT = "The user greets me; greet back."
THINKING_SIGNATURE = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/=="
THINKING_TOKENS = 9
TEXT_REPLY = "Hello from Bedrock"
TEXT_FRAGMENTS = ["Hello", " from", " Bedrock"]
TOOL_INPUT = {"city": "Paris"}
TOOL_INPUT_FRAGMENTS = ["", '{"city"', ': "Pa', 'ris"}']
TOOL_USE_ID = "toolu_bdrk_01FakeWeatherCall"
MESSAGE_ID = "msg_bdrk_01FakeBedrockReply"
INPUT_TOKENS = 14
CACHE_READ_TOKENS = 3
TEXT_OUTPUT_TOKENS = 6
TOOL_OUTPUT_TOKENS = 11

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


# --------------------------------------------------------------------------- event stream


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers (prelude, CRCs and all)."""
    hdrs = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(hdrs) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hdrs))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + hdrs + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def chunk_frame(event: dict[str, Any]) -> bytes:
    """A Bedrock ``chunk`` event carrying one Anthropic stream event (with Bedrock's padding ``p``)."""
    data = json.dumps(event).encode()
    payload = json.dumps({"bytes": base64.b64encode(data).decode(), "p": "abcdefghijklmnopqrstuvwxyzAB"[:len(data) % 27]})
    return encode_frame({":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
                        payload.encode())


def exception_frame(exception_type: str, message: str) -> bytes:
    return encode_frame({":exception-type": exception_type, ":content-type": "application/json",
                         ":message-type": "exception"}, json.dumps({"message": message}).encode())


# --------------------------------------------------------------------------- SigV4 (server side)


def _aws_encode(raw: str) -> str:
    """URI-encode every byte but the unreserved ones (RFC 3986), uppercase hex."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in raw.encode("utf-8"))


def _hmac_sha256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def verify_sigv4(method: str, raw_path: str, query: str, headers: list[tuple[str, str]], body: bytes,
                 *, now: float | None = None, service: str = "bedrock") -> tuple[str, str] | None:
    """None when the request's SigV4 signature is valid, else (error type, message) as AWS says.

    ``raw_path`` is the path exactly as it arrived (still percent-encoded): its segments are
    encoded once more for the canonical request, as AWS does for every service but S3.
    """
    lower: dict[str, list[str]] = {}
    for k, v in headers:
        lower.setdefault(k.lower(), []).append(v)
    auth = (lower.get("authorization") or [""])[0]
    m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", auth)
    if not m:
        return "IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and " \
                                               "'SignedHeaders' parameters."
    access_key, date, region, svc, signed_headers, signature = m.groups()
    if access_key not in KEYS:
        return "UnrecognizedClientException", "The security token included in the request is invalid."
    secret, key_region = KEYS[access_key]
    stamp = (lower.get("x-amz-date") or [""])[0]
    signed = signed_headers.split(";")
    if "host" not in signed or "x-amz-date" not in signed or signed != sorted(signed):
        return "InvalidSignatureException", "'Host' or 'x-amz-date' must be a signed header."
    if svc != service or region != key_region or not stamp.startswith(date):
        return "InvalidSignatureException", (f"Credential should be scoped to a valid region / service "
                                              f"('{key_region}', '{service}').")
    try:
        when = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return "IncompleteSignatureException", "Date must be in ISO-8601 'basic format'."
    if abs((now if now is not None else time.time()) - when) > 15 * 60:
        return "InvalidSignatureException", "Signature expired: the request time is too skewed."
    if access_key.startswith("ASIA"):
        if (lower.get("x-amz-security-token") or [""])[0] != SESSION_TOKEN or "x-amz-security-token" not in signed:
            return "UnrecognizedClientException", "The security token included in the request is invalid."
    segments = [_aws_encode(s) for s in raw_path.split("/")]
    params = []
    for part in filter(None, query.split("&")):
        k, _, v = part.partition("=")
        params.append((_aws_encode(urllib.parse.unquote(k)), _aws_encode(urllib.parse.unquote(v))))
    canon_headers = "".join(f"{h}:{','.join(' '.join(v.split()) for v in lower.get(h, []))}\n" for h in signed)
    canonical = "\n".join([
        method, "/".join(segments) or "/", "&".join(f"{k}={v}" for k, v in sorted(params)), canon_headers,
        signed_headers, hashlib.sha256(body).hexdigest()])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, f"{date}/{region}/{svc}/aws4_request",
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac_sha256(("AWS4" + secret).encode(), date)
    for part in (region, svc, "aws4_request"):
        k = _hmac_sha256(k, part)
    expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return "InvalidSignatureException", (
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")
    return None


# --------------------------------------------------------------------------- Converse (non-Claude models)

CONVERSE_FIELDS = frozenset({
    "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig", "additionalModelRequestFields",
    "promptVariables", "additionalModelResponseFieldPaths", "requestMetadata", "performanceConfig",
})
INFERENCE_FIELDS = frozenset({"maxTokens", "temperature", "topP", "stopSequences"})
BLOCK_KINDS = frozenset({"text", "image", "document", "toolUse", "toolResult", "reasoningContent", "cachePoint"})
# Foundation-model ids of other vendors (optionally with an inference-profile prefix).
_CONVERSE_ID = re.compile(r"(?:(?:us|eu|apac|global|us-gov)\.)?(?:meta|mistral|amazon|cohere|deepseek|ai21|writer)"
                          r"\.[a-z0-9.-]+-v\d+(?::\d+)?")
CONVERSE_REPLY = "Hello from Llama"
CONVERSE_FRAGMENTS = ["Hello", " from", " Llama"]
CONVERSE_TOOL_PREFACE = "Let me check."
CONVERSE_TOOL_USE_ID = "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"
CONVERSE_TOOL_FRAGMENTS = ['{"city"', ': "Pa', 'ris"}']
CONVERSE_INPUT_TOKENS = 21
CONVERSE_OUTPUT_TOKENS = 7
CONVERSE_TOOL_OUTPUT_TOKENS = 13


def converse_frame(event_type: str, event: dict[str, Any]) -> bytes:
    """A ConverseStream event (with Bedrock's padding ``p``)."""
    body = {**event, "p": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"[:len(json.dumps(event)) % 31]}
    return encode_frame({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
                        json.dumps(body).encode())


def converse_problem(model: str, body: Any) -> str | None:
    """What Bedrock's Converse validation says about a request; None when it is acceptable."""
    if not isinstance(body, dict):
        return "Malformed input request, please reformat your input and try again."
    extra = sorted(set(body) - CONVERSE_FIELDS)
    if extra:
        return f"Unable to parse request body: unknown field '{extra[0]}'"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "A conversation must start with a user message. Try again with a conversation that starts with a " \
               "user message."
    previous_uses: set[str] = set()
    tool_blocks = False
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or set(m) - {"role", "content"}:
            return f"messages.{i}: invalid message"
        if i == 0 and m["role"] != "user":
            return "A conversation must start with a user message. Try again with a conversation that starts " \
                   "with a user message."
        if i and messages[i - 1].get("role") == m["role"]:
            return "A conversation must alternate between user and assistant roles. Make sure the conversation " \
                   "alternates between user and assistant roles and try again."
        content = m.get("content")
        if not isinstance(content, list) or not content:
            return f"The content field in the Message object at messages.{i} is empty. Add a ContentBlock object " \
                   "to the content field and try again."
        uses: set[str] = set()
        for j, b in enumerate(content):
            if not isinstance(b, dict) or len(b) != 1 or next(iter(b)) not in BLOCK_KINDS:
                return f"messages.{i}.content.{j}: a ContentBlock must hold exactly one member"
            if "text" in b and (not isinstance(b["text"], str) or not b["text"].strip()):
                return f"The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add " \
                       "text to the text field, and try again."
            if "image" in b:
                img = b["image"]
                if img.get("format") not in ("png", "jpeg", "gif", "webp") or \
                        not isinstance(img.get("source"), dict):
                    return f"messages.{i}.content.{j}.image: invalid image block"
                try:
                    base64.b64decode(img["source"].get("bytes", ""), validate=True)
                except (binascii.Error, ValueError):
                    return f"messages.{i}.content.{j}.image.source.bytes: invalid base64"
            if "toolUse" in b:
                tool_blocks = True
                use = b["toolUse"]
                if m["role"] != "assistant" or not isinstance(use.get("input"), dict) or not use.get("toolUseId") \
                        or not use.get("name"):
                    return f"messages.{i}.content.{j}.toolUse: invalid toolUse block"
                uses.add(use["toolUseId"])
            if "toolResult" in b:
                tool_blocks = True
                res = b["toolResult"]
                if m["role"] != "user" or res.get("toolUseId") not in previous_uses:
                    return f"messages.{i}.content.{j}.toolResult: the toolUseId does not match a toolUse of the " \
                           "previous turn"
                if not isinstance(res.get("content"), list) or not res["content"]:
                    return f"messages.{i}.content.{j}.toolResult.content: empty"
                if "status" in res and not model.startswith(("anthropic.", "us.anthropic.")):
                    return "This model doesn't support the toolResult.status field. Remove toolResult.status and " \
                           "try again."
        previous_uses = uses
    system = body.get("system")
    if system is not None:
        if not isinstance(system, list) or any(not isinstance(s, dict) or not str(s.get("text", "")).strip()
                                               for s in system):
            return "The system field is invalid."
        if ".titan-text" in model or "mistral-7b" in model or "mixtral" in model:
            return "This model doesn't support system messages. Try again without system messages."
    inference = body.get("inferenceConfig")
    if inference is not None:
        if not isinstance(inference, dict) or set(inference) - INFERENCE_FIELDS:
            return "inferenceConfig: unknown field"
        if "maxTokens" in inference and (not isinstance(inference["maxTokens"], int) or inference["maxTokens"] < 1):
            return "inferenceConfig.maxTokens: must be at least 1"
        for k in ("temperature", "topP"):
            if k in inference and not 0 <= inference[k] <= 1:
                return f"inferenceConfig.{k}: must be between 0 and 1"
    tool_config = body.get("toolConfig")
    if tool_config is None:
        if tool_blocks:
            return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        return None
    tools = tool_config.get("tools") if isinstance(tool_config, dict) else None
    if not isinstance(tools, list) or not tools or any(
            not isinstance(t, dict) or not isinstance(t.get("toolSpec"), dict) or not t["toolSpec"].get("name")
            or not isinstance((t["toolSpec"].get("inputSchema") or {}).get("json"), dict) for t in tools):
        return "toolConfig.tools: each tool needs a toolSpec with a name and inputSchema.json"
    choice = tool_config.get("toolChoice")
    if choice is not None:
        kind = next(iter(choice), "") if isinstance(choice, dict) and len(choice) == 1 else ""
        if model.startswith(("meta.", "us.meta.", "cohere.")) or kind not in ("auto", "any", "tool"):
            return f"This model doesn't support the toolConfig.toolChoice.{kind or 'unknown'} field. Remove " \
                   f"toolConfig.toolChoice.{kind or 'unknown'} and try again."
    return None


class FakeConverseMixin:
    """Answers of the Converse API (used by :class:`FakeBedrockHandler`)."""

    def _converse_answer(self: Any, body: dict[str, Any]) -> tuple[str | None, str]:
        """(tool name to call or None, the reply text)."""
        tools = (body.get("toolConfig") or {}).get("tools") or []
        last = body["messages"][-1]
        answering = any("toolResult" in b for b in last["content"])
        name = tools[0]["toolSpec"]["name"] if tools and not answering and last["role"] == "user" else None
        return name, CONVERSE_REPLY

    def _converse(self: Any, body: dict[str, Any]) -> None:
        tool_name, reply = self._converse_answer(body)
        if tool_name:
            content: list[dict[str, Any]] = [
                {"text": CONVERSE_TOOL_PREFACE},
                {"toolUse": {"toolUseId": CONVERSE_TOOL_USE_ID, "name": tool_name, "input": TOOL_INPUT}}]
            stop, output = "tool_use", CONVERSE_TOOL_OUTPUT_TOKENS
        else:
            content = [{"text": reply}]
            stop, output = "end_turn", CONVERSE_OUTPUT_TOKENS
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({
            "output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop,
            "usage": {"inputTokens": CONVERSE_INPUT_TOKENS, "outputTokens": output,
                      "totalTokens": CONVERSE_INPUT_TOKENS + output},
            "metrics": {"latencyMs": 321}}))

    async def _converse_stream(self: Any, body: dict[str, Any], broken: bool) -> None:
        tool_name, _ = self._converse_answer(body)
        self.set_header("Content-Type", "application/vnd.amazon.eventstream")
        await self._send(converse_frame("messageStart", {"role": "assistant"}))
        if tool_name:  # a text block (no start event, as Bedrock sends text), then the tool call
            await self._send(converse_frame("contentBlockDelta", {"contentBlockIndex": 0,
                                                                  "delta": {"text": CONVERSE_TOOL_PREFACE}}))
            await self._send(converse_frame("contentBlockStop", {"contentBlockIndex": 0}))
            await self._send(converse_frame("contentBlockStart", {"contentBlockIndex": 1, "start": {
                "toolUse": {"toolUseId": CONVERSE_TOOL_USE_ID, "name": tool_name}}}))
            for frag in CONVERSE_TOOL_FRAGMENTS:
                await self._send(converse_frame("contentBlockDelta", {"contentBlockIndex": 1,
                                                                      "delta": {"toolUse": {"input": frag}}}), True)
            await self._send(converse_frame("contentBlockStop", {"contentBlockIndex": 1}))
            stop, output = "tool_use", CONVERSE_TOOL_OUTPUT_TOKENS
        else:
            for i, frag in enumerate(CONVERSE_FRAGMENTS):
                await self._send(converse_frame("contentBlockDelta", {"contentBlockIndex": 0,
                                                                      "delta": {"text": frag}}), split=i == 1)
                if broken:
                    await self._send(exception_frame(
                        "modelStreamErrorException",
                        "The model stream was interrupted: the model is overloaded, try again."))
                    self.finish()
                    return
            await self._send(converse_frame("contentBlockStop", {"contentBlockIndex": 0}))
            stop, output = "end_turn", CONVERSE_OUTPUT_TOKENS
        await self._send(converse_frame("messageStop", {"stopReason": stop}))
        await self._send(converse_frame("metadata", {
            "usage": {"inputTokens": CONVERSE_INPUT_TOKENS, "outputTokens": output,
                      "totalTokens": CONVERSE_INPUT_TOKENS + output}, "metrics": {"latencyMs": 456}}))
        self.finish()


# --------------------------------------------------------------------------- handler


class FakeBedrockHandler(FakeConverseMixin, RequestHandler):
    recorder: list[dict[str, Any]]

    def initialize(self, recorder: list[dict[str, Any]]) -> None:
        self.recorder = recorder

    def check_xsrf_cookie(self) -> None:
        return None

    def _error(self, status: int, etype: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("x-amzn-ErrorType", f"{etype}:http://internal.amazon.com/coral/com.amazon.bedrock/")
        self.set_header("x-amzn-RequestId", "fake-request-id")
        self.finish(json.dumps({"message": message}))

    async def post(self, _model: str, action: str) -> None:
        raw_path = self.request.path  # as sent: the model id is still percent-encoded
        model = urllib.parse.unquote(raw_path.split("/")[2])
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        headers = list(self.request.headers.get_all())
        access_key = re.search(r"Credential=([^/]+)/", self.request.headers.get("Authorization", ""))
        self.recorder.append({
            "path": raw_path, "model": model, "action": action, "headers": dict(self.request.headers),
            "json": body, "access_key": access_key.group(1) if access_key else "", "raw": self.request.body,
        })
        failure = verify_sigv4(self.request.method or "POST", raw_path, self.request.query, headers,
                               self.request.body or b"")
        if failure is not None:
            return self._error(403, *failure)
        ak = self.recorder[-1]["access_key"]
        if ak == "AKIDNOACCESS":
            return self._error(403, "AccessDeniedException",
                               "You don't have access to the model with the specified model ID.")
        if ak == "AKIDTHROTTLED":
            return self._error(429, "ThrottlingException", "Too many requests, please wait before trying again.")
        if ak == "AKIDBROKEN":
            return self._error(500, "InternalServerException", "The server encountered an internal error.")
        if ak == "AKIDUNAVAILABLE":
            return self._error(503, "ServiceUnavailableException", "Bedrock is unable to process your request.")
        if action.startswith("converse"):
            if not (_CONVERSE_ID.fullmatch(model) or _MODEL_ID.fullmatch(model) or _ARN.fullmatch(model)):
                return self._error(400, "ValidationException", "The provided model identifier is invalid.")
            problem = converse_problem(model, body)
            if problem is not None:
                return self._error(400, "ValidationException", problem)
            if action == "converse":
                return self._converse(body)
            return await self._converse_stream(body, broken=ak == "AKIDSTREAMERR")
        if not (_MODEL_ID.fullmatch(model) or _ARN.fullmatch(model)):
            return self._error(400, "ValidationException", "The provided model identifier is invalid.")
        if model in PROFILE_ONLY_IDS:
            return self._error(400, "ValidationException", (
                f"Invocation of model ID {model} with on-demand throughput isn't supported. Retry your "
                "request with the ID or ARN of an inference profile that contains this model."))
        if not isinstance(body, dict):
            return self._error(400, "ValidationException", "Malformed input request, please reformat your input "
                                                           "and try again.")
        extra = sorted(set(body) - ALLOWED_FIELDS)
        if extra:
            return self._error(400, "ValidationException", f"Malformed input request: #: extraneous key "
                                                           f"[{extra[0]}] is not permitted, please reformat "
                                                           "your input and try again.")
        if body.get("anthropic_version") != "bedrock-2023-05-31":
            return self._error(400, "ValidationException", "Malformed input request: #: required key "
                                                           "[anthropic_version] not found, please reformat "
                                                           "your input and try again.")
        if not isinstance(body.get("max_tokens"), int):
            return self._error(400, "ValidationException", "Malformed input request: #: required key "
                                                           "[max_tokens] not found, please reformat your "
                                                           "input and try again.")
        beta = body.get("anthropic_beta")
        if beta is not None and (not isinstance(beta, list) or not all(isinstance(b, str) for b in beta)):
            return self._error(400, "ValidationException", "Malformed input request: #/anthropic_beta: expected "
                                                           "type: JSONArray, please reformat your input and try again.")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or any(
                not isinstance(m, dict) or m.get("role") not in ("user", "assistant") for m in messages):
            return self._error(400, "ValidationException", "messages: roles must alternate between "
                                                           "\"user\" and \"assistant\"")
        tools = body.get("tools")
        tool_name = tools[0].get("name") if isinstance(tools, list) and tools and isinstance(tools[0], dict) else None
        claude = model.rsplit("/", 1)[-1].split("anthropic.", 1)[-1].rsplit("-v", 1)[0]
        thinking = isinstance(body.get("thinking"), dict) and body["thinking"].get("type") == "enabled"
        if action == "invoke":
            self._message(claude, tool_name, thinking)
        else:
            await self._stream(claude, tool_name, broken=ak == "AKIDSTREAMERR", thinking=thinking)

    def _message(self, model: str, tool_name: str | None, thinking: bool = False) -> None:
        if tool_name:
            content: list[dict[str, Any]] = [
                {"type": "tool_use", "id": TOOL_USE_ID, "name": tool_name, "input": TOOL_INPUT}]
            stop, output = "tool_use", TOOL_OUTPUT_TOKENS
        else:
            content = [{"type": "text", "text": TEXT_REPLY}]
            stop, output = "end_turn", TEXT_OUTPUT_TOKENS
        if thinking:
            content.insert(0, {"type": "thinking", "thinking": THINKING_TEXT, "signature": THINKING_SIGNATURE})
            output += THINKING_TOKENS
        self.set_header("Content-Type", "application/json")
        self.set_header("X-Amzn-Bedrock-Input-Token-Count", str(INPUT_TOKENS + CACHE_READ_TOKENS))
        self.set_header("X-Amzn-Bedrock-Output-Token-Count", str(output))
        self.finish(json.dumps({
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": output,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": CACHE_READ_TOKENS},
        }))

    async def _send(self, frame: bytes, split: bool = False) -> None:
        if split:  # one frame over two writes: the client must buffer
            cut = len(frame) // 3
            self.write(frame[:cut])
            await self.flush()
            frame = frame[cut:]
        self.write(frame)
        await self.flush()

    async def _stream(self, model: str, tool_name: str | None, broken: bool, thinking: bool = False) -> None:
        self.set_header("Content-Type", "application/vnd.amazon.eventstream")
        self.set_header("X-Amzn-Bedrock-Content-Type", "application/json")
        await self._send(chunk_frame({"type": "message_start", "message": {
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": CACHE_READ_TOKENS}}}))
        index = 0
        if thinking:
            await self._send(chunk_frame({"type": "content_block_start", "index": 0,
                                          "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))
            await self._send(chunk_frame({"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "thinking_delta", "thinking": THINKING_TEXT}}), True)
            await self._send(chunk_frame({"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "signature_delta", "signature": THINKING_SIGNATURE}}))
            await self._send(chunk_frame({"type": "content_block_stop", "index": 0}))
            index = 1
        if tool_name:
            await self._send(chunk_frame({"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": TOOL_USE_ID, "name": tool_name, "input": {}}}))
            for frag in TOOL_INPUT_FRAGMENTS:
                await self._send(chunk_frame({"type": "content_block_delta", "index": index,
                                              "delta": {"type": "input_json_delta", "partial_json": frag}}), True)
            stop, output = "tool_use", TOOL_OUTPUT_TOKENS
        else:
            await self._send(chunk_frame({"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}))
            for i, frag in enumerate(TEXT_FRAGMENTS):
                await self._send(chunk_frame({"type": "content_block_delta", "index": index,
                                              "delta": {"type": "text_delta", "text": frag}}), split=i == 1)
                if broken:
                    await self._send(exception_frame(
                        "modelStreamErrorException",
                        "The model stream was interrupted: the model is overloaded, try again."))
                    self.finish()
                    return
            stop, output = "end_turn", TEXT_OUTPUT_TOKENS
        output += THINKING_TOKENS if thinking else 0
        await self._send(chunk_frame({"type": "content_block_stop", "index": index}))
        await self._send(chunk_frame({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {"output_tokens": output}}))
        await self._send(chunk_frame({"type": "message_stop", "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": INPUT_TOKENS + CACHE_READ_TOKENS, "outputTokenCount": output,
            "invocationLatency": 420, "firstByteLatency": 120}}))
        self.finish()


def make_bedrock_app(recorder: list[dict[str, Any]]) -> Application:
    return Application([
        (r"/model/([^/]+)/(invoke|invoke-with-response-stream|converse|converse-stream)", FakeBedrockHandler, {"recorder": recorder}),
    ])


__all__ = ["make_bedrock_app", "verify_sigv4", "encode_frame", "chunk_frame", "exception_frame", "KEYS", "SECRET",
           "REGION", "EU_REGION", "SESSION_TOKEN", "GOOD_KEY", "TEXT_REPLY", "TOOL_INPUT", "INPUT_TOKENS",
           "CACHE_READ_TOKENS", "TEXT_OUTPUT_TOKENS", "THINKING_TEXT", "THINKING_SIGNATURE", "THINKING_TOKENS",
           "TOOL_OUTPUT_TOKENS", "MESSAGE_ID", "TOOL_USE_ID", "converse_frame", "converse_problem", "CONVERSE_REPLY",
           "CONVERSE_TOOL_PREFACE", "CONVERSE_TOOL_USE_ID", "CONVERSE_INPUT_TOKENS", "CONVERSE_OUTPUT_TOKENS",
           "CONVERSE_TOOL_OUTPUT_TOKENS"]
