"""Google Gemini, native (channel type 24): OpenAI chat/embeddings <-> the Gemini API.

Everything here is a pure converter (PROVIDERS.md §2):

* :func:`to_gemini_request` builds a ``generateContent`` body from an OpenAI chat
  body (camelCase fields; all system/developer messages → ``systemInstruction``;
  ``assistant`` → role ``model``; tool calls → ``functionCall`` parts; tool results →
  ``functionResponse`` parts; every harm category at the configured threshold);
* :func:`sanitize_schema` turns a JSON Schema into the OpenAPI subset Gemini's
  protobuf parser accepts (an unknown key such as ``additionalProperties`` fails the
  whole call with 400 "Unknown name");
* :func:`to_openai_response` turns a ``GenerateContentResponse`` into a
  ``chat.completion`` (all text parts joined, thought parts → ``reasoning_content``,
  each ``functionCall`` → a tool call ``call_…`` with JSON arguments);
* :class:`GeminiStream` transcodes ``:streamGenerateContent?alt=sse`` (each ``data:``
  a whole response object; the stream ends when the connection closes, no ``[DONE]``);
* :func:`to_gemini_embeddings` / :func:`to_openai_embeddings` for ``:batchEmbedContents``;
* :func:`parse_gemini_error` normalises ``{"error":{"code","message","status","details"}}``
  (a bad key is **400** ``API_KEY_INVALID``: it disables the channel, unlike other 400s).

Traps avoided (One API bugs): every text part is kept, not only ``parts[0]``; every
function call of a response becomes a tool call; ``usageMetadata`` is read (One API
counted locally); the model name answered is the one the client asked for.
"""

from __future__ import annotations

import json
import mimetypes
import re
import urllib.parse
from typing import Any, Callable

from .base import (
    CHAT,
    EMBEDDINGS,
    Adaptor,
    ChannelTarget,
    ParsedResponse,
    RelayRequest,
    StreamTranscoder,
    UpstreamFailure,
    UpstreamRequest,
    Usage,
    failure_verdicts,
)
from .common import (
    tool_choice_name,
    ChatStream,
    assistant_message,
    channel_base_url,
    channel_config,
    chat_completion,
    choice,
    count_tokens,
    dumps,
    embedding_texts,
    embeddings_list,
    error_payload,
    failure,
    finish_lookup,
    is_number,
    loads_or_none,
    max_output_tokens,
    new_call_id,
    new_completion_id,
    parse_data_url,
    positive_int,
    raw_message,
    stop_list,
    tool_arguments,
)
from .registry import PROVIDERS
from .sse import SSEDecoder, SSEEvent

DEFAULT_BASE_URL = PROVIDERS[24].base_url
DEFAULT_VERSION = "v1beta"
DEFAULT_SAFETY_THRESHOLD = "BLOCK_NONE"

# Every adjustable harm category (One API's four + civic integrity), each set to the threshold.
SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
)

# Gemini finishReason -> OpenAI finish_reason (PROVIDERS.md §0); STOP with a functionCall
# part is "tool_calls"; anything unknown is "stop".
FINISH_REASONS: dict[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}

# Top-level fields of a generateContent body (what the converter may emit).
GEMINI_REQUEST_FIELDS = frozenset({
    "contents", "systemInstruction", "generationConfig", "safetySettings", "tools", "toolConfig",
})

# OpenAI reasoning_effort -> thinkingConfig.thinkingBudget (Gemini 2.5).
THINKING_BUDGETS = {"none": 0, "low": 1024, "medium": 8192, "high": 24576}

# Gemini 3 rejects a replayed functionCall without its thoughtSignature; this documented
# sentinel lets history from elsewhere (no signature) through.
SKIP_SIGNATURE = "skip_thought_signature_validator"

MAX_STOP_SEQUENCES = 5
_VERSION_SUFFIX = re.compile(r"/v\d+(?:(?:alpha|beta)\d*)?$")


def finish_reason(reason: Any, has_tool_calls: bool = False) -> str | None:
    """Map a Gemini ``finishReason``; None stays None (the candidate is not finished)."""
    if reason is None:
        return None
    return finish_lookup(FINISH_REASONS, reason, has_tool_calls)


