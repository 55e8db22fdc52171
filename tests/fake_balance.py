"""Fake provider billing endpoints (PROVIDERS.md §9), a real Tornado app for balance tests.

Every request is recorded (path, query, key, headers). The key (``Authorization:
Bearer``, ``Api-Key``, or OpenAI-SB's ``api_key`` query) picks the behaviour:

* ``bal-bad`` → 401 with an OpenAI-style error body
* ``bal-zero`` → a zero balance (and OpenAI's usage equal to the hard limit)
* ``bal-html`` → 200 with an HTML page (a misconfigured base URL)
* anything else → the balances in :data:`BALANCES`

``/hang/v1/chat/completions`` answers an OpenAI chat completion after
:data:`HANG_SECONDS` (a slow channel for channel-test thresholds).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import tornado.web

HANG_SECONDS = 0.6

# The balance each fake endpoint reports for an ordinary key.
HARD_LIMIT_USD = 120.0
TOTAL_USAGE_CENTS = 2050.0  # $20.50 → OpenAI balance 99.5
BALANCES = {
    "openai": HARD_LIMIT_USD - TOTAL_USAGE_CENTS / 100,
    "closeai": 12.5,  # credit_grants.total_available
    "api2gpt": 7.25,  # credit_grants.total_remaining
    "openai_sb": 3.5,
    "aiproxy": 42.0,
    "siliconflow": 8.8,
    "deepseek": 110.0,
    "openrouter": 20.0 - 5.5,
    "moonshot": 49.58,
}


@dataclass
class BalanceRequest:
    path: str
    query: dict[str, str]
    key: str
    headers: dict[str, str]


@dataclass
class BalanceState:
    requests: list[BalanceRequest] = field(default_factory=list)

    def reset(self) -> None:
        self.requests.clear()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


class _Handler(tornado.web.RequestHandler):
    def initialize(self, state: BalanceState) -> None:
        self.state = state

    def key(self) -> str:
        auth = self.request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:]
        return self.request.headers.get("Api-Key", "") or self.get_query_argument("api_key", "")

    def prepare(self) -> None:
        query = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        self.state.requests.append(BalanceRequest(self.request.path, query, self.key(),
                                                  dict(self.request.headers)))

    def answer(self, normal: Any, zero: Any) -> None:
        key = self.key()
        if key == "bal-bad":
            self.set_status(401)
            self.finish({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                   "code": "invalid_api_key"}})
        elif key == "bal-html":
            self.set_header("Content-Type", "text/html")
            self.finish("<html><body>Welcome</body></html>")
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(zero if key == "bal-zero" else normal))


class Subscription(_Handler):
    def get(self) -> None:
        sub = {"object": "billing_subscription", "has_payment_method": self.key() != "sk-nopay",
               "soft_limit_usd": HARD_LIMIT_USD, "hard_limit_usd": HARD_LIMIT_USD,
               "system_hard_limit_usd": HARD_LIMIT_USD, "access_until": 0}
        self.answer(sub, sub)


class Usage(_Handler):
    def get(self) -> None:
        self.answer({"object": "list", "total_usage": TOTAL_USAGE_CENTS},
                    {"object": "list", "total_usage": HARD_LIMIT_USD * 100})


class CreditGrants(_Handler):
    def get(self) -> None:
        self.answer({"object": "credit_summary", "total_granted": 50, "total_used": 37.5,
                     "total_available": BALANCES["closeai"], "total_remaining": BALANCES["api2gpt"]},
                    {"object": "credit_summary", "total_available": 0, "total_remaining": 0})


class OpenAISBStatus(_Handler):
    def get(self) -> None:
        self.answer({"status": "ok", "msg": "", "data": {"credit": str(BALANCES["openai_sb"])}},
                    {"status": "ok", "msg": "", "data": {"credit": "0"}})


class AIProxyOverview(_Handler):
    def get(self) -> None:
        self.answer({"success": True, "message": "", "data": {"totalPoints": BALANCES["aiproxy"]}},
                    {"success": True, "message": "", "data": {"totalPoints": 0}})


class SiliconFlowInfo(_Handler):
    def get(self) -> None:
        self.answer({"code": 20000, "message": "OK", "status": True,
                     "data": {"id": "u1", "balance": "1", "totalBalance": str(BALANCES["siliconflow"])}},
                    {"code": 20000, "message": "OK", "status": True, "data": {"totalBalance": "0"}})


class DeepSeekBalance(_Handler):
    def get(self) -> None:
        self.answer({"is_available": True, "balance_infos": [
            {"currency": "USD", "total_balance": "1.00", "granted_balance": "0", "topped_up_balance": "1.00"},
            {"currency": "CNY", "total_balance": f"{BALANCES['deepseek']:.2f}", "granted_balance": "10.00",
             "topped_up_balance": "100.00"}]},
            {"is_available": False, "balance_infos": [{"currency": "CNY", "total_balance": "0.00"}]})


class OpenRouterCredits(_Handler):
    def get(self) -> None:
        self.answer({"data": {"total_credits": 20.0, "total_usage": 5.5}},
                    {"data": {"total_credits": 5.0, "total_usage": 5.0}})


class MoonshotBalance(_Handler):
    def get(self) -> None:
        self.answer({"code": 0, "status": True, "data": {"available_balance": BALANCES["moonshot"],
                                                        "voucher_balance": 0, "cash_balance": 49.58}},
                    {"code": 0, "status": True, "data": {"available_balance": 0}})


class HangingChat(tornado.web.RequestHandler):
    async def post(self) -> None:
        await asyncio.sleep(HANG_SECONDS)
        body = json.loads(self.request.body or b"{}")
        self.finish({"id": "chatcmpl-slow", "object": "chat.completion", "created": int(time.time()),
                     "model": body.get("model", ""),
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "slow"},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}})


def make_balance_app(state: BalanceState) -> tornado.web.Application:
    kw = {"state": state}
    return tornado.web.Application([
        (r"/v1/dashboard/billing/subscription", Subscription, kw),
        (r"/v1/dashboard/billing/usage", Usage, kw),
        (r"/dashboard/billing/credit_grants", CreditGrants, kw),
        (r"/sb-api/user/status", OpenAISBStatus, kw),
        (r"/api/report/getUserOverview", AIProxyOverview, kw),
        (r"/v1/user/info", SiliconFlowInfo, kw),
        (r"/user/balance", DeepSeekBalance, kw),
        (r"/v1/credits", OpenRouterCredits, kw),
        (r"/v1/users/me/balance", MoonshotBalance, kw),
        (r"/hang/v1/chat/completions", HangingChat),
    ])
