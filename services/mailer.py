"""Outgoing email over SMTP: verification codes, reset links, low-quota reminders.

Settings are the SMTP* options (read at send time, so a change applies at
once): SMTPServer, SMTPPort (default 587), SMTPAccount, SMTPToken (the
password) and SMTPFrom (defaults to SMTPAccount). Port 465 speaks implicit
TLS; port 587 upgrades with STARTTLS when the server offers it; any other
port talks plain SMTP (local relays). Certificates are verified.

The blocking ``smtplib`` exchange runs in a worker thread
(``asyncio.to_thread``), so the event loop never waits on a mail server.
Errors become :class:`MailError` with a message safe to show a user (the
SMTP password never appears in messages or logs).
"""

from __future__ import annotations

import asyncio
import html
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from models.options import Options
    from models.users import UserStore

log = logging.getLogger("onerelay.mail")

SMTP_TIMEOUT = 15.0


class MailError(Exception):
    """Sending failed; ``str(e)`` is fit for an API response."""


@dataclass(frozen=True)
class SMTPConfig:
    server: str
    port: int
    account: str
    token: str
    sender: str
    system_name: str

    @classmethod
    def from_options(cls, o: "Options") -> "SMTPConfig":
        account = o.get("SMTPAccount").strip()
        return cls(
            server=o.get("SMTPServer").strip(), port=o.int("SMTPPort") or 587, account=account,
            token=o.get("SMTPToken"), sender=o.get("SMTPFrom").strip() or account,
            system_name=_one_line(o.get("SystemName")) or "OneRelay",
        )


def _one_line(s: str) -> str:
    return " ".join(s.split())


def format_quota(o: "Options", quota: int) -> str:
    """A quota amount as One API shows it: dollars when DisplayInCurrencyEnabled, else points."""
    if o.bool("DisplayInCurrencyEnabled"):
        per_unit = o.float("QuotaPerUnit") or 500000.0
        return f"${quota / per_unit:.6f}"
    return f"{quota} points"


def build_message(cfg: SMTPConfig, to: str, subject: str, text: str, html_body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = _one_line(subject)
    msg["From"] = formataddr((cfg.system_name, cfg.sender))
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=cfg.sender.rpartition("@")[2] or "localhost")
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    return msg