# --------------------------------------------------------------------------- schemas

# The OpenAPI-subset Schema fields Gemini accepts; everything else is dropped.
_SCHEMA_SCALARS = frozenset({
    "title", "description", "pattern", "minItems", "maxItems", "minLength", "maxLength",
    "minProperties", "maxProperties", "minimum", "maximum",
})
_FORMATS = {
    "string": frozenset({"enum", "date-time"}),
    "integer": frozenset({"int32", "int64"}),
    "number": frozenset({"float", "double"}),
}
_MAX_SCHEMA_DEPTH = 24


def sanitize_schema(schema: Any, defs: dict[str, Any] | None = None, depth: int = 0) -> dict[str, Any]:
    """A JSON Schema reduced to what Gemini's ``Schema`` accepts.

    ``$ref`` into ``$defs``/``definitions`` is inlined (recursion is cut at a depth);
    ``type: [X, "null"]`` and ``anyOf: [X, {type: null}]`` become ``X`` + ``nullable``;
    ``const`` becomes a one-value ``enum``; ``enum`` is kept for strings only;
    ``format`` only where Gemini knows it; ``required`` only names existing properties;
    ``$schema``, ``additionalProperties``, ``propertyNames``, ``default``, ``examples``… go.
    """
    if not isinstance(schema, dict) or depth > _MAX_SCHEMA_DEPTH:
        return {}
    if defs is None:
        defs = {}
        for key in ("definitions", "$defs"):
            if isinstance(schema.get(key), dict):
                defs.update(schema[key])
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        merged = {**target, **rest} if isinstance(target, dict) else rest
        return sanitize_schema(merged, defs, depth + 1)

    out: dict[str, Any] = {}
    nullable = schema.get("nullable") is True

    all_of = schema.get("allOf")
    if isinstance(all_of, list):
        for sub in all_of:
            for k, v in sanitize_schema(sub, defs, depth + 1).items():
                out.setdefault(k, v)

    t = schema.get("type")
    if isinstance(t, list):
        types = [x for x in t if isinstance(x, str)]
        if "null" in types:
            nullable = True
            types = [x for x in types if x != "null"]
        if len(types) > 1:
            rest = {k: v for k, v in schema.items() if k not in ("type", "nullable")}
            out["anyOf"] = [sanitize_schema({**rest, "type": x}, defs, depth + 1) for x in types]
            if nullable:
                out["nullable"] = True
            return out
        t = types[0] if types else None
    if t == "null":
        nullable, t = True, None
    if isinstance(t, str):
        out["type"] = t.lower()

    variants = schema.get("anyOf") if isinstance(schema.get("anyOf"), list) else schema.get("oneOf")
    if isinstance(variants, list):
        kept = []
        for sub in variants:
            if isinstance(sub, dict) and sub.get("type") == "null" and len(sub) == 1:
                nullable = True
                continue
            clean = sanitize_schema(sub, defs, depth + 1)
            if clean:
                kept.append(clean)
        if len(kept) == 1 and "type" not in out:
            for k, v in kept[0].items():
                out.setdefault(k, v)
        elif kept:
            out["anyOf"] = kept

    for key in _SCHEMA_SCALARS:
        v = schema.get(key)
        if key in ("title", "description", "pattern"):
            if isinstance(v, str) and v:
                out[key] = v
        elif is_number(v):
            out[key] = v
    if "minimum" not in out and is_number(schema.get("exclusiveMinimum")):
        out["minimum"] = schema["exclusiveMinimum"]
    if "maximum" not in out and is_number(schema.get("exclusiveMaximum")):
        out["maximum"] = schema["exclusiveMaximum"]

    enum = schema.get("enum")
    if "const" in schema and not isinstance(enum, list):
        enum = [schema["const"]]
    if isinstance(enum, list):
        if None in enum:
            nullable = True
        values = [v for v in enum if v is not None]
        if values and all(isinstance(v, str) for v in values) and out.get("type", "string") == "string":
            out["type"] = "string"
            out["enum"] = values

    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(str(out.get("type")), frozenset()):
        out["format"] = fmt

    props = schema.get("properties")
    if isinstance(props, dict):
        clean_props = {str(name): sanitize_schema(sub, defs, depth + 1) for name, sub in props.items()}
        if clean_props:
            out["properties"] = clean_props
            out.setdefault("type", "object")
            required = schema.get("required")
            if isinstance(required, list):
                names = [r for r in required if isinstance(r, str) and r in clean_props]
                if names:
                    out["required"] = list(dict.fromkeys(names))

    items = schema.get("items")
    if isinstance(items, list):  # tuple form: the first item schema stands for all
        items = items[0] if items else None
    if isinstance(items, dict):
        out["items"] = sanitize_schema(items, defs, depth + 1)
        out.setdefault("type", "array")
    elif out.get("type") == "array":
        out["items"] = {"type": "string"}  # Gemini requires items for ARRAY

    if nullable:
        out["nullable"] = True
    return out


