"""What each ``/v1`` endpoint accepts and how it is billed.

:func:`parse_request` validates a client's body for its mode (a JSON object, or a multipart
form for uploads) and returns a :class:`Parsed`: the model, whether it streams, the text
fields. The billing helpers price what One API prices differently from tokens: images by
size and quality, speech by input characters, transcripts by audio duration.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from tornado.httputil import HTTPFile, parse_body_arguments

from adaptors.base import (
    CHAT, COMPLETIONS, EDITS, EMBEDDINGS, IMAGE_EDITS, IMAGE_VARIATIONS, IMAGES, MESSAGES, MODERATIONS, RERANK,
    RESPONSES, SPEECH, TRANSCRIPTIONS, TRANSLATIONS, Usage,
)

from schemas import v1 as v1_schemas
from schemas.fields import Invalid, loads

from .errors import BadRequest

FORM_MODES = frozenset({IMAGE_EDITS, IMAGE_VARIATIONS, TRANSCRIPTIONS, TRANSLATIONS})
IMAGE_MODES = frozenset({IMAGES, IMAGE_EDITS, IMAGE_VARIATIONS})
AUDIO_IN_MODES = frozenset({TRANSCRIPTIONS, TRANSLATIONS})
# Images and transcripts stream too (gpt-image-1 partial images, gpt-4o-transcribe deltas).
STREAMING_MODES = frozenset({CHAT, COMPLETIONS, MESSAGES, RESPONSES, IMAGES, IMAGE_EDITS, TRANSCRIPTIONS})

# One API's defaults when the body names no model (middleware/auth.go).
DEFAULT_MODELS = {
    IMAGES: "dall-e-2", IMAGE_EDITS: "dall-e-2", IMAGE_VARIATIONS: "dall-e-2",
    TRANSCRIPTIONS: "whisper-1", TRANSLATIONS: "whisper-1", SPEECH: "tts-1",
    MODERATIONS: "text-moderation-stable",
}

MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # OpenAI's audio and image upload limit
UPLOAD_BODY_LIMIT = MAX_UPLOAD_BYTES + 1024 * 1024  # the file plus the form around it
TRANSCRIPT_FORMATS = frozenset({"json", "text", "srt", "vtt", "verbose_json"})
SPEECH_MAX_CHARS = 4096

# Images (One API relay/billing/ratio/image.go): size → cost multiplier, n limits, prompt limit.
IMAGE_SIZE_RATIOS: dict[str, dict[str, float]] = {
    "dall-e-2": {"256x256": 1, "512x512": 1.125, "1024x1024": 1.25},
    "dall-e-3": {"1024x1024": 1, "1024x1792": 2, "1792x1024": 2},
    "ali-stable-diffusion-xl": {"512x1024": 1, "1024x768": 1, "1024x1024": 1, "576x1024": 1, "1024x576": 1},
    "ali-stable-diffusion-v1.5": {"512x1024": 1, "1024x768": 1, "1024x1024": 1, "576x1024": 1, "1024x576": 1},
    "wanx-v1": {"1024x1024": 1, "720x1280": 1, "1280x720": 1},
    "step-1x-medium": {"256x256": 1, "512x512": 1, "768x768": 1, "1024x1024": 1, "1280x800": 1, "800x1280": 1},
}
IMAGE_AMOUNTS: dict[str, tuple[int, int]] = {
    "dall-e-2": (1, 10), "dall-e-3": (1, 1), "ali-stable-diffusion-xl": (1, 4),
    "ali-stable-diffusion-v1.5": (1, 4), "wanx-v1": (1, 4), "cogview-3": (1, 1), "step-1x-medium": (1, 1),
}
IMAGE_PROMPT_LIMITS = {"dall-e-2": 1000, "dall-e-3": 4000}
DEFAULT_IMAGE_SIZE = {"dall-e-2": "1024x1024", "dall-e-3": "1024x1024"}

# Audio seconds are billed as tokens: 200 a minute, so whisper-1's default ratio (15, i.e.
# $0.03 per 1K tokens) gives OpenAI's $0.006 a minute.
AUDIO_TOKENS_PER_SECOND = 10 / 3
# Before the duration is known, an upload is priced as if it were 128 kbit/s audio.
AUDIO_BYTES_PER_SECOND = 16000


@dataclass
class Parsed:
    body: dict[str, Any]
    model: str
    stream: bool = False
    files: dict[str, list[HTTPFile]] = field(default_factory=dict)


def _bad(message: str, code: str = "invalid_request") -> BadRequest:
    return BadRequest(message, code=code)


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise _bad("The request body is empty: send a JSON object", "invalid_json")
    try:
        body = loads(raw)  # no NaN/Infinity, at most 64 levels deep
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise _bad(e.message if isinstance(e, Invalid) else f"The request body is not valid JSON: {e}",
                   "invalid_json") from None
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object", "invalid_json")
    return body


def parse_form(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, list[HTTPFile]]]:
    """A multipart (or urlencoded) form: its text fields (last value wins) and its files."""
    if "multipart/form-data" not in content_type.lower() and \
            "application/x-www-form-urlencoded" not in content_type.lower():
        raise _bad("This endpoint takes a multipart/form-data upload", "invalid_content_type")
    args: dict[str, list[bytes]] = {}
    files: dict[str, list[HTTPFile]] = {}
    if "multipart/form-data" in content_type.lower():
        multipart_fields(content_type, raw, args, files)
    else:
        parse_body_arguments(content_type, raw, args, files)
    fields: dict[str, Any] = {}
    for k, vs in args.items():
        try:
            fields[k] = vs[-1].decode()
        except UnicodeDecodeError:
            raise _bad(f"Form field `{k}` is not UTF-8 text") from None
    return fields, files


_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.I)
_DISPOSITION_PARAM = re.compile(r';\s*([a-zA-Z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def multipart_fields(content_type: str, raw: bytes, args: dict[str, list[bytes]],
                     files: dict[str, list[HTTPFile]]) -> None:
    """A multipart body's fields and files, found with ``bytes.find`` and kept as views of
    ``raw``: a 20 MB upload is never split or copied on the event loop (Tornado's parser copies
    it twice, about 140 ms here)."""
    m = _BOUNDARY.search(content_type)
    if m is None:
        raise _bad("The multipart Content-Type has no boundary", "invalid_content_type")
    delim = b"--" + (m.group(1) or m.group(2)).encode("latin-1")
    view = memoryview(raw)
    pos = raw.find(delim)
    if pos < 0:
        raise _bad("The multipart body has no part", "invalid_multipart")
    while True:
        start = pos + len(delim)
        if raw[start:start + 2] == b"--":  # the closing delimiter
            return
        head_end = raw.find(b"\r\n\r\n", start)
        nxt = raw.find(b"\r\n" + delim, start)
        if head_end < 0 or nxt < 0 or head_end > nxt:
            raise _bad("The multipart body is malformed (a part has no end)", "invalid_multipart")
        headers = bytes(view[start:head_end]).decode("utf-8", "replace")
        body = view[head_end + 4:nxt]
        disposition, ctype = "", "application/octet-stream"
        for line in headers.split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value.strip()
            elif name.strip().lower() == "content-type":
                ctype = value.strip()
        params = {k.lower(): re.sub(r"\\(.)", r"\1", q) if q else u
                  for k, q, u in _DISPOSITION_PARAM.findall(disposition)}
        field_name = params.get("name")
        if not disposition.lower().startswith("form-data") or not field_name:
            raise _bad("A multipart part has no form-data name", "invalid_multipart")
        if "filename" in params:
            files.setdefault(field_name, []).append(
                HTTPFile(filename=params["filename"], body=body, content_type=ctype))  # type: ignore[arg-type]
        else:
            args.setdefault(field_name, []).append(bytes(body))
        pos = nxt + 2


def _q(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def rebuild_form(fields: dict[str, Any], files: dict[str, list[HTTPFile]]) -> tuple[bytes, str]:
    """A multipart body of these fields and files (when a field had to change): body, type."""
    boundary = "onerelay" + os.urandom(12).hex()
    out = bytearray()
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{_q(name)}\"\r\n\r\n"
                f"{value}\r\n").encode()
    for name, items in files.items():
        for f in items:
            out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{_q(name)}\"; "
                    f"filename=\"{_q(f.filename)}\"\r\nContent-Type: {f.content_type}\r\n\r\n").encode()
            out += f.body
            out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _int_field(body: dict[str, Any], key: str, *, lo: int, hi: int | None = None,
               form: bool = False) -> int | None:
    """An integer field in range; a form's fields are text, so there (only) "2" is 2."""
    v = body.get(key)
    if v is None or (form and v == ""):
        return None
    if isinstance(v, str) and form:
        try:
            v = int(v)
        except ValueError:
            raise _bad(f"`{key}` must be an integer") from None
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise _bad(f"`{key}` must be an integer {rng}")
    return v


