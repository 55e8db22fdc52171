"""Client APIs other than OpenAI chat, served by any channel.

A ``/v1/messages`` (Anthropic) or ``/v1/responses`` request goes as it is to a channel whose
registry modes include it (Claude channels, OpenAI and Azure). Any other channel that speaks
chat gets it converted (:mod:`adaptors.messages`, :mod:`adaptors.responses`): the request
to chat here, the channel's chat answer back into the client's format by a
:class:`Conversion`. Streams chain the channel's transcoder (provider bytes → OpenAI SSE)
with the conversion's (OpenAI SSE → the client's events).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from adaptors import messages as anthropic_messages
from adaptors import responses as openai_responses
from adaptors.base import MESSAGES, RESPONSES, StreamTranscoder, Usage, sse_frame

from .errors import BadRequest

CONVERTED_MODES = frozenset({MESSAGES, RESPONSES})


class Chained(StreamTranscoder):
    """``inner`` (the channel's transcoder) feeding ``outer`` (a format conversion)."""

    def __init__(self, inner: StreamTranscoder, outer: StreamTranscoder) -> None:
        super().__init__()
        self.inner, self.outer = inner, outer

    def feed(self, data: bytes) -> list[bytes]:
        frames = self.inner.feed(data)
        return self.outer.feed(b"".join(frames)) if frames else []

    def finish(self) -> list[bytes]:
        frames = self.inner.finish()
        out = self.outer.feed(b"".join(frames)) if frames else []
        return out + self.outer.finish()

    @property  # type: ignore[override]
    def usage(self) -> Usage | None:
        return self.inner.usage or self.outer.usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        pass  # set by the two transcoders, read through them

    @property
    def completion_text(self) -> str:
        return self.inner.completion_text

    @property  # type: ignore[override]
    def error(self) -> str | None:
        return self.inner.error or self.outer.error

    @error.setter
    def error(self, value: str | None) -> None:
        pass

    @property  # type: ignore[override]
    def failure(self) -> Any:
        return self.inner.failure or self.outer.failure

    @failure.setter
    def failure(self, value: Any) -> None:
        pass


class Conversion:
    """One request's way back from OpenAI chat into the client's format."""

    def answer(self, chat: bytes) -> bytes:
        raise NotImplementedError

    def stream(self) -> StreamTranscoder:
        raise NotImplementedError

    def error_frames(self, message: str, code: str) -> list[bytes]:
        """What a stream that broke after it started ends with."""
        raise NotImplementedError


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


class MessagesConversion(Conversion):
    def __init__(self, requested_model: str, input_tokens: int) -> None:
        self.model, self.input_tokens = requested_model, input_tokens

    def answer(self, chat: bytes) -> bytes:
        out = anthropic_messages.messages_response_from_chat(_json(chat), self.model)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()

    def stream(self) -> StreamTranscoder:
        return anthropic_messages.MessagesFromChatStream(self.model, input_tokens=self.input_tokens)

    def error_frames(self, message: str, code: str) -> list[bytes]:
        return messages_error_frames(message)


def messages_error_frames(message: str, status: int = 500) -> list[bytes]:
    body = anthropic_messages.anthropic_error_body(status, message)
    return [anthropic_messages.event_frame(body)]


class ResponsesConversion(Conversion):
    def __init__(self, request: dict[str, Any], requested_model: str) -> None:
        self.request, self.model = request, requested_model
        self.response_id = "resp_" + os.urandom(16).hex()
        self.created_at = int(time.time())
        self._stream: openai_responses.ResponsesFromChatStream | None = None

    def answer(self, chat: bytes) -> bytes:
        out = openai_responses.responses_from_chat(_json(chat), {**self.request, "model": self.model},
                                                   self.response_id, self.created_at)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()

    def stream(self) -> StreamTranscoder:
        self._stream = openai_responses.ResponsesFromChatStream({**self.request, "model": self.model},
                                                                self.response_id, self.created_at, self.model)
        return self._stream

    def error_frames(self, message: str, code: str) -> list[bytes]:
        """``response.failed`` (the output so far, the next sequence number), as OpenAI ends a
        response that failed while generating."""
        if self._stream is not None:
            return self._stream.fail(message)
        return [b"event: error\n" + sse_frame({"type": "error", "code": code, "message": message, "param": None,
                                                "sequence_number": 0})]


def chat_body_for(mode: str, body: dict[str, Any], model: str) -> dict[str, Any]:
    """The chat request a converted client request becomes (BadRequest when it cannot)."""
    try:
        if mode == MESSAGES:
            return anthropic_messages.chat_request_from_messages(body, model)
        return openai_responses.chat_request_from_responses(body, model)
    except anthropic_messages.MessagesRequestError as e:
        raise BadRequest(str(e), code="invalid_request") from None
    except openai_responses.ResponsesRequestError as e:
        raise BadRequest(e.message, code="invalid_request", param=e.param or "") from None
