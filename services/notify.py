"""Notifications to the root user: a channel disabled or re-enabled automatically, a top-up
(``NotifyTopupEnabled``), a user's quota running low (``NotifyLowQuotaEnabled``).

Webhooks: when ``MessagePusherAddress`` is set, the notification is POSTed there as JSON
(Message Pusher's API, One API's ``common/message/message-pusher.go``)::

    {"title": ..., "description": ..., "content": ..., "url": "", "channel": "",
     "token": MessagePusherToken}

and when ``WxPusherAppToken`` and ``WxPusherUids`` (comma-separated UIDs) are set, to WxPusher
(``WxPusherAddress``, by default its ``/api/send/message``)::

    {"appToken": ..., "content": ..., "summary": title, "contentType": 1, "uids": [...]}

``NotifyMethod`` picks the way: ``auto`` (One API's: the webhooks when one is configured, email
when none is or every push failed), ``email``, ``webhook`` (never email) or ``both``. Email goes to
the root user, provided SMTP is configured and root has an email address. Nothing here raises:
a notification that cannot go out is logged.

A push answered 2xx counts as delivered unless its body is a JSON object with
``"success": false`` (One API also insists on a JSON body; any webhook that
answers 2xx is accepted here).
"""

from __future__ import annotations

import html
import json
import logging
import urllib.parse
from typing import TYPE_CHECKING, Any

from adaptors.base import UpstreamRequest
from models.users import ROLE_ROOT
from relay.upstream import UpstreamCall, transport_error
from services.mailer import MailError

if TYPE_CHECKING:
    from services.context import AppContext

log = logging.getLogger("onerelay.notify")

PUSH_TIMEOUT = 10.0  # seconds for the whole Message Pusher exchange
MESSAGE_LIMIT = 1000  # characters of a reason kept in a notification


class NotifyError(Exception):
    """A notification channel refused or could not be reached."""


def _clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _label(channel_id: int, name: str) -> str:
    return f"«{name}» (#{channel_id})" if name else f"#{channel_id}"


def channel_disabled_message(channel_id: int, name: str, reason: str) -> tuple[str, str]:
    """(title, content) announcing an automatic disable."""
    label = _label(channel_id, name)
    return (f"Channel {label} was disabled",
            f"Channel {label} was disabled automatically.\n\nReason: {_clip(reason)}")


def channel_enabled_message(channel_id: int, name: str, reason: str) -> tuple[str, str]:
    """(title, content) announcing an automatic re-enable."""
    label = _label(channel_id, name)
    return (f"Channel {label} was re-enabled",
            f"Channel {label} was re-enabled automatically ({_clip(reason)}). "
            "It receives requests again.")


def topup_message(username: str, user_id: int, amount: str, how: str) -> tuple[str, str]:
    """(title, content) announcing a top-up (``how``: a redemption code, the admin API...)."""
    who = f"{username} (#{user_id})" if username else f"#{user_id}"
    return (f"User {who} topped up {amount}", f"User {who} topped up {amount} ({how}).")


def low_quota_message(username: str, user_id: int, remaining: str) -> tuple[str, str]:
    """(title, content) announcing that a user's quota fell below QuotaRemindThreshold."""
    who = f"{username} (#{user_id})" if username else f"#{user_id}"
    return (f"User {who} is running out of quota",
            f"User {who} has {remaining} of quota left, below the reminder threshold.")


async def root_email(ctx: "AppContext") -> str:
    """The root user's email address ("" when it has none)."""
    return (await ctx.users.root_email()).strip()


async def _post(ctx: "AppContext", service: str, option: str, address: str, payload: dict[str, Any],
                timeout: float) -> Any:
    """POST a JSON payload to a webhook; its JSON answer (None when the answer is not JSON).
    Raises :class:`NotifyError` for a bad address, no answer or a non-2xx status."""
    u = urllib.parse.urlsplit(address)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise NotifyError(f"{option} is not an http(s) URL: {address!r}")
    body = json.dumps(payload, ensure_ascii=False).encode()
    req = UpstreamRequest("POST", address, {"Content-Type": "application/json"}, body)
    resp = await UpstreamCall(ctx.http, req, timeout=timeout, proxy=None,
                              connect_timeout=min(timeout, 10.0)).fetch()
    if resp.code == 599:
        raise NotifyError(transport_error(resp)[0].replace("upstream", service))
    data = resp.body or b""
    if not 200 <= resp.code < 300:
        raise NotifyError(f"{service} answered HTTP {resp.code}: {data[:200].decode('utf-8', 'replace').strip()}")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


