"""The provider registry's console texts in Chinese: every note, base URL note, key format, config
label, help and prose placeholder of adaptors/registry.py has an entry in
services/locales/zh_cn_registry.py, and ``GET /api/channel/types`` serves them per request language
(Accept-Language, else the ``Language`` option) with everything else unchanged."""

from __future__ import annotations

import re
from typing import Any, Iterator

from adaptors.registry import PROVIDERS
from services.locales.zh_cn_registry import REGISTRY
from tests.conftest import Gateway

CJK = re.compile(r"[\u4e00-\u9fff]")
# a placeholder or key format is prose ("The Coze user ID", "e.g. v3.5"), not an example value
# ("us-east-1", "AK|SK", "{\"type\": \"service_account\", …}"), when it has two words or says "e.g."
PROSE = re.compile(r"^e\.g\. |[A-Za-z]{2,} [A-Za-z]{2,}")
URL = re.compile(r"https?://[^\s,;)]+")  # as the console's baseUrlPlaceholder reads an example address
SPEC_TEXTS = ("note", "base_url_note", "key_format")
FIELD_TEXTS = ("label", "placeholder", "help")
ZH_H = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN_H = {"Accept-Language": "en-US,en;q=0.9"}


def registry_texts(prose_only: bool = True) -> Iterator[tuple[str, str]]:
    """(where, text) for every console text of the registry (example values left out if prose_only)."""
    for tid, spec in sorted(PROVIDERS.items()):
        for k in SPEC_TEXTS:
            text = getattr(spec, k)
            if text and (k != "key_format" or not prose_only or PROSE.search(text)):
                yield f"{tid} {spec.name}: {k}", text
        for field in spec.config:
            for k in FIELD_TEXTS:
                text = getattr(field, k)
                if text and (k != "placeholder" or not prose_only or PROSE.search(text)):
                    yield f"{tid} {spec.name}: config {field.key}.{k}", text


def urls(text: str) -> list[str]:
    return [u.rstrip(".,;:") for u in URL.findall(text)]


# -- the catalog ----------------------------------------------------------------------------------
def test_every_registry_text_has_a_chinese_translation() -> None:
    found = list(registry_texts())
    assert len(found) > 80  # notes, base URL notes, labels and helps are still seen
    missing = [f"{where}: {text!r}" for where, text in found if not CJK.search(REGISTRY.get(text, ""))]
    assert missing == [], "add to services/locales/zh_cn_registry.py:\n" + "\n".join(missing)


def test_the_catalog_holds_no_stale_entries() -> None:
    texts = {text for _, text in registry_texts(prose_only=False)}
    assert [en for en in REGISTRY if en not in texts] == []


def test_example_values_are_not_prose() -> None:
    # what the prose rule leaves out: values shown as they are in every language
    values = {text for _, text in registry_texts(prose_only=False)} - {text for _, text in registry_texts()}
    assert {"us-east-1", "AK|SK", "AppId|SecretId|SecretKey", "2024-10-21", "my-gcp-project"} <= values
    assert not any(CJK.search(REGISTRY.get(v, "")) for v in values)
    for prose in ("The Coze user ID", "Secret access key", "e.g. v3.5",
                  "Authorization header value (e.g. Bearer sk-…)"):
        assert PROSE.search(prose) and prose not in values


def test_translations_keep_urls_and_names() -> None:
    for en, zh in REGISTRY.items():
        # a URL in Chinese text ends at a space or the end, so the console reads the same address
        assert urls(zh) == urls(en), (en, zh)
        for name in re.findall(r'"([^"]+)"', en):  # type names the note points to ("Alibaba Bailian")
            if name in {s.name for s in PROVIDERS.values()}:
                assert f"“{name}”" in zh, (name, zh)
        for token in ("One API", "OpenAI", "AK|SK|Region", "/v1/messages", "anthropic_beta", "X-TC-Region"):
            if token in en:
                assert token in zh, (token, zh)
        assert not re.search(r"[\u4e00-\u9fff][A-Za-z0-9]|[A-Za-z0-9][\u4e00-\u9fff]", zh), zh  # 中文 English
        assert not re.search(r"[\u4e00-\u9fff][,;:()]|[,;:()][\u4e00-\u9fff]", zh), zh  # full-width punctuation


