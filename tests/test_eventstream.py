"""The AWS event-stream decoder: AWS's published frames, every split point, corrupt frames."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest

from adaptors.eventstream import EventMessage, EventStreamDecoder, EventStreamError, decode_message
from tests.fake_bedrock import chunk_frame, encode_frame, exception_frame

# Encoded messages from the AWS event-stream test vectors (as botocore's test suite lists them).
EMPTY = b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2H\xeb}\x98\xc8\xff"
INT8 = b"\x00\x00\x00\x17\x00\x00\x00\x07)\x86\x01X\x04byte\x02\xff\xc2\xf8i\xdc"
INT16 = b"\x00\x00\x00\x19\x00\x00\x00\tq\x0e\x92>\x05short\x03\xff\xff\xb2|\xb6\xcc"
INT32 = b"\x00\x00\x00\x1d\x00\x00\x00\r\x83\xe3\xf0\xe7\x07integer\x04\xff\xff\xff\xff\x8b\x8e\x12\xeb"
INT64 = b"\x00\x00\x00\x1e\x00\x00\x00\x0e]J\xdb\x8d\x04long\x05\xff\xff\xff\xff\xff\xff\xff\xffK\xc22\xda"
PAYLOAD_NO_HEADERS = b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96"
PAYLOAD_ONE_STR_HEADER = (b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10"
                          b"application/json{'foo':'bar'}\x8d\x9c\x08\xb1")
ALL_HEADER_TYPES = (
    b"\x00\x00\x00\x62\x00\x00\x00\x52\x03\xb5\xcb\x9c"
    b"\x010\x00\x011\x01\x012\x02\x02\x013\x03\x00\x03"
    b"\x014\x04\x00\x00\x00\x04\x015\x05\x00\x00\x00\x00\x00\x00\x00\x05"
    b"\x016\x06\x00\x05bytes\x017\x07\x00\x04utf8"
    b"\x018\x08\x00\x00\x00\x00\x00\x00\x00\x08\x019\x090123456789abcdef"
    b"\x63\x35\x36\x71"
)
ERROR_EVENT = (
    b"\x00\x00\x00\x52\x00\x00\x00\x42\xbf\x23\x63\x7e"
    b"\x0d:message-type\x07\x00\x05error"
    b"\x0b:error-code\x07\x00\x04code"
    b"\x0e:error-message\x07\x00\x07message"
    b"\x6b\x6c\xea\x3d"
)

VECTORS: list[tuple[bytes, dict[str, object], bytes]] = [
    (EMPTY, {}, b""),
    (INT8, {"byte": -1}, b""),
    (INT16, {"short": -1}, b""),
    (INT32, {"integer": -1}, b""),
    (INT64, {"long": -1}, b""),
    (PAYLOAD_NO_HEADERS, {}, b"{'foo':'bar'}"),
    (PAYLOAD_ONE_STR_HEADER, {"content-type": "application/json"}, b"{'foo':'bar'}"),
    (ALL_HEADER_TYPES, {"0": True, "1": False, "2": 2, "3": 3, "4": 4, "5": 5, "6": b"bytes", "7": "utf8",
                        "8": 8, "9": b"0123456789abcdef"}, b""),
    (ERROR_EVENT, {":message-type": "error", ":error-code": "code", ":error-message": "message"}, b""),
]


@pytest.mark.parametrize("frame, headers, payload", VECTORS)
def test_aws_vectors_decode(frame: bytes, headers: dict[str, object], payload: bytes) -> None:
    msg = decode_message(frame)
    assert msg.headers == headers and msg.payload == payload
    assert EventStreamDecoder().feed(frame) == [msg]


def test_message_type_helpers() -> None:
    err = decode_message(ERROR_EVENT)
    assert err.message_type == "error" and err.header(":error-code") == "code"
    assert decode_message(EMPTY).message_type == "event"  # no :message-type header
    exc = decode_message(exception_frame("throttlingException", "slow down"))
    assert exc.message_type == "exception" and exc.exception_type == "throttlingException"
    assert json.loads(exc.payload) == {"message": "slow down"}
    chunk = decode_message(chunk_frame({"type": "ping"}))
    assert chunk.event_type == "chunk" and chunk.message_type == "event"
    assert json.loads(base64.b64decode(json.loads(chunk.payload)["bytes"])) == {"type": "ping"}
    assert EventMessage({"x": b"\xff"}).header("x") == "\ufffd" and EventMessage().header("none") == ""


def _frames() -> list[bytes]:
    return [f for f, _, _ in VECTORS] + [
        chunk_frame({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "héllo ✓"}}),
        exception_frame("modelStreamErrorException", "boom"),
    ]


def test_split_at_every_byte() -> None:
    frames = _frames()
    data, expected = b"".join(frames), [decode_message(f) for f in frames]
    for i in range(len(data) + 1):
        dec = EventStreamDecoder()
        first = dec.feed(data[:i])
        # whole frames come out at once; the rest of the cut is held back
        assert sum(len(f) for f in frames[:len(first)]) + dec.pending == i, i
        assert first == expected[:len(first)]
        assert first + dec.feed(data[i:]) == expected, i
        assert dec.pending == 0


def test_split_at_every_pair_of_points_and_byte_by_byte() -> None:
    frames = _frames()
    short = b"".join(frames[5:8])  # three frames with payloads and every header type
    expected = [decode_message(f) for f in frames[5:8]]
    for i in range(len(short) + 1):
        for j in range(i, len(short) + 1):
            dec = EventStreamDecoder()
            assert dec.feed(short[:i]) + dec.feed(short[i:j]) + dec.feed(short[j:]) == expected, (i, j)
    data = b"".join(frames)
    dec = EventStreamDecoder()
    got: list[EventMessage] = []
    for b in data:
        got += dec.feed(bytes([b]))
    assert got == [decode_message(f) for f in frames] and dec.pending == 0


def _corrupt(frame: bytes, pos: int) -> bytes:
    return frame[:pos] + bytes([frame[pos] ^ 0x01]) + frame[pos + 1:]


def test_corrupt_message_crc_is_rejected() -> None:
    frame = PAYLOAD_ONE_STR_HEADER
    bad = _corrupt(frame, len(frame) - 6)  # a payload byte: the message CRC no longer matches
    with pytest.raises(EventStreamError, match="message CRC mismatch"):
        decode_message(bad)
    dec = EventStreamDecoder()
    with pytest.raises(EventStreamError) as e:
        dec.feed(EMPTY + INT8 + bad + INT16)
    assert [m.headers for m in e.value.messages] == [{}, {"byte": -1}]  # the good ones before it
    with pytest.raises(EventStreamError):  # the decoder stays failed: no frame boundary to trust
        dec.feed(EMPTY)
    bad_trailer = frame[:-1] + bytes([frame[-1] ^ 0xFF])
    with pytest.raises(EventStreamError, match="message CRC"):
        EventStreamDecoder().feed(bad_trailer)


@pytest.mark.parametrize("split", [1, 5, 9, 11])
def test_corrupt_prelude_crc_is_rejected_before_waiting_for_the_body(split: int) -> None:
    bad = _corrupt(PAYLOAD_NO_HEADERS, 3)  # the total length: the prelude CRC no longer matches
    dec = EventStreamDecoder()
    assert dec.feed(bad[:split]) == []
    with pytest.raises(EventStreamError, match="prelude CRC mismatch"):
        dec.feed(bad[split:12])  # rejected as soon as the prelude is complete
    dec = EventStreamDecoder()
    with pytest.raises(EventStreamError, match="prelude CRC mismatch"):
        dec.feed(bad[:12])


def _prelude(total: int, headers_len: int) -> bytes:
    head = struct.pack(">II", total, headers_len)
    return head + struct.pack(">I", zlib.crc32(head) & 0xFFFFFFFF)


def test_impossible_lengths_are_rejected() -> None:
    with pytest.raises(EventStreamError, match="smaller than its headers"):
        EventStreamDecoder().feed(_prelude(20, 10))
    with pytest.raises(EventStreamError, match="headers length"):
        EventStreamDecoder().feed(_prelude(300 * 1024, 200 * 1024))
    with pytest.raises(EventStreamError, match="payload length"):
        EventStreamDecoder().feed(_prelude(64 * 1024 * 1024, 0))
    with pytest.raises(EventStreamError, match="shorter"):
        decode_message(EMPTY[:10])
    with pytest.raises(EventStreamError, match="prelude says"):
        decode_message(EMPTY + b"x")


def _with_headers(raw_headers: bytes) -> bytes:
    total = 12 + len(raw_headers) + 4
    msg = _prelude(total, len(raw_headers)) + raw_headers
    return msg + struct.pack(">I", zlib.crc32(msg) & 0xFFFFFFFF)


@pytest.mark.parametrize("raw_headers, match", [
    (b"\x05short", "malformed"),  # name runs past the block
    (b"\x01a\x07\x00\x09abc", "truncated"),  # string shorter than its length
    (b"\x01a\x04\x00\x00", "truncated"),  # int32 cut short
    (b"\x01a\x0a", "unknown"),  # value type 10
    (b"\x01a\x09abc", "truncated"),  # UUID needs 16 bytes
    (b"\x01a\x07\x00\x02\xff\xfe", "not UTF-8"),
    (b"\x00\x07\x00\x00", "malformed"),  # empty name
])
def test_malformed_headers_are_rejected(raw_headers: bytes, match: str) -> None:
    with pytest.raises(EventStreamError, match=match):
        EventStreamDecoder().feed(_with_headers(raw_headers))


def test_encoded_frames_round_trip() -> None:
    frame = encode_frame({":event-type": "chunk", "x": "ü"}, b"\x00\x01payload")
    msg = decode_message(frame)
    assert msg.headers == {":event-type": "chunk", "x": "ü"} and msg.payload == b"\x00\x01payload"
