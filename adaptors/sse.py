"""Incremental Server-Sent Events decoder (pure; input may be split anywhere)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import StreamTranscoder


@dataclass
class SSEEvent:
    event: str  # "" when the frame had no ``event:`` line
    data: str
    raw: bytes  # the frame's bytes as received, terminator included


class SSEDecoder:
    """Feed bytes, get complete events. Handles \\n, \\r\\n and \\r line ends,
    multi-line ``data:``, comments (``: ...``) and frames split at any byte."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[SSEEvent]:
        buf = self._buf + data if self._buf else data
        if b"\r" in buf:
            # Normalise only when needed; keep a lone trailing \r pending (it may be \r\n).
            tail = b""
            if buf.endswith(b"\r"):
                buf, tail = buf[:-1], b"\r"
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + tail
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            frame = buf[start:end]
            start = end + 2
            ev = self._parse(frame)
            if ev is not None:
                events.append(ev)
        self._buf = buf[start:]
        return events

    def flush(self) -> list[SSEEvent]:
        """The last frame when the stream ended without a blank line."""
        frame, self._buf = self._buf.rstrip(b"\r\n"), b""
        if not frame:
            return []
        ev = self._parse(frame)
        return [ev] if ev is not None else []

    @staticmethod
    def _parse(frame: bytes) -> SSEEvent | None:
        if frame[:6] == b"data: " and b"\n" not in frame:  # the common one-line frame
            return SSEEvent("", frame[6:].decode("utf-8", "replace"), frame + b"\n\n")
        event = ""
        data: list[str] = []
        for line in frame.split(b"\n"):
            if not line or line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if name == b"data":
                data.append(value.decode("utf-8", "replace"))
            elif name == b"event":
                event = value.decode("utf-8", "replace")
        if not data and not event:
            return None
        return SSEEvent(event, "\n".join(data), frame + b"\n\n")


class PassthroughReader(StreamTranscoder):
    """A stream relayed exactly as it arrives (same chunks) and read on the way: each complete
    event goes to :meth:`_event` (usage, generated text, ids, errors)."""

    def __init__(self) -> None:
        super().__init__()
        self._decoder = SSEDecoder()

    def feed(self, data: bytes) -> list[bytes]:
        for ev in self._decoder.feed(data):
            self._event(ev)
        return [data] if data else []

    def finish(self) -> list[bytes]:
        for ev in self._decoder.flush():
            self._event(ev)
        return []

    def _event(self, ev: SSEEvent) -> None:
        raise NotImplementedError
