"""The console in Simplified Chinese: the language switch (remembered per browser), a browser
that prefers Chinese, the server's default language, Chinese text on the main pages, numbers
and dates written the zh-CN way, and 1440 px screenshots of each page (zh-CN-<page>.png)."""

from __future__ import annotations

import datetime
import re

from playwright.async_api import Page, expect

from tests.e2e.conftest import login, shot

CHAT = [{"role": "user", "content": "你好"}]
WIDE = {"width": 1440, "height": 900}

# page → (path, header title)
PAGES = {
    "dashboard": ("/dashboard", "仪表盘"),
    "channels": ("/channel", "渠道"),
    "tokens": ("/token", "令牌"),
    "logs": ("/log", "日志"),
    "users": ("/user", "用户"),
    "redemptions": ("/redemption", "兑换码"),
    "topup": ("/topup", "充值"),
    "settings": ("/setting", "设置"),
}
# text each page shows in Chinese (headers, buttons, column titles, tags of the data made below)
PAGE_TEXT = {
    "channels": ("添加渠道",),
    "tokens": ("添加令牌", "已启用", "剩余额度", "永不过期"),
    "logs": ("消费",),
    "users": ("添加用户", "超级管理员"),
    "redemptions": ("生成兑换码",),
    "topup": ("当前余额", "兑换码充值", "兑换"),
}
MENU = ("首页", "仪表盘", "渠道", "令牌", "日志", "用户", "兑换码", "充值", "设置", "关于")


async def switch_to(page: Page, label: str) -> None:
    await page.get_by_test_id("language-switch").click()
    await page.get_by_text(label, exact=True).last.click()


