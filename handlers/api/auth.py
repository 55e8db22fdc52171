"""Accounts from the outside: registration, email codes, password reset, OAuth logins and binds.

Routes (One API's contract, REFERENCE.md §1): ``POST /api/user/register``,
``GET /api/verification``, ``GET /api/reset_password``, ``POST /api/user/reset``,
``GET /api/oauth/{state,github,lark,oidc,wechat}``, ``GET /api/oauth/wechat/bind``,
``GET /api/oauth/email/bind``. Every one takes the critical rate limit.

Provider calls go through ``ctx.http`` with short timeouts. Provider base URLs
come from Settings (GITHUB_OAUTH_BASE, GITHUB_API_BASE, LARK_BASE,
TURNSTILE_VERIFY_URL) read at request time, the OIDC endpoints and the
WeChat server from options. Secrets (client secrets, codes, tokens) are
never logged or returned; codes and states are compared in constant time.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
import string
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from pymongo.errors import DuplicateKeyError
from tornado.httpclient import HTTPRequest

from models.users import ROLE_COMMON, STATUS_DELETED, STATUS_ENABLED, hash_password, to_api
from models.verifications import CODE_TTL, PURPOSE_EMAIL, PURPOSE_RESET, new_code
from services.mailer import MailError, format_quota

from schemas.fields import Field as F
from schemas.fields import Op, Shape

from ..base import SESSION_COOKIE, ApiError, ApiHandler, str_field, user_auth

if TYPE_CHECKING:
    from services.context import AppContext

log = logging.getLogger("onerelay.auth")

STATE_COOKIE = "oauth_state"
STATE_PATH = "/api/oauth"
STATE_TTL = 600
TURNSTILE_COOKIE = "turnstile"
TURNSTILE_TTL = 600
PROVIDER_TIMEOUT = 10.0
MAILS_PER_ADDRESS = 5  # per MAIL_WINDOW: one address cannot be flooded from many IPs
MAIL_WINDOW = 600.0
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


# -- input helpers ------------------------------------------------------------------------------
def _str(body: dict[str, Any], key: str, *, max_len: int, min_len: int = 0,
         required: bool = False) -> str:
    return str_field(body, key, max_len=max_len, min_len=min_len, required=required) or ""


def normalize_email(value: str) -> str:
    """A trimmed, lower-cased email address of at most 50 characters, or ApiError."""
    email = value.strip().lower()
    if not email:
        raise ApiError("email is required")
    if len(email) > 50:
        raise ApiError("email must be at most 50 characters long")
    if not _EMAIL_RE.match(email) or any(ord(c) < 32 for c in email):
        raise ApiError("email is not a valid email address")
    return email


def check_username(username: str) -> str:
    if any(c.isspace() or ord(c) < 32 or c == "@" for c in username):
        raise ApiError("username must not contain spaces or @")
    return username


def email_domain_allowed(ctx: "AppContext", email: str) -> bool:
    if not ctx.options.bool("EmailDomainRestrictionEnabled"):
        return True
    domain = email.rpartition("@")[2].lower()
    allowed = {d.strip().lower() for d in ctx.options.get("EmailDomainWhitelist").split(",") if d.strip()}
    return domain in allowed


def require_email_domain(ctx: "AppContext", email: str) -> None:
    if not email_domain_allowed(ctx, email):
        raise ApiError("The administrator restricts email domains and yours is not on the whitelist")


async def user_by_email(ctx: "AppContext", email: str) -> dict[str, Any] | None:
    """The live (not deleted) user with this email, ignoring case (older rows may keep capitals)."""
    return await ctx.users.by_email(email)


def new_password(length: int = 12) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _text(v: Any, limit: int = 200) -> str:
    return " ".join(str(v).split())[:limit] if v not in (None, "") else ""


# -- accounts -----------------------------------------------------------------------------------
def system_log(ctx: "AppContext", user_id: int, username: str, content: str, quota: int = 0) -> None:
    ctx.logs.system(user_id, username, content, quota)


async def inviter_by_aff_code(ctx: "AppContext", aff_code: str) -> dict[str, Any] | None:
    return await ctx.users.by_aff_code(aff_code)


async def create_account(ctx: "AppContext", *, username: str, password: str, display_name: str = "",
                         email: str = "", inviter: dict[str, Any] | None = None,
                         role: int = ROLE_COMMON, **extra: Any) -> dict[str, Any]:
    """A new common user with One API's rewards and a "default" token.

    QuotaForNewUser (plus QuotaForInvitee when invited) is the starting quota;
    the inviter gets QuotaForInviter through the ledger (cached balances stay
    right). Each grant writes a system log. Raises DuplicateKeyError when the
    username is taken.
    """
    o = ctx.options
    bonus = max(0, o.int("QuotaForNewUser"))
    invitee_bonus = max(0, o.int("QuotaForInvitee")) if inviter else 0
    extra.setdefault("group", o.get("DefaultGroup").strip() or "default")
    doc = await ctx.users.create(
        username, password, role=role, quota=bonus + invitee_bonus,
        display_name=display_name or username, email=email,
        inviter_id=int(inviter["_id"]) if inviter else 0, **extra,
    )
    uid = int(doc["_id"])
    if bonus:
        system_log(ctx, uid, username, f"New user bonus: {format_quota(o, bonus)}", bonus)
    if inviter:
        if invitee_bonus:
            system_log(ctx, uid, username, f"Invitation code bonus: {format_quota(o, invitee_bonus)}",
                           invitee_bonus)
        inviter_bonus = max(0, o.int("QuotaForInviter"))
        if inviter_bonus:
            await ctx.ledger.credit("u", int(inviter["_id"]), inviter_bonus)
            system_log(ctx, int(inviter["_id"]), str(inviter.get("username", "")),
                       f"Bonus for inviting user {username}: {format_quota(o, inviter_bonus)}", inviter_bonus)
    await ctx.tokens.create(uid, "default", unlimited_quota=True, expired_time=-1)
    log.info("registered user #%d %s", uid, username)
    return doc


# -- outside services ---------------------------------------------------------------------------
async def fetch_json(ctx: "AppContext", url: str, *, what: str, method: str = "GET",
                     body: str | bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One provider call; (status, parsed JSON) or ApiError naming ``what`` (never the secrets)."""
    req = HTTPRequest(url, method=method, body=body, headers=headers or {},
                      request_timeout=PROVIDER_TIMEOUT, connect_timeout=5.0, follow_redirects=False)
    try:
        resp = await ctx.http.fetch(req, raise_error=False)
    except Exception as e:  # connection refused, DNS, timeout, bad URL
        log.warning("%s request failed: %s", what, type(e).__name__)
        raise ApiError(f"Could not reach {what}, try again later") from None
    if resp.code == 599 or resp.code == 0:
        log.warning("%s request failed: %s", what, type(resp.error).__name__)
        raise ApiError(f"Could not reach {what}, try again later")
    try:
        return resp.code, json.loads(resp.body or b"")
    except ValueError:
        raise ApiError(f"{what} sent an invalid answer (HTTP {resp.code})") from None


