"""The ``/v1`` request bodies: what OneRelay checks before a request is routed and billed.

Only the known fields are declared and checked; anything else passes through to the provider.
``null`` counts as absent for optional fields (clients send ``"temperature": null``).
"""

from __future__ import annotations

from adaptors.base import (
    CHAT, COMPLETIONS, EDITS, EMBEDDINGS, IMAGE_EDITS, IMAGE_VARIATIONS, IMAGES, MESSAGES, MODERATIONS, RERANK,
    RESPONSES, SPEECH, TRANSCRIPTIONS, TRANSLATIONS,
)

from .fields import Field as F
from .fields import Shape

MODEL_LEN = 512
_model = F("model", max_len=MODEL_LEN, doc="The model to use (routed to a channel serving it)", example="gpt-4o-mini")
_stream = F("stream", "boolean", doc="Send the answer as server-sent events")
_user = F("user", max_len=1024)
_n = F("n", "integer", min=1, max=128)
_temperature = F("temperature", "number", min=0, max=2)
_top_p = F("top_p", "number", min=0, max=1)
_max_tokens = F("max_tokens", "integer", min=0, max=2**31 - 1)
_penalties = (F("presence_penalty", "number", min=-2, max=2), F("frequency_penalty", "number", min=-2, max=2))
_stop = F("stop", ("string", "array"), items=F("stop", "string", nullable=False))
_object = ("object",)

_function = Shape(F("name", max_len=256), F("arguments", max_len=10_000_000), F("description"),
                  F("parameters", "object"), F("strict", "boolean"))
_tool_call = Shape(F("id", max_len=512), F("type", max_len=64), F("function", "object", fields=_function),
                   F("index", "integer", min=0, max=2**31 - 1))
_tool = Shape(F("type", max_len=64), F("function", "object", fields=_function))
_part = F("part", ("object",), nullable=False, fields=Shape(F("type", max_len=64), F("text")))
_message = Shape(
    F("role", required=True, max_len=64, doc="system, developer, user, assistant or tool", example="user"),
    F("content", ("string", "array"), items=_part, example="Hello"),
    F("name", max_len=256),
    F("tool_calls", "array", items=F("tool_call", "object", nullable=False, fields=_tool_call)),
    F("tool_call_id", max_len=512),
    F("function_call", "object", fields=_function),
)
_common_sampling = (_temperature, _top_p, *_penalties, _n, _stop, _user,
                    F("seed", "integer"), F("logit_bias", "object"), _max_tokens)

CHAT_BODY = Shape(
    F("model", max_len=MODEL_LEN, required=True, doc=_model.doc, example="gpt-4o-mini"),
    F("messages", "array", required=True, min_len=1,
      items=F("message", "object", nullable=False, fields=_message)),
    _stream, F("stream_options", "object", fields=Shape(F("include_usage", "boolean"))),
    *_common_sampling,
    F("max_completion_tokens", "integer", min=0, max=2**31 - 1),
    F("tools", "array", items=F("tool", "object", nullable=False, fields=_tool)),
    F("tool_choice", ("string", "object"), fields=Shape(F("type", max_len=64), F("function", "object"))),
    F("parallel_tool_calls", "boolean"),
    F("functions", "array", items=F("function", "object", nullable=False)),
    F("function_call", ("string", "object")),
    F("logprobs", "boolean"), F("top_logprobs", "integer", min=0, max=20),
    F("response_format", "object", fields=Shape(F("type", max_len=64))),
    F("modalities", "array", items=F("modality", "string", nullable=False)),
    F("reasoning_effort", max_len=64), F("store", "boolean"), F("metadata", "object"),
)
_prompt_item = F("prompt", ("string", "integer", "array"), nullable=False,
                 items=F("token", "integer", nullable=False))
