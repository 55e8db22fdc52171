"""Start-up migrations (master only), run once per database."""

from __future__ import annotations

from services.migrations import migrate
from tests.conftest import Gateway


async def test_type50_base_urls_keep_the_v1_they_were_sent_with(gw: Gateway) -> None:
    ctx = gw.ctx
    assert (await ctx.db.system.find_one({"_id": "schema"}) or {}).get("version") == 1  # ran at start
    bare = await gw.channel(type=50, base_url=gw.upstream.url, models="m-bare")
    with_v1 = await gw.channel(type=50, base_url=gw.upstream.url + "/v1", models="m-v1")
    other = await gw.channel(type=1, base_url=gw.upstream.url, models="m-one")
    await ctx.db.system.update_one({"_id": "schema"}, {"$set": {"version": 0}})  # as before this version
    assert await migrate(ctx.db.system, ctx.channels) == [1]
    assert (await ctx.channels.get(bare))["base_url"] == gw.upstream.url + "/v1"
    assert (await ctx.channels.get(with_v1))["base_url"] == gw.upstream.url + "/v1"
    assert (await ctx.channels.get(other))["base_url"] == gw.upstream.url
    assert await migrate(ctx.db.system, ctx.channels) == []  # never twice
    # the migrated channel reaches the same upstream path as before the change
    key = await gw.token()
    reply = await gw.client(key).chat.completions.create(model="m-bare", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content
    assert gw.upstream.state.requests[-1].path == "/v1/chat/completions"
