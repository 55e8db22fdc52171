"""A fake Google Gemini API (AI Studio) for integration tests: a real Tornado app.

``make_gemini_app(recorder)`` serves ``POST /{v1beta|v1}/models/{model}:{method}`` for
``generateContent``, ``streamGenerateContent`` (SSE with ``?alt=sse``, else a JSON
array, as Gemini does) and ``batchEmbedContents``. Every request is recorded as
``{"path", "query", "headers", "json"}`` and then checked the way Gemini checks it:

* the key must come in the ``x-goog-api-key`` header (403 PERMISSION_DENIED without one);
* camelCase fields only; an unknown field anywhere the fake knows the shape of
  (top level, generationConfig, parts, function schemas: ``additionalProperties``,
  ``$schema``…) is a 400 ``Unknown name "…": Cannot find field.``;
* roles are ``user``/``model``; parts carry exactly one datum; text is never empty;
  a tool-result turn answers as many calls as the model turn before it made;
* safety settings name real categories and thresholds; an embedding request names
  ``models/{the model in the URL}``.

Keys choose failures: ``bad-key`` → 400 ``API_KEY_INVALID``; ``fail-429`` → 429
RESOURCE_EXHAUSTED; ``fail-500`` → 500 INTERNAL; ``fail-503`` → 503 UNAVAILABLE;
``streamerror`` (substring) → a stream that sends an error object after its first chunk;
``nousage`` (substring) → no ``usageMetadata``. On success the answer is a
``functionCall`` of the first allowed tool when the request has tools (and the last turn
is not a tool result), else a text: ``TOOL_RESULT_REPLY`` after a tool result, else
``TEXT_REPLY``; a stream sends the text in ``TEXT_FRAGMENTS``, ``\\r\\n``-framed like Gemini.
"""

from __future__ import annotations

import json
from typing import Any

from tornado.web import Application, RequestHandler

TEXT_REPLY = "Hello from Gemini"
TEXT_FRAGMENTS = ["Hello", " from", " Gemini"]
TOOL_RESULT_REPLY = "It is sunny in Paris."
TOOL_ARGS = {"city": "Paris"}
THOUGHT_SIGNATURE = "c2lnbmF0dXJlLWZha2U="
PROMPT_TOKENS = 11
TEXT_TOKENS = 6
TOOL_TOKENS = 8
RESPONSE_ID = "fakeGeminiResponse01"
EMBEDDING = [0.5, -0.25, 0.125]

TOP_FIELDS = frozenset({"contents", "systemInstruction", "generationConfig", "safetySettings", "tools",
                        "toolConfig", "cachedContent"})
GENERATION_FIELDS = frozenset({
    "temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount", "responseMimeType",
    "responseSchema", "seed", "presencePenalty", "frequencyPenalty", "thinkingConfig", "responseLogprobs",
    "logprobs", "responseModalities",
})
PART_DATA = frozenset({"text", "inlineData", "fileData", "functionCall", "functionResponse"})
PART_FIELDS = PART_DATA | {"thought", "thoughtSignature"}
SCHEMA_FIELDS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "items", "properties", "required",
    "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties", "minimum", "maximum",
    "pattern", "anyOf", "propertyOrdering", "example",
})
CATEGORIES = frozenset({"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
                        "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY"})
THRESHOLDS = frozenset({"BLOCK_NONE", "BLOCK_ONLY_HIGH", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_LOW_AND_ABOVE", "OFF"})
TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object",
                   "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"})