async def no_sideways_overflow(page: Page, what: str) -> None:
    """Nothing on the page is wider than the window (long Chinese labels must wrap, not overflow)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDE["width"], f"{what} scrolls sideways at {WIDE['width']} px ({width} px wide)"


async def test_switcher_turns_the_console_chinese(browser, console):
    ctx = await browser.new_context(viewport=WIDE, base_url=console.url, color_scheme="light", locale="en-US")
    ctx.set_default_timeout(10000)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.emulate_media(reduced_motion="reduce")

    # a visitor on the login page: English first, Chinese after the switch (the top bar has it)
    await page.goto("/login")
    await expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    await switch_to(page, "简体中文")
    await expect(page.get_by_role("heading", name="欢迎回来")).to_be_visible()
    submit = page.locator("form").get_by_role("button", name="登录", exact=True)
    await expect(submit).to_be_visible()
    await expect(page.get_by_text("忘记密码？")).to_be_visible()
    await expect(page.get_by_role("link", name="注册")).to_be_visible()
    await expect(page.get_by_role("button", name="注册", exact=True)).to_be_visible()  # the top bar
    assert await page.evaluate("document.documentElement.lang") == "zh-CN"
    assert await page.evaluate("localStorage.getItem('onerelay.locale')") == "zh-CN"
    # the form's own checks speak Chinese too
    await submit.click()
    await expect(page.get_by_text("请输入用户名或邮箱")).to_be_visible()
    await shot(page, "zh-CN-login")
    await no_sideways_overflow(page, "the login page")

    await page.goto("/register")
    await expect(page.get_by_role("heading", name="创建账户")).to_be_visible()
    await expect(page.locator("form").get_by_role("button", name="注册", exact=True)).to_be_visible()
    await expect(page.get_by_text("已有账户？")).to_be_visible()
    await shot(page, "zh-CN-register")

    await page.goto("/")
    await expect(page.get_by_text("一个 OpenAI 兼容接口，接入所有模型服务商")).to_be_visible()
    await expect(page.get_by_role("heading", name="快速开始")).to_be_visible()
    await expect(page.get_by_role("heading", name="额度与计费")).to_be_visible()
    await shot(page, "zh-CN-home")
    await no_sideways_overflow(page, "the home page")

    # some usage, balances shown as token counts (big numbers are written with 万/亿)
    await console.ok("PUT", "/api/option/", {"key": "DisplayInCurrencyEnabled", "value": "false"})
    await console.channel()
    key = await console.token()
    r = await console.client(key).chat.completions.create(model="gpt-3.5-turbo", messages=CHAT)
    assert r.choices[0].message.content
    await console.ctx.ledger.flush()
    me = await console.user(1)

    await login(page, console)
    await page.goto("/dashboard")
    # the choice survives the reload and the log-in
    await expect(page.get_by_test_id("page-title")).to_have_text("仪表盘")
    nav = page.get_by_role("menu").first
    for item in MENU:
        await nav.get_by_role("link", name=item, exact=True).wait_for()
    await expect(page.get_by_test_id("user-menu")).to_contain_text("超级管理员")
    await expect(page.get_by_test_id("stat-remaining")).to_contain_text("剩余额度")
    await expect(page.get_by_test_id("requests-summary")).to_have_text("7 天共 1 次请求")
    await expect(page.get_by_test_id("share-summary")).to_have_text("1 个模型")
    await expect(page.get_by_test_id("tokens-summary")).to_contain_text("个 Token")
    await expect(page.get_by_test_id("quick-start")).to_contain_text("快速开始")
    # numbers: one quota format everywhere (issue 14): the full amount in quota points, named 点 on hover
    if me["quota"] >= 100_000_000:
        value = page.get_by_test_id("stat-remaining").locator(".value")
        await expect(value).to_have_text(re.compile(r"^\d{1,3}(,\d{3})+$"))
        assert (await value.inner_text()) in (await value.get_attribute("title") or "")
        assert "点" in (await value.get_attribute("title") or "")
    # dates: the chart tooltip names today as 5月14日-style (the server groups by UTC day)
    chart = page.get_by_test_id("chart-requests")
    await expect(chart.locator("canvas").first).to_be_visible()
    await chart.scroll_into_view_if_needed()
    box = await chart.bounding_box()
    assert box
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.move(box["x"] + box["width"] - 8, box["y"] + box["height"] / 2, steps=5)
    await expect(chart).to_contain_text(re.compile(r"\d{1,2}月\d{1,2}日"))
    today = datetime.datetime.now(datetime.timezone.utc)
    await expect(chart).to_contain_text(f"{today.month}月{today.day}日请求数1")
    await expect(chart).to_contain_text("请求数")
    await page.mouse.move(5, 5)
    await page.evaluate("window.scrollTo(0, 0); document.querySelectorAll('.n-scrollbar-container').forEach(e => e.scrollTop = 0)")
    await shot(page, "zh-CN-dashboard")
    await no_sideways_overflow(page, "the dashboard")

    for name, (path, title) in PAGES.items():
        if name == "dashboard":
            continue
        await page.goto(path)
        await expect(page.get_by_test_id("page-title")).to_have_text(title)
        await expect(page).to_have_title(f"{title} · OneRelay")
        if name in ("channels", "tokens", "users", "redemptions"):
            # the list card (search, refresh, pager) is shared: Chinese on every list page
            await expect(page.get_by_role("button", name="搜索", exact=True)).to_be_visible()
            await expect(page.get_by_role("button", name="刷新", exact=True).first).to_be_visible()
        if name in PAGE_TEXT:
            for text in PAGE_TEXT[name]:
                await expect(page.get_by_text(text, exact=True).first).to_be_visible()
        if name == "settings":
            for tab in ("个人设置", "运营设置", "系统设置", "其他设置"):
                await expect(page.get_by_role("tab", name=tab)).to_be_visible()
            for card in ("个人信息", "系统访问令牌", "修改密码", "邀请链接", "账号绑定", "删除账户"):
                await expect(page.get_by_text(card, exact=True).first).to_be_visible()
        await page.mouse.move(5, 5)
        await shot(page, f"zh-CN-{name}")
        await no_sideways_overflow(page, f"the {name} page")

    # the root's option tabs
    await page.goto("/setting?tab=operation")
    await expect(page.get_by_test_id("card-monitoring")).to_contain_text("监控设置")
    await expect(page.get_by_test_id("card-monitoring")).to_contain_text("渠道禁用阈值")
    await expect(page.get_by_test_id("card-ratios")).to_contain_text("模型倍率")
    await expect(page.get_by_test_id("card-ratios")).to_contain_text("没有未保存的修改")
    await shot(page, "zh-CN-settings-operation")
    await no_sideways_overflow(page, "the operation settings")
    await page.goto("/setting?tab=system")
    await expect(page.get_by_test_id("card-login")).to_contain_text("登录与注册")
    await expect(page.get_by_test_id("card-login")).to_contain_text("密码登录")
    await expect(page.get_by_test_id("card-server")).to_contain_text("默认语言")
    await shot(page, "zh-CN-settings-system")

    # and back to English, remembered as well
    await switch_to(page, "English")
    await expect(page.get_by_test_id("page-title")).to_have_text("Settings")
    await page.reload()
    await expect(page.get_by_test_id("card-login")).to_contain_text("Login and registration")
    assert await page.evaluate("document.documentElement.lang") == "en"

    await ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


async def test_a_chinese_browser_starts_in_chinese(browser, console):
    ctx = await browser.new_context(viewport=WIDE, base_url=console.url, locale="zh-CN")
    page = await ctx.new_page()
    languages: list[str] = []
    page.on("request", lambda r: languages.append(r.headers.get("accept-language", "")) if "/api/" in r.url else None)
    await page.goto("/login")
    await expect(page.get_by_role("heading", name="欢迎回来")).to_be_visible()
    await expect(page.get_by_test_id("language-switch")).to_have_text("简体中文")
    assert await page.evaluate("localStorage.getItem('onerelay.locale')") is None  # nobody chose
    assert "zh-CN" in languages  # the API is asked for Chinese messages as well
    await page.goto("/nothing-here")
    await expect(page.get_by_text("页面不存在").first).to_be_visible()
    await expect(page.get_by_role("button", name="返回首页")).to_be_visible()
    await ctx.close()


async def test_the_server_default_applies_when_nobody_chose(browser, console):
    await console.ok("PUT", "/api/option/", {"key": "Language", "value": "zh-CN"})
    # a browser preferring neither Chinese nor English: the operator's default wins
    ctx = await browser.new_context(viewport=WIDE, base_url=console.url, locale="fr-FR")
    page = await ctx.new_page()
    await page.goto("/login")
    await expect(page.get_by_role("heading", name="欢迎回来")).to_be_visible()
    await ctx.close()
    # an English browser keeps English
    ctx = await browser.new_context(viewport=WIDE, base_url=console.url, locale="en-US")
    page = await ctx.new_page()
    await page.goto("/login")
    await expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    await ctx.close()