def _text_field(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    v = body.get(key)
    if v is None or v == "":
        if required:
            raise _bad(f"`{key}` is required", f"invalid_{key}")
        return None
    if not isinstance(v, str):
        raise _bad(f"`{key}` must be a string", f"invalid_{key}")
    return v


def with_path_model(raw: bytes, model: str) -> bytes:
    """A ``/v1/engines/{model}/...`` body with the path's model written into it: the path names
    the model, and the upstream (``/v1/embeddings``) reads it from the body. A body that is not
    a JSON object is returned as it is, for :func:`parse_request` to refuse."""
    try:
        body = loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return raw
    if not isinstance(body, dict) or body.get("model") == model:
        return raw
    body["model"] = model
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _model(body: dict[str, Any], mode: str, path_model: str | None) -> str:
    model = path_model or body.get("model") or DEFAULT_MODELS.get(mode)
    if not isinstance(model, str) or not model.strip():
        raise _bad("`model` is required and must be a string", "model_required")
    return model


_CODES = {"max_completion_tokens": "invalid_max_tokens", "model": "model_required", "n": "invalid_request",
          "top_n": "invalid_request"}


def parse_request(mode: str, raw: bytes, content_type: str = "application/json",
                  path_model: str | None = None) -> Parsed:
    """Validate a client's request for ``mode``; BadRequest says what is wrong."""
    files: dict[str, list[HTTPFile]] = {}
    if mode in FORM_MODES:
        body, files = parse_form(content_type, raw)
    else:
        body = _json_object(raw)
    shape = v1_schemas.BODIES.get(mode) or v1_schemas.FORMS.get(mode)
    if shape is not None:  # the declared fields' types and ranges (schemas/v1.py); the rest passes
        try:
            shape.check(body)
        except Invalid as e:
            top = e.param.split(".", 1)[0].split("[", 1)[0]
            code = _CODES.get(top) or (f"invalid_{top}" if top else "invalid_request")
            if path_model is None or top != "model":  # a /v1/engines/{model} path names the model
                raise BadRequest(e.message, code=code, param=e.param) from None
    model = _model(body, mode, path_model)
    stream = False
    if mode == EMBEDDINGS:  # (chat's messages: the declared shape already refused a bad one)
        if body.get("input") in (None, "", []):
            raise _bad("`input` is required", "invalid_input")
    elif mode == COMPLETIONS:
        if "prompt" not in body:
            raise _bad("`prompt` is required", "invalid_prompt")
    elif mode == EDITS:
        _text_field(body, "instruction", required=True)
    elif mode == MODERATIONS:
        if body.get("input") in (None, "", []):
            raise _bad("`input` is required", "invalid_input")
    elif mode == RERANK:
        _text_field(body, "query", required=True)
        docs = body.get("documents")
        if not isinstance(docs, list) or not docs:
            raise _bad("`documents` must be a non-empty array", "invalid_documents")
        _int_field(body, "top_n", lo=1)  # JSON only
    elif mode == SPEECH:
        text = _text_field(body, "input", required=True) or ""
        if len(text) > SPEECH_MAX_CHARS:
            raise _bad(f"`input` is longer than {SPEECH_MAX_CHARS} characters", "invalid_input")
        _text_field(body, "voice", required=True)
    elif mode in IMAGE_MODES:
        if mode != IMAGE_VARIATIONS:
            prompt = _text_field(body, "prompt", required=True) or ""
            limit = IMAGE_PROMPT_LIMITS.get(model)
            if limit and len(prompt) > limit:
                raise _bad(f"`prompt` is longer than {limit} characters for {model}", "invalid_prompt")
        lo, hi = IMAGE_AMOUNTS.get(model, (1, 10))
        _int_field(body, "n", lo=lo, hi=hi, form=mode in FORM_MODES)
        size = _text_field(body, "size")
        sizes = IMAGE_SIZE_RATIOS.get(model)
        if size and sizes and size not in sizes:
            raise _bad(f"`size` must be one of {', '.join(sizes)} for {model}", "invalid_size")
        if mode != IMAGES and not files.get("image"):
            raise _bad("`image` (a file) is required", "invalid_image")
    elif mode in AUDIO_IN_MODES:
        if not files.get("file"):
            raise _bad("`file` (an audio upload) is required", "invalid_file")
        fmt = body.get("response_format") or "json"
        if fmt not in TRANSCRIPT_FORMATS:
            raise _bad(f"`response_format` must be one of {', '.join(sorted(TRANSCRIPT_FORMATS))}",
                       "invalid_response_format")
    if mode in STREAMING_MODES:
        s = body.get("stream")
        if mode in FORM_MODES and isinstance(s, str):  # a form field: "true" / "false"
            s = {"true": True, "false": False, "": None}.get(s.strip().lower(), s)
        if s is not None and not isinstance(s, bool):
            raise _bad("`stream` must be a boolean", "invalid_stream")
        stream = s is True
    for k in ("max_tokens", "max_completion_tokens"):
        v = body.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise _bad(f"`{k}` must be a non-negative integer", "invalid_max_tokens")
    return Parsed(body, model, stream, files)


# -- pricing ----------------------------------------------------------------------------------

def image_quota(body: dict[str, Any], model: str, ratio: float) -> int:
    """ratio × size ratio × 1000 × n; dall-e-3 hd costs ×2 at 1024², ×1.5 otherwise (One API)."""
    n = int(body.get("n") or 1)
    size = body.get("size") or DEFAULT_IMAGE_SIZE.get(model, "1024x1024")
    cost = IMAGE_SIZE_RATIOS.get(model, {}).get(size, 1.0)
    if model == "dall-e-3" and body.get("quality") == "hd":
        cost *= 2 if size == "1024x1024" else 1.5
    return int(ratio * cost * 1000) * n


def speech_quota(body: dict[str, Any], ratio: float) -> int:
    """Input characters × ratio (tts-1's ratio 7.5 is OpenAI's $15 per million characters)."""
    return math.ceil(len(body.get("input") or "") * ratio)


def audio_seconds_tokens(seconds: float) -> int:
    return math.ceil(max(0.0, seconds) * AUDIO_TOKENS_PER_SECOND)


def upload_estimate_tokens(size: int) -> int:
    return audio_seconds_tokens(size / AUDIO_BYTES_PER_SECOND)


def transcript_usage(body: bytes, content_type: str) -> tuple[Usage | None, float | None, str]:
    """From a transcription answer: token usage if given, else the audio duration (seconds)
    if given, and the transcript text (for counting when neither is)."""
    if "json" not in content_type:
        return None, None, body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except ValueError:
        return None, None, body.decode("utf-8", "replace")
    if not isinstance(data, dict):
        return None, None, ""
    text = data.get("text") if isinstance(data.get("text"), str) else ""
    usage = data.get("usage")
    if isinstance(usage, dict):
        if usage.get("type") == "duration" and isinstance(usage.get("seconds"), (int, float)):
            return None, float(usage["seconds"]), text
        if isinstance(usage.get("input_tokens"), int):
            return Usage(int(usage["input_tokens"]), int(usage.get("output_tokens") or 0)), None, text
    if isinstance(data.get("duration"), (int, float)):
        return None, float(data["duration"]), text
    return None, None, text


def transcript_content_type(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or "json"
    return "application/json" if fmt in ("json", "verbose_json") else "text/plain; charset=utf-8"