COMPLETIONS_BODY = Shape(
    F("model", max_len=MODEL_LEN, required=True, doc=_model.doc),
    F("prompt", ("string", "array"), items=_prompt_item, nullable=False, doc="Text, texts or token arrays"),
    _stream, F("stream_options", "object"), *_common_sampling,
    F("suffix", max_len=1_000_000), F("echo", "boolean"), F("best_of", "integer", min=0, max=128),
    F("logprobs", "integer", min=0, max=5),
)
_embed_item = F("input", ("string", "integer", "array"), nullable=False, items=F("token", "integer", nullable=False))
EMBEDDINGS_BODY = Shape(
    _model,
    F("input", ("string", "array"), required=True, min_len=1, items=_embed_item),
    F("encoding_format", enum=("float", "base64")), F("dimensions", "integer", min=1, max=1_000_000), _user,
)
MODERATIONS_BODY = Shape(
    _model, F("input", ("string", "array"), required=True,
              items=F("input", ("string", "object"), nullable=False)),
)
EDITS_BODY = Shape(_model, F("instruction", required=True), F("input"), _n, _temperature, _top_p)
RERANK_BODY = Shape(
    _model, F("query", required=True), F("documents", "array", required=True, min_len=1,
                                         items=F("document", ("string", "object"), nullable=False)),
    F("top_n", "integer", min=1, max=2**31 - 1), F("return_documents", "boolean"),
)
IMAGES_BODY = Shape(
    _model, F("prompt", required=True, max_len=32000), F("n", "integer", min=1, max=10),
    F("size", max_len=32), F("quality", max_len=32), F("style", max_len=32),
    F("response_format", max_len=32), _user,
)
SPEECH_BODY = Shape(
    _model, F("input", required=True, max_len=4096), F("voice", required=True, max_len=64),
    F("response_format", max_len=32), F("speed", "number", min=0.25, max=4), F("instructions"),
)
_content_block = F("block", ("object",), nullable=False, fields=Shape(F("type", max_len=64), F("text")))
MESSAGES_BODY = Shape(
    F("model", max_len=MODEL_LEN, required=True, example="claude-3-5-haiku-latest"),
    F("messages", "array", required=True, min_len=1, items=F("message", "object", nullable=False, fields=Shape(
        F("role", required=True, max_len=64, doc="user or assistant"),
        F("content", ("string", "array"), required=True, items=_content_block),
    ))),
    F("max_tokens", "integer", min=0, max=2**31 - 1), _stream,
    F("system", ("string", "array"), items=_content_block),
    F("temperature", "number", min=0, max=2), _top_p, F("top_k", "integer", min=0, max=2**31 - 1),
    F("stop_sequences", "array", items=F("stop", "string", nullable=False)),
    F("tools", "array", items=F("tool", "object", nullable=False, fields=Shape(F("name", max_len=256)))),
    F("tool_choice", "object", fields=Shape(F("type", max_len=64))),
    F("metadata", "object"), F("thinking", "object"),
)
RESPONSES_BODY = Shape(
    _model, F("input", ("string", "array"), items=F("item", ("string", "object"), nullable=False)),
    F("instructions", ("string", "array")), _stream, _temperature, _top_p,
    F("max_output_tokens", "integer", min=0, max=2**31 - 1),
    F("tools", "array", items=F("tool", "object", nullable=False)),
    F("tool_choice", ("string", "object")), F("parallel_tool_calls", "boolean"),
    F("previous_response_id", max_len=512), F("store", "boolean"), F("metadata", "object"),
    F("text", "object"), F("reasoning", "object"), F("truncation", max_len=32), _user,
)
UPLOAD_FORM = Shape(
    _model, F("prompt"), F("response_format", max_len=32), F("language", max_len=32),
    F("temperature", max_len=32), F("n", max_len=8), F("size", max_len=32),
)

BODIES: dict[str, Shape] = {
    CHAT: CHAT_BODY, COMPLETIONS: COMPLETIONS_BODY, EMBEDDINGS: EMBEDDINGS_BODY, MODERATIONS: MODERATIONS_BODY,
    EDITS: EDITS_BODY, RERANK: RERANK_BODY, IMAGES: IMAGES_BODY, SPEECH: SPEECH_BODY, MESSAGES: MESSAGES_BODY,
    RESPONSES: RESPONSES_BODY,
}
FORMS: dict[str, Shape] = {m: UPLOAD_FORM for m in (IMAGE_EDITS, IMAGE_VARIATIONS, TRANSCRIPTIONS, TRANSLATIONS)}
