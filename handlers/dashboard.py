"""Billing compatibility (One API ``router/dashboard.go``): balances for chat clients.

``GET [/v1]/dashboard/billing/subscription`` and ``GET [/v1]/dashboard/billing/usage``
authenticate with an API key (``Authorization: Bearer sk-...``) and answer in
OpenAI's legacy billing shapes; errors are OpenAI error JSON.
"""

from __future__ import annotations

from typing import Any

from adaptors.base import CHAT
from relay.pipeline import Job

from .base import OpenAIHandler

UNLIMITED_AMOUNT = 100_000_000.0  # what One API reports for an unlimited token


class BillingHandler(OpenAIHandler):
    """Token auth, CORS (browser chat clients call these directly), figures as One API."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Access-Control-Allow-Methods", "GET, OPTIONS")
        self.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type")

    def options(self) -> None:
        self.set_status(204)
        self.finish()

    async def figures(self) -> tuple[int, int, dict[str, Any] | None]:
        """(remain, used, token document when DisplayTokenStatEnabled else None)."""
        job = Job(self.ctx, self, CHAT, self.request_id)  # type: ignore[arg-type]
        await job.authorize(self.request.headers.get("Authorization"), self.client_ip)
        assert job.token is not None and job.user is not None
        ctx = self.ctx
        await ctx.ledger.flush()  # pending spend and usage land first
        if ctx.options.bool("DisplayTokenStatEnabled"):
            tok = await ctx.tokens.get(job.token.id) or {}
            remain = ctx.ledger.view("t", job.token.id, tok)
            return remain, int(tok.get("used_quota") or 0), tok
        doc = await ctx.users.get(job.user.id) or {}
        return ctx.ledger.view("u", job.user.id, doc), int(doc.get("used_quota") or 0), None

    def amount(self, quota: int) -> float:
        value = float(quota)
        if self.ctx.options.bool("DisplayInCurrencyEnabled"):
            value /= self.ctx.options.float("QuotaPerUnit") or 500000.0
        return value


class SubscriptionHandler(BillingHandler):
    async def get(self) -> None:
        remain, used, token = await self.figures()
        amount = self.amount(remain + used)
        access_until = 0
        if token is not None:
            if token.get("unlimited_quota"):
                amount = UNLIMITED_AMOUNT
            access_until = max(0, int(token.get("expired_time") or 0))
        self.finish({
            "object": "billing_subscription", "has_payment_method": True,
            "soft_limit_usd": amount, "hard_limit_usd": amount, "system_hard_limit_usd": amount,
            "access_until": access_until,
        })


class UsageHandler(BillingHandler):
    async def get(self) -> None:
        _, used, _ = await self.figures()
        self.finish({"object": "list", "total_usage": self.amount(used) * 100})


routes = [
    (r"/(?:v1/)?dashboard/billing/subscription", SubscriptionHandler),
    (r"/(?:v1/)?dashboard/billing/usage", UsageHandler),
]