# --------------------------------------------------------------------------- request


def _guess_mime(url: str, default: str) -> str:
    path = urllib.parse.urlsplit(url).path
    guessed, _ = mimetypes.guess_type(path)
    return guessed or default


def media_part(url: str, default_mime: str = "image/jpeg") -> dict[str, Any] | None:
    """An OpenAI image/file URL as a Gemini part: data URL → ``inlineData``; http(s), gs://
    and File API URLs → ``fileData`` (Gemini fetches those itself)."""
    url = url.strip()
    if url.startswith("data:"):
        parsed = parse_data_url(url)
        if parsed is None:
            return None
        mime, data = parsed
        return {"inlineData": {"mimeType": mime or "application/octet-stream", "data": data}}
    if url.startswith(("http://", "https://", "gs://")):
        return {"fileData": {"mimeType": _guess_mime(url, default_mime), "fileUri": url}}
    return None


_AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3", "flac": "audio/flac", "aac": "audio/aac",
               "ogg": "audio/ogg", "opus": "audio/ogg", "pcm16": "audio/pcm", "webm": "audio/webm"}


def content_parts(content: Any) -> list[dict[str, Any]]:
    """OpenAI message content (string or parts) as Gemini parts; empty text is dropped
    (Gemini rejects an empty text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return []
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            if part:
                parts.append({"text": part})
            continue
        if not isinstance(part, dict):
            continue
        ptype = part.get("type")
        out: dict[str, Any] | None = None
        if ptype == "text" or (ptype is None and isinstance(part.get("text"), str)):
            text = part.get("text")
            if isinstance(text, str) and text:
                out = {"text": text}
        elif ptype in ("image_url", "image"):
            img = part.get("image_url")
            url = img.get("url") if isinstance(img, dict) else img
            if isinstance(url, str):
                out = media_part(url, "image/jpeg")
        elif ptype == "input_audio":
            audio = part.get("input_audio")
            if isinstance(audio, dict) and isinstance(audio.get("data"), str):
                fmt = str(audio.get("format") or "wav").lower()
                out = {"inlineData": {"mimeType": _AUDIO_MIME.get(fmt, "audio/" + fmt), "data": audio["data"]}}
        elif ptype == "file":
            f = part.get("file")
            if isinstance(f, dict) and isinstance(f.get("file_data"), str):
                data = f["file_data"]
                if data.startswith("data:"):
                    out = media_part(data, "application/pdf")
                else:
                    mime = _guess_mime(str(f.get("filename") or ""), "application/pdf")
                    out = {"inlineData": {"mimeType": mime, "data": data}}
        if out is not None:
            parts.append(out)
    return parts


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content_parts(content) if "text" in p)


def _signature_of(tc: dict[str, Any]) -> str | None:
    """A thought signature carried on an OpenAI tool call (Google's compat-endpoint spelling)."""
    extra = tc.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    sig = google.get("thought_signature") if isinstance(google, dict) else None
    return sig if isinstance(sig, str) and sig else None


def _function_call_parts(tool_calls: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if not isinstance(tool_calls, list):
        return parts
    for tc in tool_calls:
        if not isinstance(tc, dict):
            continue
        fn = tc.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        if isinstance(tc.get("id"), str):
            names[tc["id"]] = fn["name"]
        part: dict[str, Any] = {"functionCall": {"name": fn["name"], "args": tool_arguments(fn.get("arguments"))}}
        sig = _signature_of(tc)
        if sig:
            part["thoughtSignature"] = sig
        parts.append(part)
    return parts


def _function_response(msg: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A ``role: tool`` (or legacy ``role: function``) message as a ``functionResponse`` part.
    The name comes from the assistant tool call it answers; the result must be an object:
    a JSON object is sent as it is, anything else wrapped as ``{"content": …}``."""
    call_id = msg.get("tool_call_id")
    name = names.get(call_id) if isinstance(call_id, str) else None
    if not name:
        name = msg.get("name") if isinstance(msg.get("name"), str) and msg.get("name") else str(call_id or "function")
    text = _text_of(msg.get("content"))
    response: dict[str, Any]
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        response = parsed
    else:
        response = {"content": text}
    return {"functionResponse": {"name": name, "response": response}}


def convert_messages(messages: Any, model: str = "") -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(systemInstruction, contents) for Gemini from OpenAI chat messages.

    System and developer messages all go to ``systemInstruction``; ``assistant`` is role
    ``model``; tool results are ``functionResponse`` parts of a user turn, the results of
    one batch of calls grouped into one turn (Gemini wants as many responses as calls);
    messages of the same kind next to each other merge; messages left empty are dropped.
    """
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    kinds: list[str] = []
    names: dict[str, str] = {}  # tool_call_id -> function name
    if not isinstance(messages, list):
        return None, contents
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role in ("system", "developer"):
            system.extend(p for p in content_parts(msg.get("content")) if "text" in p)
            continue
        if role in ("tool", "function"):
            g_role, kind, parts = "user", "tool", [_function_response(msg, names)]
        elif role == "assistant":
            parts = [p for p in content_parts(msg.get("content")) if "text" in p]
            calls = _function_call_parts(msg.get("tool_calls"), names)
            fc = msg.get("function_call")  # legacy single call
            if not calls and isinstance(fc, dict) and isinstance(fc.get("name"), str):
                calls = [{"functionCall": {"name": fc["name"], "args": tool_arguments(fc.get("arguments"))}}]
            if calls and model.startswith("gemini-3") and not any("thoughtSignature" in c for c in calls):
                calls[0]["thoughtSignature"] = SKIP_SIGNATURE
            g_role, kind, parts = "model", "model", parts + calls
        elif role == "user":
            g_role, kind, parts = "user", "user", content_parts(msg.get("content"))
        else:
            continue
        if not parts:
            continue
        if contents and kinds[-1] == kind:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": g_role, "parts": parts})
            kinds.append(kind)
    return ({"parts": system} if system else None), contents


def convert_tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools as one Gemini ``functionDeclarations`` tool (schemas sanitised;
    a function without parameters properties gets no ``parameters``: Gemini rejects an
    OBJECT with no properties)."""
    decls: list[dict[str, Any]] = []
    if not isinstance(tools, list):
        return []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            continue
        decl: dict[str, Any] = {"name": fn["name"]}
        if isinstance(fn.get("description"), str) and fn["description"]:
            decl["description"] = fn["description"]
        params = sanitize_schema(fn.get("parameters"))
        if params.get("properties"):
            decl["parameters"] = params
        decls.append(decl)
    return [{"functionDeclarations": decls}] if decls else []


def convert_tool_choice(tool_choice: Any) -> dict[str, Any] | None:
    """auto→AUTO, required→ANY, none→NONE, a named function → ANY + allowedFunctionNames."""
    config: dict[str, Any] | None = None
    if tool_choice == "auto":
        config = {"mode": "AUTO"}
    elif tool_choice == "required":
        config = {"mode": "ANY"}
    elif tool_choice == "none":
        config = {"mode": "NONE"}
    elif (name := tool_choice_name(tool_choice)) is not None:
        config = {"mode": "ANY", "allowedFunctionNames": [name]}
    return {"functionCallingConfig": config} if config is not None else None


def generation_config(body: dict[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    temperature = body.get("temperature")
    if is_number(temperature):
        cfg["temperature"] = min(2.0, max(0.0, float(temperature)))
    top_p = body.get("top_p")
    if is_number(top_p):
        cfg["topP"] = min(1.0, max(0.0, float(top_p)))
    top_k = positive_int(body.get("top_k"))
    if top_k is not None:
        cfg["topK"] = top_k
    max_tokens = max_output_tokens(body)
    if max_tokens is not None:
        cfg["maxOutputTokens"] = max_tokens
    stops = stop_list(body.get("stop"))
    if stops:
        cfg["stopSequences"] = stops[:MAX_STOP_SEQUENCES]
    n = positive_int(body.get("n"))
    if n is not None and n > 1:
        cfg["candidateCount"] = n
    seed = body.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        cfg["seed"] = seed
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_object":
            cfg["responseMimeType"] = "application/json"
        elif fmt.get("type") == "json_schema":
            cfg["responseMimeType"] = "application/json"
            js = fmt.get("json_schema")
            schema = js.get("schema") if isinstance(js, dict) else None
            clean = sanitize_schema(schema)
            if clean:
                cfg["responseSchema"] = clean
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort in THINKING_BUDGETS:
        budget = THINKING_BUDGETS[effort]
        cfg["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": True} if budget else \
            {"thinkingBudget": 0}
    return cfg


def safety_settings(threshold: str) -> list[dict[str, str]]:
    return [{"category": c, "threshold": threshold} for c in SAFETY_CATEGORIES]


def to_gemini_request(body: dict[str, Any], model: str = "",
                      safety_threshold: str = DEFAULT_SAFETY_THRESHOLD) -> dict[str, Any]:
    """A ``generateContent`` body from an OpenAI chat body (built field by field; penalties,
    logprobs, user, stream_options… have no Gemini equivalent and are dropped)."""
    system, contents = convert_messages(body.get("messages"), model)
    out: dict[str, Any] = {"contents": contents}
    if system is not None:
        out["systemInstruction"] = system
    cfg = generation_config(body)
    if cfg:
        out["generationConfig"] = cfg
    out["safetySettings"] = safety_settings(safety_threshold or DEFAULT_SAFETY_THRESHOLD)
    tools = convert_tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        choice = convert_tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["toolConfig"] = choice
    return out


# --------------------------------------------------------------------------- response


def gemini_usage(meta: Any) -> Usage | None:
    """prompt = promptTokenCount; completion = totalTokenCount − prompt (thoughts included
    whatever the endpoint's accounting), else candidates + thoughts."""
    if not isinstance(meta, dict):
        return None

    def tok(key: str) -> int:
        v = meta.get(key)
        return int(v) if is_number(v) else 0

    prompt = tok("promptTokenCount")
    total = tok("totalTokenCount")
    completion = total - prompt if total >= prompt and total else tok("candidatesTokenCount") + tok("thoughtsTokenCount")
    return Usage(prompt, max(0, completion))


def _tool_call(part: dict[str, Any], new_id: Callable[[], str]) -> tuple[dict[str, Any], str, str]:
    """(OpenAI tool call, name, JSON arguments) of a ``functionCall`` part."""
    fc = part["functionCall"]
    name = str(fc.get("name") or "")
    args = dumps(fc.get("args") if isinstance(fc.get("args"), dict) else {})
    gid = fc.get("id")
    call: dict[str, Any] = {
        "id": (gid if gid.startswith("call_") else "call_" + gid) if isinstance(gid, str) and gid else new_id(),
        "type": "function",
        "function": {"name": name, "arguments": args},
    }
    sig = part.get("thoughtSignature")
    if isinstance(sig, str) and sig:
        call["extra_content"] = {"google": {"thought_signature": sig}}
    return call, name, args


def _split_parts(parts: Any, new_id: Callable[[], str]) -> tuple[list[str], list[str], list[dict[str, Any]], list[str]]:
    """(texts, thoughts, tool calls, generated pieces) of a candidate's parts."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    generated: list[str] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("functionCall"), dict):
            call, name, args = _tool_call(part, new_id)
            calls.append(call)
            generated += [name, args]
        elif isinstance(part.get("text"), str) and part["text"]:
            (thoughts if part.get("thought") is True else texts).append(part["text"])
            generated.append(part["text"])
    return texts, thoughts, calls, generated


def _candidates(data: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for i, cand in enumerate(data.get("candidates") or ()):
        if isinstance(cand, dict):
            idx = cand.get("index")
            out.append((idx if isinstance(idx, int) and not isinstance(idx, bool) else i, cand))
    return out


def _blocked(data: dict[str, Any]) -> bool:
    fb = data.get("promptFeedback")
    return isinstance(fb, dict) and bool(fb.get("blockReason"))


def to_openai_response(data: dict[str, Any], model: str, created: int | None = None,
                       new_id: Callable[[], str] = new_call_id) -> tuple[dict[str, Any], Usage | None, str]:
    """(chat.completion, usage, generated text) from a ``GenerateContentResponse``."""
    choices: list[dict[str, Any]] = []
    generated: list[str] = []
    for idx, cand in _candidates(data):
        content = cand.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        texts, thoughts, calls, gen = _split_parts(parts, new_id)
        generated += gen
        message = assistant_message("".join(texts), calls, "".join(thoughts))
        choices.append(choice(message, finish_reason(cand.get("finishReason") or "STOP", bool(calls)), idx))
    if not choices:  # the prompt was blocked (promptFeedback.blockReason) or nothing came back
        choices.append(choice(assistant_message(""), "content_filter" if _blocked(data) else "stop"))
    usage = gemini_usage(data.get("usageMetadata"))
    rid = data.get("responseId")
    id_ = "chatcmpl-" + rid if isinstance(rid, str) and rid else new_completion_id()
    return chat_completion(id_, model, choices, usage, created), usage, "".join(generated)


# --------------------------------------------------------------------------- embeddings


def _model_path(model: str) -> str:
    """``models/{m}`` (a name already given as ``models/…`` or ``tunedModels/…`` is kept)."""
    model = model.strip()
    return model if "/" in model else "models/" + model


def to_gemini_embeddings(body: dict[str, Any], model: str) -> dict[str, Any]:
    path = _model_path(model)
    dims = positive_int(body.get("dimensions"))
    requests = []
    for text in embedding_texts(body.get("input"), model):
        r: dict[str, Any] = {"model": path, "content": {"parts": [{"text": text}]}}
        if dims is not None:
            r["outputDimensionality"] = dims
        requests.append(r)
    return {"requests": requests}


def to_openai_embeddings(data: dict[str, Any], model: str, texts: list[str],
                         encoding_format: Any = None) -> tuple[dict[str, Any], Usage]:
    """(OpenAI ``list`` of embeddings, usage); usage counted locally when Gemini gives none."""
    vectors = [(i, emb.get("values") if isinstance(emb, dict) else None)
               for i, emb in enumerate(data.get("embeddings") or ())]
    meta = data.get("usageMetadata")
    prompt = 0
    if isinstance(meta, dict):
        for key in ("promptTokenCount", "totalTokenCount"):
            if is_number(meta.get(key)):
                prompt = int(meta[key])
                break
    if not prompt:
        prompt = count_tokens(texts, model)
    usage = Usage(prompt, 0)
    return embeddings_list(vectors, model, encoding_format, usage), usage


# --------------------------------------------------------------------------- errors

# ErrorInfo reasons that mean the key or project cannot be used at all.
_DISABLING_REASONS = frozenset({
    "API_KEY_INVALID", "API_KEY_EXPIRED", "CONSUMER_SUSPENDED", "SERVICE_DISABLED", "BILLING_DISABLED",
    "API_KEY_SERVICE_BLOCKED",
})


def _error_reason(err: dict[str, Any]) -> str | None:
    for d in err.get("details") or ():
        if isinstance(d, dict) and isinstance(d.get("reason"), str) and d["reason"]:
            return d["reason"]
    return None


def _error_fields(err: Any, fallback: str) -> tuple[str, str | None, str | None]:
    """(message, status such as INVALID_ARGUMENT, ErrorInfo reason) of an ``error`` value."""
    if isinstance(err, dict):
        status = err.get("status")
        return (str(err.get("message") or fallback), status if isinstance(status, str) and status else None,
                _error_reason(err))
    if isinstance(err, str) and err:
        return err, None, None
    return fallback, None, None


def parse_gemini_error(status: int, body: bytes) -> UpstreamFailure:
    data = loads_or_none(body)
    if isinstance(data, list) and data and isinstance(data[0], dict):  # a streamed JSON array
        data = data[0]
    fallback = f"upstream returned HTTP {status}"
    if isinstance(data, dict) and "error" in data:
        message, gstatus, reason = _error_fields(data["error"], fallback)
    elif isinstance(data, dict) and isinstance(data.get("message"), str):
        message, gstatus, reason = data["message"], None, None
    else:
        message, gstatus, reason = raw_message(body, status), None, None
    retryable, disables = failure_verdicts(status, message, gstatus, reason)
    if reason in _DISABLING_REASONS or gstatus == "PERMISSION_DENIED":
        disables = True
    return failure(status, message, gstatus or "upstream_error", reason or gstatus,
                   retryable=retryable, disables=disables)


# --------------------------------------------------------------------------- stream


class GeminiStream(ChatStream):
    """``streamGenerateContent?alt=sse`` in, OpenAI ``chat.completion.chunk`` frames out.

    Each event is a whole response object holding the new parts; ``usageMetadata`` is
    cumulative (the last one is kept); the stream ends when the connection closes, so the
    usage chunk and ``[DONE]`` are sent by :meth:`finish`. ``new_id`` makes tool-call ids
    (tests pass a deterministic one).
    """

    def __init__(self, req: RelayRequest, created: int | None = None,
                 new_id: Callable[[], str] = new_call_id) -> None:
        super().__init__(req, created)
        self._decoder = SSEDecoder()
        self._new_id = new_id
        self._tools: dict[int, int] = {}  # choice index -> tool calls sent
        self._finished: set[int] = set()

    def feed(self, data: bytes) -> list[bytes]:
        return self._handle(self._decoder.feed(data))

    def finish(self) -> list[bytes]:
        out = self._handle(self._decoder.flush())
        if self._sent_done:
            return out
        if self._finished:
            self.done = True
        self._close(out)
        return out

    # -- internals --------------------------------------------------------------------------
    def _handle(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for ev in events:
            if self._sent_done:
                break
            data = ev.data.strip()
            if not data or data == "[DONE]":
                continue
            obj = loads_or_none(data)
            if isinstance(obj, list):  # a JSON-array stream element, should one arrive
                obj = obj[0] if obj and isinstance(obj[0], dict) else None
            if isinstance(obj, dict):
                self._on_response(obj, out)
        return out

    def _on_response(self, obj: dict[str, Any], out: list[bytes]) -> None:
        if "error" in obj and not obj.get("candidates"):
            self._on_error(obj["error"], out)
            return
        rid = obj.get("responseId")
        if not self._id and isinstance(rid, str) and rid:
            self._id = "chatcmpl-" + rid
        usage = gemini_usage(obj.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        cands = _candidates(obj)
        if not cands and _blocked(obj) and 0 not in self._finished:
            self._finished.add(0)
            out.append(self._frame({"content": ""}, "content_filter"))
            return
        for idx, cand in cands:
            if idx in self._finished:
                continue
            content = cand.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            texts, thoughts, calls, gen = _split_parts(parts, self._new_id)
            self.text_parts.extend(gen)
            if thoughts:
                out.append(self._frame({"reasoning_content": "".join(thoughts)}, index=idx))
            if texts:
                out.append(self._frame({"content": "".join(texts)}, index=idx))
            if calls:
                k = self._tools.get(idx, 0)
                self._tools[idx] = k + len(calls)
                out.append(self._frame({"tool_calls": [{"index": k + j, **c} for j, c in enumerate(calls)]},
                                       index=idx))
            reason = cand.get("finishReason")
            if reason:
                self._finished.add(idx)
                delta: dict[str, Any] = {} if idx in self._role_sent else {"content": ""}
                out.append(self._frame(delta, finish_reason(reason, self._tools.get(idx, 0) > 0), index=idx))

    def _on_error(self, err: Any, out: list[bytes]) -> None:
        message, gstatus, reason = _error_fields(err, "upstream stream error")
        self._fail(error_payload(message, gstatus or "upstream_error", reason or gstatus), out)


# --------------------------------------------------------------------------- adaptor


class GeminiAdaptor(Adaptor):
    """Gemini API (AI Studio): ``x-goog-api-key`` auth, version from the channel's
    ``config.api_version``, else ``settings.gemini_version`` (GEMINI_VERSION), else v1beta."""

    name = "gemini"
    modes = frozenset({CHAT, EMBEDDINGS})

    def __init__(self, settings: Any = None) -> None:
        self.version = (getattr(settings, "gemini_version", None) or DEFAULT_VERSION).strip() or DEFAULT_VERSION
        self.safety_threshold = ((getattr(settings, "gemini_safety_setting", None) or DEFAULT_SAFETY_THRESHOLD)
                                 .strip() or DEFAULT_SAFETY_THRESHOLD)

    def api_base(self, target: ChannelTarget) -> str:
        """``{base}/{version}``; a base URL that already ends in a version keeps it."""
        base = channel_base_url(target, DEFAULT_BASE_URL)
        if _VERSION_SUFFIX.search(base):
            return base
        version = channel_config(target).get("api_version")
        version = version.strip().strip("/") if isinstance(version, str) and version.strip() else self.version
        return f"{base}/{version}"

    def url(self, req: RelayRequest, target: ChannelTarget) -> str:
        path = urllib.parse.quote(_model_path(req.model), safe="/-._~")
        if req.mode == EMBEDDINGS:
            method = "batchEmbedContents"
        elif req.stream:
            method = "streamGenerateContent?alt=sse"
        else:
            method = "generateContent"
        return f"{self.api_base(target)}/{path}:{method}"

    def headers(self, target: ChannelTarget) -> dict[str, str]:
        return {"Content-Type": "application/json", "x-goog-api-key": target.key}

    def build_request(self, req: RelayRequest, target: ChannelTarget) -> UpstreamRequest:
        if req.mode == EMBEDDINGS:
            body = to_gemini_embeddings(req.body, req.model)
        else:
            body = to_gemini_request(req.body, req.model, self.safety_threshold)
        return UpstreamRequest("POST", self.url(req, target), self.headers(target), dumps(body).encode())

    def parse_response(self, req: RelayRequest, status: int, body: bytes) -> ParsedResponse:
        data = loads_or_none(body)
        if not isinstance(data, dict):
            return ParsedResponse(body, None, "")
        if req.mode == EMBEDDINGS:
            texts = embedding_texts(req.body.get("input"), req.model)
            out, usage = to_openai_embeddings(data, req.requested_model, texts, req.body.get("encoding_format"))
            return ParsedResponse(dumps(out).encode(), usage, "")
        out, usage, text = to_openai_response(data, req.requested_model)
        return ParsedResponse(dumps(out).encode(), usage, text)

    def new_stream(self, req: RelayRequest) -> StreamTranscoder:
        return GeminiStream(req)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return parse_gemini_error(status, body)


__all__ = [
    "GeminiAdaptor", "GeminiStream", "GEMINI_REQUEST_FIELDS", "SAFETY_CATEGORIES", "FINISH_REASONS",
    "to_gemini_request", "to_openai_response", "to_gemini_embeddings", "to_openai_embeddings",
    "parse_gemini_error", "convert_messages", "convert_tools", "convert_tool_choice", "content_parts",
    "media_part", "sanitize_schema", "generation_config", "gemini_usage", "finish_reason", "embedding_texts",
]