async def check_turnstile(h: ApiHandler) -> None:
    """When TurnstileCheckEnabled, the ``turnstile`` query parameter must pass Cloudflare's siteverify.

    A pass is remembered for TURNSTILE_TTL seconds in a signed cookie bound to
    the client IP (One API keeps it in the session): Turnstile tokens are
    single-use, and the sign-up page sends the same token to
    ``/api/verification`` and then to ``/api/user/register``.
    """
    o = h.ctx.options
    if not o.bool("TurnstileCheckEnabled"):
        return
    secret = h.ctx.settings.session_secret
    cookie = h.get_cookie(TURNSTILE_COOKIE)
    if cookie:
        try:
            claims = jwt.decode(cookie, secret, algorithms=["HS256"])
            if claims.get("pur") == "turnstile" and claims.get("ip") == h.client_ip:
                return
        except jwt.PyJWTError:
            pass
    response = h.get_query_argument("turnstile", "")
    if not response:
        raise ApiError("The Turnstile token is empty: complete the human check first")
    if len(response) > 4096:
        raise ApiError("The Turnstile check failed: refresh the page and try again")
    body = urllib.parse.urlencode({"secret": o.get("TurnstileSecretKey"), "response": response,
                                   "remoteip": h.client_ip})
    _, data = await fetch_json(h.ctx, h.ctx.settings.turnstile_verify_url, what="the Turnstile verifier",
                               method="POST", body=body,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    if not (isinstance(data, dict) and data.get("success") is True):
        raise ApiError("The Turnstile check failed: refresh the page and try again")
    now = int(time.time())
    value = jwt.encode({"pur": "turnstile", "ip": h.client_ip, "iat": now, "exp": now + TURNSTILE_TTL},
                       secret, algorithm="HS256")
    h.set_cookie(TURNSTILE_COOKIE, value, path="/api", max_age=TURNSTILE_TTL, httponly=True,
                 samesite="Lax", secure=h.request.protocol == "https")


async def mail_allowed(ctx: "AppContext", email: str) -> bool:
    """At most MAILS_PER_ADDRESS mails to one address per 10 minutes (across nodes with Redis)."""
    if ctx.settings.debug:
        return True
    allowed = ctx.limiter.hit("mail:" + email, MAILS_PER_ADDRESS, MAIL_WINDOW)
    if not isinstance(allowed, bool):
        allowed = await allowed
    return bool(allowed)


class AuthHandler(ApiHandler):
    critical = True

    def query(self, name: str, max_len: int, *, required: bool = True) -> str:
        v = self.get_query_argument(name, "").strip()
        if not v and required:
            raise ApiError(f"{name} is required")
        if len(v) > max_len:
            raise ApiError(f"{name} is too long")
        return v


# -- registration -------------------------------------------------------------------------------
class RegisterHandler(AuthHandler):
    ops = {"POST": Op("Create an account with a password", body=Shape(
        F("username", required=True, max_len=12), F("password", required=True, min_len=8, max_len=20),
        F("display_name", max_len=20), F("email", max_len=50), F("verification_code", max_len=64),
        F("aff_code", max_len=32)), query=Shape(F("turnstile", max_len=4096)))}

    async def post(self) -> None:
        """Create an account: {username, password, display_name?, email?, verification_code?, aff_code?}."""
        o = self.ctx.options
        if not o.bool("RegisterEnabled"):
            raise ApiError("The administrator has closed registration")
        if not o.bool("PasswordRegisterEnabled"):
            raise ApiError("The administrator has closed registration with a password: "
                           "sign up with a third-party account")
        body = self.json_body()
        username = check_username(_str(body, "username", max_len=12, required=True))
        password = _str(body, "password", min_len=8, max_len=20, required=True)
        display_name = _str(body, "display_name", max_len=20)
        email = _str(body, "email", max_len=50)
        code = _str(body, "verification_code", max_len=64).strip().upper()
        aff_code = _str(body, "aff_code", max_len=32).strip()
        if email:
            email = normalize_email(email)
        verify = o.bool("EmailVerificationEnabled")
        if verify:
            if not email or not code:
                raise ApiError("Email verification is on: enter your email address and the verification code")
            require_email_domain(self.ctx, email)
        await check_turnstile(self)
        if await self.ctx.users.by_username(username):
            raise ApiError("That username is already taken")
        if verify:
            if await user_by_email(self.ctx, email):
                raise ApiError("That email address is already in use")
            if not await self.ctx.verifications.check(PURPOSE_EMAIL, email, code, consume=True):
                raise ApiError("The verification code is wrong or has expired")
        inviter = await inviter_by_aff_code(self.ctx, aff_code)
        try:
            await create_account(self.ctx, username=username, password=password,
                                 display_name=display_name, email=email if verify else "",
                                 inviter=inviter)
        except DuplicateKeyError:
            raise ApiError("That username is already taken") from None
        self.ok()


# -- email --------------------------------------------------------------------------------------
_EMAIL_QUERY = Shape(F("email", required=True, max_len=200), F("turnstile", max_len=4096))


class VerificationHandler(AuthHandler):
    ops = {"GET": Op("Email a verification code", query=_EMAIL_QUERY)}

    async def get(self) -> None:
        """Email a 6-character code (10 minutes) to ``?email=`` for registration or binding."""
        email = normalize_email(self.query("email", 200))
        require_email_domain(self.ctx, email)
        await check_turnstile(self)
        if await user_by_email(self.ctx, email):
            raise ApiError("That email address is already in use")
        if not await mail_allowed(self.ctx, email):
            raise ApiError("Too many emails to this address: try again in a few minutes")
        code = new_code(6)
        await self.ctx.verifications.issue(PURPOSE_EMAIL, email, code)
        try:
            await self.ctx.mailer.send_verification_code(email, code, CODE_TTL // 60)
        except MailError as e:
            await self.ctx.verifications.delete(PURPOSE_EMAIL, email)
            raise ApiError(str(e)) from None
        self.ok()


class PasswordResetEmailHandler(AuthHandler):
    ops = {"GET": Op("Email a password reset link", query=_EMAIL_QUERY)}

    async def get(self) -> None:
        """Email a reset link ``{ServerAddress}/user/reset?email=..&token=..`` (10 minutes)."""
        email = normalize_email(self.query("email", 200))
        await check_turnstile(self)
        user = await user_by_email(self.ctx, email)
        if user is None:
            raise ApiError("No account uses this email address")
        server = self.ctx.options.get("ServerAddress").strip().rstrip("/")
        if not server:  # never build the link from the Host header (reset-link poisoning)
            raise ApiError("Password reset is unavailable: the administrator has not set ServerAddress")
        if not await mail_allowed(self.ctx, email):
            raise ApiError("Too many emails to this address: try again in a few minutes")
        token = secrets.token_hex(16)
        await self.ctx.verifications.issue(PURPOSE_RESET, email, token)
        link = f"{server}/user/reset?" + urllib.parse.urlencode({"email": email, "token": token})
        name = str(user.get("display_name") or user.get("username") or "")
        try:
            await self.ctx.mailer.send_password_reset(email, name, link, CODE_TTL // 60)
        except MailError as e:
            await self.ctx.verifications.delete(PURPOSE_RESET, email)
            raise ApiError(str(e)) from None
        self.ok()


class PasswordResetHandler(AuthHandler):
    ops = {"POST": Op("Reset a password with the emailed token; data = the new password", body=Shape(
        F("email", required=True, max_len=200), F("token", required=True, max_len=128)))}

    async def post(self) -> None:
        """{email, token} from the reset link → ``data`` = a new 12-character password."""
        body = self.json_body()
        email = normalize_email(_str(body, "email", max_len=200, required=True))
        token = _str(body, "token", max_len=128, required=True).strip().lower()
        if not await self.ctx.verifications.check(PURPOSE_RESET, email, token, consume=True):
            raise ApiError("The reset link is invalid or has expired")
        user = await user_by_email(self.ctx, email)
        if user is None:
            raise ApiError("No account uses this email address")
        password = new_password(12)
        hashed = await asyncio.to_thread(hash_password, password)
        uid = int(user["_id"])
        await self.ctx.users.update(uid, {"password": hashed, "default_password": False})
        await self.ctx.users.bump_session(uid)  # every old session ends
        log.info("password of user #%d reset by email", uid)
        self.ok(password)


class EmailBindHandler(AuthHandler):
    ops = {"GET": Op("Bind an email address with its code", query=Shape(
        F("email", required=True, max_len=200), F("code", required=True, max_len=64)))}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:
        """Bind ``?email=`` to the current user with the code sent to it."""
        self.refuse_cross_site()
        email = normalize_email(self.query("email", 200))
        code = self.query("code", 64).upper()
        require_email_domain(self.ctx, email)
        other = await user_by_email(self.ctx, email)
        if other is not None and int(other["_id"]) != int(user["_id"]):
            raise ApiError("That email address is already in use")
        if not await self.ctx.verifications.check(PURPOSE_EMAIL, email, code, consume=True):
            raise ApiError("The verification code is wrong or has expired")
        await self.ctx.users.update(int(user["_id"]), {"email": email})
        self.ok()


# -- OAuth --------------------------------------------------------------------------------------
@dataclass
class Identity:
    """Who the provider says the user is."""

    id: str
    name: str = ""
    email: str = ""
    username: str = ""  # a preferred username (OIDC), used when free and valid


class OAuthStateHandler(AuthHandler):
    ops = {"GET": Op("A new OAuth state (also set as a cookie)")}

    async def get(self) -> None:
        """A random 12-character state, also kept in a signed HttpOnly cookie for 10 minutes."""
        state = secrets.token_urlsafe(12)[:12]
        now = int(time.time())
        value = jwt.encode({"pur": "oauth_state", "st": state, "iat": now, "exp": now + STATE_TTL},
                           self.ctx.settings.session_secret, algorithm="HS256")
        self.set_cookie(STATE_COOKIE, value, path=STATE_PATH, max_age=STATE_TTL, httponly=True,
                        samesite="Lax", secure=self.request.protocol == "https")
        self.ok(state)


class OAuthHandler(AuthHandler):
    """Login (creating the user on first sight when RegisterEnabled), or bind with a live session."""

    ops = {"GET": Op("OAuth login or bind with the provider's code", query=Shape(
        F("code", max_len=1024), F("state", max_len=256)))}

    provider = ""
    id_field = ""
    prefix = ""
    default_name = ""
    use_state = True
    bind_with_session = True

    def enabled(self) -> bool:
        raise NotImplementedError

    async def identify(self, code: str) -> Identity:
        raise NotImplementedError

    def check_state(self) -> None:
        given = self.get_query_argument("state", "")
        cookie = self.get_cookie(STATE_COOKIE)
        if cookie:
            self.clear_cookie(STATE_COOKIE, path=STATE_PATH)  # single use
        expected = ""
        if cookie:
            try:
                claims = jwt.decode(cookie, self.ctx.settings.session_secret, algorithms=["HS256"])
                if claims.get("pur") == "oauth_state":
                    expected = str(claims.get("st") or "")
            except jwt.PyJWTError:
                expected = ""
        if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError("state is empty or not same", status=403)

    async def session_user(self) -> dict[str, Any] | None:
        if not self.get_cookie(SESSION_COOKIE):
            return None
        try:
            return await self.authenticate(ROLE_COMMON)
        except ApiError:
            return None

    async def get(self) -> None:
        if self.use_state:
            self.check_state()
        if not self.enabled():
            raise ApiError(f"The administrator has not enabled {self.provider} login and registration")
        code = self.query("code", 1024)
        current = await self.session_user() if self.bind_with_session else None
        if current is not None:
            self.refuse_cross_site()  # a bind by session cookie: only from our own pages
        ident = await self.identify(code)
        ident.id = ident.id.strip()
        if not ident.id or len(ident.id) > 256:
            raise ApiError(f"{self.provider} returned no user: try again later")
        if current is not None:
            await self.bind(current, ident.id)
            self.ok(message="bind")
            return
        user = await self.ctx.users.by_field(self.id_field, ident.id)
        if user is None:
            user = await self.register(ident)
        status = int(user.get("status", 0))
        if status == STATUS_DELETED:
            raise ApiError("This account has been deleted")
        if status != STATUS_ENABLED:
            raise ApiError("This user has been banned")
        self.issue_session(user)
        self.ok(to_api(user))

    async def bind(self, user: dict[str, Any], ident_id: str) -> None:
        other = await self.ctx.users.by_field(self.id_field, ident_id)
        if other is not None:
            if int(other["_id"]) == int(user["_id"]):
                return
            raise ApiError(f"This {self.provider} account is already bound to another user")
        await self.ctx.users.update(int(user["_id"]), {self.id_field: ident_id})
        log.info("user #%d bound a %s account", int(user["_id"]), self.provider)

    async def new_username(self, ident: Identity) -> str:
        hint = ident.username.strip()
        if hint and len(hint) <= 12 and not any(c.isspace() or c == "@" for c in hint) \
                and not await self.ctx.users.by_username(hint):
            return hint
        name = f"{self.prefix}_{await self.ctx.users.last_id() + 1}"
        if await self.ctx.users.by_username(name):
            name = f"{self.prefix}_{secrets.token_hex(3)}"
        return name

    async def register(self, ident: Identity) -> dict[str, Any]:
        if not self.ctx.options.bool("RegisterEnabled"):
            raise ApiError("The administrator has closed registration")
        email = ""
        if ident.email:
            try:
                candidate = normalize_email(ident.email)
            except ApiError:
                candidate = ""
            if candidate and not await user_by_email(self.ctx, candidate):
                email = candidate
        display = (_text(ident.name, 20) or self.default_name)[:20]
        username = await self.new_username(ident)
        extra: dict[str, Any] = {self.id_field: ident.id}
        for _ in range(5):
            try:
                return await create_account(
                    self.ctx, username=username, password=secrets.token_urlsafe(24),
                    display_name=display, email=email, **extra)
            except DuplicateKeyError as e:
                if "username" not in str(e):
                    raise
                username = f"{self.prefix}_{secrets.token_hex(3)}"
        raise ApiError("Could not create the account, try again")

    def redirect_uri(self, path: str) -> str:
        return self.ctx.options.get("ServerAddress").strip().rstrip("/") + path


class GitHubOAuthHandler(OAuthHandler):
    provider, id_field, prefix, default_name = "GitHub", "github_id", "github", "GitHub User"

    def enabled(self) -> bool:
        return self.ctx.options.bool("GitHubOAuthEnabled")

    async def identify(self, code: str) -> Identity:
        o, s = self.ctx.options, self.ctx.settings
        body = json.dumps({"client_id": o.get("GitHubClientId"), "client_secret": o.get("GitHubClientSecret"),
                           "code": code})
        _, data = await fetch_json(
            self.ctx, s.github_oauth_base.rstrip("/") + "/login/oauth/access_token", what="GitHub",
            method="POST", body=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token or not isinstance(token, str):
            why = _text(data.get("error_description") or data.get("error")) if isinstance(data, dict) else ""
            raise ApiError(f"GitHub refused the code: {why}" if why else "GitHub returned no access token")
        status, user = await fetch_json(
            self.ctx, s.github_api_base.rstrip("/") + "/user", what="GitHub",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                     "User-Agent": "OneRelay"})
        if status != 200 or not isinstance(user, dict) or not user.get("login"):
            raise ApiError("GitHub returned no user: try again later")
        return Identity(id=str(user["login"]), name=_text(user.get("name")), email=_text(user.get("email")))


class LarkOAuthHandler(OAuthHandler):
    provider, id_field, prefix, default_name = "Lark", "lark_id", "lark", "Lark User"

    def enabled(self) -> bool:
        return bool(self.ctx.options.get("LarkClientId").strip())

    async def identify(self, code: str) -> Identity:
        o, base = self.ctx.options, self.ctx.settings.lark_base.rstrip("/")
        body = json.dumps({"grant_type": "authorization_code", "client_id": o.get("LarkClientId"),
                           "client_secret": o.get("LarkClientSecret"), "code": code,
                           "redirect_uri": self.redirect_uri("/oauth/lark")})
        _, data = await fetch_json(
            self.ctx, base + "/open-apis/authen/v2/oauth/token", what="Lark", method="POST", body=body,
            headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token or not isinstance(token, str):
            why = _text(data.get("error_description") or data.get("msg") or data.get("error")) \
                if isinstance(data, dict) else ""
            raise ApiError(f"Lark refused the code: {why}" if why else "Lark returned no access token")
        _, info = await fetch_json(self.ctx, base + "/open-apis/authen/v1/user_info", what="Lark",
                                   headers={"Authorization": f"Bearer {token}"})
        user = info.get("data") if isinstance(info, dict) and info.get("code", 0) == 0 else None
        if not isinstance(user, dict) or not user.get("open_id"):
            raise ApiError("Lark returned no user: try again later")
        return Identity(id=str(user["open_id"]), name=_text(user.get("name") or user.get("en_name")),
                        email=_text(user.get("enterprise_email") or user.get("email")))


class OidcOAuthHandler(OAuthHandler):
    provider, id_field, prefix, default_name = "OIDC", "oidc_id", "oidc", "OIDC User"

    def enabled(self) -> bool:
        return self.ctx.options.bool("OidcEnabled")

    async def endpoints(self) -> tuple[str, str]:
        """(token, userinfo) endpoints: the explicit options, else OidcWellKnown discovery."""
        o = self.ctx.options
        token_url = o.get("OidcTokenEndpoint").strip()
        info_url = o.get("OidcUserinfoEndpoint").strip()
        well_known = o.get("OidcWellKnown").strip()
        if (not token_url or not info_url) and well_known:
            status, doc = await fetch_json(self.ctx, well_known, what="the OIDC provider",
                                           headers={"Accept": "application/json"})
            if status != 200 or not isinstance(doc, dict):
                raise ApiError("The OIDC discovery document could not be read")
            token_url = token_url or _text(doc.get("token_endpoint"), 2000)
            info_url = info_url or _text(doc.get("userinfo_endpoint"), 2000)
        if not token_url or not info_url:
            raise ApiError("OIDC is not configured: set OidcWellKnown or the token and userinfo endpoints")
        return token_url, info_url

    async def identify(self, code: str) -> Identity:
        o = self.ctx.options
        token_url, info_url = await self.endpoints()
        body = urllib.parse.urlencode({
            "client_id": o.get("OidcClientId"), "client_secret": o.get("OidcClientSecret"),
            "code": code, "grant_type": "authorization_code",
            "redirect_uri": self.redirect_uri("/oauth/oidc"),
        })
        _, data = await fetch_json(
            self.ctx, token_url, what="the OIDC provider", method="POST", body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token or not isinstance(token, str):
            why = _text(data.get("error_description") or data.get("error")) if isinstance(data, dict) else ""
            raise ApiError(f"The OIDC provider refused the code: {why}" if why
                           else "The OIDC provider returned no access token")
        status, user = await fetch_json(self.ctx, info_url, what="the OIDC provider",
                                        headers={"Authorization": f"Bearer {token}",
                                                 "Accept": "application/json"})
        if status != 200 or not isinstance(user, dict) or not user.get("sub"):
            raise ApiError("The OIDC provider returned no user: try again later")
        email = _text(user.get("email")) if user.get("email_verified") is not False else ""
        return Identity(id=str(user["sub"]), name=_text(user.get("name")), email=email,
                        username=_text(user.get("preferred_username"), 64))


async def wechat_id_by_code(h: AuthHandler, code: str) -> str:
    o = h.ctx.options
    server = o.get("WeChatServerAddress").strip().rstrip("/")
    if not server:
        raise ApiError("WeChat login is not configured: the administrator has to set WeChatServerAddress")
    url = f"{server}/api/wechat/user?" + urllib.parse.urlencode({"code": code})
    _, data = await fetch_json(h.ctx, url, what="the WeChat server",
                               headers={"Authorization": o.get("WeChatServerToken")})
    if not isinstance(data, dict):
        raise ApiError("The WeChat server sent an invalid answer")
    if not data.get("success"):
        raise ApiError(_text(data.get("message")) or "The verification code is wrong or has expired")
    wid = data.get("data")
    if not wid or not isinstance(wid, str):
        raise ApiError("The verification code is wrong or has expired")
    return wid


class WeChatOAuthHandler(OAuthHandler):
    """WeChat login with the code shown by the WeChat server (no state, no bind: see WeChatBindHandler)."""

    provider, id_field, prefix, default_name = "WeChat", "wechat_id", "wechat", "WeChat User"
    use_state = False
    bind_with_session = False

    def enabled(self) -> bool:
        return self.ctx.options.bool("WeChatAuthEnabled")

    async def identify(self, code: str) -> Identity:
        return Identity(id=await wechat_id_by_code(self, code))


class WeChatBindHandler(WeChatOAuthHandler):
    ops = {"GET": Op("Bind a WeChat account", query=Shape(F("code", max_len=256)))}

    @user_auth
    async def get(self, user: dict[str, Any]) -> None:  # type: ignore[override]
        self.refuse_cross_site()
        if not self.enabled():
            raise ApiError("The administrator has not enabled WeChat login and registration")
        wid = await wechat_id_by_code(self, self.query("code", 256))
        await self.bind(user, wid.strip())
        self.ok()


routes = [
    (r"/api/user/register", RegisterHandler),
    (r"/api/verification", VerificationHandler),
    (r"/api/reset_password", PasswordResetEmailHandler),
    (r"/api/user/reset", PasswordResetHandler),
    (r"/api/oauth/state", OAuthStateHandler),
    (r"/api/oauth/github", GitHubOAuthHandler),
    (r"/api/oauth/lark", LarkOAuthHandler),
    (r"/api/oauth/oidc", OidcOAuthHandler),
    (r"/api/oauth/wechat", WeChatOAuthHandler),
    (r"/api/oauth/wechat/bind", WeChatBindHandler),
    (r"/api/oauth/email/bind", EmailBindHandler),
]
