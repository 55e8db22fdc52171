"""Public option strings (notice, about, home page content) and ``/api/models``."""

from __future__ import annotations

import pytest

from adaptors.registry import PROVIDERS

from adaptors import CHANNEL_TYPE_NAMES
from tests.conftest import Gateway

USER_TOKEN = "u" * 32


async def test_option_strings_are_public(gw: Gateway) -> None:
    for path in ("/api/notice", "/api/about", "/api/home_page_content"):
        code, data = await gw.api("GET", path, token=None)
        assert code == 200 and data == {"success": True, "message": "", "data": ""}, path
    await gw.ok("PUT", "/api/option/", {"key": "Notice", "value": "Maintenance at **noon**"})
    await gw.ok("PUT", "/api/option/", {"key": "About", "value": "<p>About us</p>"})
    await gw.ok("PUT", "/api/option/", {"key": "HomePageContent", "value": "https://example.com/home"})
    for path, value in (("/api/notice", "Maintenance at **noon**"), ("/api/about", "<p>About us</p>"),
                        ("/api/home_page_content", "https://example.com/home")):
        code, data = await gw.api("GET", path, token=None)
        assert data["success"] and data["data"] == value, path


async def test_option_strings_only_get(gw: Gateway) -> None:
    for path in ("/api/notice", "/api/about", "/api/home_page_content", "/api/models"):
        code, data = await gw.api("POST", path, {"value": "x"})
        assert code == 405 and data["success"] is False, path
    code, data = await gw.api("GET", "/api/notice", token=None)
    assert data["data"] == ""


async def test_models_by_channel_type(gw: Gateway) -> None:
    code, data = await gw.api("GET", "/api/models", token=None)
    assert code == 401 and data["success"] is False
    await gw.ctx.users.create("u1", "password1", role=1, quota=10**9, access_token=USER_TOKEN)
    code, data = await gw.api("GET", "/api/models", token=USER_TOKEN)
    assert data["success"] is True
    models = data["data"]
    assert set(models) == {str(t) for t in CHANNEL_TYPE_NAMES}  # keys are type ids (JSON strings)
    assert "gpt-3.5-turbo" in models["1"] and "gpt-4o" in models["1"]
    assert "claude-3-5-sonnet-20241022" in models["14"]
    assert "deepseek-chat" in models["36"]
    assert "ERNIE-4.0-8K" in models["15"]  # Baidu is relayed natively now
    assert models["43"] == []  # a type that relays no model requests (Proxy: raw pass-through only)
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in models.values())
    # the built-in lists match the adaptors'
    assert models["3"] == list(PROVIDERS[3].models)
    code, data = await gw.api("GET", "/api/models", token="x" * 32)
    assert data["success"] is False


async def test_status_reports_sign_up_and_login_switches(gw) -> None:
    data = await gw.ok("GET", "/api/status", token=None)
    assert (data["register_enabled"], data["password_register"], data["password_login"]) == (True, True, True)
    await gw.ok("PUT", "/api/option/", {"key": "PasswordRegisterEnabled", "value": "false"})
    await gw.ok("PUT", "/api/option/", {"key": "PasswordLoginEnabled", "value": "false"})
    data = await gw.ok("GET", "/api/status", token=None)
    assert (data["register_enabled"], data["password_register"], data["password_login"]) == (True, False, False)
    await gw.ok("PUT", "/api/option/", {"key": "PasswordRegisterEnabled", "value": "true"})
    await gw.ok("PUT", "/api/option/", {"key": "RegisterEnabled", "value": "false"})
    data = await gw.ok("GET", "/api/status", token=None)
    assert (data["register_enabled"], data["password_register"]) == (False, False)


@pytest.mark.settings(batch_update_interval=3600)
async def test_self_counts_requests_not_flushed_yet(gw) -> None:
    await gw.channel()
    key = await gw.token()
    before = await gw.ok("GET", "/api/user/self")
    await gw.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}])
    after = await gw.ok("GET", "/api/user/self")
    assert after["request_count"] == before["request_count"] + 1
    assert after["used_quota"] > before["used_quota"]
    assert after["quota"] == before["quota"] - (after["used_quota"] - before["used_quota"])
