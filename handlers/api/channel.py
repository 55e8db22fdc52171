"""``/api/channel/*``: upstream channels (admin). Keys are never returned.

Besides One API's CRUD: channel tests (``/test/:id``, ``/test?scope=``) and
balance queries (``/update_balance/:id``, ``/update_balance``), implemented in
:mod:`relay.channel_test`.

``PUT /api/channel/`` updates exactly the fields the body carries (One API
updates the non-zero ones, so it cannot set a priority or weight back to 0);
``null`` and an empty ``key`` leave a field unchanged.

Secret ``config`` members (models.channels.is_secret_config_key) come back as ``"********"``
(MASK). In an update, a secret member sent as MASK or left out keeps its stored value, and
``""`` or ``null`` clears it. A ``key`` built by the console from masked config fields (a
type's ``key_from_config``) is rebuilt here from the stored secrets.
"""

from __future__ import annotations

import json
import re
from typing import Any


from adaptors import CHANNEL_TYPE_NAMES, PROVIDERS
from adaptors.registry import spec as provider_spec
from models.channels import (
    CH_AUTO_DISABLED, CH_ENABLED, CH_MANUALLY_DISABLED, MASK, has_mask, merge_config, parse_json_object,
    split_csv, to_api,
)
from relay.channel_test import CheckError
from services.crypto import PREFIX as ENC_PREFIX

from schemas.common import PAGE, PAGED, ident, keyword
from schemas.fields import Field as F
from schemas.fields import Op, Shape

from ..base import ApiError, ApiHandler, admin_auth, as_int
from .audit import audit

PAGE_SIZE = 10
_STR_LIMITS = {"name": 100, "base_url": 500, "other": 500, "models": 20000, "group": 1000,
               "system_prompt": 20000, "tag": 64, "test_expect": 500, "proxy": 500}
# headers an operator may not set: the relay owns them (length, framing, the key's own header)
_RESERVED_HEADERS = {"content-length", "transfer-encoding", "host", "connection"}
_TS_LIMIT = 2**40  # unix seconds far beyond any real date
_INT_LIMIT = 2**31 - 1
_KEY_LIMIT = 100_000


CHANNEL_FIELDS = (
    F("name", max_len=100), F("type", "integer", min=0, max=_INT_LIMIT, doc="Channel type id (GET /api/channel/types)"),
    F("key", max_len=_KEY_LIMIT, doc="The upstream key; one per line creates one channel per line"),
    F("base_url", max_len=500), F("other", max_len=500), F("models", max_len=20000, doc="Comma-separated"),
    F("group", max_len=1000, doc="Comma-separated groups"), F("system_prompt", max_len=20000),
    F("model_mapping", ("string", "object"), max_len=20000, doc="JSON object: requested model to upstream model"),
    F("config", ("string", "object"), max_len=20000, doc="JSON object of provider settings"),
    F("priority", "integer", min=-_INT_LIMIT, max=_INT_LIMIT), F("weight", "integer", min=0, max=_INT_LIMIT),
    F("status", "integer", enum=(CH_ENABLED, CH_MANUALLY_DISABLED, CH_AUTO_DISABLED)),
    F("tag", max_len=64, doc="A label to filter, enable, disable and edit channels together"),
    F("auto_enable_at", "integer", min=0, max=_TS_LIMIT,
      doc="Unix time at which a disabled channel is enabled again (0: never)"),
    F("test_expect", max_len=500, doc="A regular expression a channel test's reply must match"),
    F("rpm_limit", "integer", min=0, max=_INT_LIMIT,
      doc="Requests per minute this channel takes, across every node (0: no limit); a full channel is skipped"),
    F("proxy", max_len=500, doc="http://, https://, socks5:// or socks5h:// proxy for this channel's upstream calls"),
    F("headers", ("string", "object"), max_len=20000, doc="JSON object of extra request headers sent upstream"),
)


