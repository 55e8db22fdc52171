"""Fake outside services as real servers on loopback, for the account tests.

- One Tornado app speaking GitHub's OAuth + REST (``/login/oauth/access_token``,
  ``/user``), Lark/Feishu's (``/open-apis/authen/v2/oauth/token``,
  ``/open-apis/authen/v1/user_info``), a generic OIDC provider with discovery
  (``/oidc/.well-known/openid-configuration``, ``/oidc/token``,
  ``/oidc/userinfo``), a WeChat login server (``/api/wechat/user``) and
  Cloudflare Turnstile's ``siteverify``. It checks client credentials, hands
  out single-use codes registered by the test, and records every request.
- :class:`MailSink`: a real SMTP server (aiosmtpd) keeping what it received.
- :class:`Browser`: drives the gateway with a cookie jar, like a browser would.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import http.cookies
import ipaddress
import json
import secrets
import socket
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, AsyncIterator, Iterator

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

GITHUB_ID, GITHUB_SECRET = "gh-client", "gh-secret-value"
LARK_ID, LARK_SECRET = "cli_lark", "lark-secret-value"
OIDC_ID, OIDC_SECRET = "oidc-client", "oidc-secret-value"
WECHAT_TOKEN = "wechat-server-token"
TURNSTILE_SECRET, TURNSTILE_GOOD = "turnstile-secret", "good-turnstile-token"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ProviderState:
    codes: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # code -> (provider, user)
    tokens: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # access token -> same
    wechat_codes: dict[str, str] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    turnstile_used: set[str] = field(default_factory=set)
    down: bool = False  # answer every call with 500 garbage

    def reset(self) -> None:
        self.codes.clear()
        self.tokens.clear()
        self.wechat_codes.clear()
        self.requests.clear()
        self.turnstile_used.clear()
        self.down = False

    def code(self, provider: str, **user: Any) -> str:
        """Register a single-use authorization code for ``user`` at ``provider``."""
        c = secrets.token_hex(8)
        self.codes[c] = (provider, user)
        return c

    def turnstile_token(self) -> str:
        """A fresh token the fake siteverify accepts once."""
        return f"{TURNSTILE_GOOD}-{secrets.token_hex(4)}"

    def wechat_code(self, wechat_id: str) -> str:
        c = secrets.token_hex(3)
        self.wechat_codes[c] = wechat_id
        return c

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]


class _Base(tornado.web.RequestHandler):
    def initialize(self, state: ProviderState) -> None:  # type: ignore[override]
        self.state = state

    def prepare(self) -> None:
        r = self.request
        self.state.requests.append(Recorded(
            r.method or "", r.path, {k: self.get_query_argument(k) for k in r.query_arguments},
            dict(r.headers.items()), r.body or b""))
        if self.state.down:
            self.set_status(500)
            self.finish("<html>down</html>")

    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def take_code(self, provider: str, code: str) -> dict[str, Any] | None:
        entry = self.state.codes.get(code)
        if entry is None or entry[0] != provider:
            return None
        del self.state.codes[code]
        return entry[1]

    def issue_token(self, provider: str, user: dict[str, Any]) -> str:
        t = secrets.token_hex(12)
        self.state.tokens[t] = (provider, user)
        return t

    def bearer_user(self, provider: str) -> dict[str, Any] | None:
        h = self.request.headers.get("Authorization", "")
        if not h.startswith("Bearer "):
            return None
        entry = self.state.tokens.get(h[7:])
        return entry[1] if entry and entry[0] == provider else None


class GitHubToken(_Base):
    def post(self) -> None:
        body = json.loads(self.request.body or b"{}")
        if body.get("client_id") != GITHUB_ID or body.get("client_secret") != GITHUB_SECRET:
            return self.send({"error": "incorrect_client_credentials",
                              "error_description": "The client_id and/or client_secret passed are incorrect."})
        user = self.take_code("github", body.get("code", ""))
        if user is None:
            return self.send({"error": "bad_verification_code",
                              "error_description": "The code passed is incorrect or expired."})
        self.send({"access_token": self.issue_token("github", user), "token_type": "bearer", "scope": ""})


class GitHubUser(_Base):
    def get(self) -> None:
        user = self.bearer_user("github")
        if user is None:
            return self.send({"message": "Bad credentials"}, 401)
        self.send({"id": 1000, "name": None, "email": None, **user})


class LarkToken(_Base):
    def post(self) -> None:
        body = json.loads(self.request.body or b"{}")
        if body.get("client_id") != LARK_ID or body.get("client_secret") != LARK_SECRET \
                or body.get("grant_type") != "authorization_code":
            return self.send({"code": 20002, "error": "invalid_client",
                              "error_description": "The client secret is invalid."}, 400)
        user = self.take_code("lark", body.get("code", ""))
        if user is None:
            return self.send({"code": 20003, "error": "invalid_grant",
                              "error_description": "The authorization code is not found."}, 400)
        self.send({"code": 0, "access_token": self.issue_token("lark", user), "expires_in": 7200,
                   "token_type": "Bearer"})


class LarkUserInfo(_Base):
    def get(self) -> None:
        user = self.bearer_user("lark")
        if user is None:
            return self.send({"code": 99991668, "msg": "Invalid access token"}, 400)
        self.send({"code": 0, "msg": "success", "data": user})


class OidcDiscovery(_Base):
    def get(self) -> None:
        base = f"{self.request.protocol}://{self.request.host}/oidc"
        self.send({"issuer": base, "authorization_endpoint": base + "/authorize",
                   "token_endpoint": base + "/token", "userinfo_endpoint": base + "/userinfo"})


class OidcToken(_Base):
    def post(self) -> None:
        form = dict(urllib.parse.parse_qsl(self.request.body.decode()))
        if form.get("client_id") != OIDC_ID or form.get("client_secret") != OIDC_SECRET:
            return self.send({"error": "invalid_client"}, 401)
        user = self.take_code("oidc", form.get("code", ""))
        if user is None or form.get("grant_type") != "authorization_code":
            return self.send({"error": "invalid_grant", "error_description": "Code not valid"}, 400)
        self.send({"access_token": self.issue_token("oidc", user), "token_type": "Bearer",
                   "expires_in": 300, "id_token": "x.y.z"})


class OidcUserInfo(_Base):
    def get(self) -> None:
        user = self.bearer_user("oidc")
        if user is None:
            return self.send({"error": "invalid_token"}, 401)
        self.send(user)


class WeChatUser(_Base):
    def get(self) -> None:
        if self.request.headers.get("Authorization") != WECHAT_TOKEN:
            return self.send({"success": False, "message": "unauthorized"})
        wid = self.state.wechat_codes.pop(self.get_query_argument("code", ""), "")
        if not wid:
            return self.send({"success": False, "message": "invalid or expired code"})
        self.send({"success": True, "message": "", "data": wid})


class TurnstileVerify(_Base):
    def post(self) -> None:
        form = dict(urllib.parse.parse_qsl(self.request.body.decode()))
        if form.get("secret") != TURNSTILE_SECRET:
            return self.send({"success": False, "error-codes": ["invalid-input-secret"]})
        token = form.get("response", "")
        if not token.startswith(TURNSTILE_GOOD):
            return self.send({"success": False, "error-codes": ["invalid-input-response"]})
        if token in self.state.turnstile_used:  # tokens are single-use, as at Cloudflare
            return self.send({"success": False, "error-codes": ["timeout-or-duplicate"]})
        self.state.turnstile_used.add(token)
        self.send({"success": True, "error-codes": [], "hostname": "localhost"})


def make_provider_app(state: ProviderState) -> tornado.web.Application:
    kw = {"state": state}
    return tornado.web.Application([
        (r"/login/oauth/access_token", GitHubToken, kw),
        (r"/user", GitHubUser, kw),
        (r"/open-apis/authen/v2/oauth/token", LarkToken, kw),
        (r"/open-apis/authen/v1/user_info", LarkUserInfo, kw),
        (r"/oidc/\.well-known/openid-configuration", OidcDiscovery, kw),
        (r"/oidc/token", OidcToken, kw),
        (r"/oidc/userinfo", OidcUserInfo, kw),
        (r"/api/wechat/user", WeChatUser, kw),
        (r"/turnstile/v0/siteverify", TurnstileVerify, kw),
    ])


class Providers:
    def __init__(self, state: ProviderState, url: str) -> None:
        self.state = state
        self.url = url

    @property
    def turnstile_url(self) -> str:
        return self.url + "/turnstile/v0/siteverify"

    async def configure(self, gw: Any) -> None:
        """Point a gateway at the fakes: Settings for GitHub/Lark/Turnstile, options for the rest."""
        s = gw.ctx.settings
        s.github_oauth_base = s.github_api_base = s.lark_base = self.url
        s.turnstile_verify_url = self.turnstile_url
        for k, v in {
            "ServerAddress": "https://relay.example.com",
            "GitHubClientId": GITHUB_ID, "GitHubClientSecret": GITHUB_SECRET,
            "LarkClientId": LARK_ID, "LarkClientSecret": LARK_SECRET,
            "OidcClientId": OIDC_ID, "OidcClientSecret": OIDC_SECRET,
            "OidcWellKnown": self.url + "/oidc/.well-known/openid-configuration",
            "WeChatServerAddress": self.url, "WeChatServerToken": WECHAT_TOKEN,
            "TurnstileSiteKey": "site-key", "TurnstileSecretKey": TURNSTILE_SECRET,
        }.items():
            await gw.ok("PUT", "/api/option/", {"key": k, "value": v})


@pytest.fixture(scope="session")
async def providers() -> AsyncIterator[Providers]:
    state = ProviderState()
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(make_provider_app(state))
    server.add_sockets(sockets)
    yield Providers(state, f"http://127.0.0.1:{sockets[0].getsockname()[1]}")
    server.stop()


@pytest.fixture
def fakes(providers: Providers) -> Providers:
    providers.state.reset()
    return providers


# -- SMTP -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MailSink:
    """aiosmtpd handler + authenticator: keeps every accepted message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[tuple[str, str]] = []
        self.account: tuple[str, str] | None = None  # required credentials, when set
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def authenticator(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        with self.lock:
            self.logins.append((login, password))
        return AuthResult(success=self.account == (login, password), handled=False)

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()
            self.logins.clear()
        self.account = None

    def last_to(self, address: str) -> EmailMessage:
        for msg, (_, rcpts) in zip(reversed(self.messages), reversed(self.envelopes)):
            if address in rcpts:
                return msg
        raise AssertionError(f"no mail to {address}; got {[e[1] for e in self.envelopes]}")

    @staticmethod
    def text(msg: EmailMessage) -> str:
        part = msg.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @staticmethod
    def html(msg: EmailMessage) -> str:
        part = msg.get_body(("html",))
        assert part is not None
        return str(part.get_content())


class SMTPServer:
    def __init__(self, sink: MailSink, port: int, controller: Controller) -> None:
        self.sink = sink
        self.port = port
        self.controller = controller

    async def configure(self, gw: Any, **extra: str) -> None:
        opts = {"SMTPServer": "127.0.0.1", "SMTPPort": str(self.port), "SMTPFrom": "noreply@relay.example.com",
                "SMTPAccount": "", "SMTPToken": ""}
        opts.update(extra)
        for k, v in opts.items():
            await gw.ok("PUT", "/api/option/", {"key": k, "value": v})


def start_smtp(sink: MailSink, port: int, **kw: Any) -> Controller:
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=sink.authenticator,
                            auth_require_tls=False, **kw)
    controller.start()
    return controller


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPServer]:
    sink = MailSink()
    port = free_port()
    controller = start_smtp(sink, port)
    yield SMTPServer(sink, port, controller)
    controller.stop()