async def push_message(ctx: "AppContext", address: str, token: str, title: str, description: str,
                       content: str, *, timeout: float = PUSH_TIMEOUT) -> None:
    """POST one message to a Message Pusher address; raises :class:`NotifyError`."""
    answer = await _post(ctx, "Message Pusher", "MessagePusherAddress", address, {
        "title": title, "description": description, "content": content, "url": "", "channel": "",
        "token": token}, timeout)
    if isinstance(answer, dict) and answer.get("success") is False:
        raise NotifyError(f"Message Pusher refused the message: {answer.get('message') or 'no reason given'}")


WXPUSHER_ADDRESS = "https://wxpusher.zjiecode.com/api/send/message"


async def push_wxpusher(ctx: "AppContext", app_token: str, uids: list[str], title: str, content: str,
                        *, timeout: float = PUSH_TIMEOUT) -> None:
    """Send one message through WxPusher; raises :class:`NotifyError`."""
    address = ctx.options.get("WxPusherAddress").strip() or WXPUSHER_ADDRESS
    answer = await _post(ctx, "WxPusher", "WxPusherAddress", address, {
        "appToken": app_token, "content": content, "summary": title[:99], "contentType": 1, "uids": uids}, timeout)
    if answer is None:
        raise NotifyError("WxPusher answered something other than JSON")
    if not isinstance(answer, dict) or answer.get("code") != 1000:
        msg = answer.get("msg") if isinstance(answer, dict) else None
        raise NotifyError(f"WxPusher refused the message: {msg or 'no reason given'}")


async def _push_webhooks(ctx: "AppContext", title: str, content: str) -> tuple[int, int]:
    """Every configured webhook: (configured, delivered)."""
    configured = delivered = 0
    address = ctx.options.get("MessagePusherAddress").strip()
    if address:
        configured += 1
        try:
            await push_message(ctx, address, ctx.options.get("MessagePusherToken"), title, content, content)
            delivered += 1
            log.info("notified root through Message Pusher: %s", title)
        except NotifyError as e:
            log.warning("Message Pusher notification %r not sent: %s", title, e)
    app_token = ctx.options.get("WxPusherAppToken").strip()
    uids = [u.strip() for u in ctx.options.get("WxPusherUids").split(",") if u.strip()]
    if app_token and uids:
        configured += 1
        try:
            await push_wxpusher(ctx, app_token, uids, title, content)
            delivered += 1
            log.info("notified root through WxPusher: %s", title)
        except NotifyError as e:
            log.warning("WxPusher notification %r not sent: %s", title, e)
    return configured, delivered


def _html(title: str, content: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
                         for p in content.split("\n\n") if p.strip())
    return f"<h2>{html.escape(title)}</h2>{paragraphs}"


NOTIFY_METHODS = ("auto", "email", "webhook", "both")


async def notify_root(ctx: "AppContext", title: str, content: str) -> None:
    """Tell root by ``NotifyMethod`` (see the module's doc). Never raises."""
    try:
        method = ctx.options.get("NotifyMethod").strip() or "auto"
        configured = delivered = 0
        if method in ("auto", "webhook", "both"):
            configured, delivered = await _push_webhooks(ctx, title, content)
        if method == "webhook" or (method == "auto" and delivered):
            if not configured:
                log.info("root not notified (NotifyMethod=webhook but no webhook is set): %s", title)
            return
        if not ctx.mailer.configured:
            if not configured:
                log.info("root not notified (no webhook, no SMTP): %s", title)
            return
        to = await root_email(ctx)
        if not to:
            log.info("root not notified by email (root has no email address): %s", title)
            return
        await ctx.mailer.send(to, title, content + "\n", _html(title, content))
    except MailError as e:
        log.warning("email notification %r not sent: %s", title, e)
    except Exception:
        log.exception("notifying root failed: %s", title)
