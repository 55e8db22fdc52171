"""POST /api/user/register: rewards, invitations, default token, switches, verification, Turnstile, bad input."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from models.users import check_password
from tests.fake_oauth import TURNSTILE_GOOD, Browser, Providers, SMTPServer  # noqa: F401
from tests.fake_oauth import fakes, providers, smtp, smtp_server  # noqa: F401  (fixtures)


async def set_options(gw: Any, **opts: Any) -> None:
    for k, v in opts.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        await gw.ok("PUT", "/api/option/", {"key": k, "value": str(v)})


async def register(gw: Any, body: Any, query: str = "") -> tuple[int, Any]:
    return await gw.api("POST", "/api/user/register" + query, body, token=None)  # type: ignore[no-any-return]


async def test_register_creates_user_with_bonus_and_default_token(gw: Any) -> None:
    await set_options(gw, QuotaForNewUser=1000, DisplayInCurrencyEnabled=False)
    code, data = await register(gw, {"username": "alice", "password": "password1", "display_name": "Alice A",
                                      "email": "ignored@gmail.com"})
    assert code == 200 and data == {"success": True, "message": ""}
    doc = await gw.ctx.db.users.find_one({"username": "alice"})
    assert doc is not None
    assert doc["role"] == 1 and doc["status"] == 1 and doc["quota"] == 1000
    assert doc["display_name"] == "Alice A" and doc["email"] == ""  # email kept only when verified
    assert doc["password"] != "password1" and check_password("password1", doc["password"])
    assert len(doc["aff_code"]) == 4 and doc["inviter_id"] == 0
    tokens = [t async for t in gw.ctx.db.tokens.find({"user_id": doc["_id"]})]
    assert len(tokens) == 1
    t = tokens[0]
    assert t["name"] == "default" and t["unlimited_quota"] is True and t["expired_time"] == -1
    assert t["status"] == 1 and len(t["key"]) == 48
    # the new user logs in and sees its quota
    b = Browser(gw)
    me = await b.login("alice", "password1")
    assert me["username"] == "alice" and me["quota"] == 1000 and "password" not in me
    await gw.ctx.ledger.flush()
    logs = [x async for x in gw.ctx.db.logs.find({"user_id": doc["_id"], "type": 4})]
    assert [x["content"] for x in logs] == ["New user bonus: 1000 points"]
    # no display name: the username is used
    code, data = await register(gw, {"username": "bob", "password": "password2"})
    assert data["success"]
    bob = await gw.ctx.db.users.find_one({"username": "bob"})
    assert bob is not None and bob["display_name"] == "bob"


async def test_invitation_rewards_both_sides(gw: Any) -> None:
    await set_options(gw, QuotaForNewUser=100, QuotaForInvitee=50, QuotaForInviter=70)
    assert (await register(gw, {"username": "inviter", "password": "password1"}))[1]["success"]
    inviter = await gw.ctx.db.users.find_one({"username": "inviter"})
    assert inviter is not None and inviter["quota"] == 100
    # the inviter's balance is cached in the ledger (as after a relay call): the credit must show there
    assert await gw.ctx.ledger.ensure("u", inviter["_id"]) == 100
    code, data = await register(gw, {"username": "invitee", "password": "password1",
                                     "aff_code": inviter["aff_code"]})
    assert data["success"], data
    invitee = await gw.ctx.db.users.find_one({"username": "invitee"})
    assert invitee is not None
    assert invitee["quota"] == 150 and invitee["inviter_id"] == inviter["_id"]
    assert await gw.ctx.ledger.ensure("u", inviter["_id"]) == 170  # every reader sees a credit at once
    doc = await gw.user(inviter["_id"])  # flushes the ledger
    assert doc["quota"] == 170
    contents = sorted([x["content"] async for x in gw.ctx.db.logs.find({"type": 4})])
    assert any(c.startswith("Bonus for inviting user invitee") for c in contents)
    assert any(c.startswith("Invitation code bonus") for c in contents)
    # an unknown aff code is ignored (One API): no inviter, no invitee bonus
    code, data = await register(gw, {"username": "stranger", "password": "password1", "aff_code": "zzzz"})
    assert data["success"]
    stranger = await gw.ctx.db.users.find_one({"username": "stranger"})
    assert stranger is not None and stranger["quota"] == 100 and stranger["inviter_id"] == 0


async def test_registration_switches(gw: Any) -> None:
    await set_options(gw, RegisterEnabled=False)
    code, data = await register(gw, {"username": "carol", "password": "password1"})
    assert code == 200 and not data["success"] and "closed registration" in data["message"]
    await set_options(gw, RegisterEnabled=True, PasswordRegisterEnabled=False)
    code, data = await register(gw, {"username": "carol", "password": "password1"})
    assert not data["success"] and "third-party" in data["message"]
    assert await gw.ctx.db.users.find_one({"username": "carol"}) is None


@pytest.mark.parametrize("body,needle", [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2]", "JSON object"),
    ({"password": "password1"}, "username is required"),
    ({"username": "dave"}, "password is required"),
    ({"username": "x" * 13, "password": "password1"}, "username must be at most 12"),
    ({"username": "dave", "password": "short7!"}, "password must be 8-20"),
    ({"username": "dave", "password": "p" * 21}, "password must be 8-20"),
    ({"username": "dave", "password": "password1", "display_name": "d" * 21}, "display_name must be at most 20"),
    ({"username": "dave", "password": "password1", "email": "e" * 40 + "@gmail.com.cn"}, "email must be at most 50"),
    ({"username": "dave", "password": "password1", "email": "not-an-email"}, "not a valid email"),
    ({"username": 12345, "password": "password1"}, "username must be a string"),
    ({"username": "dave", "password": ["password1"]}, "password must be a string"),
    ({"username": "da ve", "password": "password1"}, "must not contain spaces or @"),
    ({"username": "d@ve.io", "password": "password1"}, "must not contain spaces or @"),
    ({"username": "dave", "password": "password1", "aff_code": 7}, "aff_code must be a string"),
])
async def test_register_bad_input(gw: Any, body: Any, needle: str) -> None:
    code, data = await register(gw, body)
    assert code == 200 and data["success"] is False
    assert needle in data["message"], data
    assert await gw.ctx.db.users.count_documents({}) == 1  # only root


async def test_duplicate_username_even_when_concurrent(gw: Any) -> None:
    code, data = await register(gw, {"username": "root", "password": "password1"})
    assert not data["success"] and "already taken" in data["message"]
    results = await asyncio.gather(*[
        register(gw, {"username": "racer", "password": f"password{i}"}) for i in range(8)])
    assert sum(1 for _, d in results if d["success"]) == 1
    assert all("already taken" in d["message"] for _, d in results if not d["success"])
    assert await gw.ctx.db.users.count_documents({"username": "racer"}) == 1


async def test_register_with_email_verification(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    await set_options(gw, EmailVerificationEnabled=True, SystemName="Relay Test")
    code, data = await register(gw, {"username": "erin", "password": "password1"})
    assert not data["success"] and "verification code" in data["message"]
    code, data = await gw.api("GET", "/api/verification?email=Erin@Gmail.com", token=None)
    assert data["success"], data
    mail = smtp.sink.last_to("erin@gmail.com")
    found = re.search(r"verification code is: ([A-Z0-9]{6})\b", smtp.sink.text(mail))
    assert found, smtp.sink.text(mail)
    vcode = found.group(1)
    assert "Relay Test" in mail["Subject"] and "Relay Test" in mail["From"]
    wrong = "AAAAAA" if vcode != "AAAAAA" else "BBBBBB"
    code, data = await register(gw, {"username": "erin", "password": "password1", "email": "erin@gmail.com",
                                     "verification_code": wrong})
    assert not data["success"] and "wrong or has expired" in data["message"]
    code, data = await register(gw, {"username": "erin", "password": "password1", "email": "erin@gmail.com",
                                     "verification_code": vcode.lower()})  # codes are case-insensitive
    assert data["success"], data
    erin = await gw.ctx.db.users.find_one({"username": "erin"})
    assert erin is not None and erin["email"] == "erin@gmail.com"
    # the code is used up, and the address is now taken
    code, data = await register(gw, {"username": "erin2", "password": "password1", "email": "erin@gmail.com",
                                     "verification_code": vcode})
    assert not data["success"] and "already in use" in data["message"]
    code, data = await gw.api("GET", "/api/verification?email=erin@gmail.com", token=None)
    assert not data["success"] and "already in use" in data["message"]


async def test_expired_code_is_refused(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    await set_options(gw, EmailVerificationEnabled=True)
    assert (await gw.api("GET", "/api/verification?email=frank@gmail.com", token=None))[1]["success"]
    vcode = re.findall(r"is: ([A-Z0-9]{6})", smtp.sink.text(smtp.sink.last_to("frank@gmail.com")))[0]
    await gw.ctx.db.db["verifications"].update_many({}, {"$set": {"expires_at": 1.0}})
    code, data = await register(gw, {"username": "frank", "password": "password1", "email": "frank@gmail.com",
                                     "verification_code": vcode})
    assert not data["success"] and "expired" in data["message"]


async def test_email_domain_whitelist(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    await set_options(gw, EmailVerificationEnabled=True, EmailDomainRestrictionEnabled=True,
                      EmailDomainWhitelist="example.org, corp.example.com")
    code, data = await gw.api("GET", "/api/verification?email=gina@gmail.com", token=None)
    assert not data["success"] and "whitelist" in data["message"]
    assert smtp.sink.messages == []
    code, data = await gw.api("GET", "/api/verification?email=gina@Corp.Example.com", token=None)
    assert data["success"], data
    vcode = re.findall(r"is: ([A-Z0-9]{6})", smtp.sink.text(smtp.sink.last_to("gina@corp.example.com")))[0]
    # registration checks the domain too (the whitelist may change after the code was sent)
    code, data = await register(gw, {"username": "gina", "password": "password1", "email": "gina@gmail.com",
                                     "verification_code": vcode})
    assert not data["success"] and "whitelist" in data["message"]
    code, data = await register(gw, {"username": "gina", "password": "password1",
                                     "email": "gina@corp.example.com", "verification_code": vcode})
    assert data["success"], data


@pytest.mark.settings(trusted_proxies="127.0.0.1")
async def test_turnstile_on_register(gw: Any, fakes: Providers) -> None:
    await fakes.configure(gw)
    await set_options(gw, TurnstileCheckEnabled=True)
    body = {"username": "hank", "password": "password1"}
    code, data = await register(gw, body)
    assert not data["success"] and "Turnstile token is empty" in data["message"]
    code, data = await register(gw, body, "?turnstile=forged")
    assert not data["success"] and "Turnstile check failed" in data["message"]
    code, data = await gw.api("POST", "/api/user/register?turnstile=" + TURNSTILE_GOOD, body, token=None,
                              headers={"X-Real-Ip": "203.0.113.9"})
    assert data["success"], data
    calls = fakes.state.calls("/turnstile/v0/siteverify")
    assert len(calls) == 2
    form = calls[-1].form()
    assert form == {"secret": "turnstile-secret", "response": TURNSTILE_GOOD, "remoteip": "203.0.113.9"}
    # the verifier down or unreachable: a clean refusal, never a 500
    fakes.state.down = True
    code, data = await register(gw, {"username": "ivan", "password": "password1"}, "?turnstile=" + TURNSTILE_GOOD)
    assert code == 200 and not data["success"] and "invalid answer" in data["message"]
    fakes.state.down = False
    gw.ctx.settings.turnstile_verify_url = "http://127.0.0.1:1/siteverify"
    code, data = await register(gw, {"username": "ivan", "password": "password1"}, "?turnstile=" + TURNSTILE_GOOD)
    assert code == 200 and not data["success"] and "Could not reach" in data["message"]
    assert await gw.ctx.db.users.find_one({"username": "ivan"}) is None


@pytest.mark.settings(trusted_proxies="127.0.0.1")
async def test_turnstile_pass_is_remembered_for_the_signup_page(gw: Any, fakes: Providers,
                                                                 smtp: SMTPServer) -> None:
    """The sign-up page sends one (single-use) token to /api/verification, then to /api/user/register."""
    await fakes.configure(gw)
    await smtp.configure(gw)
    await set_options(gw, TurnstileCheckEnabled=True, EmailVerificationEnabled=True)
    token = fakes.state.turnstile_token()
    page = Browser(gw, ip="198.51.100.7")
    code, data = await page.get(f"/api/verification?email=jill@gmail.com&turnstile={token}")
    assert data["success"], data
    assert "turnstile" in page.cookies
    vcode = re.findall(r"is: ([A-Z0-9]{6})", smtp.sink.text(smtp.sink.last_to("jill@gmail.com")))[0]
    body = {"username": "jill", "password": "password1", "email": "jill@gmail.com", "verification_code": vcode}
    # replaying the used token without the cookie fails (Cloudflare: timeout-or-duplicate)
    code, data = await gw.api("POST", f"/api/user/register?turnstile={token}", body, token=None)
    assert not data["success"] and "Turnstile check failed" in data["message"]
    # the cookie is bound to the client IP
    stolen = Browser(gw, ip="192.0.2.66")
    stolen.cookies = dict(page.cookies)
    code, data = await stolen.post("/api/user/register", body)
    assert not data["success"] and "Turnstile token is empty" in data["message"]
    code, data = await page.post(f"/api/user/register?turnstile={token}", body)
    assert data["success"], data
    assert len(fakes.state.calls("/turnstile/v0/siteverify")) == 2
    # reset_password takes Turnstile too
    await set_options(gw, ServerAddress="https://relay.example.com")
    code, data = await gw.api("GET", "/api/reset_password?email=jill@gmail.com", token=None)
    assert not data["success"] and "Turnstile token is empty" in data["message"]
    code, data = await gw.api("GET", f"/api/reset_password?email=jill@gmail.com&turnstile={fakes.state.turnstile_token()}",
                              token=None)
    assert data["success"], data
