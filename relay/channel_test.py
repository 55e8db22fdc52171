"""Channel checks: test requests and provider balances (``/api/channel/test``, ``/update_balance``).

A **channel test** sends one small chat request (``TEST_PROMPT``) through the
channel's own adaptor and :class:`~relay.upstream.UpstreamCall`, exactly the
way the relay would (model mapping applied, the channel's first key), and
records ``test_time`` and ``response_time`` (ms) on the channel. The bulk test
(scope ``all`` or ``disabled``) runs in the background and applies One API's
monitor rules with OneRelay's fix:

* an enabled channel failing with a channel-disabling error, or slower than
  ``ChannelDisableThreshold`` seconds, is auto-disabled (status 3) when
  ``AutomaticDisableChannelEnabled`` is on;
* a channel that passes is re-enabled when ``AutomaticEnableChannelEnabled``
  is on, **only if it was auto-disabled** (status 3): a manually disabled
  channel (status 2) stays disabled (One API re-enables any channel).

Every test writes a test log (type 5) without the key. A re-enabled channel is
announced to root (services/notify.py); a disabled one is announced by
``AppContext.disable_channel``.

The API starts a bulk test in the background, a few channels at once
(:meth:`ChannelChecks.start_bulk_test`); the scheduler (services/scheduler.py)
awaits :meth:`ChannelChecks.run_bulk_test` with ``interval=POLLING_INTERVAL``,
one channel at a time. Both share one "running" flag: a round never overlaps
another, whoever started it.

A **balance query** asks the provider's billing endpoint (PROVIDERS.md §9) and
stores ``balance`` and ``balance_updated_time``. The bulk update covers every
enabled channel of a supported type (One API's route is a no-op) and, with
``AutomaticDisableChannelEnabled``, auto-disables a channel whose balance is
<= 0 (One API's periodic job does that for OpenAI/Custom channels).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from adaptors import CHANNEL_TYPE_NAMES, PROVIDERS
from adaptors.base import CHAT, ChannelTarget, RelayRequest, UpstreamRejected, UpstreamRequest
from models.channels import CH_AUTO_DISABLED, CH_ENABLED, CH_MANUALLY_DISABLED, ChannelRecord
from services.redact import redact

from .upstream import UpstreamCall, open_call, transport_error

MAX_TEST_POLL_SECONDS = 120  # an asynchronous upstream's test, without CHANNEL_TEST timeout

if TYPE_CHECKING:
    from models.channels import ChannelStore
    from relay.credentials import CredentialCache
    from models.logs import LogStore
    from models.options import Options

log = logging.getLogger("onerelay.channel_test")

TEST_MAX_TOKENS = 16
DEFAULT_TIMEOUT = 60.0  # seconds, when RELAY_TIMEOUT is 0 (no limit for relaying)
BULK_CONCURRENCY = 4
MESSAGE_LIMIT = 300  # characters of upstream text kept in answers and logs


def type_name(t: int) -> str:
    return f"{t} ({CHANNEL_TYPE_NAMES.get(t, 'unknown')})"


class CheckError(Exception):
    """A test or balance query that could not be made or was refused upstream."""

    def __init__(self, message: str, *, disables_channel: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.disables_channel = disables_channel


def _matches(pattern: str, text: str) -> bool:
    """A channel's ``test_expect`` (a regular expression, checked when saved) found in the reply."""
    try:
        return re.search(pattern, text, re.S) is not None
    except re.error:
        return False


@dataclass
class ChannelTestResult:
    channel_id: int
    model: str
    success: bool
    message: str
    seconds: float  # wall time of the upstream exchange
    disables_channel: bool = False  # the failure is one of One API's disabling errors

    @property
    def elapsed_ms(self) -> int:
        return int(self.seconds * 1000)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "…"


