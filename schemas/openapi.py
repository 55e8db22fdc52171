"""The OpenAPI 3.1 document of OneRelay's ``/api`` and ``/v1`` routes, built from the same
declarations that check the requests (handler ``ops`` and :mod:`schemas.v1`)."""

from __future__ import annotations

import re
from typing import Any

import tornado.web

from .fields import Op, Shape
from . import v1

METHODS = ("GET", "POST", "PUT", "DELETE")
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 2**62}
ENVELOPE = {"type": "object", "required": ["success", "message"],
            "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}}}
API_FAILURE = {"description": "Refused: {success: false, message}",
               "content": {"application/json": {"schema": {
                   "type": "object", "required": ["success", "message"],
                   "properties": {"success": {"const": False}, "message": {"type": "string"}}}}}}
OPENAI_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type"],
    "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                   "param": {"type": ["string", "null"]}, "code": {}}}}}
ANTHROPIC_ERROR = {"type": "object", "required": ["type", "error"], "properties": {
    "type": {"const": "error"},
    "error": {"type": "object", "required": ["type", "message"],
              "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}}}
SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "The console's session cookie (POST /api/user/login)"},
    "accessToken": {"type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "A user's system access token (GET /api/user/token), as it is or after 'Bearer '"},
    "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "sk-...",
               "description": "A token's key: Authorization: Bearer sk-..."},
    "anthropicKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                     "description": "A token's key, as Anthropic's SDK sends it (/v1/messages)"},
}
# Stateful links: what a create answers, and the calls that use its id.
LINKS = {
    "/api/token/": "/api/token/{id}", "/api/channel/": "/api/channel/{id}", "/api/user/": "/api/user/{id}",
}


# One server-sent event, as fuzzers read a text/event-stream answer (each event's fields).
SSE_EVENT = {"type": "object", "properties": {"event": {"type": "string"}, "data": {"type": "string"},
                                              "id": {"type": "string"}, "retry": {"type": "integer"}}}


def _path(pattern: str, params: tuple[str, ...]) -> str:
    names = iter(params or ("id", "rest"))
    out = re.sub(r"\((?:\?:)?[^)]*\)\??", lambda m: "{" + next(names) + "}", pattern)
    out = out.replace("/?", "/").replace("\\.", ".")
    return out


def op_id(method: str, path: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", path) if w]
    return method.lower() + "".join(w[:1].upper() + w[1:] for w in words) + ("" if path.endswith("}") or
                                                                              not path.endswith("/") else "List")


def _query_params(shape: Shape | None) -> list[dict[str, Any]]:
    out = []
    for f in shape.fields if shape else ():
        s = f.schema()
        t = s.get("type")
        if isinstance(t, list):  # a query argument is text: never null
            t = [x for x in t if x != "null"]
            s["type"] = t[0] if len(t) == 1 else t
        if "enum" in s:
            s["enum"] = [e for e in s["enum"] if e is not None]
        out.append({"name": f.name, "in": "query", "required": f.required, "schema": s,
                    **({"description": f.doc} if f.doc else {})})
    return out


def _api_operation(cls: type, method: str, path: str, params: list[str]) -> dict[str, Any]:
    fn = getattr(cls, method.lower())
    op: Op = getattr(cls, "ops", {}).get(method) or Op()
    min_role = getattr(fn, "min_role", None)
    data = op.data or {}
    o: dict[str, Any] = {
        "operationId": op_id(method, path), "tags": [path.split("/")[2]],
        "summary": op.summary or (fn.__doc__ or "").strip().split("\n")[0],
        "parameters": [{"name": p, "in": "path", "required": True,
                        "schema": getattr(cls, "path_schemas", {}).get(p, ID_SCHEMA)} for p in params]
        + _query_params(op.query),
        "responses": {
            "200": {"description": "{success, message, data}", "content": {"application/json": {"schema": {
                **ENVELOPE, "properties": {**ENVELOPE["properties"], "data": data}}}}},
            "default": API_FAILURE,
        },
    }
    if data.get("format") == "csv":  # a file download (log export); a refusal is the usual envelope
        o["responses"]["200"] = {"description": "CSV (UTF-8 with a BOM), streamed; or {success: false, message}",
                                 "content": {"text/csv": {"schema": {"type": "string"}},
                                             "application/json": {"schema": ENVELOPE}}}
    if min_role is not None:
        o["security"] = [{"session": []}, {"accessToken": []}]
        o["description"] = {1: "Any logged-in user.", 10: "Admins.", 100: "The root user."}.get(min_role, "")
    else:
        o["security"] = []
    if op.body is not None:
        o["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body.schema()}}}
    return o


def _v1_operation(path: str, summary: str, body: Shape | None, *, anthropic: bool = False,
                  form: bool = False, method: str = "POST") -> dict[str, Any]:
    err = ANTHROPIC_ERROR if anthropic else OPENAI_ERROR
    o: dict[str, Any] = {
        "operationId": op_id(method, path), "tags": ["v1"], "summary": summary,
        "security": [{"apiKey": []}] + ([{"anthropicKey": []}] if anthropic else []),
        "responses": {
            "200": {"description": "The provider's answer (a JSON object, or server-sent events when streaming)",
                    "content": {"application/json": {"schema": {"type": "object"}},
                                "text/event-stream": {"schema": SSE_EVENT}}},
            "default": {"description": "An error in " + ("Anthropic's" if anthropic else "OpenAI's") + " format",
                        "content": {"application/json": {"schema": err}}},
        },
    }
    if body is not None:
        media = "multipart/form-data" if form else "application/json"
        o["requestBody"] = {"required": True, "content": {media: {"schema": body.schema()}}}
    return o


V1_ROUTES = [
    ("/v1/chat/completions", "Chat completion (stream or not)", v1.CHAT_BODY, {}),
    ("/v1/completions", "Text completion", v1.COMPLETIONS_BODY, {}),
    ("/v1/embeddings", "Embeddings", v1.EMBEDDINGS_BODY, {}),
    ("/v1/moderations", "Moderation", v1.MODERATIONS_BODY, {}),
    ("/v1/edits", "Edits (One API)", v1.EDITS_BODY, {}),
    ("/v1/rerank", "Rerank (Cohere/Jina shape)", v1.RERANK_BODY, {}),
    ("/v1/images/generations", "Image generation", v1.IMAGES_BODY, {}),
    ("/v1/audio/speech", "Text to speech (audio bytes)", v1.SPEECH_BODY, {}),
    ("/v1/images/edits", "Image edit (multipart upload)", v1.UPLOAD_FORM, {"form": True}),
    ("/v1/images/variations", "Image variation (multipart upload)", v1.UPLOAD_FORM, {"form": True}),
    ("/v1/audio/transcriptions", "Transcription (multipart upload)", v1.UPLOAD_FORM, {"form": True}),
    ("/v1/audio/translations", "Translation (multipart upload)", v1.UPLOAD_FORM, {"form": True}),
    ("/v1/messages", "Anthropic Messages", v1.MESSAGES_BODY, {"anthropic": True}),
    ("/v1/messages/count_tokens", "Anthropic token count (free)", v1.MESSAGES_BODY, {"anthropic": True}),
    ("/v1/responses", "OpenAI Responses", v1.RESPONSES_BODY, {}),
]


def build(api_routes: list[Any], version: str = "") -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in api_routes:
        pattern, cls = route[0], route[1]
        if not isinstance(cls, type) or not issubclass(cls, tornado.web.RequestHandler):
            continue
        params = list(getattr(cls, "path_params", ()) or ())
        if "(" in pattern and not params:
            params = ["id"]
        path = _path(pattern, tuple(params))
        for method in METHODS:
            fn = getattr(cls, method.lower(), None)
            if fn is None or fn is getattr(tornado.web.RequestHandler, method.lower()) \
                    or method not in cls.SUPPORTED_METHODS:
                continue
            paths.setdefault(path, {})[method.lower()] = _api_operation(cls, method, path, params)
    for create, item in LINKS.items():
        post, item_ops = paths.get(create, {}).get("post"), paths.get(item, {})
        if post is None:
            continue
        links: dict[str, Any] = {}
        for m in ("get", "delete"):
            if m in item_ops:
                links[m.capitalize() + "Created"] = {"operationId": item_ops[m]["operationId"],
                                                     "parameters": {"id": "$response.body#/data/id"}}
        put = paths[create].get("put")
        if put is not None:
            links["UpdateCreated"] = {"operationId": put["operationId"],
                                      "requestBody": {"id": "$response.body#/data/id"}}
        post["responses"]["200"]["links"] = links
    red = paths.get("/api/redemption/", {})
    if "get" in red and "/api/redemption/{id}" in paths:  # a create answers keys: ids come from the list
        red["get"]["responses"]["200"]["links"] = {
            m.capitalize() + "Listed": {"operationId": paths["/api/redemption/{id}"][m]["operationId"],
                                        "parameters": {"id": "$response.body#/data/0/id"}}
            for m in ("get", "delete")}
    for path, summary, body, kw in V1_ROUTES:
        paths[path] = {"post": _v1_operation(path, summary, body, **kw)}
    paths["/v1/models"] = {"get": _v1_operation("/v1/models", "The key's models", None, method="GET")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "OneRelay", "version": version or "0",
                 "description": "One API's management API (/api: {success, message, data} envelopes, HTTP 200 "
                                "even for refusals, 401 when anonymous) and the OpenAI-compatible relay (/v1)."},
        "paths": dict(sorted(paths.items())),
        "components": {"securitySchemes": SECURITY_SCHEMES},
    }
