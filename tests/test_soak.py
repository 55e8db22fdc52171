"""A one-minute soak (bench/soak.py, which runs ten): mixed traffic at a steady rate (non-stream
and stream, errors, clients that leave mid-stream, option and channel changes through the API)
against an in-process OneRelay. After a 20 s warm-up nothing may grow past bench/soak.BOUNDS
(RSS +32 MB, open fds +48, asyncio tasks +48 while the load runs), and once the load stops the
tasks, curl handles in use and requests in flight come back to their idle values before it.
No timing is asserted."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import soak  # noqa: E402  (bench/soak.py)


async def test_one_minute_of_mixed_traffic_grows_nothing() -> None:
    lines: list[str] = []
    problems, samples = await soak.soak(duration=60, rate=20, every=10, warmup=20, change_every=3,
                                        out=lines.append)
    assert len(samples) >= 4, lines
    assert problems == [], "\n".join(lines)
    counts = [line for line in lines if line.startswith("t=")][-1]  # the last sample: what was answered
    assert all(f" {code}×" in counts for code in ("200", "400", "401", "500", "503")), counts
    assert "disconnect" in counts and "change ok" in counts, counts