@pytest.fixture
def smtp(smtp_server: SMTPServer) -> SMTPServer:
    smtp_server.sink.reset()
    return smtp_server


# -- TLS material for the STARTTLS / implicit TLS tests ------------------------------------------
def make_tls_pair(tmpdir: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a certificate valid for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OneRelay test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       key_cert_sign=True, crl_sign=True, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    import os

    cert_path, key_path = os.path.join(tmpdir, "cert.pem"), os.path.join(tmpdir, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    client_ctx = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server_ctx, client_ctx


# -- a browser with cookies -------------------------------------------------------------------------
class Browser:
    """Calls the gateway keeping cookies (session, oauth_state) like a browser."""

    def __init__(self, gw: Any, ip: str | None = None) -> None:
        self.gw = gw
        self.cookies: dict[str, str] = {}
        self.ip = ip

    async def call(self, method: str, path: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.ip:
            h["X-Real-Ip"] = self.ip
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        resp = await self.gw.http.fetch(self.gw.url + path, method=method, body=data, headers=h,
                                        raise_error=False, allow_nonstandard_methods=True,
                                        follow_redirects=False)
        for raw in resp.headers.get_list("Set-Cookie"):
            jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if not morsel.value or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        try:
            return resp.code, json.loads(resp.body or b"null")
        except ValueError:
            return resp.code, resp.body

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", path, body, **kw)

    async def login(self, username: str, password: str) -> dict[str, Any]:
        code, data = await self.post("/api/user/login", {"username": username, "password": password})
        assert code == 200 and data["success"], data
        return data["data"]  # type: ignore[no-any-return]

    async def state(self) -> str:
        code, data = await self.get("/api/oauth/state")
        assert code == 200 and data["success"], data
        return data["data"]  # type: ignore[no-any-return]
