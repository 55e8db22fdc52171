"""Failed requests leave a trace (issue 14, "Failed requests"): every relay request that fails
after authentication writes an error log (type 6), never billed, with status, error code,
message, channel, retry chain and request id, keys redacted; error logs filter like the others;
``/api/log/error_stat`` gives the error rate per channel and per model; a channel whose last
test failed says so in the channel list."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.conftest import Gateway

SECRET = "sk-live0123456789abcdefSECRET"


async def errors(gw: Gateway, **query: Any) -> list[dict[str, Any]]:
    return [r for r in await gw.logs(type=6, **query) if r["type"] == 6]


async def test_failed_requests_are_logged_unbilled_with_the_retry_chain(gw: Gateway) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "RetryTimes", "value": "1"})
    a = await gw.channel(name="flaky-a", key=f"fail-500-echo-{SECRET}", priority=10)
    b = await gw.channel(name="flaky-b", key="fail-502-b", priority=5)
    key = await gw.token(name="err-token")
    before = await gw.user()
    client = gw.client(key)
    with pytest.raises(openai.APIStatusError) as e:
        await client.chat.completions.with_raw_response.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    request_id = e.value.response.headers["X-Oneapi-Request-Id"]
    assert e.value.status_code == 502

    rows = await errors(gw)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["request_id"] == request_id and row["quota"] == 0
    assert (row["status"], row["model_name"], row["token_name"], row["username"]) == (502, "gpt-3.5-turbo", "err-token", "root")
    assert row["channel"] == b  # the channel that answered last
    assert [(r["channel"], r["status"]) for r in row["retries"]] == [(a, 500), (b, 502)]
    assert row["content"] and row["error_code"] is not None
    assert SECRET not in str(row) and "SECRET" not in str(row), row  # the quoted key is redacted
    assert "key fai***;" in row["retries"][0]["message"]  # the channel's own key, prefix kept
    after = await gw.user()
    assert after["quota"] == before["quota"] and after["used_quota"] == before["used_quota"]  # never billed
    assert not [r for r in await gw.logs(type=2) if r["request_id"] == request_id]  # no consume log

    # Failures before any channel: no channel serves the model, bad input. Not authenticated: none.
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="gpt-3.5-turbo", messages="nope")  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError):
        await gw.client("sk-unknown").chat.completions.create(model="gpt-3.5-turbo", messages=[])
    rows = await errors(gw)
    assert [(r["status"], r["channel"]) for r in rows[:2]] == [(400, 0), (503, 0)], rows
    assert rows[1]["error_code"] == "model_not_found" and rows[1]["model_name"] == "no-such-model"

    # Filters: by model and by channel, as for every log type; a user sees their own.
    assert [r["status"] for r in await errors(gw, model_name="no-such-model")] == [503]
    assert [r["request_id"] for r in await errors(gw, channel=b)] == [request_id]
    own = await gw.ok("GET", "/api/log/self?type=6")
    assert len(own) == 3 and all(r["type"] == 6 for r in own)

    # A success through a good channel, then the error rate per channel and per model.
    good = await gw.channel(name="good", key="sk-ok", priority=20)
    await client.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    stat = await gw.ok("GET", "/api/log/error_stat?days=7")
    by_channel = {r["channel_id"]: r for r in stat["channels"]}
    assert by_channel[b]["errors"] == 1 and by_channel[b]["error_rate"] == 1.0 and by_channel[b]["channel_name"] == "flaky-b"
    assert by_channel[good] == {"channel_id": good, "requests": 1, "errors": 0, "error_rate": 0.0, "channel_name": "good"}
    assert by_channel[0]["errors"] == 2
    by_model = {r["model_name"]: r for r in stat["models"]}
    assert by_model["gpt-3.5-turbo"]["requests"] == 2 and by_model["gpt-3.5-turbo"]["errors"] == 1
    _, bad = await gw.api("GET", "/api/log/error_stat?days=0")
    assert bad["success"] is False

    # The operator may turn error logs off.
    await gw.ok("PUT", "/api/option/", {"key": "LogErrorEnabled", "value": "false"})
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert len(await errors(gw)) == 3


async def test_a_failed_channel_test_shows_in_the_channel_list(gw: Gateway) -> None:
    ok = await gw.channel(name="fine", key="sk-ok")
    bad = await gw.channel(name="broken", key=f"fail-500-echo-{SECRET}")
    for cid in (ok, bad):
        await gw.api("GET", f"/api/channel/test/{cid}")
    listed = {c["id"]: c for c in await gw.ok("GET", "/api/channel/?p=0")}
    assert listed[ok]["test_ok"] is True and listed[ok]["test_error"] == ""
    assert listed[bad]["test_ok"] is False and listed[bad]["test_error"]
    assert SECRET not in listed[bad]["test_error"]
    one = await gw.ok("GET", f"/api/channel/{bad}")
    assert one["test_ok"] is False
    # fixed and tested again: healthy
    await gw.ok("PUT", "/api/channel/", {"id": bad, "key": "sk-ok"})
    await gw.api("GET", f"/api/channel/test/{bad}")
    assert (await gw.ok("GET", f"/api/channel/{bad}"))["test_ok"] is True


async def test_log_filters_match_parts_sort_and_count(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo,claude-3-5-sonnet-20241022")
    key = await gw.token(name="Team Alpha key")
    client = gw.client(key)
    for model in ("claude-3-5-sonnet-20241022", "gpt-3.5-turbo", "claude-3-5-sonnet-20241022"):
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi " * 5}])
    # part of a name, any case: "claude" finds the Claude logs, "alpha" the token
    found = await gw.ok("GET", "/api/log/?type=2&model_name=CLAUDE")
    assert [r["model_name"] for r in found] == ["claude-3-5-sonnet-20241022"] * 2
    assert len(await gw.ok("GET", "/api/log/?type=2&token_name=alpha")) == 3
    assert await gw.ok("GET", "/api/log/?type=2&model_name=.*") == []  # text, not a pattern
    # the total beside the page (page count), and sorting by a column, either way
    code, env = await gw.api("GET", "/api/log/?type=2")
    assert env["total"] == 3 and len(env["data"]) == 3
    asc = await gw.ok("GET", "/api/log/?type=2&sort=quota&order=asc")
    assert [r["quota"] for r in asc] == sorted(r["quota"] for r in asc)
    desc = await gw.ok("GET", "/api/log/?type=2&sort=quota")
    assert [r["quota"] for r in desc] == sorted((r["quota"] for r in desc), reverse=True)
    _, bad = await gw.api("GET", "/api/log/?sort=password")
    assert bad["success"] is False and "sort" in bad["message"]
    _, own = await gw.api("GET", "/api/log/self?type=2&model_name=gpt&sort=elapsed_time&order=asc")
    assert own["total"] == 1 and own["data"][0]["model_name"] == "gpt-3.5-turbo"