class Invalid(Exception):
    def __init__(self, message: str, status: int = 400, gstatus: str = "INVALID_ARGUMENT",
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.message, self.status, self.gstatus, self.reason = message, status, gstatus, reason


def _unknown(name: str, where: str) -> Invalid:
    return Invalid(f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field.")


def check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise Invalid(f"* {where}: schema must be an object")
    for key in schema:
        if key not in SCHEMA_FIELDS:
            raise _unknown(key, where)
    t = schema.get("type")
    if t is not None and t not in TYPES:
        raise Invalid(f"Invalid value at '{where}.type' ({t!r})")
    if isinstance(schema.get("properties"), dict):
        for name, sub in schema["properties"].items():
            check_schema(sub, f"{where}.properties[{name}].value")
    if "items" in schema:
        check_schema(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("anyOf") or ()):
        check_schema(sub, f"{where}.any_of[{i}]")
    if str(t).lower() == "array" and "items" not in schema:
        raise Invalid(f"* {where}.items: missing field.")
    if schema.get("enum") is not None and str(t).lower() != "string":
        raise Invalid(f"* {where}.enum: only allowed for STRING type")


def check_generate(body: Any) -> None:
    if not isinstance(body, dict):
        raise Invalid("Invalid JSON payload received.")
    for key in body:
        if key not in TOP_FIELDS:
            raise _unknown(key, "")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise Invalid("* GenerateContentRequest.contents: contents is not specified")
    calls_before = 0
    for i, content in enumerate(contents):
        if not isinstance(content, dict) or set(content) - {"role", "parts"}:
            raise _unknown(next(iter(set(content) - {"role", "parts"})) if isinstance(content, dict) else "?",
                           f"contents[{i}]")
        if content.get("role") not in ("user", "model"):
            raise Invalid(f"Please use a valid role: user, model. (contents[{i}].role={content.get('role')!r})")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise Invalid(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.")
        responses = 0
        calls = 0
        for j, part in enumerate(parts):
            where = f"contents[{i}].parts[{j}]"
            if not isinstance(part, dict):
                raise Invalid(f"* {where}: must be an object")
            for key in part:
                if key not in PART_FIELDS:
                    raise _unknown(key, where)
            data = [k for k in part if k in PART_DATA]
            if len(data) != 1:
                raise Invalid(f"* {where}: exactly one data field is required, got {data}")
            kind = data[0]
            if kind == "text" and (not isinstance(part["text"], str) or not part["text"]):
                raise Invalid("Unable to submit request because it has an empty text parameter.")
            if kind == "inlineData":
                d = part["inlineData"]
                if not isinstance(d, dict) or not d.get("mimeType") or not isinstance(d.get("data"), str):
                    raise Invalid(f"* {where}.inline_data: mime_type and data are required")
            if kind == "fileData":
                d = part["fileData"]
                if not isinstance(d, dict) or not d.get("fileUri"):
                    raise Invalid(f"* {where}.file_data.file_uri: missing field.")
            if kind == "functionCall":
                fc = part["functionCall"]
                if content["role"] != "model" or not isinstance(fc, dict) or not fc.get("name") \
                        or not isinstance(fc.get("args", {}), dict):
                    raise Invalid(f"* {where}.function_call: invalid")
                calls += 1
            if kind == "functionResponse":
                fr = part["functionResponse"]
                if content["role"] != "user" or not isinstance(fr, dict) or not fr.get("name") \
                        or not isinstance(fr.get("response"), dict):
                    raise Invalid(f"* {where}.function_response: invalid")
                responses += 1
        if responses and responses != calls_before:
            raise Invalid("Please ensure that the number of function response parts is equal to the number of "
                          "function call parts of the function call turn.")
        calls_before = calls
    system = body.get("systemInstruction")
    if system is not None:
        parts = system.get("parts") if isinstance(system, dict) else None
        if not isinstance(parts, list) or not parts or any(
                not isinstance(p, dict) or set(p) != {"text"} or not p["text"] for p in parts):
            raise Invalid("* GenerateContentRequest.system_instruction: text parts only")
    cfg = body.get("generationConfig")
    if cfg is not None:
        if not isinstance(cfg, dict):
            raise Invalid("* generation_config: must be an object")
        for key in cfg:
            if key not in GENERATION_FIELDS:
                raise _unknown(key, "generation_config")
        if "responseSchema" in cfg:
            check_schema(cfg["responseSchema"], "generation_config.response_schema")
    seen = set()
    for s in body.get("safetySettings") or ():
        if not isinstance(s, dict) or s.get("category") not in CATEGORIES or s.get("threshold") not in THRESHOLDS:
            raise Invalid(f"Invalid value at 'safety_settings' ({s!r})")
        if s["category"] in seen:
            raise Invalid(f"* safety_settings: duplicate category {s['category']}")
        seen.add(s["category"])
    for i, tool in enumerate(body.get("tools") or ()):
        if not isinstance(tool, dict) or set(tool) - {"functionDeclarations"}:
            raise _unknown("?", f"tools[{i}]")
        for j, decl in enumerate(tool.get("functionDeclarations") or ()):
            where = f"tools[{i}].function_declarations[{j}]"
            if not isinstance(decl, dict) or not decl.get("name") or set(decl) - {"name", "description", "parameters"}:
                raise Invalid(f"* {where}: invalid function declaration")
            if "parameters" in decl:
                check_schema(decl["parameters"], where + ".parameters")
                if not decl["parameters"].get("properties"):
                    raise Invalid(f"* {where}.parameters.properties: should be non-empty for OBJECT type")
    tc = body.get("toolConfig")
    if tc is not None:
        fcc = tc.get("functionCallingConfig") if isinstance(tc, dict) else None
        if not isinstance(fcc, dict) or fcc.get("mode") not in ("AUTO", "ANY", "NONE"):
            raise Invalid("* tool_config.function_calling_config.mode: invalid")
        if "allowedFunctionNames" in fcc and fcc["mode"] != "ANY":
            raise Invalid("* allowed_function_names: only with mode ANY")
        if not body.get("tools"):
            raise Invalid("* tool_config: requires tools")


def check_embed(body: Any, model: str) -> list[str]:
    if not isinstance(body, dict) or set(body) != {"requests"}:
        raise Invalid("Invalid JSON payload received. batchEmbedContents takes {\"requests\": [...]}")
    texts = []
    for i, r in enumerate(body["requests"]):
        if not isinstance(r, dict) or set(r) - {"model", "content", "taskType", "title", "outputDimensionality"}:
            raise _unknown("?", f"requests[{i}]")
        if r.get("model") != f"models/{model}":
            raise Invalid(f"* BatchEmbedContentsRequest.model: requests[{i}].model must be models/{model}, "
                          f"got {r.get('model')!r}")
        parts = (r.get("content") or {}).get("parts")
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) and "text" in p for p in parts):
            raise Invalid(f"* requests[{i}].content.parts: text parts required")
        texts.append("".join(p["text"] for p in parts))
    return texts


class FakeGeminiHandler(RequestHandler):
    recorder: list[dict[str, Any]]

    def initialize(self, recorder: list[dict[str, Any]]) -> None:
        self.recorder = recorder

    def check_xsrf_cookie(self) -> None:  # an API, not a form
        return None

    def _error(self, status: int, gstatus: str, message: str, reason: str | None = None) -> None:
        err: dict[str, Any] = {"code": status, "message": message, "status": gstatus}
        if reason:
            err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                               "domain": "googleapis.com",
                               "metadata": {"service": "generativelanguage.googleapis.com"}}]
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": err}, indent=2))

    async def post(self, version: str, model: str, method: str) -> None:
        try:
            body: Any = json.loads(self.request.body or b"")
        except ValueError:
            body = None
        self.recorder.append({"path": self.request.path, "query": self.request.query,
                              "headers": dict(self.request.headers), "json": body})
        key = self.request.headers.get("x-goog-api-key")
        if not key:
            return self._error(403, "PERMISSION_DENIED",
                               "Method doesn't allow unregistered callers (callers without established identity). "
                               "Please use API Key or other form of API consumer identity to call this API.")
        if key == "bad-key":
            return self._error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                               "API_KEY_INVALID")
        if key == "fail-429":
            return self._error(429, "RESOURCE_EXHAUSTED",
                               "Resource has been exhausted (e.g. check quota).")
        if key == "fail-500":
            return self._error(500, "INTERNAL", "An internal error has occurred. Please retry.")
        if key == "fail-503":
            return self._error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        try:
            if method == "batchEmbedContents":
                texts = check_embed(body, model)
                self.set_header("Content-Type", "application/json; charset=UTF-8")
                return self.finish(json.dumps({"embeddings": [{"values": EMBEDDING} for _ in texts]}))
            check_generate(body)
        except Invalid as e:
            return self._error(e.status, e.gstatus, e.message, e.reason)
        usage = "nousage" not in key
        if method == "streamGenerateContent":
            await self._stream(body, model, usage, sse=self.get_query_argument("alt", "") == "sse",
                               error_midway="streamerror" in key)
        else:
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json.dumps(self._response(body, model, usage), indent=2))

    # -- answers -------------------------------------------------------------------------------
    @staticmethod
    def _tool_to_call(body: dict[str, Any]) -> str | None:
        decls = [d for t in body.get("tools") or () for d in t.get("functionDeclarations") or ()]
        fcc = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        if not decls or fcc.get("mode") == "NONE":
            return None
        last = body["contents"][-1]
        if any("functionResponse" in p for p in last["parts"]):
            return None
        allowed = fcc.get("allowedFunctionNames")
        return str(allowed[0] if allowed else decls[0]["name"])

    @staticmethod
    def _answered_tool(body: dict[str, Any]) -> bool:
        return any("functionResponse" in p for p in body["contents"][-1]["parts"])

    def _usage(self, completion: int) -> dict[str, int]:
        return {"promptTokenCount": PROMPT_TOKENS, "candidatesTokenCount": completion,
                "totalTokenCount": PROMPT_TOKENS + completion}

    def _response(self, body: dict[str, Any], model: str, usage: bool) -> dict[str, Any]:
        tool = self._tool_to_call(body)
        n = int((body.get("generationConfig") or {}).get("candidateCount") or 1)
        if tool:
            parts: list[dict[str, Any]] = [{"functionCall": {"name": tool, "args": TOOL_ARGS},
                                            "thoughtSignature": THOUGHT_SIGNATURE}]
            tokens = TOOL_TOKENS
        else:
            text = TOOL_RESULT_REPLY if self._answered_tool(body) else TEXT_REPLY
            parts = [{"text": frag} for frag in TEXT_FRAGMENTS] if text == TEXT_REPLY else [{"text": text}]
            tokens = TEXT_TOKENS
        out: dict[str, Any] = {
            "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": i}
                           for i in range(n)],
            "modelVersion": model, "responseId": RESPONSE_ID,
        }
        if usage:
            out["usageMetadata"] = self._usage(tokens * n)
        return out

    async def _stream(self, body: dict[str, Any], model: str, usage: bool, sse: bool, error_midway: bool) -> None:
        tool = self._tool_to_call(body)
        chunks: list[dict[str, Any]] = []
        if tool:
            chunks.append({"candidates": [{"content": {"parts": [
                {"functionCall": {"name": tool, "args": TOOL_ARGS}, "thoughtSignature": THOUGHT_SIGNATURE}],
                "role": "model"}, "finishReason": "STOP", "index": 0}]})
            totals = [TOOL_TOKENS]
        else:
            frags = TEXT_FRAGMENTS if not self._answered_tool(body) else [TOOL_RESULT_REPLY]
            for i, frag in enumerate(frags):
                cand: dict[str, Any] = {"content": {"parts": [{"text": frag}], "role": "model"}, "index": 0}
                if i == len(frags) - 1:
                    cand["finishReason"] = "STOP"
                chunks.append({"candidates": [cand]})
            totals = [TEXT_TOKENS * (i + 1) // len(frags) for i in range(len(frags))]
        for chunk, total in zip(chunks, totals):
            if usage:
                chunk["usageMetadata"] = self._usage(total)
            chunk["modelVersion"] = model
            chunk["responseId"] = RESPONSE_ID
        if error_midway:
            chunks = chunks[:1] + [{"error": {"code": 503, "message": "The model is overloaded.",
                                              "status": "UNAVAILABLE"}}]
            for c in chunks[:1]:
                c["candidates"][0].pop("finishReason", None)
        if sse:
            self.set_header("Content-Type", "text/event-stream")
            for chunk in chunks:
                self.write("data: " + json.dumps(chunk) + "\r\n\r\n")
                await self.flush()
        else:  # without alt=sse Gemini streams one JSON array, element by element
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            for i, chunk in enumerate(chunks):
                self.write(("[" if i == 0 else ",\r\n") + json.dumps(chunk, indent=2))
                await self.flush()
            self.write("]")
        self.finish()


def make_gemini_app(recorder: list[dict[str, Any]]) -> Application:
    return Application([
        (r"/(v1beta|v1|v1alpha)/models/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents)",
         FakeGeminiHandler, {"recorder": recorder}),
    ])


__all__ = ["FakeGeminiHandler", "make_gemini_app", "TEXT_REPLY", "TEXT_FRAGMENTS", "TOOL_RESULT_REPLY",
           "TOOL_ARGS", "THOUGHT_SIGNATURE", "PROMPT_TOKENS", "TEXT_TOKENS", "TOOL_TOKENS", "EMBEDDING",
           "RESPONSE_ID"]
