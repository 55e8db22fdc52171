"""Usage export as CSV (issue 15, item 3): ``/api/log/export`` (admin) and ``/api/log/self/export``
(one's own) with the list's filters, streamed in batches for large ranges."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import openai

from tests.conftest import Gateway


async def export(gw: Gateway, path: str, token: str | None = None) -> tuple[int, dict[str, str], list[dict[str, str]]]:
    kw: dict[str, Any] = {} if token is None else {"token": token}
    h = {"Authorization": kw.get("token", "0123456789abcdef0123456789abcdef")}
    resp = await gw.http.fetch(gw.url + path, headers=h, raise_error=False, request_timeout=60)
    text = resp.body.decode("utf-8")
    headers = dict(resp.headers)
    if not headers.get("Content-Type", "").startswith("text/csv"):
        return resp.code, headers, []
    assert text.startswith("\ufeff")
    return resp.code, headers, list(csv.DictReader(io.StringIO(text[1:])))


async def test_export_with_filters_own_rows_and_escaping(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo,gpt-4o")
    key = await gw.token(name="导出 key")
    client = gw.client(key)
    for model in ("gpt-3.5-turbo", "gpt-4o", "gpt-4o"):
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    try:
        await client.chat.completions.create(model="no-such", messages=[{"role": "user", "content": "hi"}])
    except openai.APIStatusError:
        pass
    await gw.ctx.ledger.flush()
    await gw.ctx.db.logs.insert_one({"_id": 990001, "type": 3, "user_id": 1, "username": "root", "created_at": int(time.time()),
                                     "content": "=HYPERLINK(\"http://evil\")", "quota": 0})

    code, headers, rows = await export(gw, "/api/log/export?type=2&model_name=4o")
    assert code == 200 and 'attachment; filename="onerelay-logs-' in headers["Content-Disposition"]
    assert [(r["model_name"], r["type"], r["token_name"]) for r in rows] == [("gpt-4o", "consume", "导出 key")] * 2
    listed = await gw.ok("GET", "/api/log/?type=2&model_name=4o")
    assert [int(r["id"]) for r in rows] == [r["id"] for r in listed]
    assert sum(int(r["quota"]) for r in rows) == sum(r["quota"] for r in listed) > 0

    _, _, everything = await export(gw, "/api/log/export")
    types = {r["type"] for r in everything}
    assert {"consume", "error", "manage"} <= types
    err = next(r for r in everything if r["type"] == "error")
    assert err["status"] == "503" and err["error_code"] == "model_not_found" and err["request_id"]
    evil = next(r for r in everything if r["id"] == "990001")
    assert evil["content"].startswith("'=")  # not run as a formula by a spreadsheet

    # a common user: their own logs only; the admin export is refused
    await gw.ok("POST", "/api/user/", {"username": "carol", "password": "carol-pass-1"})
    carol_login = await gw.http.fetch(gw.url + "/api/user/login", method="POST", raise_error=False,
                                      body='{"username": "carol", "password": "carol-pass-1"}')
    cookie = carol_login.headers["Set-Cookie"].split(";")[0]
    resp = await gw.http.fetch(gw.url + "/api/user/token", headers={"Cookie": cookie}, raise_error=False)
    carol_token = json.loads(resp.body)["data"]
    code, _, mine = await export(gw, "/api/log/self/export", token=carol_token)
    assert code == 200 and all(r["username"] == "carol" for r in mine)
    _, _, refused = await export(gw, "/api/log/export", token=carol_token)
    assert refused == []
    _, body = await gw.api("GET", "/api/log/export", token=carol_token)
    assert body["success"] is False
    _, bad = await gw.api("GET", "/api/log/export?type=99")
    assert bad["success"] is False


async def test_large_exports_stream_every_row(gw: Gateway) -> None:
    now = int(time.time())
    docs = [{"_id": 500000 + i, "type": 2, "user_id": 1, "username": "root", "token_name": "bulk",
             "model_name": "gpt-4o-mini", "created_at": now - i, "quota": i, "content": f"row {i}"}
            for i in range(4500)]
    await gw.ctx.db.logs.insert_many(docs)
    code, _, rows = await export(gw, "/api/log/export?token_name=bulk")
    assert code == 200 and len(rows) == 4500
    assert [int(r["id"]) for r in rows[:3]] == [500000, 500001, 500002]  # newest first
    assert sum(int(r["quota"]) for r in rows) == sum(range(4500))