def _reply_text(body: bytes) -> str | None:
    """The assistant text of an OpenAI chat completion; None when it is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        return None
    parts: list[str] = []
    for choice in data["choices"]:
        msg = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(msg, dict):
            for k in ("content", "reasoning_content"):
                if isinstance(msg.get(k), str):
                    parts.append(msg[k])
                    break
    return "".join(parts)


def pick_test_model(channel: ChannelRecord, requested: str) -> str:
    """The model a test uses: ``requested`` when the channel serves it, else its first model."""
    requested = requested.strip()
    if requested:
        if requested not in channel.models and requested not in channel.model_mapping:
            raise CheckError(f"model {requested} is not served by channel #{channel.id} "
                             f"(its models: {', '.join(channel.models) or 'none'})")
        return requested
    if not channel.models:
        raise CheckError(f"channel #{channel.id} lists no models to test with")
    return channel.models[0]


def build_test_body(model: str, prompt: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    # Reasoning models reject max_tokens (One API #2016) and need room to think.
    if model.startswith(("o1", "o3", "o4", "gpt-5")):
        body["max_completion_tokens"] = 1024
    else:
        body["max_tokens"] = TEST_MAX_TOKENS
    return body


@dataclass
class CheckServices:
    """The narrow set of services channel checks use (built by the service container)."""

    channels: "ChannelStore"
    logs: "LogStore"
    options: "Options"
    adaptors: dict[int, Any]
    http: Any
    proxy: Any
    relay_timeout: float
    test_prompt: str
    spawn: Callable[[Any], None]
    credentials: "CredentialCache"
    disable_channel: Callable[[int, int, str], Awaitable[None]]
    on_enabled: Callable[[int, str, str], None]  # (channel id, name, reason): metrics, notification


class ChannelChecks:
    """Channel tests and balance queries."""

    def __init__(self, svc: CheckServices) -> None:
        self.svc = svc
        self.bulk_test_running = False
        self.bulk_balance_running = False
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def timeout(self) -> float:
        return self.svc.relay_timeout or DEFAULT_TIMEOUT

    async def wait_idle(self) -> None:
        """Wait until no bulk test or balance update is running (tests, shutdown)."""
        await self._idle.wait()

    def _busy(self) -> None:
        self._idle.clear()

    def _done(self) -> None:
        if not (self.bulk_test_running or self.bulk_balance_running):
            self._idle.set()

    # -- auto-enable times -------------------------------------------------------------------
    async def enable_due(self, now: float | None = None) -> int:
        """Enable the disabled channels whose ``auto_enable_at`` has come; returns how many."""
        now = time.time() if now is None else now
        due = await self.svc.channels.find({"status": {"$in": [CH_MANUALLY_DISABLED, CH_AUTO_DISABLED]},
                                            "auto_enable_at": {"$gt": 0, "$lte": int(now)}})
        n = 0
        for doc in due:
            cid = int(doc["_id"])
            await self.svc.channels.update(cid, {"auto_enable_at": 0, "status": CH_ENABLED})
            n += 1
            self.svc.on_enabled(cid, str(doc.get("name") or ""), "its auto-enable time came")
        return n

    # -- channel tests ----------------------------------------------------------------------
    async def test(self, doc: dict[str, Any], model: str = "", *, user: dict[str, Any] | None = None
                   ) -> ChannelTestResult:
        """Test one channel (a stored document) and record the result on it."""
        channel = ChannelRecord.from_doc(doc)
        try:
            chosen = pick_test_model(channel, model)
        except CheckError as e:
            return ChannelTestResult(channel.id, model.strip(), False, e.message, 0)
        started = time.monotonic()
        try:
            reply = await self._send_test(channel, chosen)
            expect = str(doc.get("test_expect") or "")
            if expect and not _matches(expect, reply):
                raise CheckError(f"the reply does not match the expected pattern {expect}: {_clip(reply)}")
            result = ChannelTestResult(channel.id, chosen, True, _clip(reply), 0)
        except CheckError as e:
            result = ChannelTestResult(channel.id, chosen, False, _clip(redact(e.message, tuple(channel.keys))), 0,
                                disables_channel=e.disables_channel)
        result.seconds = time.monotonic() - started
        await self.svc.channels.record_test(channel.id, result.elapsed_ms, result.success, result.message)
        self._test_log(channel, result, user)
        return result

    async def _send_test(self, channel: ChannelRecord, model: str) -> str:
        svc = self.svc
        adaptor = svc.adaptors.get(channel.type)
        if adaptor is None or CHAT not in adaptor.modes:
            raise CheckError(f"channel type {type_name(channel.type)} cannot be tested: it relays no chat "
                             "requests")
        upstream_model = channel.model_mapping.get(model, model)
        body = build_test_body(upstream_model, svc.test_prompt)
        raw = json.dumps(body).encode()
        rreq = RelayRequest(mode=CHAT, body=body, raw=raw, model=upstream_model,
                            requested_model=model, stream=False, rewrite=False)
        target = ChannelTarget(id=channel.id, type=channel.type, key=channel.keys[0],
                               base_url=channel.base_url, config=channel.config, other=channel.other)
        try:
            if adaptor.credentials:
                target.token = await svc.credentials.token(adaptor, target)
            req = adaptor.build_request(rreq, target)
        except UpstreamRejected as r:
            raise CheckError(f"the test request could not be built: {r.failure.message}") from None
        except (ValueError, KeyError, TypeError) as e:
            raise CheckError(f"the test request could not be built: {e}") from None
        deadline = time.monotonic() + (self.timeout or MAX_TEST_POLL_SECONDS)
        while True:
            resp = await open_call(svc.http, req, timeout=self.timeout, proxy=svc.proxy).fetch()
            if resp.code == 599:
                raise CheckError(transport_error(resp)[0])
            data = resp.body or b""
            if not 200 <= resp.code < 300:
                f = adaptor.parse_error(resp.code, data)
                raise CheckError(f"HTTP {resp.code}: {f.message}", disables_channel=f.disables_channel)
            try:
                parsed = adaptor.parse_response(rreq, resp.code, data)
            except UpstreamRejected as r:  # an error on HTTP 200 (Coze, DeepL)
                raise CheckError(f"HTTP {resp.code}: {r.failure.message}",
                                 disables_channel=r.failure.disables_channel) from None
            if parsed.follow is None:
                break
            if time.monotonic() + parsed.follow_delay > deadline:  # an asynchronous upstream (Replicate)
                raise CheckError("the upstream did not finish the test in time")
            req = parsed.follow
            await asyncio.sleep(parsed.follow_delay)
        text = _reply_text(parsed.body)
        if text is None:
            raise CheckError(f"the upstream answered HTTP {resp.code} but not with a chat completion: "
                             f"{data[:200].decode('utf-8', 'replace')}")
        return text

    def _test_log(self, channel: ChannelRecord, r: ChannelTestResult, user: dict[str, Any] | None) -> None:
        model = r.model or "-"
        if r.success and r.message:
            content = (f"channel #{channel.id} ({channel.name}) test with model {model} passed in "
                       f"{r.seconds:.2f} s: {r.message}")
        elif r.success:
            content = f"channel #{channel.id} ({channel.name}) test with model {model} passed in {r.seconds:.2f} s"
        else:
            content = (f"channel #{channel.id} ({channel.name}) test with model {model} failed in "
                       f"{r.seconds:.2f} s: {r.message or '-'}")
        self.svc.logs.test(
            user_id=int(user["_id"]) if user else 0, username=user.get("username", "") if user else "",
            content=content, model_name=r.model, channel_id=channel.id, elapsed_time=r.elapsed_ms)

    def start_bulk_test(self, scope: str) -> None:
        """Start the background test of ``all`` or ``disabled`` channels; raises if one runs."""
        self._claim_bulk_test(scope)
        self.svc.spawn(self._bulk_test(scope, None))

    async def run_bulk_test(self, scope: str = "all", *, interval: float | None = None) -> int:
        """Test ``all`` or ``disabled`` channels now and apply the monitor rules; returns how
        many channels were tested. ``interval`` (seconds): test one channel at a time with
        that pause between two (the scheduler, POLLING_INTERVAL); None: a few at once.
        Raises :class:`CheckError` when a bulk test is already running."""
        self._claim_bulk_test(scope)
        return await self._bulk_test(scope, interval)

    def _claim_bulk_test(self, scope: str) -> None:
        if scope not in ("all", "disabled"):
            raise CheckError("scope must be all or disabled")
        if self.bulk_test_running:
            raise CheckError("A channel test is already running")
        self.bulk_test_running = True
        self._busy()

    async def _bulk_test(self, scope: str, interval: float | None) -> int:
        try:
            q: dict[str, Any] = {}
            if scope == "disabled":
                q = {"status": {"$in": [CH_MANUALLY_DISABLED, CH_AUTO_DISABLED]}}
            docs = await self.svc.channels.find(q)
            await self._each(docs, self._test_and_act, interval)
            log.info("channel test (%s) finished: %d channels", scope, len(docs))
            return len(docs)
        except Exception:
            log.exception("the bulk channel test failed")
            return 0
        finally:
            self.bulk_test_running = False
            self._done()

    async def _test_and_act(self, doc: dict[str, Any]) -> None:
        svc = self.svc
        status = int(doc.get("status", CH_ENABLED))
        r = await self.test(doc)
        threshold = svc.options.float("ChannelDisableThreshold")  # seconds; 0 = no limit (One API)
        slow = threshold > 0 and r.seconds > threshold
        if status == CH_ENABLED and svc.options.bool("AutomaticDisableChannelEnabled"):
            if not r.success and r.disables_channel:
                await svc.disable_channel(r.channel_id, CH_AUTO_DISABLED, f"channel test: {r.message}")
            elif slow:
                await svc.disable_channel(
                    r.channel_id, CH_AUTO_DISABLED,
                    f"channel test took {r.seconds:.3f} s, over the {threshold:g} s threshold")
        elif (status == CH_AUTO_DISABLED and r.success and not slow
              and svc.options.bool("AutomaticEnableChannelEnabled")):
            await self.enable(r.channel_id, "its channel test passed", str(doc.get("name") or ""))

    async def enable(self, channel_id: int, reason: str, name: str = "") -> bool:
        """Re-enable an auto-disabled channel (never a manually disabled one) and notify root
        (One API's monitor.EnableChannel). Returns whether the channel was re-enabled."""
        if not await self.svc.channels.set_status(channel_id, CH_ENABLED, only_from=CH_AUTO_DISABLED):
            return False
        log.warning("channel #%d re-enabled: %s", channel_id, reason)
        self.svc.on_enabled(channel_id, name, reason)
        return True

    async def _each(self, docs: list[dict[str, Any]],
                    fn: Callable[[dict[str, Any]], Awaitable[None]], interval: float | None = None) -> None:
        """``fn`` on every document; a failure is logged and the others go on. ``interval``
        None: up to BULK_CONCURRENCY at once; a number: one after the other, pausing that many
        seconds between two (One API's POLLING_INTERVAL)."""
        async def one(doc: dict[str, Any]) -> None:
            try:
                await fn(doc)
            except Exception:
                log.exception("checking channel #%s failed", doc.get("_id"))

        if interval is not None:
            for i, doc in enumerate(docs):
                if i and interval > 0:
                    await asyncio.sleep(interval)
                await one(doc)
            return
        sem = asyncio.Semaphore(BULK_CONCURRENCY)

        async def limited(doc: dict[str, Any]) -> None:
            async with sem:
                await one(doc)

        await asyncio.gather(*(limited(d) for d in docs))

    # -- balances ---------------------------------------------------------------------------
    async def update_balance(self, doc: dict[str, Any]) -> float:
        """Query and store one channel's balance; raises :class:`CheckError`."""
        channel = ChannelRecord.from_doc(doc)
        balance = await self.query_balance(channel)
        await self.svc.channels.record_balance(channel.id, balance)
        return balance

    async def query_balance(self, channel: ChannelRecord) -> float:
        spec = BALANCE_SPECS.get(channel.type)
        if spec is None:
            raise CheckError(f"balance queries are not supported for channel type {type_name(channel.type)}")
        base = spec.base(channel)
        if not base:
            raise CheckError(f"channel #{channel.id} has no base URL to query the balance at")
        key = channel.keys[0]

        async def get(path: str) -> Any:
            return await self._get_json(base + path, spec.headers(key))

        return await spec.read(get, key)

    async def _get_json(self, url: str, headers: dict[str, str]) -> Any:
        req = UpstreamRequest("GET", url, headers, None)
        resp = await UpstreamCall(self.svc.http, req, timeout=self.timeout, proxy=self.svc.proxy).fetch()
        if resp.code == 599:
            raise CheckError(transport_error(resp)[0])
        body = resp.body or b""
        if resp.code != 200:
            text = body[:300].decode("utf-8", "replace").strip()
            raise CheckError(f"the balance endpoint answered HTTP {resp.code}: {text}")
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise CheckError("the balance endpoint did not answer JSON") from None

    def start_bulk_balance(self) -> None:
        """Start the background balance update of every enabled channel; raises if one runs."""
        self._claim_bulk_balance()
        self.svc.spawn(self._bulk_balance(None))

    async def run_bulk_balance(self, *, interval: float | None = None) -> int:
        """Update the balance of every enabled channel of a supported type now; returns how
        many were queried. ``interval`` as for :meth:`run_bulk_test`. Raises
        :class:`CheckError` when a balance update is already running."""
        self._claim_bulk_balance()
        return await self._bulk_balance(interval)

    def _claim_bulk_balance(self) -> None:
        if self.bulk_balance_running:
            raise CheckError("A balance update is already running")
        self.bulk_balance_running = True
        self._busy()

    async def _bulk_balance(self, interval: float | None) -> int:
        try:
            docs = await self.svc.channels.find({"status": CH_ENABLED, "type": {"$in": sorted(BALANCE_SPECS)}})
            await self._each(docs, self._balance_and_act, interval)
            return len(docs)
        except Exception:
            log.exception("the bulk balance update failed")
            return 0
        finally:
            self.bulk_balance_running = False
            self._done()

    async def _balance_and_act(self, doc: dict[str, Any]) -> None:
        try:
            balance = await self.update_balance(doc)
        except CheckError as e:
            log.info("balance of channel #%s not updated: %s", doc["_id"], e.message)
            return
        if balance <= 0 and self.svc.options.bool("AutomaticDisableChannelEnabled"):
            await self.svc.disable_channel(int(doc["_id"]), CH_AUTO_DISABLED,
                                           f"balance is {balance:g}")


# --------------------------------------------------------------------------- balance readers

Getter = Callable[[str], Awaitable[Any]]


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool):
        raise CheckError(f"the balance endpoint's {what} is not a number")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise CheckError(f"the balance endpoint's {what} is not a number: {v!r}") from None


