"""Secrets: channel config secrets masked in every answer and kept on edit; secret options never
returned and kept; CRYPTO_SECRET encrypts keys, config secrets and secret options at rest (the
relay still works), ``rotate-secret`` re-encrypts, a wrong secret refuses the start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from models.channels import MASK, is_secret_config_key, mask_config, merge_config
from services.context import AppContext, Settings
from services.crypto import PREFIX, CryptoError, SecretBox
from tests.conftest import ROOT, Gateway

MSG = [{"role": "user", "content": "hi"}]
AK, SK = "AKIAEXAMPLEACCESSKEY", "wJalrXUtnFEMI-EXAMPLE-SECRET"
ADC = {"type": "service_account", "client_email": "x@p.iam.gserviceaccount.com",
       "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEXAMPLE\n-----END PRIVATE KEY-----\n"}
SECRETS = (AK, SK, "MIIEXAMPLE", "tok-123-secret", "sk-TOPSECRET-1")


def no_secret_in(data: Any) -> None:
    text = json.dumps(data)
    for s in SECRETS:
        assert s not in text, s


async def bedrock(gw: Gateway, **config: Any) -> int:
    cfg = {"region": "us-east-1", "ak": AK, "sk": SK, **config}
    return await gw.channel(name="bedrock", type=33, key=f"{AK}|{SK}|us-east-1", base_url="", models="llama3-8b-8192",
                            config=json.dumps(cfg))


async def stored_config(gw: Gateway, cid: int) -> dict[str, Any]:
    doc = await gw.ctx.channels.get(cid)
    assert doc is not None
    return json.loads(doc["config"] or "{}")


# --------------------------------------------------------------------------- unit rules

def test_secret_config_names() -> None:
    for k in ("sk", "ak", "vertex_ai_adc", "api_key", "access_token", "client_secret", "password", "SecretKey"):
        assert is_secret_config_key(k), k
    for k in ("region", "api_version", "user_id", "library_id", "plugin", "vertex_ai_project_id",
              "anthropic_beta"):
        assert not is_secret_config_key(k), k


def test_mask_and_merge() -> None:
    stored = json.dumps({"region": "r", "sk": "S", "ak": "A"})
    masked = json.loads(mask_config(stored))
    assert masked == {"region": "r", "sk": MASK, "ak": MASK}
    assert mask_config('{"region": "r"}') == '{"region": "r"}'  # nothing secret: as stored
    assert mask_config("not json") == MASK
    assert json.loads(merge_config(stored, json.dumps(masked))) == {"region": "r", "sk": "S", "ak": "A"}
    assert json.loads(merge_config(stored, '{"region": "x"}')) == {"region": "x", "sk": "S", "ak": "A"}
    assert json.loads(merge_config(stored, '{"region": "r", "sk": "N", "ak": ""}')) == {"region": "r", "sk": "N"}
    assert json.loads(merge_config(stored, '{"region": "r", "sk": null}')) == {"region": "r", "ak": "A"}
    assert merge_config(stored, "") == ""
    assert merge_config(stored, MASK) == stored


def test_secret_box() -> None:
    box = SecretBox("s3cret")
    enc = box.encrypt("sk-abc")
    assert enc.startswith(PREFIX) and "sk-abc" not in enc and enc != box.encrypt("sk-abc")  # fresh nonce
    assert box.decrypt(enc) == "sk-abc" and box.decrypt("plain") == "plain" and box.encrypt("") == ""
    with pytest.raises(CryptoError, match="cannot be decrypted"):
        SecretBox("other").decrypt(enc)
    with pytest.raises(CryptoError, match="CRYPTO_SECRET is not set"):
        SecretBox().decrypt(enc)
    assert SecretBox().encrypt("x") == "x"


# --------------------------------------------------------------------------- masking

async def test_config_secrets_masked_in_list_get_search(gw: Gateway) -> None:
    b = await bedrock(gw)
    v = await gw.channel(name="vertex", type=42, key="my-project", base_url="", models="gemini-1.5-pro",
                         config=json.dumps({"region": "us-central1", "vertex_ai_project_id": "my-project",
                                            "vertex_ai_adc": ADC}))
    o = await gw.channel(name="custom", key="sk-TOPSECRET-1", config=json.dumps({"my_token": "tok-123-secret",
                                                                                   "region": "x"}))
    listed = await gw.ok("GET", "/api/channel/?p=0")
    found = await gw.ok("GET", "/api/channel/search?keyword=" + "sk-TOPSECRET-1")
    assert [c["id"] for c in found] == [o]
    for data in (listed, found, *[await gw.ok("GET", f"/api/channel/{i}") for i in (b, v, o)]):
        no_secret_in(data)
    by_id = {c["id"]: c for c in listed}
    assert json.loads(by_id[b]["config"]) == {"region": "us-east-1", "ak": MASK, "sk": MASK}
    assert json.loads(by_id[v]["config"])["vertex_ai_adc"] == MASK
    assert json.loads(by_id[v]["config"])["vertex_ai_project_id"] == "my-project"
    assert json.loads(by_id[o]["config"]) == {"my_token": MASK, "region": "x"}
    assert all(c["key"] == "" for c in listed)
    # the PUT answer is masked too
    no_secret_in(await gw.ok("PUT", "/api/channel/", {"id": b, "name": "renamed"}))
    # the registry flags them, so the console renders password inputs
    types = {t["id"]: t for t in await gw.ok("GET", "/api/channel/types")}
    assert {c["key"] for c in types[33]["config"] if c["secret"]} == {"ak", "sk"}
    assert {c["key"] for c in types[42]["config"] if c["secret"]} == {"vertex_ai_adc"}


async def test_edit_keeps_replaces_and_clears_config_secrets(gw: Gateway) -> None:
    cid = await bedrock(gw)
    shown = (await gw.ok("GET", f"/api/channel/{cid}"))["config"]
    # the console sends the masked config back with a changed region, and the key it builds
    # from the (masked) fields: every secret is kept, the key rebuilt from the stored ones
    cfg = {**json.loads(shown), "region": "us-west-2"}
    await gw.ok("PUT", "/api/channel/", {"id": cid, "config": json.dumps(cfg), "key": f"{MASK}|{MASK}|us-west-2"})
    assert await stored_config(gw, cid) == {"region": "us-west-2", "ak": AK, "sk": SK}
    assert (await gw.ctx.channels.get(cid))["key"] == f"{AK}|{SK}|us-west-2"  # type: ignore[index]
    # absent secret members are kept
    await gw.ok("PUT", "/api/channel/", {"id": cid, "config": {"region": "eu-west-1"}})
    assert await stored_config(gw, cid) == {"region": "eu-west-1", "ak": AK, "sk": SK}
    # a new value replaces
    await gw.ok("PUT", "/api/channel/", {"id": cid, "config": {"region": "eu-west-1", "ak": MASK, "sk": "NEWSK"}})
    assert await stored_config(gw, cid) == {"region": "eu-west-1", "ak": AK, "sk": "NEWSK"}
    # "" or null clears on purpose
    await gw.ok("PUT", "/api/channel/", {"id": cid, "config": {"region": "eu-west-1", "sk": "", "ak": None}})
    assert await stored_config(gw, cid) == {"region": "eu-west-1"}
    # config "" clears the whole config
    await gw.ok("PUT", "/api/channel/", {"id": cid, "config": {"sk": "S2"}})
    await gw.ok("PUT", "/api/channel/", {"id": cid, "config": ""})
    assert (await gw.ctx.channels.get(cid))["config"] == ""  # type: ignore[index]
    # other fields leave the config alone
    await gw.ok("PUT", "/api/channel/", {"id": cid, "config": {"region": "r", "sk": "S3"}})
    await gw.ok("PUT", "/api/channel/", {"id": cid, "priority": 3})
    assert await stored_config(gw, cid) == {"region": "r", "sk": "S3"}

    # refused: a masked placeholder where nothing is stored, a mask in a plain key, the stored form
    code, data = await gw.api("POST", "/api/channel/", {"name": "x", "type": 33, "key": "a|b|r", "models": "m",
                                                        "config": json.dumps({"region": "r", "sk": MASK})})
    assert not data["success"] and "masked placeholder" in data["message"]
    plain = await gw.channel(key="sk-real")
    code, data = await gw.api("PUT", "/api/channel/", {"id": plain, "key": MASK})
    assert not data["success"] and "masked placeholder" in data["message"]
    assert (await gw.ctx.channels.get(plain))["key"] == "sk-real"  # type: ignore[index]
    for body in ({"id": plain, "key": PREFIX + "AAAA"}, {"id": plain, "config": {"sk": PREFIX + "AAAA"}}):
        code, data = await gw.api("PUT", "/api/channel/", body)
        assert not data["success"] and "encrypted" in data["message"], body


# --------------------------------------------------------------------------- options

async def test_secret_options_never_returned_and_kept(gw: Gateway) -> None:
    for key in ("SMTPToken", "GitHubClientSecret", "WeChatServerToken", "TurnstileSecretKey",
                "MessagePusherToken", "LarkClientSecret", "OidcClientSecret"):
        await gw.ok("PUT", "/api/option/", {"key": key, "value": "tok-123-secret"})
        opts = {o["key"]: o["value"] for o in await gw.ok("GET", "/api/option/")}
        assert key not in opts
        no_secret_in(opts)
        await gw.ok("PUT", "/api/option/", {"key": key, "value": MASK})  # the mask saved back: kept
        assert gw.ctx.options.get(key) == "tok-123-secret"
        assert (await gw.ctx.db.options.find_one({"_id": key}))["value"] == "tok-123-secret"  # type: ignore[index]
        await gw.ok("PUT", "/api/option/", {"key": key, "value": ""})  # cleared on purpose
        assert gw.ctx.options.get(key) == ""
    assert "SMTPServer" in {o["key"] for o in await gw.ok("GET", "/api/option/")}


# --------------------------------------------------------------------------- encryption at rest

@pytest.mark.settings(crypto_secret="correct horse battery staple")
async def test_crypto_secret_encrypts_at_rest_and_relay_works(gw: Gateway) -> None:
    cid = await gw.channel(key="sk-ok")
    b = await bedrock(gw)
    await gw.ok("PUT", "/api/option/", {"key": "SMTPToken", "value": "tok-123-secret"})
    raw = await gw.ctx.db.channels.find_one({"_id": cid})
    assert raw is not None and raw["key"].startswith(PREFIX) and "sk-ok" not in json.dumps(raw)
    raw_b = await gw.ctx.db.channels.find_one({"_id": b})
    assert raw_b is not None
    cfg = json.loads(raw_b["config"])
    assert cfg["region"] == "us-east-1" and cfg["sk"].startswith(PREFIX) and cfg["ak"].startswith(PREFIX)
    no_secret_in(raw_b)
    opt = await gw.ctx.db.options.find_one({"_id": "SMTPToken"})
    assert opt is not None and opt["value"].startswith(PREFIX)
    assert gw.ctx.options.get("SMTPToken") == "tok-123-secret"  # plaintext in memory
    # the relay uses the real key (the routing table holds plaintext)
    key = await gw.token()
    r = await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=MSG)  # type: ignore[arg-type]
    assert r.choices[0].message.content
    assert gw.upstream.state.keys()[-1] == "sk-ok"
    # reads decrypt; answers stay masked; an encrypted key is still found by search
    assert (await gw.ctx.channels.get(cid))["key"] == "sk-ok"  # type: ignore[index]
    assert await stored_config(gw, b) == {"region": "us-east-1", "ak": AK, "sk": SK}
    assert [c["id"] for c in await gw.ok("GET", "/api/channel/search?keyword=sk-ok")] == [cid]
    no_secret_in(await gw.ok("GET", f"/api/channel/{b}"))
    # an edit keeps the secrets (and they stay encrypted)
    await gw.ok("PUT", "/api/channel/", {"id": b, "config": {"region": "eu-west-1", "ak": MASK, "sk": MASK}})
    assert await stored_config(gw, b) == {"region": "eu-west-1", "ak": AK, "sk": SK}
    assert json.loads((await gw.ctx.db.channels.find_one({"_id": b}))["config"])["sk"].startswith(PREFIX)  # type: ignore[index]


async def open_ctx(uri: str, tmp_root: str, secret: str) -> AppContext:
    s = Settings.from_env(env={}, mongodb_uri=uri, data_dir=os.path.join(tmp_root, "crypto-ctx"),
                          crypto_secret=secret, frontend_dist=os.path.join(tmp_root, "nodist"))
    return AppContext(s)


async def start_refused(uri: str, tmp_root: str, secret: str) -> str:
    ctx = await open_ctx(uri, tmp_root, secret)
    try:
        with pytest.raises(CryptoError) as info:
            await ctx.start()
        return str(info.value)
    finally:
        ctx.http.close()
        await ctx.db.close()


def run_server(args: list[str], uri: str, tmp_root: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "MONGODB_URI": uri, "FRONTEND_DIST": os.path.join(tmp_root, "nodist"),
         "DATA_DIR": os.path.join(tmp_root, "crypto-srv"), "PORT": "0", **env}
    for name in ("CRYPTO_SECRET", "OLD_CRYPTO_SECRET"):
        if name not in env:
            e.pop(name, None)
    return subprocess.run([sys.executable, os.path.join(ROOT, "server.py"), *args], env=e, cwd=tmp_root,
                          capture_output=True, text=True, timeout=120)


async def test_rotate_secret_and_refused_start(gw: Gateway, tmp_root: str) -> None:
    """Plaintext data → rotate-secret encrypts it; → rotate to another secret; a wrong or missing
    secret refuses the start (in process and `python server.py`); --new '' decrypts."""
    uri = gw.ctx.settings.mongodb_uri
    cid = await gw.channel(key="sk-ok")
    b = await bedrock(gw)
    await gw.ok("PUT", "/api/option/", {"key": "GitHubClientSecret", "value": "tok-123-secret"})

    async def raw() -> tuple[dict[str, Any], dict[str, Any], str]:
        c = await gw.ctx.db.channels.find_one({"_id": cid})
        d = await gw.ctx.db.channels.find_one({"_id": b})
        o = await gw.ctx.db.options.find_one({"_id": "GitHubClientSecret"})
        assert c and d and o
        return c, json.loads(d["config"]), o["value"]

    # plaintext → encrypted with "one" (the new secret from the environment)
    done = run_server(["rotate-secret"], uri, tmp_root, CRYPTO_SECRET="one")
    assert done.returncode == 0, done.stderr
    assert "channel(s)" in done.stdout
    c, cfg, opt = await raw()
    one = SecretBox("one")
    assert one.decrypt(c["key"]) == "sk-ok" and c["key"].startswith(PREFIX)
    assert one.decrypt(cfg["sk"]) == SK and one.decrypt(opt) == "tok-123-secret"

    # "one" → "two" on the command line; a wrong --old changes nothing
    bad = run_server(["rotate-secret", "--old", "wrong", "--new", "two"], uri, tmp_root)
    assert bad.returncode != 0 and "nothing changed" in bad.stderr
    assert one.decrypt((await raw())[0]["key"]) == "sk-ok"
    done = run_server(["rotate-secret", "--old", "one", "--new", "two"], uri, tmp_root)
    assert done.returncode == 0, done.stderr
    c, cfg, opt = await raw()
    two = SecretBox("two")
    assert two.decrypt(c["key"]) == "sk-ok" and two.decrypt(cfg["ak"]) == AK and two.decrypt(opt) == "tok-123-secret"
    with pytest.raises(CryptoError):
        one.decrypt(c["key"])

    # start refused: wrong secret, no secret (in process), and `python server.py` exits with one line
    assert "CRYPTO_SECRET is not the secret" in await start_refused(uri, tmp_root, "one")
    assert "CRYPTO_SECRET is not set" in await start_refused(uri, tmp_root, "")
    srv = run_server(["--log-dir", os.path.join(tmp_root, "crypto-logs")], uri, tmp_root, CRYPTO_SECRET="one")
    assert srv.returncode != 0 and "OneRelay cannot start" in srv.stderr and "Traceback" not in srv.stderr
    # the right secret starts and reads everything
    ctx = await open_ctx(uri, tmp_root, "two")
    await ctx.start()
    try:
        assert (await ctx.channels.get(cid))["key"] == "sk-ok"  # type: ignore[index]
        assert ctx.options.get("GitHubClientSecret") == "tok-123-secret"
        assert ctx.router.get(cid).keys == ["sk-ok"]  # type: ignore[union-attr]
    finally:
        await ctx.stop()

    # --new '' turns encryption off: plaintext again
    done = run_server(["rotate-secret", "--old", "two", "--new", ""], uri, tmp_root)
    assert done.returncode == 0, done.stderr
    c, cfg, opt = await raw()
    assert (c["key"], cfg["sk"], opt) == ("sk-ok", SK, "tok-123-secret")


# --------------------------------------------------------------------------- console headers

def parse_csp(header: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


async def test_console_security_headers_allow_the_chat_iframe(mongo: Any, upstream: Any, tmp_root: str,
                                                             request: Any, tmp_path: Any) -> None:
    import tornado.httpclient

    from tests.conftest import running_gateway

    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    built = os.path.join(ROOT, "frontend", "dist", "index.html")
    index = open(built, "rb").read() if os.path.isfile(built) else b"<!doctype html><div id=app></div>"
    (dist / "index.html").write_bytes(index)
    (dist / "assets" / "app.js").write_text("console.log(1)")
    if os.path.isfile(built):  # the real build needs no inline script (script-src has no 'unsafe-inline')
        assert b"<script>" not in index and b"<script type=\"module\">" not in index

    async with running_gateway(mongo, upstream, tmp_root, request, frontend_dist=str(dist)) as gw:
        http = tornado.httpclient.AsyncHTTPClient(force_instance=True)
        try:
            async def headers(path: str) -> Any:
                r = await http.fetch(gw.url + path, raise_error=False)
                assert r.code == 200, path
                return r.headers

            for path in ("/", "/chat", "/assets/app.js"):
                h = await headers(path)
                assert h["X-Content-Type-Options"] == "nosniff"
                assert h["Referrer-Policy"] == "strict-origin-when-cross-origin"
                csp = parse_csp(h["Content-Security-Policy"])
                assert csp["default-src"] == ["'self'"] and csp["connect-src"] == ["'self'"]
                assert csp["frame-ancestors"] == ["'self'"] and csp["object-src"] == ["'none'"]
                assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
                assert "data:" in csp["img-src"] and "https:" in csp["img-src"]
                assert "https:" in csp["frame-src"]  # an https ChatLink (NextChat, LobeChat…) frames
                assert "https://challenges.cloudflare.com" in csp["script-src"]  # Turnstile
            # an http:// ChatLink (a chat app on the LAN) is allowed by its origin
            await gw.ok("PUT", "/api/option/", {"key": "ChatLink", "value": "http://10.0.0.5:3001/#/chat?x=1"})
            csp = parse_csp((await headers("/chat"))["Content-Security-Policy"])
            assert "http://10.0.0.5:3001" in csp["frame-src"] and "http:" not in csp["frame-src"]
            # the API is not the console: no page policy there
            r = await http.fetch(gw.url + "/api/status", raise_error=False)
            assert "Content-Security-Policy" not in r.headers
        finally:
            http.close()
