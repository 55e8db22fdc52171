"""One API's own React console (web/default) against OneRelay (issue 12, item 2).

The calls below are the console's, page by page, with the URLs and bodies it sends (read from
songquanpeng/one-api web/default/src: App.js, pages/*, components/*Table.js, *Setting.js, *Form.js,
helpers/api.js), replayed through a browser-like session (login cookie, same-origin ``Origin``).
Quirks kept as the console has them: trailing slashes on deletes and one balance refresh,
``p=NaN``-free pages but ``start_timestamp=NaN`` when a date field is blank, whole records
saved back on edit (a token's derived status 3/4, a used code's status 3, a channel's masked key),
number options saved as text (possibly blank).

Each row is ``(page, method, path, body, expect, save)``: ``expect`` is OK (success), FAIL
(``success: false``, as One API fails too) or ANY (an envelope either way: it depends on the
outside world, e.g. a balance endpoint the fake upstream lacks); ``save`` names where ``data``
goes for later rows. ``{name}`` in a path or string, and :class:`Ref` anywhere in a body, read
earlier saves; :class:`Echo` is the console's edit form: the record it loaded, saved back.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import tornado.httpclient

from tests.conftest import Gateway

OK, FAIL, ANY = "ok", "fail", "any"
NOW = int(time.time())


@dataclass
class Ref:
    """A value saved by an earlier row: ``Ref("tok", "id")`` is ``saved["tok"]["id"]``."""

    name: str
    key: str | int | None = None


@dataclass
class Echo:
    """The edit form: GET ``path``'s data, with ``changes`` applied, plus the form's quirks."""

    path: str
    changes: dict[str, Any] = field(default_factory=dict)


# -- the console's calls, page by page ----------------------------------------------------------
ANON = [
    ("App", "GET", "/api/status", None, OK, "status"),
    ("Home", "GET", "/api/notice", None, OK, None),
    ("Home", "GET", "/api/home_page_content", None, OK, None),
    ("About", "GET", "/api/about", None, OK, None),
    ("Login", "GET", "/api/oauth/state", None, ANY, None),
    ("Register", "POST", "/api/user/register?turnstile=", {
        "username": "alice", "password": "alice-pass-1", "password2": "alice-pass-1", "email": "",
        "verification_code": "", "aff_code": None}, OK, None),
    ("Login", "POST", "/api/user/login", {"username": "root", "password": "wrong"}, FAIL, None),
]

ROOT = [
    ("Login", "POST", "/api/user/login", {"username": "root", "password": "123456"}, OK, "me"),
    ("App", "GET", "/api/status", None, OK, None),
    ("TopUp", "GET", "/api/user/self", None, OK, None),
    ("Dashboard", "GET", "/api/user/dashboard", None, OK, None),
    ("helpers.loadChannelModels", "GET", "/api/models", None, OK, None),
    # Setting: operation / system / other (every save is PUT /api/option/ {key, value: text})
    ("Setting", "GET", "/api/option/", None, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "QuotaForNewUser", "value": "100"}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "PreConsumedQuota", "value": ""}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "QuotaRemindThreshold", "value": "0"}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "ChannelDisableThreshold", "value": ""}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "QuotaPerUnit", "value": "500000"}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "RetryTimes", "value": "0"}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "TopUpLink", "value": "https://shop.example/"}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "ChatLink", "value": ""}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "LogConsumeEnabled", "value": "true"}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "DisplayInCurrencyEnabled", "value": "false"}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "AutomaticDisableChannelEnabled", "value": "true"}, OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "ModelRatio", "value": '{\n  "gpt-3.5-turbo": 0.75\n}'},
     OK, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "QuotaPerUnit", "value": "NaN"}, FAIL, None),
    ("OperationSetting", "PUT", "/api/option/", {"key": "QuotaPerUnit", "value": "Infinity"}, FAIL, None),
    ("OperationSetting", "DELETE", f"/api/log/?target_timestamp={NOW - 30 * 86400}", None, OK, None),
    ("OperationSetting", "DELETE", "/api/log/?target_timestamp=NaN", None, FAIL, None),
    ("SystemSetting", "PUT", "/api/option/", {"key": "ServerAddress", "value": "http://localhost:3000"}, OK, None),
    ("SystemSetting", "PUT", "/api/option/", {"key": "SMTPServer", "value": "smtp.example.com"}, OK, None),
    ("SystemSetting", "PUT", "/api/option/", {"key": "SMTPPort", "value": ""}, OK, None),
    ("SystemSetting", "PUT", "/api/option/", {"key": "SMTPPort", "value": "465"}, OK, None),
    ("SystemSetting", "PUT", "/api/option/", {"key": "EmailDomainWhitelist", "value": "gmail.com,qq.com"}, OK, None),
    ("SystemSetting", "PUT", "/api/option/", {"key": "RegisterEnabled", "value": "true"}, OK, None),
    ("SystemSetting", "PUT", "/api/option/", {"key": "PasswordRegisterEnabled", "value": "true"}, OK, None),
    ("SystemSetting", "PUT", "/api/option/", {"key": "GitHubClientId", "value": ""}, OK, None),
    ("OtherSetting", "PUT", "/api/option/", {"key": "Notice", "value": "# hello"}, OK, None),
    ("OtherSetting", "PUT", "/api/option/", {"key": "SystemName", "value": "One API"}, OK, None),
    ("OtherSetting", "PUT", "/api/option/", {"key": "Logo", "value": ""}, OK, None),
    ("OtherSetting", "PUT", "/api/option/", {"key": "About", "value": "about"}, OK, None),
    ("OtherSetting", "PUT", "/api/option/", {"key": "HomePageContent", "value": ""}, OK, None),
    ("OtherSetting", "PUT", "/api/option/", {"key": "Footer", "value": ""}, OK, None),
    # Channel: list, search, add, edit (the whole record saved back), toggles, test, balance, delete
    ("ChannelsTable", "GET", "/api/channel/?p=0", None, OK, None),
    ("EditChannel", "GET", "/api/channel/models", None, OK, None),
    ("EditChannel", "GET", "/api/group/", None, OK, None),
    ("EditChannel", "POST", "/api/channel/", {
        "name": "openai", "type": 1, "key": "sk-ok", "base_url": "{upstream}", "other": "",
        "model_mapping": "", "system_prompt": "", "models": "gpt-3.5-turbo,gpt-4o-mini",
        "groups": ["default"], "group": "default",
        "config": '{"region":"","sk":"","ak":"","user_id":"","vertex_ai_project_id":"","vertex_ai_adc":""}'},
     OK, None),
    ("ChannelsTable", "GET", "/api/channel/?p=0", None, OK, "channels"),
    ("ChannelsTable", "GET", "/api/channel/search?keyword=openai", None, OK, None),
    ("ChannelsTable", "GET", "/api/channel/search?keyword=", None, OK, None),
    ("EditChannel", "GET", "/api/channel/{ch}", None, OK, "channel"),
    ("EditChannel", "PUT", "/api/channel/", Echo("/api/channel/{ch}", {
        "name": "openai-2", "groups": ["default"], "model_mapping": "",
        "config": '{"region":"","sk":"","ak":"","user_id":"","vertex_ai_project_id":"","vertex_ai_adc":""}'}),
     OK, None),
    ("ChannelsTable", "PUT", "/api/channel/", {"id": Ref("ch"), "status": 2}, OK, None),
    ("ChannelsTable", "PUT", "/api/channel/", {"id": Ref("ch"), "status": 1}, OK, None),
    ("ChannelsTable", "PUT", "/api/channel/", {"id": Ref("ch"), "priority": 5}, OK, None),
    ("ChannelsTable", "PUT", "/api/channel/", {"id": Ref("ch"), "weight": 0}, OK, None),
    ("ChannelsTable", "GET", "/api/channel/test/{ch}?model=gpt-3.5-turbo", None, OK, None),
    ("ChannelsTable", "GET", "/api/channel/test/{ch}?model=undefined", None, ANY, None),
    ("ChannelsTable", "GET", "/api/channel/update_balance/{ch}/", None, ANY, None),
    ("ChannelsTable", "GET", "/api/channel/update_balance", None, ANY, None),
    ("ChannelsTable", "GET", "/api/channel/test?scope=disabled", None, OK, None),
    ("ChannelsTable", "DELETE", "/api/channel/disabled", None, OK, None),
    # Redemption: list, search, add, edit, toggles (status_only), delete
    ("RedemptionsTable", "GET", "/api/redemption/?p=0", None, OK, None),
    ("EditRedemption", "POST", "/api/redemption/", {"name": "gift", "quota": 100000, "count": 2}, OK, "codes"),
    ("RedemptionsTable", "GET", "/api/redemption/search?keyword=gift", None, OK, "found"),
    ("EditRedemption", "GET", "/api/redemption/{red}", None, OK, None),
    ("EditRedemption", "PUT", "/api/redemption/", Echo("/api/redemption/{red}", {"name": "gift-2", "count": None}),
     OK, None),
    ("RedemptionsTable", "PUT", "/api/redemption/?status_only=true", {"id": Ref("red"), "status": 2}, OK, None),
    ("RedemptionsTable", "PUT", "/api/redemption/?status_only=true", {"id": Ref("red"), "status": 1}, OK, None),
    ("RedemptionsTable", "DELETE", "/api/redemption/{red2}/", None, OK, None),
    # User: list (with order), search, add, edit (whole record saved back), manage
    ("UsersTable", "GET", "/api/user/?p=0&order=", None, OK, None),
    ("UsersTable", "GET", "/api/user/?p=0&order=quota", None, OK, None),
    ("UsersTable", "GET", "/api/user/search?keyword=ali", None, OK, "users"),
    ("AddUser", "POST", "/api/user/", {"username": "bob", "display_name": "Bob", "password": "bob-pass-1"}, OK, None),
    ("EditUser", "GET", "/api/group/", None, OK, None),
    ("EditUser", "GET", "/api/user/{alice}", None, OK, None),
    ("EditUser", "PUT", "/api/user/", Echo("/api/user/{alice}", {"password": "", "display_name": "Alice"}), OK, None),
    ("UsersTable", "POST", "/api/user/manage", {"username": "bob", "action": "promote"}, OK, None),
    ("UsersTable", "POST", "/api/user/manage", {"username": "bob", "action": "demote"}, OK, None),
    ("UsersTable", "POST", "/api/user/manage", {"username": "bob", "action": "disable"}, OK, None),
    ("UsersTable", "POST", "/api/user/manage", {"username": "bob", "action": "enable"}, OK, None),
    ("UsersTable", "POST", "/api/user/manage", {"username": "bob", "action": "delete"}, OK, None),
    # Log (admin): every filter as the page builds it; blank dates are NaN
    ("LogsTable", "GET", "/api/log/?p=0&type=0&username=&token_name=&model_name=&start_timestamp=NaN"
     "&end_timestamp=NaN&channel=", None, OK, None),
    ("LogsTable", "GET", f"/api/log/?p=0&type=2&username=root&token_name=t&model_name=gpt-3.5-turbo"
     f"&start_timestamp={NOW - 86400}&end_timestamp={NOW + 3600}&channel=" "{ch}", None, OK, None),
    ("LogsTable", "GET", "/api/log/stat?type=0&username=&token_name=&model_name=&start_timestamp=NaN"
     "&end_timestamp=NaN&channel=", None, OK, None),
    ("LogsTable", "GET", "/api/log/search?keyword=", None, OK, None),
    ("ChannelsTable", "DELETE", "/api/channel/{ch}/", None, OK, None),
    # Personal settings: access token, invitation link
    ("PersonalSetting", "GET", "/api/user/aff", None, OK, None),
    ("Header", "GET", "/api/user/logout", None, OK, None),
]

# A common user (alice): her tokens, logs, top-up and account.
USER = [
    ("Login", "POST", "/api/user/login", {"username": "alice", "password": "alice-pass-1"}, OK, None),
    ("TopUp", "GET", "/api/user/self", None, OK, None),
    ("TopUp", "POST", "/api/user/topup", {"key": Ref("codes", 0)}, OK, None),
    ("TopUp", "POST", "/api/user/topup", {"key": Ref("codes", 0)}, FAIL, None),  # used already
    ("Dashboard", "GET", "/api/user/dashboard", None, OK, None),
    ("EditToken", "GET", "/api/user/available_models", None, OK, None),
    ("EditToken", "POST", "/api/token/", {"name": "laptop", "remain_quota": 500000, "expired_time": -1,
                                          "unlimited_quota": False, "models": "", "subnet": ""}, OK, None),
    ("EditToken", "POST", "/api/token/", {"name": "old", "remain_quota": 500000, "expired_time": NOW - 60,
                                          "unlimited_quota": False, "models": "", "subnet": ""}, OK, None),
    ("EditToken", "POST", "/api/token/", {"name": "spent", "remain_quota": 0, "expired_time": -1,
                                          "unlimited_quota": False, "models": "gpt-3.5-turbo", "subnet": ""}, OK, None),
    ("TokensTable", "GET", "/api/token/?p=0&order=", None, OK, "tokens"),
    ("TokensTable", "GET", "/api/token/?p=0&order=remain_quota", None, OK, None),
    ("TokensTable", "GET", "/api/token/search?keyword=lap", None, OK, None),
    ("EditToken", "GET", "/api/token/{laptop}", None, OK, None),
    ("EditToken", "PUT", "/api/token/", Echo("/api/token/{laptop}", {"name": "laptop-2"}), OK, None),
    # saving an expired (3) or exhausted (4) token back as shown
    ("EditToken", "PUT", "/api/token/", Echo("/api/token/{old}", {"name": "old-2"}), OK, None),
    ("EditToken", "PUT", "/api/token/", Echo("/api/token/{spent}", {"subnet": "10.0.0.0/8"}), OK, None),
    ("TokensTable", "PUT", "/api/token/?status_only=true", {"id": Ref("laptop"), "status": 2}, OK, None),
    ("TokensTable", "PUT", "/api/token/?status_only=true", {"id": Ref("laptop"), "status": 1}, OK, None),
    ("TokensTable", "PUT", "/api/token/?status_only=true", {"id": Ref("old"), "status": 1}, FAIL, None),
    ("TokensTable", "PUT", "/api/token/?status_only=true", {"id": Ref("spent"), "status": 1}, FAIL, None),
    ("TokensTable", "DELETE", "/api/token/{spent}/", None, OK, None),
    # Log (self): filters, stat, search by type (and by text: nothing, as One API)
    ("LogsTable", "GET", "/api/log/self/?p=0&type=0&token_name=&model_name=&start_timestamp=NaN"
     "&end_timestamp=NaN", None, OK, None),
    ("LogsTable", "GET", f"/api/log/self/?p=0&type=1&token_name=&model_name=&start_timestamp={NOW - 86400}"
     "&end_timestamp=", None, OK, "mylogs"),
    ("LogsTable", "GET", "/api/log/self/stat?type=0&token_name=&model_name=&start_timestamp=NaN"
     "&end_timestamp=NaN", None, OK, None),
    ("LogsTable", "GET", "/api/log/self/search?keyword=1", None, OK, None),
    ("LogsTable", "GET", "/api/log/self/search?keyword=hello", None, OK, "textsearch"),
    ("PersonalSetting", "GET", "/api/user/token", None, OK, None),
    ("PersonalSetting", "GET", "/api/user/aff", None, OK, None),
    ("EditUser(self)", "GET", "/api/user/self", None, OK, None),
    ("EditUser(self)", "PUT", "/api/user/self", Echo("/api/user/self", {"password": "", "display_name": "Al"}),
     OK, None),
    ("PersonalSetting", "DELETE", "/api/user/self", None, OK, None),
    ("PersonalSetting", "GET", "/api/user/logout", None, OK, None),
]

# After alice redeemed a code: root saves the used code back from its edit page.
ROOT_AFTER = [
    ("Login", "POST", "/api/user/login", {"username": "root", "password": "123456"}, OK, None),
    ("EditRedemption", "PUT", "/api/redemption/", Echo("/api/redemption/{red}", {"name": "used", "count": None}),
     OK, None),
    ("EditRedemption", "GET", "/api/redemption/{red}", None, OK, "used"),
    ("RedemptionsTable", "PUT", "/api/redemption/?status_only=true", {"id": Ref("red"), "status": 1}, FAIL, None),
    ("RedemptionsTable", "DELETE", "/api/redemption/{red}/", None, OK, None),
]


# -- a browser-like session ---------------------------------------------------------------------
class Browser:
    """Cookies from login, same-origin ``Origin`` on writes, JSON bodies (axios)."""

    def __init__(self, gw: Gateway, saved: dict[str, Any]) -> None:
        self.gw = gw
        self.cookie = ""
        self.saved = saved
        self.http = tornado.httpclient.AsyncHTTPClient(force_instance=True)

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json, text/plain, */*"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if method != "GET":
            headers["Origin"] = self.gw.url
        if body is not None:
            headers["Content-Type"] = "application/json"
        resp = await self.http.fetch(self.gw.url + path, method=method, headers=headers,
                                     body=None if body is None else json.dumps(body), raise_error=False,
                                     allow_nonstandard_methods=True, follow_redirects=False)
        for c in resp.headers.get_list("Set-Cookie"):
            if c.startswith("session="):
                self.cookie = c.split(";", 1)[0]
        try:
            return resp.code, json.loads(resp.body or b"null")
        except ValueError:
            return resp.code, resp.body

    def fill(self, v: Any) -> Any:
        if isinstance(v, Ref):
            got = self.saved[v.name]
            return got if v.key is None else got[v.key]
        if isinstance(v, str):
            return re.sub(r"\{(\w+)\}", lambda m: str(self.saved[m[1]]) if m[1] in self.saved else m[0], v)
        if isinstance(v, dict):
            return {k: self.fill(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.fill(x) for x in v]
        return v

    async def edit_form(self, echo: Echo) -> dict[str, Any]:
        code, got = await self.call("GET", self.fill(echo.path))
        assert code == 200 and got["success"], (echo.path, got)
        data = dict(got["data"])
        data.update(self.fill(echo.changes))
        return data

    async def replay(self, rows: list[Any]) -> None:
        for page, method, path, body, expect, save in rows:
            url = self.fill(path)
            if isinstance(body, Echo):
                body = await self.edit_form(body)
            else:
                body = self.fill(body)
            code, data = await self.call(method, url, body)
            where = f"{page}: {method} {url} {json.dumps(body)[:300] if body is not None else ''}"
            assert code == 200 and isinstance(data, dict) and isinstance(data.get("success"), bool), \
                (where, code, data)
            if expect == OK:
                assert data["success"] is True, (where, data)
            elif expect == FAIL:
                assert data["success"] is False and data["message"], (where, data)
            if save:
                self.saved[save] = data.get("data")


def split_after(rows: list[Any], save: str) -> tuple[list[Any], list[Any]]:
    n = next(i for i, r in enumerate(rows) if r[5] == save) + 1
    return rows[:n], rows[n:]


async def test_one_api_console_replayed(gw: Gateway) -> None:
    saved: dict[str, Any] = {"upstream": gw.upstream.url}
    anon = Browser(gw, saved)
    await anon.replay(ANON)
    status = saved["status"]
    for k in ("oidc", "oidc_client_id", "oidc_well_known", "oidc_authorization_endpoint", "oidc_token_endpoint",
              "oidc_userinfo_endpoint", "github_oauth", "wechat_login", "turnstile_check", "quota_per_unit"):
        assert k in status, k

    root = Browser(gw, saved)
    saved["alice"] = (await gw.ok("GET", "/api/user/search?keyword=alice"))[0]["id"]
    # the ids later rows act on are read from the list rows that show them
    head, tail = split_after(ROOT, "channels")
    await root.replay(head)
    saved["ch"] = next(c["id"] for c in saved["channels"] if c["name"] == "openai")
    head, tail = split_after(tail, "found")
    await root.replay(head)
    saved["red"], saved["red2"] = sorted(r["id"] for r in saved["found"])
    await root.replay(tail)

    assert saved["channel"]["name"] == "openai" and saved["me"]["username"] == "root"

    user = Browser(gw, saved)
    head, tail = split_after(USER, "tokens")
    await user.replay(head)
    by_name = {t["name"]: t for t in saved["tokens"]}
    assert by_name["old"]["status"] == 3 and by_name["spent"]["status"] == 4
    for name in ("laptop", "old", "spent"):
        saved[name] = by_name[name]["id"]
    await user.replay(tail)
    assert saved["textsearch"] == []
    assert [entry["type"] for entry in saved["mylogs"]] == [1]  # the top-up

    await Browser(gw, saved).replay(ROOT_AFTER)
    assert saved["used"]["name"] == "used" and saved["used"]["status"] == 3 and saved["used"]["quota"] == 100000


# -- the leniencies one by one ------------------------------------------------------------------
async def test_trailing_slashes_everywhere(gw: Gateway) -> None:
    for path in ("/api/status", "/api/notice", "/api/about", "/api/models", "/api/option", "/api/user/self",
                 "/api/user/aff", "/api/user/dashboard", "/api/user/available_models", "/api/token",
                 "/api/channel", "/api/channel/models", "/api/redemption", "/api/group", "/api/log",
                 "/api/log/self", "/api/log/stat", "/api/log/self/stat", "/api/user/search",
                 "/api/channel/search", "/api/token/search", "/api/redemption/search", "/api/openapi.json"):
        for p in (path, path + "/"):
            code, data = await gw.api("GET", p)
            assert code == 200 and isinstance(data, dict), (p, code, data)
            assert data.get("success", True) is True or "openapi" in data, (p, data)
    cid = await gw.channel()
    tid = (await gw.ok("POST", "/api/token/", {"name": "x"}))["id"]
    await gw.ok("POST", "/api/redemption/", {"name": "r", "quota": 1})
    rid = (await gw.ok("GET", "/api/redemption/search?keyword=r"))[0]["id"]
    for path in (f"/api/channel/{cid}/", f"/api/token/{tid}/", f"/api/redemption/{rid}/", "/api/user/1/"):
        await gw.ok("GET", path)
    for path in (f"/api/channel/{cid}/", f"/api/token/{tid}/", f"/api/redemption/{rid}/"):
        await gw.ok("DELETE", path)
        code, data = await gw.api("GET", path)
        assert code == 200 and data["success"] is False


async def test_unknown_api_path_in_one_api_shape(gw: Gateway) -> None:
    for method, path in (("GET", "/api/nothing"), ("POST", "/api/token/5/extra"), ("GET", "/api/user/abc")):
        code, data = await gw.api(method, path)
        assert code == 404, (path, code)
        msg = f"Invalid URL ({method} {path})"
        assert data["error"] == {"message": msg, "type": "invalid_request_error", "param": "", "code": ""}
        assert data["success"] is False and data["message"] == msg


async def test_lenient_page_and_timestamps(gw: Gateway) -> None:
    await gw.token(name="a")
    for p in ("abc", "NaN", "1.5", "", "-3", "0x10"):
        assert len(await gw.ok("GET", f"/api/token/?p={urllib.parse.quote(p)}")) == 1, p
    assert await gw.ok("GET", "/api/token/?p=2147483647") == []
    for p in ("2147483648", "99999999999999999999999999999999999999999999999999", "9" * 5000):
        for path in ("/api/token/", "/api/log/", "/api/log/self/", "/api/channel/", "/api/user/"):
            code, data = await gw.api("GET", f"{path}?p={p}")  # bounded: refused, never a 500
            assert code == 200 and data["success"] is False and "p must be" in data["message"], (path, p)
    # timestamps: NaN / blank / text are no filter; numbers still filter
    [key] = await gw.ok("POST", "/api/redemption/", {"name": "g", "quota": 7})
    await gw.ok("POST", "/api/user/topup", {"key": key})  # a top-up log
    everything = await gw.ok("GET", "/api/log/")
    assert everything
    for ts in ("NaN", "", "abc", "1e9"):
        q = f"start_timestamp={ts}&end_timestamp={ts}"
        assert await gw.ok("GET", f"/api/log/?{q}") == everything, ts
        assert isinstance((await gw.ok("GET", f"/api/log/stat?{q}"))["quota"], int)
        await gw.ok("GET", f"/api/log/self/?{q}")
        await gw.ok("GET", f"/api/log/self/stat?{q}")
    assert await gw.ok("GET", f"/api/log/?start_timestamp={NOW + 86400}") == []
    # an out-of-range number is still refused; other arguments stay strict
    for q in ("start_timestamp=-5", f"end_timestamp={2**63}", "type=abc"):
        code, data = await gw.api("GET", f"/api/log/?{q}")
        assert code == 200 and data["success"] is False, q


async def test_self_log_text_search_is_empty(gw: Gateway) -> None:
    assert await gw.ok("GET", "/api/log/self/search?keyword=hello") == []
    assert await gw.ok("GET", "/api/log/self/search?keyword=99") == []


async def test_token_derived_status_round_trip(gw: Gateway) -> None:
    old = await gw.ok("POST", "/api/token/", {"name": "old", "expired_time": NOW - 10, "remain_quota": 5})
    spent = await gw.ok("POST", "/api/token/", {"name": "spent", "remain_quota": 0})
    live = await gw.ok("POST", "/api/token/", {"name": "live", "unlimited_quota": True})
    assert old["status"] == 3 and spent["status"] == 4 and live["status"] == 1
    # saved back as shown: fine; the changed field is taken
    got = await gw.ok("PUT", "/api/token/", {**old, "name": "old2"})
    assert got["name"] == "old2" and got["status"] == 3
    got = await gw.ok("PUT", "/api/token/", {**spent, "models": "gpt-4o"})
    assert got["models"] == "gpt-4o" and got["status"] == 4
    await gw.ok("PUT", "/api/token/?status_only=true", {"id": old["id"], "status": 3})
    # a new expiry makes it usable again, with the old status sent along
    got = await gw.ok("PUT", "/api/token/", {**old, "expired_time": -1})
    assert got["status"] == 1
    # setting a derived status that is not the current one is refused, clearly
    for body, q in (({**live, "status": 3}, ""), ({"id": live["id"], "status": 4}, "?status_only=true"),
                    ({**spent, "status": 3}, "")):
        code, data = await gw.api("PUT", "/api/token/" + q, body)
        assert data["success"] is False and "set by OneRelay" in data["message"], data
    # a changed remain_quota still has to be >= 0
    code, data = await gw.api("PUT", "/api/token/", {**live, "remain_quota": -5})
    assert data["success"] is False and "remain_quota" in data["message"]


async def test_redemption_used_status_round_trip(gw: Gateway) -> None:
    [key] = await gw.ok("POST", "/api/redemption/", {"name": "gift", "quota": 1000})
    red = (await gw.ok("GET", "/api/redemption/search?keyword=gift"))[0]
    # an unused code: status 3 cannot be set
    code, data = await gw.api("PUT", "/api/redemption/", {**red, "status": 3})
    assert data["success"] is False and "set by redeeming" in data["message"]
    code, data = await gw.api("PUT", "/api/redemption/?status_only=true", {"id": red["id"], "status": 3})
    assert data["success"] is False and "set by redeeming" in data["message"]
    assert (await gw.ok("POST", "/api/user/topup", {"key": key})) == 1000
    used = await gw.ok("GET", f"/api/redemption/{red['id']}")
    assert used["status"] == 3
    got = await gw.ok("PUT", "/api/redemption/", {**used, "name": "renamed", "count": None})
    assert got["name"] == "renamed" and got["status"] == 3
    # its quota and status still cannot change
    for body, q in (({**used, "quota": 5}, ""), ({**used, "status": 1}, ""), ({"id": red["id"], "status": 2},
                                                                              "?status_only=true")):
        code, data = await gw.api("PUT", "/api/redemption/" + q, body)
        assert data["success"] is False and "already been used" in data["message"], data


async def test_blank_number_option_is_its_default(gw: Gateway) -> None:
    for key, default in (("SMTPPort", "587"), ("PreConsumedQuota", "500"), ("QuotaPerUnit", "500000"),
                         ("ChannelDisableThreshold", "5"), ("RetryTimes", "0")):
        await gw.ok("PUT", "/api/option/", {"key": key, "value": "7"})
        await gw.ok("PUT", "/api/option/", {"key": key, "value": "  "})
        stored = {o["key"]: o["value"] for o in await gw.ok("GET", "/api/option/")}
        assert stored[key] == default, key
    for bad in ("NaN", "inf", "-Infinity", "abc"):
        code, data = await gw.api("PUT", "/api/option/", {"key": "QuotaPerUnit", "value": bad})
        assert data["success"] is False, bad
    assert gw.ctx.options.float("QuotaPerUnit") == 500000.0