def _int(body: dict[str, Any], key: str, default: int, *, minimum: int = -_INT_LIMIT) -> int:
    v = body.get(key, default)
    if v is None:
        v = default
    n = as_int(v, key)
    if n < minimum or n > _INT_LIMIT:
        raise ApiError(f"{key} must be between {minimum} and {_INT_LIMIT}")
    return n


def validate_channel(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The storable fields of a create (all defaults applied) or an update (only what
    the body carries; ``null`` means unchanged)."""
    out: dict[str, Any] = {}

    def given(k: str) -> bool:
        return creating or body.get(k) is not None

    if given("type"):
        t = _int(body, "type", 1, minimum=0)
        if t not in CHANNEL_TYPE_NAMES:
            raise ApiError(f"unknown channel type: {t}")
        out["type"] = t
    if given("key"):
        key = body.get("key")
        if not isinstance(key, str) or (creating and not key.strip()):
            raise ApiError("key is required and must be a string")
        if len(key) > _KEY_LIMIT:
            raise ApiError(f"key is too long (at most {_KEY_LIMIT} characters)")
        if ENC_PREFIX in key:
            raise ApiError(f"key must not contain {ENC_PREFIX!r} (the prefix of encrypted values)")
        if key.strip():
            out["key"] = key.strip()
    for k, limit in _STR_LIMITS.items():
        if k in body and (creating or body[k] is not None):
            v = body[k]
            if v is None:
                v = ""
            if not isinstance(v, str):
                raise ApiError(f"{k} must be a string")
            if len(v) > limit:
                raise ApiError(f"{k} is too long (at most {limit} characters)")
            out[k] = v.strip() if k != "system_prompt" else v
    if out.get("base_url") and not re.match(r"^(https?|wss?)://[^/\s]+", out["base_url"]):
        raise ApiError("base_url must be an http://, https:// (or, for websocket providers, ws:// or wss://) URL")
    if "models" in out:
        out["models"] = ",".join(split_csv(out["models"]))
        if not out["models"]:
            raise ApiError("models must not be empty: list the models this channel serves")
    if creating and not out.get("models"):
        raise ApiError("models is required: list the models this channel serves")
    if "group" in out:
        out["group"] = ",".join(split_csv(out["group"])) or "default"
    for k in ("model_mapping", "config"):
        if k in body and (creating or body[k] is not None):
            v = body[k]
            if isinstance(v, dict):
                v = json.dumps(v, ensure_ascii=False)
            if v is None:
                v = ""
            if isinstance(v, str) and len(v) > 20000:
                raise ApiError(f"{k} is too long (at most 20000 characters)")
            try:
                parsed = parse_json_object(v, k)
            except ValueError as e:
                raise ApiError(str(e)) from None
            if k == "model_mapping" and not all(isinstance(x, str) for x in parsed.values()):
                raise ApiError("model_mapping values must be model names (strings)")
            if k == "config" and isinstance(v, str) and ENC_PREFIX in v:
                raise ApiError(f"config must not contain {ENC_PREFIX!r} (the prefix of encrypted values)")
            if k == "config" and creating and has_mask(v):
                raise ApiError(f"config holds the masked placeholder {MASK}: enter the secret itself")
            out[k] = v.strip() if isinstance(v, str) else v
    if given("priority") and "priority" in body:
        out["priority"] = _int(body, "priority", 0)
    if given("weight") and "weight" in body:
        out["weight"] = _int(body, "weight", 0, minimum=0)
    if body.get("status") is not None:
        st = body["status"]
        if isinstance(st, bool) or st not in (CH_ENABLED, CH_MANUALLY_DISABLED, CH_AUTO_DISABLED):
            raise ApiError("status must be 1 (enabled), 2 (disabled) or 3 (auto-disabled)")
        out["status"] = st
    if out.get("test_expect"):
        try:
            re.compile(out["test_expect"])
        except re.error as e:
            raise ApiError(f"test_expect is not a valid regular expression: {e}") from None
    if out.get("proxy") and not re.match(r"^(https?|socks5h?)://[^/\s]+", out["proxy"]):
        raise ApiError("proxy must be an http://, https://, socks5:// or socks5h:// URL")
    if given("rpm_limit") and "rpm_limit" in body:
        out["rpm_limit"] = _int(body, "rpm_limit", 0, minimum=0)
    if "headers" in body and (creating or body["headers"] is not None):
        h = body["headers"]
        if isinstance(h, str):
            try:
                h = parse_json_object(h, "headers")
            except ValueError as e:
                raise ApiError(str(e)) from None
        if h is None:
            h = {}
        if not isinstance(h, dict) or not all(isinstance(k, str) and re.match(r"^[A-Za-z0-9-]{1,100}$", k)
                                              and isinstance(v, str) and "\n" not in v and "\r" not in v
                                              for k, v in h.items()):
            raise ApiError("headers must be a JSON object of header name to a one-line string value")
        bad = sorted(k for k in h if k.lower() in _RESERVED_HEADERS)
        if bad:
            raise ApiError(f"headers may not set {', '.join(bad)}")
        out["headers"] = json.dumps(h, ensure_ascii=False) if h else ""
    if given("auto_enable_at") and "auto_enable_at" in body:
        out["auto_enable_at"] = _int(body, "auto_enable_at", 0, minimum=0)
        if out["auto_enable_at"] > _TS_LIMIT:
            raise ApiError(f"auto_enable_at must be between 0 and {_TS_LIMIT}")
    if out.get("type") == 3 and creating and not out.get("base_url"):
        raise ApiError("Azure channels need base_url (https://RESOURCE.openai.azure.com)")
    return out


def fill_key_template(template: str, config: dict[str, Any]) -> str:
    """A type's ``key_from_config`` (e.g. ``{ak}|{sk}|{region}``) filled from the config; "" when a
    part is missing (the console's fillKeyTemplate)."""
    missing = False

    def part(m: "re.Match[str]") -> str:
        nonlocal missing
        v = config.get(m.group(1))
        text = v.strip() if isinstance(v, str) else str(v) if isinstance(v, (int, float)) else ""
        missing = missing or not text
        return text

    out = re.sub(r"\{(\w+)\}", part, template)
    return "" if missing else out


def _keep_secrets(stored: dict[str, Any], fields: dict[str, Any]) -> None:
    """An update keeps the secrets it does not replace: config members sent masked or left out,
    and a key the console built from masked config fields (rebuilt from the stored ones)."""
    if "config" in fields:
        try:
            fields["config"] = merge_config(stored.get("config"), fields["config"])
        except ValueError as e:
            raise ApiError(str(e)) from None
    if isinstance(fields.get("proxy"), str) and MASK in fields["proxy"]:  # the masked password: unchanged
        fields["proxy"] = str(stored.get("proxy") or "")
    key = fields.get("key")
    if isinstance(key, str) and MASK in key:
        ps = provider_spec(int(fields.get("type", stored.get("type", 1))))
        template = ps.key_from_config if ps else ""
        try:
            config = parse_json_object(fields.get("config", stored.get("config")), "config") if template else {}
        except ValueError:
            config = {}
        rebuilt = fill_key_template(template, config) if template else ""
        if not rebuilt or MASK in rebuilt:
            raise ApiError(f"key holds the masked placeholder {MASK}: enter the key itself, or leave it "
                           "empty to keep the stored one")
        fields["key"] = rebuilt


def _channel_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 2**62:
        raise ApiError("id is required and must be a positive integer")
    return value


class ChannelListHandler(ApiHandler):
    ops = {
        "GET": Op("List channels", query=Shape(PAGE, F("tag", max_len=64, doc="only channels with this tag"))),
        "POST": Op("Create channels; data = {id} or {ids}", body=Shape(
            *(F(f.name, f.type, min=f.min, max=f.max, max_len=f.max_len, enum=f.enum, doc=f.doc,
                required=f.name in ("key", "models")) for f in CHANNEL_FIELDS),
            F("key_mode", enum=("", "split", "rotate"), doc="split: one channel per key line; rotate: one channel")),
            data={"type": "object", "properties": {"id": {"type": "integer"}, "ids": {"type": "array"}}}),
        "PUT": Op("Update a channel (the fields the body carries)", body=Shape(ident(), *CHANNEL_FIELDS)),
    }
    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        p = self.page()
        tag = self.get_query_argument("tag", "").strip()
        query = {"tag": tag} if tag else None
        self.ok([to_api(d) for d in await self.ctx.channels.page(p, PAGE_SIZE, query)])

    @admin_auth
    async def post(self, user: dict[str, Any]) -> None:
        """A multi-line ``key`` creates one channel per line (One API), unless
        ``key_mode`` is ``"rotate"``: then one channel rotates over all keys."""
        body = self.json_body()
        mode = body.get("key_mode")
        if mode not in (None, "", "split", "rotate"):
            raise ApiError('key_mode must be "split" (one channel per key line) or "rotate"')
        fields = validate_channel(body, creating=True)
        keys = [k.strip() for k in fields["key"].splitlines() if k.strip()]
        if len(keys) > 1000 and mode != "rotate":
            raise ApiError("at most 1000 channels can be created at once")
        created = []
        for key in ([fields["key"]] if mode == "rotate" or len(keys) == 1 else keys):
            doc = await self.ctx.channels.create({**fields, "key": key}, publish=False)
            created.append(int(doc["_id"]))
        await self.ctx.channels.announce()
        await audit(self, user, "create", "channel", created[0], fields, ids=created if len(created) > 1 else None)
        self.ok({"ids": created} if len(created) > 1 else {"id": created[0]})

    @admin_auth
    async def put(self, user: dict[str, Any]) -> None:
        body = self.json_body()
        cid = _channel_id(body.get("id"))
        stored = await self.ctx.channels.get(cid)
        if stored is None:
            raise ApiError(f"Channel {cid} not found")
        fields = validate_channel(body, creating=False)
        _keep_secrets(stored, fields)
        doc = await self.ctx.channels.update(cid, fields)
        if doc is None:
            raise ApiError(f"Channel {cid} not found")
        await audit(self, user, "status" if set(fields) == {"status"} else "update", "channel", cid, fields,
                    status=fields.get("status"))
        self.ok(to_api(doc))


class ChannelSearchHandler(ApiHandler):
    """Name, models or group contain the keyword; or the id, or one of the keys, equals it."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Search channels", query=keyword(200))}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        kw = self.get_query_argument("keyword", "").strip()
        if len(kw) > 200:
            raise ApiError("keyword is too long (at most 200 characters)")
        self.ok([to_api(d) for d in await self.ctx.channels.search(kw)])


class ChannelDisabledHandler(ApiHandler):
    """``DELETE /api/channel/disabled``: delete every disabled channel (manual or auto)."""

    SUPPORTED_METHODS = ("DELETE",)  # type: ignore[assignment]
    ops = {"DELETE": Op("Delete every disabled channel; data = how many")}

    @admin_auth
    async def delete(self, user: dict[str, Any]) -> None:
        count = await self.ctx.channels.delete_disabled()
        if count:
            await audit(self, user, "delete", "channel", "disabled", count=count)
        self.ok(count)


class ChannelItemHandler(ApiHandler):
    SUPPORTED_METHODS = ("GET", "DELETE")  # type: ignore[assignment]
    path_params = ("id",)
    ops = {"GET": Op("One channel (secrets masked)"), "DELETE": Op("Delete a channel")}

    @admin_auth
    async def get(self, user: dict[str, Any], cid: str) -> None:
        doc = await self.ctx.channels.get(self.path_int(cid, "channel id"))
        if doc is None:
            raise ApiError("Channel not found")
        self.ok(to_api(doc))

    @admin_auth
    async def delete(self, user: dict[str, Any], cid: str) -> None:
        channel_id = self.path_int(cid, "channel id")
        if not await self.ctx.channels.delete(channel_id):
            raise ApiError("Channel not found")
        await audit(self, user, "delete", "channel", channel_id)
        self.ok()


class ChannelModelsHandler(ApiHandler):
    """All built-in models, OpenAI list format (``/api/channel/models``)."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("All built-in models (OpenAI list format)")}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        owners = self.ctx.model_owners()
        self.ok([{"id": m, "object": "model", "created": 1626777600, "owned_by": o,
                  "root": m, "parent": None}
                 for m, o in sorted(owners.items())], object="list")


class ChannelTypesHandler(ApiHandler):
    """``GET /api/channel/types``: the provider registry, one entry per channel type id
    (what the console renders its type list, form fields and model suggestions from)."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("The provider registry, one entry per channel type id")}

    # the prose a channel form shows, translated by exact text (services/locales/zh_cn_registry.py)
    SPEC_TEXTS = ("note", "base_url_note", "key_format")
    FIELD_TEXTS = ("label", "placeholder", "help")  # example-value placeholders have no entry: kept
    _by_lang: dict[str, list[dict[str, Any]]] = {}  # the registry is static: built once per language

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        lang = self.lang
        types = self._by_lang.get(lang)
        if types is None:
            types = self._by_lang[lang] = self.build(lang)
        self.ok(types)

    @classmethod
    def build(cls, lang: str) -> list[dict[str, Any]]:
        """The registry as the API serves it, its prose in ``lang`` (untranslated texts as they are)."""
        from services.i18n import ZH
        from services.locales.zh_cn_registry import REGISTRY

        types = [spec.to_api() for _, spec in sorted(PROVIDERS.items())]
        if lang != ZH:  # English, the source language (zh-CN is the only catalog)
            return types
        for t in types:
            for k in cls.SPEC_TEXTS:
                t[k] = REGISTRY.get(t[k], t[k])
            for field in t["config"]:
                for k in cls.FIELD_TEXTS:
                    field[k] = REGISTRY.get(field[k], field[k])
        return types


class ChannelTestHandler(ApiHandler):
    """``GET /api/channel/test/:id?model=``: one test request, answered when it is done."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    path_params = ("id",)
    ops = {"GET": Op("Test a channel with one request", query=Shape(F("model", max_len=200)))}

    @admin_auth
    async def get(self, user: dict[str, Any], cid: str) -> None:
        self.refuse_cross_site()  # a test may disable the channel
        model = self.get_query_argument("model", "")
        if len(model) > 200:
            raise ApiError("model is too long")
        doc = await self.ctx.channels.get(self.path_int(cid, "channel id"))
        if doc is None:
            raise ApiError("Channel not found")
        r = await self.ctx.channel_checks.test(doc, model, user=user)
        self.finish(json.dumps({"success": r.success, "message": r.message, "time": round(r.seconds, 3),
                                "modelName": r.model}, ensure_ascii=False))


class ChannelTestAllHandler(ApiHandler):
    """``GET /api/channel/test?scope=all|disabled``: starts the bulk test and answers at once."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Test all (or the disabled) channels in the background", query=Shape(F("scope", max_len=20)))}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.refuse_cross_site()
        scope = self.get_query_argument("scope", "") or "all"
        try:
            self.ctx.channel_checks.start_bulk_test(scope)
        except CheckError as e:
            raise ApiError(e.message) from None
        self.ok(message=f"Testing {scope} channels in the background")


class ChannelBalanceHandler(ApiHandler):
    """``GET /api/channel/update_balance/:id``: query the provider, store and answer the balance."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    path_params = ("id",)
    ops = {"GET": Op("Query a channel's balance")}

    @admin_auth
    async def get(self, user: dict[str, Any], cid: str) -> None:
        self.refuse_cross_site()
        doc = await self.ctx.channels.get(self.path_int(cid, "channel id"))
        if doc is None:
            raise ApiError("Channel not found")
        try:
            balance = await self.ctx.channel_checks.update_balance(doc)
        except CheckError as e:
            raise ApiError(e.message) from None
        self.ok(balance=balance)


class ChannelBalanceAllHandler(ApiHandler):
    """``GET /api/channel/update_balance``: every enabled channel of a supported type, in the
    background (One API's route does nothing)."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Update every enabled channel's balance in the background")}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.refuse_cross_site()
        try:
            self.ctx.channel_checks.start_bulk_balance()
        except CheckError as e:
            raise ApiError(e.message) from None
        self.ok(message="Updating the balances of all enabled channels in the background")



# -- several channels at once: batch edit, tags, copy --------------------------------------------
BATCH_FIELDS = ("group", "models", "priority", "weight", "status", "tag", "test_expect", "auto_enable_at",
                "rpm_limit")
MAX_BATCH = 1000


def _batch_fields(body: dict[str, Any], allowed: tuple[str, ...] = BATCH_FIELDS) -> dict[str, Any]:
    """The fields a batch or tag edit sets (validated as a channel update)."""
    given = {k: body[k] for k in allowed if body.get(k) is not None}
    fields = validate_channel(given, creating=False)
    if not fields:
        raise ApiError("Nothing to change: give at least one of " + ", ".join(allowed))
    return fields


async def _apply(handler: ApiHandler, user: dict[str, Any], ids: list[int], fields: dict[str, Any],
                 action: str, **detail: Any) -> None:
    """Set ``fields`` on every channel of ``ids`` (abilities rebuilt), one change event, one audit entry."""
    ctx = handler.ctx
    for cid in ids:
        await ctx.channels.update(cid, fields, publish=False)
    await ctx.channels.announce()
    await audit(handler, user, action, "channel", ids[0] if ids else 0, fields, ids=ids, **detail)


class ChannelBatchHandler(ApiHandler):
    """``PUT /api/channel/batch``: the same fields on the selected channels."""

    SUPPORTED_METHODS = ("PUT",)  # type: ignore[assignment]
    ops = {"PUT": Op("Edit the selected channels; data = how many", body=Shape(
        F("ids", "array", required=True, max_len=MAX_BATCH, items=F("id", "integer", min=1, max=2**62)),
        *(f for f in CHANNEL_FIELDS if f.name in BATCH_FIELDS)))}

    @admin_auth
    async def put(self, user: dict[str, Any]) -> None:
        body = self.json_body()
        ids = sorted({_channel_id(i) for i in body.get("ids") or []})
        if not ids:
            raise ApiError("ids is required: the channels to edit")
        fields = _batch_fields(body)
        found = await self.ctx.channels.ids({"_id": {"$in": ids}})
        missing = sorted(set(ids) - set(found))
        if missing:
            raise ApiError(f"Channels not found: {', '.join(map(str, missing[:20]))}")
        await _apply(self, user, found, fields, "batch_update")
        self.ok(len(found))


class ChannelTagListHandler(ApiHandler):
    """``GET /api/channel/tags``: every tag in use."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]
    ops = {"GET": Op("Every channel tag in use")}

    @admin_auth
    async def get(self, user: dict[str, Any]) -> None:
        self.ok(await self.ctx.channels.tags())


def _tag(body: dict[str, Any]) -> str:
    tag = body.get("tag")
    if not isinstance(tag, str) or not tag.strip():
        raise ApiError("tag is required")
    return tag.strip()


class ChannelTagHandler(ApiHandler):
    """``PUT /api/channel/tag``: edit every channel with a tag (``new_tag`` renames it)."""

    SUPPORTED_METHODS = ("PUT",)  # type: ignore[assignment]
    ops = {"PUT": Op("Edit every channel with a tag; data = how many", body=Shape(
        F("tag", required=True, max_len=64), F("new_tag", max_len=64),
        *(f for f in CHANNEL_FIELDS if f.name in BATCH_FIELDS and f.name not in ("tag", "status"))))}

    @admin_auth
    async def put(self, user: dict[str, Any]) -> None:
        body = self.json_body()
        tag = _tag(body)
        edit = {k: v for k, v in body.items() if k not in ("tag", "new_tag")}
        if body.get("new_tag") is not None:
            edit["tag"] = body["new_tag"]
        fields = _batch_fields(edit, tuple(k for k in BATCH_FIELDS if k != "status"))
        ids = await self.ctx.channels.ids({"tag": tag})
        if not ids:
            raise ApiError(f"No channel has the tag {tag}")
        await _apply(self, user, ids, fields, "tag_update", tag=tag)
        self.ok(len(ids))


class ChannelTagStatusHandler(ApiHandler):
    """``POST /api/channel/tag/enabled`` / ``disabled``: enable or disable every channel with a tag."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]
    path_params = ("status",)
    path_schemas = {"status": {"type": "string", "enum": ["enabled", "disabled"]}}
    ops = {"POST": Op("Enable or disable every channel with a tag; data = how many",
                      body=Shape(F("tag", required=True, max_len=64)))}

    @admin_auth
    async def post(self, user: dict[str, Any], action: str) -> None:
        tag = _tag(self.json_body())
        ids = await self.ctx.channels.ids({"tag": tag})
        if not ids:
            raise ApiError(f"No channel has the tag {tag}")
        status = CH_ENABLED if action == "enabled" else CH_MANUALLY_DISABLED
        for cid in ids:
            await self.ctx.channels.set_status(cid, status)
        await audit(self, user, "status", "channel", ids[0], ["status"], ids=ids, status=status, tag=tag)
        self.ok(len(ids))


class ChannelCopyHandler(ApiHandler):
    """``POST /api/channel/copy/:id``: a new channel with the same settings and keys, named with a
    suffix; its usage, balance and test results start from zero. data = {id}."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]
    path_params = ("id",)
    ops = {"POST": Op("Copy a channel; data = {id}", body=Shape(
        F("suffix", max_len=50, doc='Appended to the name (default " (copy)")'),
        F("status", "integer", enum=(CH_ENABLED, CH_MANUALLY_DISABLED), doc="The copy's status (default: as the original)")))}

    @admin_auth
    async def post(self, user: dict[str, Any], cid: str) -> None:
        source = await self.ctx.channels.get(self.path_int(cid, "channel id"))
        if source is None:
            raise ApiError("Channel not found")
        body = self.json_body() if self.request.body else {}
        suffix = body.get("suffix")
        suffix = " (copy)" if suffix is None else str(suffix)
        fields = {k: source.get(k) for k in (
            "type", "key", "base_url", "other", "models", "group", "model_mapping", "priority", "weight",
            "config", "system_prompt", "tag", "test_expect", "rpm_limit", "proxy", "headers")
            if source.get(k) is not None}
        fields["name"] = (str(source.get("name") or "") + suffix)[:100]
        status = body.get("status")
        fields["status"] = int(status) if status is not None else \
            (CH_MANUALLY_DISABLED if int(source.get("status", 1)) != CH_ENABLED else CH_ENABLED)
        doc = await self.ctx.channels.create(fields)
        await audit(self, user, "copy", "channel", int(doc["_id"]), sorted(fields), source=int(source["_id"]))
        self.ok({"id": int(doc["_id"])})

routes = [
    (r"/api/channel/?", ChannelListHandler),
    (r"/api/channel/search", ChannelSearchHandler),
    (r"/api/channel/models", ChannelModelsHandler),
    (r"/api/channel/types", ChannelTypesHandler),
    (r"/api/channel/batch/?", ChannelBatchHandler),
    (r"/api/channel/tags/?", ChannelTagListHandler),
    (r"/api/channel/tag/?", ChannelTagHandler),
    (r"/api/channel/tag/(enabled|disabled)/?", ChannelTagStatusHandler),
    (r"/api/channel/copy/([^/]+)/?", ChannelCopyHandler),
    (r"/api/channel/disabled", ChannelDisabledHandler),
    (r"/api/channel/test/?", ChannelTestAllHandler),
    (r"/api/channel/test/([^/]+)", ChannelTestHandler),
    (r"/api/channel/update_balance/?", ChannelBalanceAllHandler),
    (r"/api/channel/update_balance/([^/]+)", ChannelBalanceHandler),
    (r"/api/channel/([^/]+)", ChannelItemHandler),
]