def _obj(v: Any, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise CheckError(f"the balance endpoint's answer has no {what} object")
    return v


def _error_message(data: Any) -> str | None:
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str) and err:
            return err
    return None


async def _openai_subscription(get: Getter, key: str) -> float:
    """OpenAI/Custom: hard limit minus this period's usage (cents)."""
    sub = _obj(await get("/v1/dashboard/billing/subscription"), "subscription")
    if (msg := _error_message(sub)) is not None:
        raise CheckError(msg)
    hard = _num(sub.get("hard_limit_usd"), "hard_limit_usd")
    today = datetime.date.today()
    start = today.replace(day=1) if sub.get("has_payment_method") else today - datetime.timedelta(days=100)
    qs = urllib.parse.urlencode({"start_date": start.isoformat(), "end_date": today.isoformat()})
    usage = _obj(await get("/v1/dashboard/billing/usage?" + qs), "usage")
    if (msg := _error_message(usage)) is not None:
        raise CheckError(msg)
    return hard - _num(usage.get("total_usage"), "total_usage") / 100


def _credit_grants(field: str) -> Callable[[Getter, str], Awaitable[float]]:
    async def read(get: Getter, key: str) -> float:
        data = _obj(await get("/dashboard/billing/credit_grants"), "credit grants")
        if (msg := _error_message(data)) is not None:
            raise CheckError(msg)
        return _num(data.get(field), field)
    return read