def _deliver(cfg: SMTPConfig, msg: EmailMessage, timeout: float, tls: ssl.SSLContext | None) -> None:
    """The blocking SMTP exchange (runs in a worker thread)."""
    tls = tls or ssl.create_default_context()
    smtp: smtplib.SMTP
    if cfg.port == 465:
        smtp = smtplib.SMTP_SSL(cfg.server, cfg.port, timeout=timeout, context=tls)
    else:
        smtp = smtplib.SMTP(cfg.server, cfg.port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if cfg.port == 587 and smtp.has_extn("starttls"):
            smtp.starttls(context=tls)
            smtp.ehlo()
        if cfg.account:
            smtp.login(cfg.account, cfg.token)
        smtp.send_message(msg)


class Mailer:
    """Sends mail with the current SMTP options. One per AppContext (``ctx.mailer``)."""

    def __init__(self, options: "Options", timeout: float = SMTP_TIMEOUT) -> None:
        self.options = options
        self.timeout = timeout
        self.tls_context: ssl.SSLContext | None = None  # None: the system's trusted CAs
        # (user id, username, quota) when a user's quota crosses below the threshold: root's notice
        self.on_low_quota: Callable[[int, str, int], None] | None = None
        # user id -> whether the last quota seen was low (see maybe_remind_low_quota)
        self.low_quota_state: dict[int, bool] = {}

    @property
    def configured(self) -> bool:
        cfg = SMTPConfig.from_options(self.options)
        return bool(cfg.server and cfg.sender)

    async def send(self, to: str, subject: str, text: str, html_body: str) -> None:
        cfg = SMTPConfig.from_options(self.options)
        if not cfg.server:
            raise MailError("Email is not configured: the administrator has to set SMTPServer")
        if not cfg.sender:
            raise MailError("Email is not configured: the administrator has to set SMTPFrom")
        if not to or "\n" in to or "\r" in to:
            raise MailError("invalid recipient address")
        try:
            msg = build_message(cfg, to, subject, text, html_body)
        except (ValueError, TypeError) as e:
            raise MailError(f"could not build the email: {e}") from None
        try:
            await asyncio.to_thread(_deliver, cfg, msg, self.timeout, self.tls_context)
        except smtplib.SMTPAuthenticationError as e:
            log.warning("SMTP login to %s:%d as %s refused: %s", cfg.server, cfg.port, cfg.account, e.smtp_code)
            raise MailError("Failed to send the email: the SMTP server refused the login") from None
        except smtplib.SMTPRecipientsRefused:
            raise MailError("Failed to send the email: the mail server refused the recipient") from None
        except smtplib.SMTPResponseException as e:
            log.warning("SMTP error from %s:%d: %s %r", cfg.server, cfg.port, e.smtp_code, e.smtp_error)
            raise MailError(f"Failed to send the email: the SMTP server answered {e.smtp_code}") from None
        except (smtplib.SMTPException, ssl.SSLError) as e:
            log.warning("SMTP exchange with %s:%d failed: %s", cfg.server, cfg.port, type(e).__name__)
            raise MailError("Failed to send the email: SMTP exchange failed") from None
        except OSError as e:
            log.warning("cannot reach SMTP server %s:%d: %s", cfg.server, cfg.port, e)
            raise MailError("Failed to send the email: cannot reach the SMTP server") from None
        log.info("sent mail %r to %s", msg["Subject"], to)

    # -- the mails OneRelay sends ---------------------------------------------------------------
    def _name(self) -> str:
        return _one_line(self.options.get("SystemName")) or "OneRelay"

    async def send_verification_code(self, to: str, code: str, minutes: int) -> None:
        name = self._name()
        text = (f"You are verifying your email address for {name}.\n\n"
                f"Your verification code is: {code}\n\n"
                f"The code is valid for {minutes} minutes. If you did not ask for it, ignore this email.\n")
        body = (f"<p>You are verifying your email address for {html.escape(name)}.</p>"
                f"<p>Your verification code is: <strong>{html.escape(code)}</strong></p>"
                f"<p>The code is valid for {minutes} minutes. "
                "If you did not ask for it, ignore this email.</p>")
        await self.send(to, f"{name} email verification", text, body)

    async def send_password_reset(self, to: str, user_name: str, link: str, minutes: int) -> None:
        name = self._name()
        text = (f"Hello {user_name},\n\nYou asked to reset your {name} password. "
                f"Open this link within {minutes} minutes:\n\n{link}\n\n"
                "If you did not ask for this, ignore this email: your password stays unchanged.\n")
        a = html.escape(link, quote=True)
        body = (f"<p>Hello {html.escape(user_name)},</p>"
                f"<p>You asked to reset your {html.escape(name)} password. "
                f"Open this link within {minutes} minutes:</p>"
                f"<p><a href=\"{a}\">{a}</a></p>"
                "<p>If the link does not open, copy it into your browser's address bar. "
                "If you did not ask for this, ignore this email: your password stays unchanged.</p>")
        await self.send(to, f"{name} password reset", text, body)

    async def send_low_quota(self, to: str, quota: int, topup_link: str) -> None:
        name = self._name()
        left = format_quota(self.options, quota)
        text = (f"Your {name} quota is running low: {left} left.\n\n"
                "Top up to keep using the service" + (f": {topup_link}\n" if topup_link else ".\n"))
        body = (f"<p>Your {html.escape(name)} quota is running low: <strong>{html.escape(left)}</strong> left.</p>"
                "<p>Top up to keep using the service"
                + (f": <a href=\"{html.escape(topup_link, quote=True)}\">{html.escape(topup_link)}</a></p>"
                   if topup_link else ".</p>"))
        await self.send(to, f"{name} quota reminder", text, body)


def low_quota_crossed(mailer: "Mailer | None", user_id: int, quota_after: int) -> bool:
    """Cheap synchronous pre-check for the relay: has this user's quota crossed the
    reminder threshold (either way) since this node last looked?"""
    if mailer is None:
        return False
    low = quota_after < mailer.options.int("QuotaRemindThreshold") or quota_after <= 0
    return mailer.low_quota_state.get(user_id) is not low


async def maybe_remind_low_quota(mailer: "Mailer | None", users: "UserStore", spawn: Callable[[Any], None],
                                 user_id: int, quota_after: int) -> bool:
    """Email a user once when their quota drops below QuotaRemindThreshold (or to zero).

    Call it after a charge with the user's remaining quota. It is cheap on the
    hot path: nothing is awaited unless this node sees the user's quota cross
    the threshold (one way or the other). Crossing down sets ``quota_reminded``
    on the user atomically (the user store), so one reminder goes out per
    crossing even with several nodes; climbing back above the threshold clears
    it, re-arming the reminder. The mail itself is sent in a tracked background
    task (``spawn``). Returns True when a reminder was queued.
    """
    if mailer is None:
        return False
    options = mailer.options
    threshold = options.int("QuotaRemindThreshold")
    low = quota_after < threshold or quota_after <= 0
    if mailer.low_quota_state.get(user_id) is low:
        return False
    mailer.low_quota_state[user_id] = low
    if not low:
        await users.mark_quota_reminded(user_id, False)
        return False
    doc = await users.mark_quota_reminded(user_id, True)
    if doc is None:  # another node (or an earlier crossing) already reminded
        return False
    if mailer.on_low_quota is not None:  # root hears of it too (NotifyLowQuotaEnabled)
        mailer.on_low_quota(user_id, str(doc.get("username") or ""), quota_after)
    email = str(doc.get("email") or "")
    if not email or not mailer.configured:
        return False
    server = options.get("ServerAddress").rstrip("/")
    link = f"{server}/topup" if server else ""

    async def send() -> None:
        try:
            await mailer.send_low_quota(email, quota_after, link)
        except MailError as e:
            log.warning("low-quota reminder for user #%d not sent: %s", user_id, e)

    spawn(send())
    return True