def test_model_mapping_is_called_as_the_console_calls_it() -> None:
    for en, zh in REGISTRY.items():
        if "Model mapping" in en:
            assert "模型重定向" in zh, zh


# -- on a live server -----------------------------------------------------------------------------
def without_texts(types: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in types:
        t = {k: v for k, v in t.items() if k not in SPEC_TEXTS}
        t["config"] = [{k: v for k, v in f.items() if k not in FIELD_TEXTS} for f in t["config"]]
        out.append(t)
    return out


async def test_channel_types_follow_accept_language(gw: Gateway) -> None:
    zh = await gw.ok("GET", "/api/channel/types", headers=ZH_H)
    en = await gw.ok("GET", "/api/channel/types", headers=EN_H)
    assert en == [s.to_api() for _, s in sorted(PROVIDERS.items())]  # English: the registry as it is
    assert [t["id"] for t in zh] == list(range(1, 52))
    assert without_texts(zh) == without_texts(en)  # ids, names, models, config keys, flags: the same

    by_id = {t["id"]: t for t in zh}
    assert by_id[1]["note"] == "OpenAI 官方 API 或任意 OpenAI 兼容的镜像服务。"
    assert by_id[2]["note"] == "OpenAI 兼容 API：请求按原样转发。" and not CJK.search(en[1]["note"])
    for z, e in zip(zh, en):
        for k in SPEC_TEXTS:
            assert z[k] == REGISTRY.get(e[k], e[k]), (e["id"], k)
            if e[k] and (k != "key_format" or PROSE.search(e[k])):
                assert CJK.search(z[k]) and not CJK.search(e[k]), (e["id"], k, z[k])
        for zf, ef in zip(z["config"], e["config"]):
            assert CJK.search(zf["label"]) and not CJK.search(ef["label"]), ef
            assert not ef["help"] or CJK.search(zf["help"]), ef
    bedrock = by_id[33]
    assert bedrock["key_format"] == "" and bedrock["key_from_config"] == "{ak}|{sk}|{region}"
    region = next(f for f in bedrock["config"] if f["key"] == "region")
    assert region == {**region, "label": "区域", "placeholder": "us-east-1"}  # an example value stays
    sk = next(f for f in bedrock["config"] if f["key"] == "sk")
    assert sk["label"] == sk["placeholder"] == "秘密访问密钥" and sk["secret"] is True
    assert by_id[15]["key_format"] == "AK|SK" and "模型重定向" in by_id[40]["note"]
    assert urls(by_id[50]["base_url_note"])[0] == "http://10.0.0.5:8000/v1"  # the form's example address

    # again (served from the per-language cache) and with a bare zh tag
    assert await gw.ok("GET", "/api/channel/types", headers={"Accept-Language": "zh"}) == zh
    assert await gw.ok("GET", "/api/channel/types", headers=EN_H) == en


async def test_channel_types_default_to_the_language_option(gw: Gateway) -> None:
    assert not CJK.search((await gw.ok("GET", "/api/channel/types"))[0]["note"])
    await gw.ok("PUT", "/api/option/", {"key": "Language", "value": "zh-CN"})
    types = await gw.ok("GET", "/api/channel/types")
    assert types[0]["note"] == "OpenAI 官方 API 或任意 OpenAI 兼容的镜像服务。"
    en = await gw.ok("GET", "/api/channel/types", headers=EN_H)  # the request's language wins
    assert en[0]["note"] == "OpenAI or any OpenAI-compatible mirror."