async def _openai_sb(get: Getter, key: str) -> float:
    data = _obj(await get("/sb-api/user/status?" + urllib.parse.urlencode({"api_key": key})), "status")
    inner = data.get("data")
    if not isinstance(inner, dict):
        raise CheckError(str(data.get("msg") or "the balance endpoint returned no data"))
    return _num(inner.get("credit"), "data.credit")


async def _aiproxy(get: Getter, key: str) -> float:
    data = _obj(await get("/api/report/getUserOverview"), "overview")
    if not data.get("success"):
        raise CheckError(f"code: {data.get('error_code', data.get('code'))}, message: {data.get('message')}")
    return _num(_obj(data.get("data"), "data").get("totalPoints"), "data.totalPoints")


async def _siliconflow(get: Getter, key: str) -> float:
    data = _obj(await get("/v1/user/info"), "user info")
    if data.get("code") != 20000:
        raise CheckError(f"code: {data.get('code')}, message: {data.get('message')}")
    return _num(_obj(data.get("data"), "data").get("totalBalance"), "data.totalBalance")


async def _deepseek(get: Getter, key: str) -> float:
    data = _obj(await get("/user/balance"), "balance")
    infos = data.get("balance_infos")
    if not isinstance(infos, list):
        raise CheckError(_error_message(data) or "the balance endpoint returned no balance_infos")
    for info in infos:
        if isinstance(info, dict) and info.get("currency") == "CNY":
            return _num(info.get("total_balance"), "total_balance")
    raise CheckError("currency CNY not found in balance_infos")


