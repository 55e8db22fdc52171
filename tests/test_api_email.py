"""Email against a real SMTP server: codes, reset links, binds, SMTP failures, TLS modes, quota reminders."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import urllib.parse
from typing import Any

import pytest

from services.mailer import maybe_remind_low_quota
from tests.fake_oauth import Browser, MailSink, SMTPServer, make_tls_pair, start_smtp
from tests.fake_oauth import smtp, smtp_server  # noqa: F401  (fixtures)


async def set_options(gw: Any, **opts: Any) -> None:
    for k, v in opts.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        await gw.ok("PUT", "/api/option/", {"key": k, "value": str(v)})


def code_in(sink: MailSink, address: str) -> str:
    found = re.findall(r"verification code is: ([A-Z0-9]{6})\b", sink.text(sink.last_to(address)))
    assert found
    return str(found[0])


async def make_user(gw: Any, username: str, password: str = "password1", email: str = "") -> int:
    doc = await gw.ctx.users.create(username, password, email=email)
    return int(doc["_id"])


async def test_verification_mail_and_storage(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    await set_options(gw, SystemName="Acme AI")
    code, data = await gw.api("GET", "/api/verification?email=%20new@gmail.com%20", token=None)
    assert code == 200 and data == {"success": True, "message": ""}
    assert smtp.sink.envelopes[-1] == ("noreply@relay.example.com", ["new@gmail.com"])
    mail = smtp.sink.last_to("new@gmail.com")
    assert mail["Subject"] == "Acme AI email verification"
    assert mail["From"] == "Acme AI <noreply@relay.example.com>" and mail["To"] == "new@gmail.com"
    assert mail["Message-ID"] and mail["Date"]
    vcode = code_in(smtp.sink, "new@gmail.com")
    assert f"<strong>{vcode}</strong>" in smtp.sink.html(mail)
    assert "10 minutes" in smtp.sink.text(mail)
    # only a digest is stored, with a 10-minute expiry
    rows = [r async for r in gw.ctx.db.db["verifications"].find({})]
    assert len(rows) == 1 and vcode not in json.dumps(rows, default=str)
    # asking again replaces the code
    await gw.ok("GET", "/api/verification?email=new@gmail.com", token=None)
    assert len(smtp.sink.messages) == 2
    assert await gw.ctx.db.db["verifications"].count_documents({}) == 1


@pytest.mark.parametrize("query,needle", [
    ("", "email is required"),
    ("?email=", "email is required"),
    ("?email=plainaddress", "not a valid email"),
    ("?email=a@b", "not a valid email"),
    ("?email=two@@gmail.com", "not a valid email"),
    ("?email=" + "x" * 45 + "@gmail.com", "at most 50"),
    ("?email=" + "x" * 300 + "@gmail.com", "too long"),
])
async def test_verification_bad_input(gw: Any, smtp: SMTPServer, query: str, needle: str) -> None:
    await smtp.configure(gw)
    code, data = await gw.api("GET", "/api/verification" + query, token=None)
    assert code == 200 and data["success"] is False and needle in data["message"], data
    assert smtp.sink.messages == []


async def test_smtp_failures_are_clean(gw: Any, smtp: SMTPServer) -> None:
    code, data = await gw.api("GET", "/api/verification?email=a@gmail.com", token=None)
    assert not data["success"] and "SMTPServer" in data["message"]  # not configured
    await smtp.configure(gw, SMTPPort="1")  # nothing listens there
    code, data = await gw.api("GET", "/api/verification?email=a@gmail.com", token=None)
    assert code == 200 and not data["success"] and "cannot reach the SMTP server" in data["message"]
    assert await gw.ctx.db.db["verifications"].count_documents({}) == 0  # no dangling code
    # SMTP login: wrong password refused (and never echoed), right one works
    smtp.sink.account = ("mailer@relay.example.com", "s3cret-smtp-pass")
    await smtp.configure(gw, SMTPAccount="mailer@relay.example.com", SMTPToken="wrong-smtp-pass")
    code, data = await gw.api("GET", "/api/verification?email=a@gmail.com", token=None)
    assert not data["success"] and "refused the login" in data["message"]
    assert "wrong-smtp-pass" not in json.dumps(data)
    await set_options(gw, SMTPToken="s3cret-smtp-pass")
    code, data = await gw.api("GET", "/api/verification?email=a@gmail.com", token=None)
    assert data["success"], data
    assert smtp.sink.logins[-1] == ("mailer@relay.example.com", "s3cret-smtp-pass")
    # SMTPFrom defaults to the account
    await set_options(gw, SMTPFrom="")
    await gw.ok("GET", "/api/verification?email=b@gmail.com", token=None)
    assert smtp.sink.envelopes[-1][0] == "mailer@relay.example.com"
    # the option listing never shows the SMTP password
    options = await gw.ok("GET", "/api/option/")
    assert "s3cret-smtp-pass" not in json.dumps(options)


async def test_mails_per_address_are_capped(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    for i in range(5):
        await gw.ok("GET", "/api/verification?email=flood@gmail.com", token=None,
                    headers={"X-Real-Ip": f"10.0.0.{i}"})
    code, data = await gw.api("GET", "/api/verification?email=flood@gmail.com", token=None,
                              headers={"X-Real-Ip": "10.0.0.9"})
    assert not data["success"] and "Too many emails" in data["message"]
    assert len(smtp.sink.messages) == 5


async def test_wrong_guesses_burn_the_code(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    uid = await make_user(gw, "guesser")
    b = Browser(gw)
    await b.login("guesser", "password1")
    await gw.ok("GET", "/api/verification?email=guess@gmail.com", token=None)
    vcode = code_in(smtp.sink, "guess@gmail.com")
    wrong = "ZZZZZZ" if vcode != "ZZZZZZ" else "YYYYYY"
    for _ in range(5):
        code, data = await b.get(f"/api/oauth/email/bind?email=guess@gmail.com&code={wrong}")
        assert not data["success"]
    code, data = await b.get(f"/api/oauth/email/bind?email=guess@gmail.com&code={vcode}")
    assert not data["success"] and "wrong or has expired" in data["message"]
    assert (await gw.user(uid))["email"] == ""


async def test_password_reset_flow(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    await set_options(gw, ServerAddress="https://relay.example.com/")
    uid = await make_user(gw, "forgetful", "old-password", email="Forgetful@GMail.com")  # older rows keep case
    await gw.ctx.users.update(uid, {"display_name": "Forgetful F"})
    old_session = Browser(gw)
    await old_session.login("forgetful", "old-password")
    assert (await old_session.get("/api/user/self"))[1]["success"]

    code, data = await gw.api("GET", "/api/reset_password?email=Forgetful@gmail.com", token=None,
                              headers={"Host": "evil.example.net"})
    assert data["success"], data
    mail = smtp.sink.last_to("forgetful@gmail.com")
    assert "password reset" in mail["Subject"] and "Hello Forgetful F" in smtp.sink.text(mail)
    links = re.findall(r"https://\S+", smtp.sink.text(mail))
    assert len(links) == 1 and "evil" not in links[0]  # never built from the Host header
    url = urllib.parse.urlsplit(links[0])
    assert (url.netloc, url.path) == ("relay.example.com", "/user/reset")
    q = dict(urllib.parse.parse_qsl(url.query))
    assert q["email"] == "forgetful@gmail.com" and re.fullmatch(r"[0-9a-f]{32}", q["token"])
    assert f'href="{links[0]}"'.replace("&", "&amp;") in smtp.sink.html(mail)

    code, data = await gw.api("POST", "/api/user/reset", {"email": q["email"], "token": "0" * 32}, token=None)
    assert not data["success"] and "invalid or has expired" in data["message"]
    code, data = await gw.api("POST", "/api/user/reset", q, token=None)
    assert data["success"], data
    new_password = data["data"]
    assert isinstance(new_password, str) and len(new_password) == 12
    # the link works once
    code, data = await gw.api("POST", "/api/user/reset", q, token=None)
    assert not data["success"]
    # the new password logs in, the old one does not, old sessions are over
    code, data = await gw.api("POST", "/api/user/login", {"username": "forgetful", "password": "old-password"},
                              token=None)
    assert not data["success"]
    await Browser(gw).login("forgetful", new_password)
    code, data = await old_session.get("/api/user/self")
    assert not data["success"]


async def test_password_reset_refusals(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    await make_user(gw, "someone", email="someone@gmail.com")
    code, data = await gw.api("GET", "/api/reset_password?email=someone@gmail.com", token=None)
    assert not data["success"] and "ServerAddress" in data["message"]
    await set_options(gw, ServerAddress="https://relay.example.com")
    code, data = await gw.api("GET", "/api/reset_password?email=nobody@gmail.com", token=None)
    assert not data["success"] and "No account" in data["message"]
    code, data = await gw.api("GET", "/api/reset_password?email=bad", token=None)
    assert not data["success"] and "not a valid email" in data["message"]
    assert smtp.sink.messages == []
    # an expired link
    await gw.ok("GET", "/api/reset_password?email=someone@gmail.com", token=None)
    token = re.findall(r"token=([0-9a-f]{32})", smtp.sink.text(smtp.sink.last_to("someone@gmail.com")))[0]
    await gw.ctx.db.db["verifications"].update_many({}, {"$set": {"expires_at": 1.0}})
    code, data = await gw.api("POST", "/api/user/reset", {"email": "someone@gmail.com", "token": token},
                              token=None)
    assert not data["success"] and "expired" in data["message"]
    for body in (b"{oops", {"email": "someone@gmail.com"}, {"token": token}, {"email": 5, "token": token},
                 {"email": "someone@gmail.com", "token": ["x"]}):
        code, data = await gw.api("POST", "/api/user/reset", body, token=None)
        assert code == 200 and data["success"] is False, body


async def test_email_bind(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    uid = await make_user(gw, "binder")
    await make_user(gw, "holder", email="taken@gmail.com")
    b = Browser(gw)
    await b.login("binder", "password1")
    code, data = await gw.api("GET", "/api/oauth/email/bind?email=x@gmail.com&code=ABCDEF", token=None)
    assert code == 401 and not data["success"]
    await gw.ok("GET", "/api/verification?email=mine@gmail.com", token=None)
    vcode = code_in(smtp.sink, "mine@gmail.com")
    code, data = await b.get("/api/oauth/email/bind?email=mine@gmail.com&code=WRONG1")
    assert not data["success"] and "wrong or has expired" in data["message"]
    code, data = await b.get("/api/oauth/email/bind?email=mine@gmail.com")
    assert not data["success"] and "code is required" in data["message"]
    # a cross-site page cannot make the browser bind an attacker's address
    code, data = await b.get(f"/api/oauth/email/bind?email=mine@gmail.com&code={vcode}",
                             headers={"Sec-Fetch-Site": "cross-site"})
    assert code == 403 and not data["success"]
    code, data = await b.get(f"/api/oauth/email/bind?email=mine@gmail.com&code={vcode}",
                             headers={"Sec-Fetch-Site": "same-origin"})
    assert data["success"], data
    assert (await gw.user(uid))["email"] == "mine@gmail.com"
    code, data = await b.get("/api/user/self")
    assert data["data"]["email"] == "mine@gmail.com"
    # an address another user holds cannot be bound
    code, data = await b.get("/api/oauth/email/bind?email=taken@gmail.com&code=ABCDEF")
    assert not data["success"] and "already in use" in data["message"]
    # the system access token works too (scripts)
    await gw.ok("GET", "/api/verification?email=root@example.org", token=None)
    await gw.ok("GET", f"/api/oauth/email/bind?email=root@example.org&code={code_in(smtp.sink, 'root@example.org')}")
    assert (await gw.user(1))["email"] == "root@example.org"


async def test_low_quota_reminder(gw: Any, smtp: SMTPServer) -> None:
    await smtp.configure(gw)
    await set_options(gw, QuotaRemindThreshold=1000, ServerAddress="https://relay.example.com",
                      DisplayInCurrencyEnabled=False)
    uid = await make_user(gw, "spender", email="spender@gmail.com")
    silent = await make_user(gw, "silent")

    async def remind(user_id: int, quota: int) -> bool:
        sent = await maybe_remind_low_quota(gw.ctx.mailer, gw.ctx.users, gw.ctx.spawn, user_id, quota)
        await asyncio.gather(*list(gw.ctx._tasks))
        return sent

    assert await remind(uid, 5000) is False
    assert await remind(uid, 900) is True
    mail = smtp.sink.last_to("spender@gmail.com")
    assert "quota reminder" in mail["Subject"]
    text = smtp.sink.text(mail)
    assert "900 points" in text and "https://relay.example.com/topup" in text
    assert await remind(uid, 800) is False  # once per crossing
    assert await remind(uid, 0) is False
    # another node (fresh memory) agrees: the flag lives on the user
    gw.ctx.mailer.low_quota_state.clear()
    assert await remind(uid, 700) is False
    assert len(smtp.sink.messages) == 1
    # a top-up re-arms it
    assert await remind(uid, 10_000) is False
    assert await remind(uid, 10) is True
    assert len(smtp.sink.messages) == 2
    # no email address: nothing to send
    assert await remind(silent, 10) is False
    assert len(smtp.sink.messages) == 2


def _tls_port_test_params() -> list[Any]:
    return [pytest.param(587, "starttls", id="587-starttls"), pytest.param(465, "implicit", id="465-ssl")]


@pytest.mark.parametrize("port,mode", _tls_port_test_params())
async def test_tls_modes(gw: Any, port: int, mode: str) -> None:
    """Port 587 upgrades with STARTTLS when offered; 465 speaks TLS from the first byte."""
    server_ctx, client_ctx = make_tls_pair(tempfile.mkdtemp(prefix="onerelay-tls-"))
    sink = MailSink()
    sink.account = ("tls-user", "tls-pass")
    kw: dict[str, Any] = ({"tls_context": server_ctx, "require_starttls": True} if mode == "starttls"
                          else {"ssl_context": server_ctx})
    try:
        controller = start_smtp(sink, port, **kw)
    except (OSError, RuntimeError) as e:  # not root, or the port is taken
        pytest.skip(f"cannot listen on port {port}: {e}")
    try:
        gw.ctx.mailer.tls_context = client_ctx
        await SMTPServer(sink, port, controller).configure(gw, SMTPAccount="tls-user", SMTPToken="tls-pass")
        await gw.ok("GET", "/api/verification?email=tls@gmail.com", token=None)
        assert sink.logins == [("tls-user", "tls-pass")]
        assert code_in(sink, "tls@gmail.com")
        # an untrusted certificate is refused (no silent downgrade)
        gw.ctx.mailer.tls_context = None
        code, data = await gw.api("GET", "/api/verification?email=tls2@gmail.com", token=None)
        assert not data["success"] and "Failed to send" in data["message"]
    finally:
        controller.stop()


async def test_relay_spend_triggers_low_quota_reminder(gw: Any, smtp: SMTPServer) -> None:
    """Crossing QuotaRemindThreshold through real relayed requests emails the user once."""
    await smtp.configure(gw)
    await set_options(gw, QuotaRemindThreshold=1000, ServerAddress="https://relay.example.com",
                      PreConsumedQuota=0)
    await gw.ctx.users.create("payer", "password1", email="payer@gmail.com", quota=1010, access_token="p" * 32)
    await gw.channel()
    key = await gw.token(as_token="p" * 32)
    client = gw.client(key)
    for _ in range(3):  # each costs 12: 1010 → 998 crosses the threshold
        await client.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    for _ in range(50):
        if smtp.sink.messages:
            break
        await asyncio.sleep(0.05)
    await asyncio.gather(*list(gw.ctx._tasks))
    assert len(smtp.sink.messages) == 1
    assert "quota reminder" in smtp.sink.last_to("payer@gmail.com")["Subject"]
