"""Incremental decoder of the AWS event-stream binary framing (``application/vnd.amazon.eventstream``).

Bedrock's ``invoke-with-response-stream`` (and other AWS streaming APIs) answer a sequence of
binary messages, each (all integers big-endian)::

    total length (4 B) | headers length (4 B) | prelude CRC32 (4 B, over the first 8 B)
    | headers | payload | message CRC32 (4 B, over everything before it)

A header is: name length (1 B), name (UTF-8), value type (1 B), value. Value types:
0 true, 1 false (no value bytes), 2 int8, 3 int16, 4 int32, 5 int64, 6 bytes (2-B length),
7 string (2-B length, UTF-8), 8 timestamp (int64, milliseconds since the epoch), 9 UUID (16 B).

:class:`EventStreamDecoder` is pure: feed it bytes split anywhere, get complete
:class:`EventMessage` objects; both CRCs are verified and a bad frame raises
:class:`EventStreamError` (the decoder then refuses further input: after a corrupt length
field there is no way to find the next frame boundary).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

PRELUDE_LENGTH = 12  # total length + headers length + prelude CRC
MESSAGE_CRC_LENGTH = 4
MIN_MESSAGE_LENGTH = PRELUDE_LENGTH + MESSAGE_CRC_LENGTH
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024

_PRELUDE = struct.Struct(">III")
_U32 = struct.Struct(">I")

# value type -> fixed size and struct format (the numeric types)
_FIXED: dict[int, struct.Struct] = {
    2: struct.Struct(">b"),
    3: struct.Struct(">h"),
    4: struct.Struct(">i"),
    5: struct.Struct(">q"),
    8: struct.Struct(">q"),  # timestamp: milliseconds
}


class EventStreamError(ValueError):
    """A frame that cannot be decoded (bad CRC, impossible lengths, malformed headers).

    Raised by :meth:`EventStreamDecoder.feed`, ``messages`` holds the good messages that the
    same call decoded before the bad one (they are not lost)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.messages: list[EventMessage] = []


@dataclass
class EventMessage:
    headers: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return "" if value is None else str(value)

    @property
    def message_type(self) -> str:
        """``event`` | ``exception`` | ``error`` (``:message-type``; "event" when absent)."""
        return self.header(":message-type") or "event"

    @property
    def event_type(self) -> str:
        return self.header(":event-type")

    @property
    def exception_type(self) -> str:
        return self.header(":exception-type")


def crc32(data: bytes, start: int = 0) -> int:
    return zlib.crc32(data, start) & 0xFFFFFFFF


def decode_headers(data: bytes) -> dict[str, Any]:
    """The headers block of one message as a dict (a repeated name keeps the last value)."""
    headers: dict[str, Any] = {}
    pos, end = 0, len(data)
    while pos < end:
        name_len = data[pos]
        pos += 1
        if name_len == 0 or pos + name_len + 1 > end:
            raise EventStreamError("malformed event-stream header name")
        try:
            name = data[pos:pos + name_len].decode("utf-8")
        except UnicodeDecodeError:
            raise EventStreamError("event-stream header name is not UTF-8") from None
        pos += name_len
        vtype = data[pos]
        pos += 1
        value: Any
        if vtype == 0:
            value = True
        elif vtype == 1:
            value = False
        elif vtype in _FIXED:
            st = _FIXED[vtype]
            if pos + st.size > end:
                raise EventStreamError(f"truncated value of event-stream header {name!r}")
            (value,) = st.unpack_from(data, pos)
            pos += st.size
        elif vtype in (6, 7):
            if pos + 2 > end:
                raise EventStreamError(f"truncated value of event-stream header {name!r}")
            (length,) = struct.unpack_from(">H", data, pos)
            pos += 2
            if pos + length > end:
                raise EventStreamError(f"truncated value of event-stream header {name!r}")
            raw = data[pos:pos + length]
            pos += length
            if vtype == 7:
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise EventStreamError(f"event-stream header {name!r} is not UTF-8") from None
            else:
                value = bytes(raw)
        elif vtype == 9:
            if pos + 16 > end:
                raise EventStreamError(f"truncated value of event-stream header {name!r}")
            value = bytes(data[pos:pos + 16])
            pos += 16
        else:
            raise EventStreamError(f"unknown event-stream header value type {vtype}")
        headers[name] = value
    return headers


def decode_message(frame: bytes) -> EventMessage:
    """One complete message (exactly ``total length`` bytes), CRCs verified."""
    if len(frame) < MIN_MESSAGE_LENGTH:
        raise EventStreamError("event-stream message shorter than its prelude")
    total, headers_len, prelude_crc = _PRELUDE.unpack_from(frame, 0)
    _check_prelude(total, headers_len, prelude_crc, frame[:8])
    if len(frame) != total:
        raise EventStreamError(f"event-stream message is {len(frame)} bytes, its prelude says {total}")
    (message_crc,) = _U32.unpack_from(frame, total - MESSAGE_CRC_LENGTH)
    computed = crc32(frame[:total - MESSAGE_CRC_LENGTH])
    if computed != message_crc:
        raise EventStreamError(f"event-stream message CRC mismatch (expected {message_crc:#010x}, "
                               f"computed {computed:#010x})")
    headers_end = PRELUDE_LENGTH + headers_len
    return EventMessage(decode_headers(frame[PRELUDE_LENGTH:headers_end]),
                        bytes(frame[headers_end:total - MESSAGE_CRC_LENGTH]))


def _check_prelude(total: int, headers_len: int, prelude_crc: int, first8: bytes) -> None:
    computed = crc32(first8)
    if computed != prelude_crc:
        raise EventStreamError(f"event-stream prelude CRC mismatch (expected {prelude_crc:#010x}, "
                               f"computed {computed:#010x})")
    if headers_len > MAX_HEADERS_LENGTH:
        raise EventStreamError(f"event-stream headers length {headers_len} exceeds {MAX_HEADERS_LENGTH}")
    payload_len = total - headers_len - MIN_MESSAGE_LENGTH
    if payload_len < 0:
        raise EventStreamError(f"event-stream total length {total} is smaller than its headers")
    if payload_len > MAX_PAYLOAD_LENGTH:
        raise EventStreamError(f"event-stream payload length {payload_len} exceeds {MAX_PAYLOAD_LENGTH}")


class EventStreamDecoder:
    """Feed bytes (split anywhere), get the complete messages they finish."""

    __slots__ = ("_buf", "_failed")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._failed: EventStreamError | None = None

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[EventMessage]:
        if self._failed is not None:
            err = EventStreamError(str(self._failed))
            raise err
        self._buf += data
        out: list[EventMessage] = []
        buf = self._buf
        start = 0
        try:
            while len(buf) - start >= PRELUDE_LENGTH:
                total, headers_len, prelude_crc = _PRELUDE.unpack_from(buf, start)
                # Verify the prelude before trusting its length: a corrupt length would
                # otherwise make the decoder wait for bytes that never come.
                _check_prelude(total, headers_len, prelude_crc, bytes(buf[start:start + 8]))
                if len(buf) - start < total:
                    break
                out.append(decode_message(bytes(buf[start:start + total])))
                start += total
        except EventStreamError as e:
            self._failed = e
            del self._buf[:]
            e.messages = out
            raise
        del buf[:start]
        return out


__all__ = ["EventStreamDecoder", "EventStreamError", "EventMessage", "decode_message", "decode_headers",
           "crc32", "PRELUDE_LENGTH"]
