"""OAuth end to end against fake providers on loopback: state, GitHub, Lark, OIDC, WeChat; login, sign-up, bind."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fake_oauth import (
    GITHUB_SECRET, LARK_SECRET, OIDC_SECRET, WECHAT_TOKEN, Browser, Providers,
)
from tests.fake_oauth import fakes, providers  # noqa: F401  (fixtures)


async def set_options(gw: Any, **opts: Any) -> None:
    for k, v in opts.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        await gw.ok("PUT", "/api/option/", {"key": k, "value": str(v)})


@pytest.fixture
async def oauth_gw(gw: Any, fakes: Providers) -> Any:
    await fakes.configure(gw)
    await set_options(gw, GitHubOAuthEnabled=True, OidcEnabled=True, WeChatAuthEnabled=True,
                      QuotaForNewUser=500)
    return gw


async def github_login(b: Browser, fakes: Providers, **user: Any) -> tuple[int, Any]:
    state = await b.state()
    code = fakes.state.code("github", **user)
    return await b.get(f"/api/oauth/github?code={code}&state={state}")


async def test_state_endpoint_sets_a_scoped_signed_cookie(oauth_gw: Any) -> None:
    resp = await oauth_gw.http.fetch(oauth_gw.url + "/api/oauth/state")
    data = json.loads(resp.body)
    assert data["success"] and isinstance(data["data"], str) and len(data["data"]) == 12
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("oauth_state=") and data["data"] not in cookie.split(";")[0].split("=", 1)[0]
    low = cookie.lower()
    assert "httponly" in low and "path=/api/oauth" in low and "samesite=lax" in low and "max-age=600" in low
    b = Browser(oauth_gw)
    assert await b.state() != await b.state()


async def test_github_signup_then_login(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    b = Browser(gw)
    code, data = await github_login(b, fakes, login="octocat", name="The Octocat", email="Octo@GitHub.com")
    assert code == 200 and data["success"], data
    user = data["data"]
    assert user["username"] == f"github_{user['id']}" and user["github_id"] == "octocat"
    assert user["display_name"] == "The Octocat" and user["email"] == "octo@github.com"
    assert user["role"] == 1 and user["quota"] == 500 and "password" not in user
    assert "session" in b.cookies and "oauth_state" not in b.cookies  # state used up
    code, me = await b.get("/api/user/self")
    assert me["success"] and me["data"]["id"] == user["id"]
    assert await gw.ctx.db.tokens.count_documents({"user_id": user["id"], "name": "default"}) == 1
    # what GitHub received: the client secret, the code; the API call used the token
    token_call = fakes.state.calls("/login/oauth/access_token")[-1]
    assert token_call.json()["client_secret"] == GITHUB_SECRET
    assert token_call.headers["Accept"] == "application/json"
    assert fakes.state.calls("/user")[-1].headers["Authorization"].startswith("Bearer ")
    # the secret never reaches a client
    assert GITHUB_SECRET not in json.dumps(data) + json.dumps(me)
    # a second login (new browser) finds the same account
    b2 = Browser(gw)
    code, data = await github_login(b2, fakes, login="octocat", name="Renamed")
    assert data["success"] and data["data"]["id"] == user["id"]
    assert await gw.ctx.db.users.count_documents({"github_id": "octocat"}) == 1


async def test_state_checks(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    b = Browser(gw)
    code = fakes.state.code("github", login="someone")
    # no state cookie at all
    status, data = await b.get(f"/api/oauth/github?code={code}&state=abcdefghijkl")
    assert status == 403 and data == {"success": False, "message": "state is empty or not same"}
    # a cookie, but another state in the URL (CSRF / mixed-up tabs)
    await b.state()
    status, data = await b.get(f"/api/oauth/github?code={code}&state=abcdefghijkl")
    assert status == 403 and not data["success"]
    # a callback consumes the state cookie: the same state cannot be used twice in this browser
    state = await b.state()
    status, data = await b.get(f"/api/oauth/github?code={code}&state={state}")
    assert data["success"], data
    code2 = fakes.state.code("github", login="someone")
    status, data = await b.get(f"/api/oauth/github?code={code2}&state={state}")
    assert status == 403
    status, data = await Browser(gw).get(f"/api/oauth/github?code={code2}&state={state}")
    assert status == 403
    # a forged cookie (not signed with our secret) is refused
    b3 = Browser(gw)
    b3.cookies["oauth_state"] = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJwdXIiOiJvYXV0aF9zdGF0ZSIsInN0IjoiYWJj"
                                 "ZGVmZ2hpamtsIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2lnbmF0dXJlLWZvcmdlZA")
    status, data = await b3.get(f"/api/oauth/github?code={code2}&state=abcdefghijkl")
    assert status == 403
    # state on the other providers too
    for path in ("/api/oauth/lark", "/api/oauth/oidc"):
        status, data = await Browser(gw).get(f"{path}?code=x&state=y")
        assert status == 403, path
    assert fakes.state.calls("/open-apis/authen/v2/oauth/token") == []


async def test_github_refusals(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    b = Browser(gw)
    state = await b.state()
    status, data = await b.get(f"/api/oauth/github?code=not-a-code&state={state}")
    assert status == 200 and not data["success"]
    assert data["message"] == "GitHub refused the code: The code passed is incorrect or expired."
    state = await b.state()
    status, data = await b.get(f"/api/oauth/github?state={state}")
    assert not data["success"] and "code is required" in data["message"]
    # GitHub login switched off
    await set_options(gw, GitHubOAuthEnabled=False)
    status, data = await github_login(b, fakes, login="late")
    assert not data["success"] and "not enabled GitHub" in data["message"]
    await set_options(gw, GitHubOAuthEnabled=True)
    # GitHub down or unreachable: a clean message, never a 500
    fakes.state.down = True
    status, data = await github_login(b, fakes, login="late")
    assert status == 200 and not data["success"] and "invalid answer" in data["message"]
    fakes.state.down = False
    gw.ctx.settings.github_oauth_base = "http://127.0.0.1:1"
    status, data = await github_login(b, fakes, login="late")
    assert status == 200 and data["message"] == "Could not reach GitHub, try again later"
    assert await gw.ctx.db.users.count_documents({}) == 1


async def test_registration_closed_and_banned_users(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    status, data = await github_login(Browser(gw), fakes, login="early")
    assert data["success"]
    early_id = data["data"]["id"]
    await set_options(gw, RegisterEnabled=False)
    status, data = await github_login(Browser(gw), fakes, login="newcomer")
    assert not data["success"] and "closed registration" in data["message"]
    status, data = await github_login(Browser(gw), fakes, login="early")  # existing accounts still log in
    assert data["success"]
    await gw.ctx.users.update(early_id, {"status": 2})
    status, data = await github_login(Browser(gw), fakes, login="early")
    assert not data["success"] and "banned" in data["message"]
    await gw.ctx.users.update(early_id, {"status": 3})
    status, data = await github_login(Browser(gw), fakes, login="early")
    assert not data["success"] and "deleted" in data["message"]


async def test_github_binds_with_a_live_session(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    await gw.ctx.users.create("pat", "password1")
    b = Browser(gw)
    me = await b.login("pat", "password1")
    status, data = await github_login(b, fakes, login="pat-gh")
    assert data == {"success": True, "message": "bind"}
    assert (await gw.user(me["id"]))["github_id"] == "pat-gh"
    # binding the same account again is harmless; logging in with it now gives pat
    status, data = await github_login(b, fakes, login="pat-gh")
    assert data["success"]
    status, data = await github_login(Browser(gw), fakes, login="pat-gh")
    assert data["success"] and data["data"]["username"] == "pat"
    # an account bound to someone else cannot be bound
    await gw.ctx.users.create("quinn", "password1", github_id="quinn-gh")
    status, data = await github_login(b, fakes, login="quinn-gh")
    assert not data["success"] and "already bound" in data["message"]
    assert (await gw.user(me["id"]))["github_id"] == "pat-gh"


async def test_lark_login(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    b = Browser(gw)
    state = await b.state()
    code = fakes.state.code("lark", open_id="ou_123", name="飞书用户", en_name="Lark Person")
    status, data = await b.get(f"/api/oauth/lark?code={code}&state={state}")
    assert data["success"], data
    user = data["data"]
    assert user["lark_id"] == "ou_123" and user["username"] == f"lark_{user['id']}"
    assert user["display_name"] == "飞书用户"
    call = fakes.state.calls("/open-apis/authen/v2/oauth/token")[-1].json()
    assert call == {"grant_type": "authorization_code", "client_id": "cli_lark", "client_secret": LARK_SECRET,
                    "code": code, "redirect_uri": "https://relay.example.com/oauth/lark"}
    state = await b.state()
    status, data = await b.get(f"/api/oauth/lark?code=bad&state={state}")
    assert not data["success"] and "Lark refused the code" in data["message"]
    # Lark is available when LarkClientId is set (One API)
    await set_options(gw, LarkClientId="")
    state = await b.state()
    status, data = await b.get(f"/api/oauth/lark?code=x&state={state}")
    assert not data["success"] and "not enabled Lark" in data["message"]


async def test_oidc_with_discovery_and_explicit_endpoints(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    b = Browser(gw)
    state = await b.state()
    code = fakes.state.code("oidc", sub="kc-1", preferred_username="kcuser", name="Keycloak User",
                            email="kc@corp.example", email_verified=True)
    status, data = await b.get(f"/api/oauth/oidc?code={code}&state={state}")
    assert data["success"], data
    user = data["data"]
    assert user["username"] == "kcuser" and user["oidc_id"] == "kc-1" and user["email"] == "kc@corp.example"
    form = fakes.state.calls("/oidc/token")[-1].form()
    assert form == {"client_id": "oidc-client", "client_secret": OIDC_SECRET, "code": code,
                    "grant_type": "authorization_code", "redirect_uri": "https://relay.example.com/oauth/oidc"}
    assert len(fakes.state.calls("/oidc/.well-known/openid-configuration")) == 1
    # explicit endpoints without discovery; a taken preferred username and an unverified email
    await set_options(gw, OidcWellKnown="", OidcTokenEndpoint=fakes.url + "/oidc/token",
                      OidcUserinfoEndpoint=fakes.url + "/oidc/userinfo")
    b2 = Browser(gw)
    state = await b2.state()
    code = fakes.state.code("oidc", sub="kc-2", preferred_username="kcuser", email="kc2@corp.example",
                            email_verified=False)
    status, data = await b2.get(f"/api/oauth/oidc?code={code}&state={state}")
    assert data["success"], data
    assert data["data"]["username"] == f"oidc_{data['data']['id']}" and data["data"]["email"] == ""
    assert data["data"]["display_name"] == "OIDC User"
    assert len(fakes.state.calls("/oidc/.well-known/openid-configuration")) == 1
    # not configured, or disabled
    await set_options(gw, OidcTokenEndpoint="", OidcUserinfoEndpoint="")
    state = await b2.state()
    status, data = await Browser(gw).get(f"/api/oauth/oidc?code=x&state={state}")
    assert status == 403  # a fresh browser has no state cookie
    b3 = Browser(gw)
    state = await b3.state()
    status, data = await b3.get(f"/api/oauth/oidc?code=x&state={state}")
    assert not data["success"] and "OIDC is not configured" in data["message"]
    await set_options(gw, OidcEnabled=False)
    state = await b3.state()
    status, data = await b3.get(f"/api/oauth/oidc?code=x&state={state}")
    assert not data["success"] and "not enabled OIDC" in data["message"]


async def test_wechat_login_and_bind(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    b = Browser(gw)
    code = fakes.state.wechat_code("wx-open-1")
    status, data = await b.get(f"/api/oauth/wechat?code={code}")  # WeChat codes need no state
    assert data["success"], data
    assert data["data"]["wechat_id"] == "wx-open-1" and data["data"]["display_name"] == "WeChat User"
    assert fakes.state.calls("/api/wechat/user")[-1].headers["Authorization"] == WECHAT_TOKEN
    status, data = await b.get("/api/oauth/wechat?code=000000")
    assert not data["success"] and data["message"] == "invalid or expired code"
    status, data = await b.get("/api/oauth/wechat")
    assert not data["success"] and "code is required" in data["message"]
    # bind: needs a user, refuses cross-site pages, refuses an id bound elsewhere
    await gw.ctx.users.create("wendy", "password1")
    wb = Browser(gw)
    me = await wb.login("wendy", "password1")
    code = fakes.state.wechat_code("wx-wendy")
    status, data = await Browser(gw).get(f"/api/oauth/wechat/bind?code={code}")
    assert status == 401
    status, data = await wb.get(f"/api/oauth/wechat/bind?code={code}", headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    status, data = await wb.get(f"/api/oauth/wechat/bind?code={code}")
    assert data["success"], data
    assert (await gw.user(me["id"]))["wechat_id"] == "wx-wendy"
    code = fakes.state.wechat_code("wx-open-1")
    status, data = await wb.get(f"/api/oauth/wechat/bind?code={code}")
    assert not data["success"] and "already bound" in data["message"]
    # a wrong server token, then WeChat login switched off
    await set_options(gw, WeChatServerToken="wrong")
    status, data = await b.get(f"/api/oauth/wechat?code={fakes.state.wechat_code('wx-x')}")
    assert not data["success"] and data["message"] == "unauthorized"
    await set_options(gw, WeChatAuthEnabled=False)
    status, data = await b.get(f"/api/oauth/wechat?code={fakes.state.wechat_code('wx-x')}")
    assert not data["success"] and "not enabled WeChat" in data["message"]
    status, data = await wb.get(f"/api/oauth/wechat/bind?code={fakes.state.wechat_code('wx-y')}")
    assert not data["success"] and "not enabled WeChat" in data["message"]


async def test_oauth_rewards_match_password_signup(oauth_gw: Any, fakes: Providers) -> None:
    gw = oauth_gw
    await set_options(gw, QuotaForNewUser=123)
    status, data = await github_login(Browser(gw), fakes, login="rich")
    assert data["success"] and data["data"]["quota"] == 123
    await gw.ctx.ledger.flush()
    logs = [x["content"] async for x in gw.ctx.db.logs.find({"user_id": data["data"]["id"], "type": 4})]
    assert len(logs) == 1 and logs[0].startswith("New user bonus")
