"""Top-ups and what follows them (issue 15, item 4): bonus periods, invite rebates, automatic
group upgrades, and the plans shown on the top-up page. Every credit goes through
:func:`credit_topup`: the ledger credit (visible at once on every node), a top-up log, the user's
``topup_total``, then the rebate and the upgrade.

Options (root, Settings > Operation):

- ``TopupBonusPeriods``: ``[{"name": "Double 11", "from": unix, "to": unix, "ratio": 1.2}]``;
  a code redeemed while a period runs is credited ``ratio`` times its value (the highest ratio
  of the running periods; ratios from 1 to 10).
- ``InviteRebateRatio``: 0 to 1; that share of what an invited user redeems is credited to the
  inviter (a top-up log for each of them).
- ``GroupUpgradeRules``: ``{"vip": 5000000, "svip": 50000000}``; a user whose top-ups (in
  quota points, bonuses left out) reach a threshold moves to that group, the highest one
  reached. Only users in ``DefaultGroup`` or in a group of the rules move, and only upwards:
  a group an administrator chose by hand is kept.
- ``DefaultGroup``: the group of new users (``default``).
- ``TopupPlans``: ``[{"name": "Starter", "price": "¥10", "quota": 5000000, "note": "..."}]``,
  shown on the top-up page with the running bonus period and the rebate share.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from models.logs import LOG_SYSTEM, LOG_TOPUP

if TYPE_CHECKING:
    from services.context import AppContext

MAX_PLANS = 20
MAX_PERIODS = 50


def _json(ctx: "AppContext", key: str, default: Any) -> Any:
    raw = ctx.options.get(key).strip()
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


def log_quota(ctx: "AppContext", quota: int) -> str:
    """One API's LogQuota: dollars when DisplayInCurrencyEnabled, else quota points."""
    if ctx.options.bool("DisplayInCurrencyEnabled"):
        per_unit = ctx.options.float("QuotaPerUnit") or 500000.0
        return f"${quota / per_unit:.6f} of quota"
    return f"{quota} quota points"


def bonus_period(ctx: "AppContext", now: float | None = None) -> dict[str, Any] | None:
    """The running bonus period with the highest ratio, if any."""
    now = time.time() if now is None else now
    best = None
    for p in _json(ctx, "TopupBonusPeriods", []):
        if isinstance(p, dict) and p.get("from", 0) <= now < p.get("to", 0):
            if best is None or p["ratio"] > best["ratio"]:
                best = p
    return best


def upgrade_rules(ctx: "AppContext") -> dict[str, int]:
    rules = _json(ctx, "GroupUpgradeRules", {})
    return {str(g): int(v) for g, v in rules.items()} if isinstance(rules, dict) else {}


async def credit_topup(ctx: "AppContext", user: dict[str, Any], quota: int, content: str, *,
                       redeemed: bool) -> int:
    """Credit a top-up of ``quota`` to ``user`` (a redemption code when ``redeemed``, else an
    administrator's); returns what was credited (bonus included)."""
    uid, username = int(user["_id"]), str(user.get("username") or "")
    credited = quota
    period = bonus_period(ctx) if redeemed else None
    if period is not None and period["ratio"] > 1:
        credited = int(round(quota * float(period["ratio"])))
        content = f"{content}; bonus period {period.get('name') or ''} x{period['ratio']:g}: {log_quota(ctx, credited)}"
    await ctx.ledger.credit("u", uid, credited)
    await ctx.logs.write_now(LOG_TOPUP, user_id=uid, username=username, content=content, quota=credited)
    total = await ctx.users.add_topup_total(uid, quota)
    if redeemed:
        await _rebate(ctx, user, quota)
    await _upgrade(ctx, user, total)
    return credited


async def _rebate(ctx: "AppContext", user: dict[str, Any], quota: int) -> None:
    ratio = ctx.options.float("InviteRebateRatio")
    inviter_id = int(user.get("inviter_id") or 0)
    if ratio <= 0 or not inviter_id:
        return
    rebate = int(quota * ratio)
    inviter = await ctx.users.get(inviter_id)
    if rebate <= 0 or inviter is None:
        return
    await ctx.ledger.credit("u", inviter_id, rebate)
    await ctx.logs.write_now(
        LOG_TOPUP, user_id=inviter_id, username=str(inviter.get("username") or ""), quota=rebate,
        content=f"Invite rebate: {log_quota(ctx, rebate)} for a top-up of user {user.get('username') or ''}")


async def _upgrade(ctx: "AppContext", user: dict[str, Any], total: int) -> None:
    rules = upgrade_rules(ctx)
    if not rules:
        return
    current = str(user.get("group") or "default")
    default = ctx.options.get("DefaultGroup").strip() or "default"
    if current != default and current not in rules:
        return  # a group chosen by an administrator stays
    reached = [(threshold, group) for group, threshold in rules.items() if total >= threshold]
    if not reached:
        return
    threshold, group = max(reached)
    if group == current or rules.get(current, -1) >= threshold:
        return
    uid = int(user["_id"])
    await ctx.users.update(uid, {"group": group})
    await ctx.logs.write_now(LOG_SYSTEM, user_id=uid, username=str(user.get("username") or ""),
                             content=f"Moved to group {group}: top-ups reached {threshold}")


def plans(ctx: "AppContext") -> dict[str, Any]:
    """What the top-up page shows: the plans, the running bonus period, the rebate share."""
    period = bonus_period(ctx)
    return {
        "plans": _json(ctx, "TopupPlans", []),
        "bonus_period": period,
        "invite_rebate_ratio": ctx.options.float("InviteRebateRatio"),
        "top_up_link": ctx.options.get("TopUpLink"),
    }


# -- option checks (models.options.validate_option calls these) ---------------------------------------
def check_option(key: str, data: Any) -> str | None:
    """Why a billing option's parsed JSON value is refused, or None."""
    if key == "TopupBonusPeriods":
        if not isinstance(data, list) or len(data) > MAX_PERIODS:
            return f"TopupBonusPeriods must be a JSON array of at most {MAX_PERIODS} periods"
        for p in data:
            if not isinstance(p, dict) or not all(isinstance(p.get(k), (int, float)) and not isinstance(p.get(k), bool)
                                                  for k in ("from", "to", "ratio")):
                return 'each bonus period is {"name", "from": unix time, "to": unix time, "ratio": number}'
            if not p["from"] < p["to"] or not 1 <= p["ratio"] <= 10:
                return "a bonus period needs from < to and a ratio from 1 to 10"
    if key == "GroupUpgradeRules":
        if not isinstance(data, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 10**18 and g.strip() for g, v in data.items()):
            return "GroupUpgradeRules must be a JSON object of group name to a positive quota threshold"
    if key == "TopupPlans":
        if not isinstance(data, list) or len(data) > MAX_PLANS:
            return f"TopupPlans must be a JSON array of at most {MAX_PLANS} plans"
        for p in data:
            if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"].strip():
                return 'each plan is {"name", "price", "quota", "note"} with a name'
            q = p.get("quota", 0)
            if not isinstance(q, int) or isinstance(q, bool) or q < 0:
                return "a plan's quota must be a whole number of quota points"
    return None
