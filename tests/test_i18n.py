"""Chinese (issue 12, item 3): the API's own messages follow ``Accept-Language`` (zh-CN or en),
the default is the ``Language`` option, log content is written in the operator's language, and
every message the code can send has a translation (read from the source by
scripts/i18n_templates.py). Where One API has the same message, the Chinese is One API's own
(scripts match on it)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from services.i18n import EN, ZH, Catalog, negotiate, translate
from services.locales.zh_cn import MESSAGES
from tests.conftest import Gateway

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")
ZH_H = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN_H = {"Accept-Language": "en-US,en;q=0.9"}


def _extractor() -> Any:
    spec = importlib.util.spec_from_file_location("i18n_templates", ROOT / "scripts" / "i18n_templates.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -- the catalog ----------------------------------------------------------------------------------
def test_every_message_in_the_source_has_a_chinese_translation() -> None:
    found = _extractor().extract()
    assert len(found) > 300  # the extractor still sees the code's messages
    from services.i18n import templates_missing

    missing = templates_missing(found)
    assert missing == [], "untranslated (python scripts/i18n_templates.py --missing): " + "\n".join(
        f"{t!r} at {found[t][0]}" for t in missing[:40])


def test_translations_keep_their_placeholders_and_are_chinese() -> None:
    names = re.compile(r"\{(\w+)\}")
    for en, zh in MESSAGES.items():
        assert set(names.findall(zh)) == set(names.findall(en)), (en, zh)
        if re.search(r"[A-Za-z]{3}", names.sub("", en)) and not en.startswith("HTTP "):
            assert CJK.search(zh) or zh != en or en.startswith(("Invalid URL", "The model", "API not", "state is")), (en, zh)


def test_one_api_wording_where_one_api_has_the_message() -> None:
    # scripts written against One API match these exact strings
    assert translate("Invalid API key", ZH) == "无效的令牌"
    assert translate("Not logged in and no access token provided", ZH) == "无权进行此操作，未登录且未提供 access token"
    assert translate("Invalid access token", ZH) == "无权进行此操作，access token 无效"
    assert translate("Invalid redemption code", ZH) == "无效的兑换码"
    assert translate("model ratio 2.5, group ratio 1, completion ratio 4", ZH) == "模型倍率 2.5，分组倍率 1，补全倍率 4"


def test_filled_in_templates_translate_and_unknown_text_is_kept() -> None:
    cat = Catalog({"Channel {id} not found": "未找到渠道 {id}", "{what} is required": "{what} 为必填项",
                   "Invalid key": "无效的密钥", "bad request: {why}": "请求有误：{why}"})
    assert cat.translate("Channel 7 not found") == "未找到渠道 7"
    assert cat.translate("name is required") == "name 为必填项"
    assert cat.translate("bad request: Invalid key") == "请求有误：无效的密钥"  # values translated too
    assert cat.translate("Invalid key; name is required") == "无效的密钥；name 为必填项"  # log notes: each part
    assert cat.translate("a; Invalid key") == "a; Invalid key"  # not a note of ours: left alone
    assert cat.translate("something upstream said") == "something upstream said"
    assert translate("Invalid redemption code", EN) == "Invalid redemption code"


@pytest.mark.parametrize("header, default, want", [
    (None, EN, EN), (None, ZH, ZH), ("zh-CN", EN, ZH), ("zh", EN, ZH), ("zh-Hans-CN,zh;q=0.9", EN, ZH),
    ("zh-TW", EN, ZH), ("en-US,en;q=0.9,zh;q=0.8", ZH, EN), ("fr-FR,zh;q=0.5", EN, ZH),
    ("fr, de", ZH, ZH), ("*", ZH, ZH), ("zh;q=0, en", ZH, EN), ("en;q=0.2, zh;q=0.8", EN, ZH),
    ("zh;q=abc", EN, EN), ("", ZH, ZH),
])
def test_accept_language_negotiation(header: str | None, default: str, want: str) -> None:
    assert negotiate(header, default) == want


# -- on a live server -----------------------------------------------------------------------------
async def set_language(gw: Gateway, value: str) -> None:
    await gw.ok("PUT", "/api/option/", {"key": "Language", "value": value})


async def test_api_messages_follow_accept_language_and_the_option(gw: Gateway) -> None:
    body = {"username": "root", "password": "wrong-password"}
    _, zh = await gw.api("POST", "/api/user/login", body, token=None, headers=ZH_H)
    _, en = await gw.api("POST", "/api/user/login", body, token=None, headers=EN_H)
    assert zh["success"] is False and CJK.search(zh["message"]), zh
    assert en["success"] is False and not CJK.search(en["message"]), en
    code, anon = await gw.api("GET", "/api/user/self", token=None, headers=ZH_H)
    assert code == 401 and anon["message"] == "无权进行此操作，未登录且未提供 access token"
    _, bad = await gw.api("GET", "/api/user/self", token="not-a-token", headers=ZH_H)
    assert bad["message"] == "无权进行此操作，access token 无效"
    # a templated message (filled in) and a declared-input error
    _, missing = await gw.api("GET", "/api/redemption/987654", headers=ZH_H)
    assert missing["success"] is False and CJK.search(missing["message"]) and "987654" in missing["message"]
    _, p = await gw.api("GET", "/api/log/?p=99999999999", headers=ZH_H)
    assert p["success"] is False and CJK.search(p["message"]), p
    # unknown paths: One API's 404 object, in English as One API always answers it
    code, nf = await gw.api("GET", "/api/no/such/route", headers=ZH_H)
    assert code == 404 and nf["message"] == "Invalid URL (GET /api/no/such/route)"

    # The option sets the default for requests that name no language we speak.
    status = await gw.ok("GET", "/api/status", token=None)
    assert status["language"] == "en"
    _, r = await gw.api("PUT", "/api/option/", {"key": "Language", "value": "fr"})
    assert r["success"] is False
    await set_language(gw, "zh")  # normalised
    try:
        assert (await gw.ok("GET", "/api/status", token=None))["language"] == "zh-CN"
        _, plain = await gw.api("POST", "/api/user/login", body, token=None)
        assert CJK.search(plain["message"]), plain
        _, asked = await gw.api("POST", "/api/user/login", body, token=None, headers={"Accept-Language": "en"})
        assert not CJK.search(asked["message"]), asked
        _, fr = await gw.api("POST", "/api/user/login", body, token=None, headers={"Accept-Language": "fr"})
        assert CJK.search(fr["message"]), fr
    finally:
        await set_language(gw, "en")


async def test_v1_errors_in_openai_and_anthropic_formats(gw: Gateway) -> None:
    client = openai.AsyncOpenAI(api_key="sk-nope", base_url=gw.url + "/v1", max_retries=0,
                                default_headers=ZH_H)
    with pytest.raises(openai.AuthenticationError) as e:
        await client.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    err = e.value.body
    assert isinstance(err, dict) and err["message"].startswith("无效的令牌 (request id: "), err

    key = await gw.token()
    zh_client = gw.client(key, default_headers=ZH_H)
    with pytest.raises(openai.APIStatusError) as e2:  # no channel serves this model
        await zh_client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert e2.value.status_code == 503
    assert "当前分组 default 下对于模型 no-such-model 无可用渠道" in str(e2.value.body), e2.value.body
    with pytest.raises(openai.BadRequestError) as e3:  # input validation
        await zh_client.chat.completions.create(model="gpt-3.5-turbo", messages="not a list")  # type: ignore[arg-type]
    assert CJK.search(json.dumps(e3.value.body, ensure_ascii=False)), e3.value.body
    en_client = gw.client(key)  # no Accept-Language: the option's default (en)
    with pytest.raises(openai.APIStatusError) as e4:
        await en_client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert not CJK.search(str(e4.value.body))

    claude = anthropic.AsyncAnthropic(api_key=key, base_url=gw.url, max_retries=0, default_headers=ZH_H)
    with pytest.raises(anthropic.APIStatusError) as e5:
        await claude.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    body = e5.value.body
    assert isinstance(body, dict) and body["type"] == "error", body
    assert "无可用渠道" in body["error"]["message"], body

    code, nf = await gw.api("GET", "/v1/no/such", token=key, headers=ZH_H)
    assert code == 404 and nf["error"]["message"].startswith("Invalid URL (GET /v1/no/such)"), nf  # as One API


async def test_log_content_is_written_in_the_operators_language(gw: Gateway) -> None:
    await gw.channel(models="gpt-3.5-turbo")
    key = await gw.token()
    client = gw.client(key, default_headers=EN_H)  # the client's language does not matter for logs
    await client.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    await set_language(gw, "zh-CN")
    try:
        await client.chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
        code = await gw.ok("POST", "/api/redemption/", {"name": "zh", "quota": 1000, "count": 1})
        await gw.ok("POST", "/api/user/topup", {"key": code[0]})
    finally:
        await set_language(gw, "en")
    logs = await gw.logs(type=0)
    consume = [r["content"] for r in logs if r["type"] == 2]
    assert consume[0].startswith("模型倍率 "), consume  # newest first: written in Chinese
    assert consume[1].startswith("model ratio "), consume  # before the switch: English, kept
    topup = [r["content"] for r in logs if r["type"] == 1]
    assert topup and topup[0].startswith("通过兑换码充值 "), topup
