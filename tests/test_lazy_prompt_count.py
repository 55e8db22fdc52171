"""The prompt is counted with tiktoken only when it is needed (relay/pipeline.Job.prompt_tokens).

With a roomy lease the reservation is bounded from the body's size, the upstream's usage
settles the bill and no token is counted; with no usage from the upstream the prompt is
counted then, and the bill is what counting up front gave. Near zero, the exact count
decides the reservation, so refusals are unchanged (tests/test_relay_billing.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Gateway

MSG = [{"role": "user", "content": "hi"}]


def _spy(gw: Gateway) -> list[str]:
    calls: list[str] = []
    counter = gw.ctx.counter
    real = counter.count_prompt

    def count_prompt(mode: str, body: dict[str, Any], model: str) -> int:
        calls.append(mode)
        return real(mode, body, model)

    counter.count_prompt = count_prompt  # type: ignore[method-assign]
    return calls


async def test_usage_from_upstream_means_no_count(gw: Gateway) -> None:
    await gw.channel()
    key = await gw.token()
    c = gw.client(key)
    await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)  # takes the user's lease
    calls = _spy(gw)
    for _ in range(3):
        await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    stream = await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG, stream=True,
                                             stream_options={"include_usage": True})
    [x async for x in stream]
    assert calls == []
    logs = await gw.logs(type=2)
    assert len(logs) == 5 and all(r["prompt_tokens"] == 9 and r["completion_tokens"] == 12 for r in logs)


@pytest.mark.parametrize("stream", [False, True])
async def test_no_usage_counts_the_prompt_then(gw: Gateway, stream: bool) -> None:
    await gw.channel(key="sk-nousage")
    key = await gw.token()
    c = gw.client(key)
    await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    calls = _spy(gw)
    if stream:
        s = await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG, stream=True)
        [x async for x in s]
    else:
        await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    assert calls == ["chat"]  # once, after the answer
    logs = await gw.logs(type=2)
    # One API's recipe for [{"role": "user", "content": "hi"}]: 3 + 3 + "hi" (1) + "user" (1)
    assert len(logs) == 2 and logs[0]["prompt_tokens"] == logs[1]["prompt_tokens"] == 8
    assert logs[0]["quota"] == logs[1]["quota"]


async def test_tools_are_counted_up_front(gw: Gateway) -> None:
    """No size bound for tools (their JSON is re-encoded to count it): counted before the call."""
    await gw.channel()
    key = await gw.token()
    c = gw.client(key)
    await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG)
    calls = _spy(gw)
    tools: Any = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    await c.chat.completions.create(model="gpt-3.5-turbo", messages=MSG, tools=tools)
    assert calls == ["chat"]