async def _openrouter(get: Getter, key: str) -> float:
    data = _obj(_obj(await get("/v1/credits"), "credits").get("data"), "data")
    return _num(data.get("total_credits"), "data.total_credits") - _num(data.get("total_usage"), "data.total_usage")


async def _moonshot(get: Getter, key: str) -> float:
    data = _obj(await get("/v1/users/me/balance"), "balance")
    if (msg := _error_message(data)) is not None:
        raise CheckError(msg)
    return _num(_obj(data.get("data"), "data").get("available_balance"), "data.available_balance")


@dataclass(frozen=True)
class BalanceSpec:
    """How to read a provider's balance (PROVIDERS.md §9); where is the registry's fact.

    The provider's billing host is its registry entry's ``balance_url`` (else its
    ``base_url``). A channel whose ``base_url`` points elsewhere than the relay
    default (a mirror or a self-hosted gateway) is asked at its own base URL
    instead; for Custom and OpenAICompatible the channel's base URL is always used.
    """

    read: Callable[[Getter, str], Awaitable[float]]
    auth: str = "bearer"  # or "api-key" (AIProxy's Api-Key header)
    strip_v1: bool = False  # a base URL ending in /v1 loses it (the readers ask /v1/... paths)

    def base(self, channel: ChannelRecord) -> str:
        spec = PROVIDERS[channel.type]
        own = channel.base_url.rstrip("/")
        relay_default = spec.base_url.rstrip("/")
        base = own if own and own != relay_default else (spec.balance_url or relay_default)
        if self.strip_v1 and base.endswith("/v1"):
            base = base[:-3]
        return base.rstrip("/")

    def headers(self, key: str) -> dict[str, str]:
        if self.auth == "api-key":
            return {"Api-Key": key, "Accept": "application/json"}
        return {"Authorization": "Bearer " + key, "Accept": "application/json"}


# The readers of the types whose registry entry has a ``balance`` currency (a test checks
# that the two agree).
BALANCE_SPECS: dict[int, BalanceSpec] = {
    1: BalanceSpec(_openai_subscription),
    4: BalanceSpec(_credit_grants("total_available")),
    5: BalanceSpec(_openai_sb),
    8: BalanceSpec(_openai_subscription),
    10: BalanceSpec(_aiproxy, auth="api-key"),
    12: BalanceSpec(_credit_grants("total_remaining")),
    13: BalanceSpec(_credit_grants("total_available")),
    20: BalanceSpec(_openrouter),
    25: BalanceSpec(_moonshot),
    36: BalanceSpec(_deepseek),
    44: BalanceSpec(_siliconflow),
    50: BalanceSpec(_openai_subscription, strip_v1=True),
}
