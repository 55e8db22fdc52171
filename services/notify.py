"""Notifications to the root user: channel disabled, channel re-enabled.

As One API's ``monitor.notifyRootUser``: when ``MessagePusherAddress`` is set,
the notification is POSTed there as JSON (Message Pusher's API, One API's
``common/message/message-pusher.go``)::

    {"title": ..., "description": ..., "content": ..., "url": "", "channel": "",
     "token": MessagePusherToken}

and that is all when the push is accepted. When no address is set, or the
push fails (no answer, a non-2xx status, or ``{"success": false}``), the
notification is emailed to the root user, provided SMTP is configured and
root has an email address. Nothing here raises: a notification that cannot go
out is logged.

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


async def root_email(ctx: "AppContext") -> str:
    """The root user's email address ("" when it has none)."""
    return (await ctx.users.root_email()).strip()


async def push_message(ctx: "AppContext", address: str, token: str, title: str, description: str,
                       content: str, *, timeout: float = PUSH_TIMEOUT) -> None:
    """POST one message to a Message Pusher address; raises :class:`NotifyError`."""
    u = urllib.parse.urlsplit(address)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise NotifyError(f"MessagePusherAddress is not an http(s) URL: {address!r}")
    body = json.dumps({"title": title, "description": description, "content": content,
                       "url": "", "channel": "", "token": token}, ensure_ascii=False).encode()
    req = UpstreamRequest("POST", address, {"Content-Type": "application/json"}, body)
    resp = await UpstreamCall(ctx.http, req, timeout=timeout, proxy=None,
                              connect_timeout=min(timeout, 10.0)).fetch()
    if resp.code == 599:
        raise NotifyError(transport_error(resp)[0].replace("upstream", "Message Pusher"))
    data = resp.body or b""
    if not 200 <= resp.code < 300:
        raise NotifyError(f"Message Pusher answered HTTP {resp.code}: "
                          f"{data[:200].decode('utf-8', 'replace').strip()}")
    try:
        answer = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return
    if isinstance(answer, dict) and answer.get("success") is False:
        raise NotifyError(f"Message Pusher refused the message: {answer.get('message') or 'no reason given'}")


def _html(title: str, content: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>"
                         for p in content.split("\n\n") if p.strip())
    return f"<h2>{html.escape(title)}</h2>{paragraphs}"


async def notify_root(ctx: "AppContext", title: str, content: str) -> None:
    """Tell root: Message Pusher when configured, else (or when the push fails) email.
    Never raises."""
    try:
        address = ctx.options.get("MessagePusherAddress").strip()
        if address:
            try:
                await push_message(ctx, address, ctx.options.get("MessagePusherToken"), title, content, content)
                log.info("notified root through Message Pusher: %s", title)
                return
            except NotifyError as e:
                log.warning("Message Pusher notification %r not sent: %s", title, e)
        if not ctx.mailer.configured:
            if not address:
                log.info("root not notified (no Message Pusher address, no SMTP): %s", title)
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
