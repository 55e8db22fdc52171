"""A small declarative field spec: :class:`Field` objects, a validator, a JSON Schema emitter.

A route's body or query is a :class:`Shape` (a tuple of fields). ``Shape.check(body)`` looks
only at the declared fields a body carries (unknown fields pass through: providers add
parameters all the time), so checking a chat request costs a few dict lookups, not a walk
of the whole body. ``Shape.schema()`` is the same description as JSON Schema (OpenAPI 3.1).

:func:`loads` is the one JSON parser for request bodies: it refuses NaN/Infinity (Python's
``json`` accepts them) and nesting deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 64

# JSON type name -> the Python types that satisfy it (bool is refused where int is meant).
_PY: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),),
}
_ARTICLE = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
            "object": "an object", "array": "an array", "null": "null"}


P = "\x00"  # where a message names the field: filled with its full path when it is read


class Invalid(ValueError):
    """A request does not match its declaration; ``param`` is the field's path (``messages[0].role``).
    The path is built only when a check fails: enclosing arrays and objects prefix it on the way out."""

    def __init__(self, template: str, param: str = "") -> None:
        super().__init__(template)
        self.template = template
        self.param = param

    @property
    def message(self) -> str:
        return self.template.replace(P, self.param)

    def __str__(self) -> str:
        return self.message


# -- parsing --------------------------------------------------------------------------------------
def _no_constant(name: str) -> Any:
    raise Invalid(f"{name} is not a valid JSON number (NaN and Infinity are refused)")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_WS = json.decoder.WHITESPACE.match  # type: ignore[attr-defined]


def loads(raw: bytes | str) -> Any:
    """Parse a request body: ValueError/Invalid with a readable message, never RecursionError."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = bytes(raw)
        try:
            text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        except (UnicodeDecodeError, LookupError) as e:
            raise Invalid(f"The request body is not valid JSON: {e}") from None
    else:
        text = raw
    try:
        obj, end = _DECODER.raw_decode(text, _WS(text, 0).end())
    except Invalid:
        raise
    except RecursionError:
        raise Invalid(f"The request body is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except ValueError as e:
        raise Invalid(f"The request body is not valid JSON: {e}") from None
    if _WS(text, end).end() != len(text):
        raise Invalid("The request body is not valid JSON: extra data after the value")
    # Depth can only exceed MAX_DEPTH with more than MAX_DEPTH brackets: most bodies skip the walk.
    if text.count("[") + text.count("{") > MAX_DEPTH and depth_exceeds(obj, MAX_DEPTH):
        raise Invalid(f"The request body is nested too deeply (at most {MAX_DEPTH} levels)")
    return obj


def depth_exceeds(obj: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep (level by level: no recursion)."""
    level = [obj] if type(obj) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        nxt: list[Any] = []
        for v in level:
            nxt += [x for x in (v.values() if type(v) is dict else v) if type(x) is dict or type(x) is list]
        level = nxt
    return False


# -- fields ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class Field:
    """One declared field. ``type`` is a JSON type name or a tuple of them; ``items`` declares
    an array's members, ``fields`` an object's members (both checked the same way)."""

    name: str
    type: str | tuple[str, ...] = "string"
    min: int | float | None = None
    max: int | float | None = None
    max_len: int | None = None  # characters of a string, members of an array
    min_len: int | None = None
    enum: Sequence[Any] | None = None
    required: bool = False
    nullable: bool = True  # null = absent (clients send null for "default")
    items: "Field | None" = None
    fields: "Shape | None" = None
    doc: str = ""
    msg: str = ""  # the message for a missing or wrong-typed value, instead of the generic one
    default: Any = None
    example: Any = None
    # the Python types, the kinds and the bounds, precomputed by __post_init__
    _types: tuple[type, ...] = field(default=(), repr=False)
    _kinds: tuple[str, ...] = field(default=(), repr=False)
    _str_fast: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        kinds = (self.type,) if isinstance(self.type, str) else tuple(self.type)
        self._kinds = kinds
        self._types = tuple({t for k in kinds for t in _PY[k]})
        self._str_fast = "string" in kinds and self.min_len is None and self.enum is None
        if ("integer" in kinds or "number" in kinds):
            if self.min is None:
                self.min = INT64_MIN
            if self.max is None:
                self.max = INT64_MAX

    def describe(self) -> str:
        if self.enum is not None:
            return "one of " + ", ".join(json.dumps(e) for e in self.enum) if len(self.enum) > 2 \
                else " or ".join(json.dumps(e) for e in self.enum)
        return " or ".join(_ARTICLE[k] for k in self._kinds)

    def missing(self, path: str) -> Invalid:
        return Invalid(self.msg or (f"{P} is required: {P} must be {self.describe()}" if self.enum
                                    else f"{P} is required"), path)

    def check(self, v: Any, path: str) -> Any:
        """The value, checked (a whole float given for an integer becomes an int)."""
        if type(v) is str and self._str_fast and (self.max_len is None or len(v) <= self.max_len):
            return v  # the common case: a string within its length, no minimum, no enum
        if v is None:
            if self.nullable and not self.required:
                return None
            raise self.missing(path) if self.required else Invalid(f"{P} must not be null", path)
        kinds = self._kinds
        if not isinstance(v, self._types) or (v is True or v is False) and "boolean" not in kinds:
            if isinstance(v, float) and "integer" in kinds and v.is_integer():
                v = int(v)
            else:
                raise Invalid(self.msg or f"{P} must be {self.describe()}", path)  # (an enum: its values)
        if isinstance(v, str):
            too_long = self.max_len is not None and len(v) > self.max_len
            if too_long or (self.min_len is not None and len(v) < self.min_len and (v or self.required)):
                if self.min_len is not None:
                    raise Invalid(f"{P} must be {self.min_len}-{self.max_len} characters" if self.max_len
                                  else f"{P} must be at least {self.min_len} characters", path)
                raise Invalid(f"{P} must be at most {self.max_len} characters (too long)", path)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, float) and not math.isfinite(v):
                raise Invalid(f"{P} must be a finite number", path)
            if isinstance(v, int) and "integer" not in kinds and not -2**1023 < v < 2**1023:
                raise Invalid(f"{P} is out of range", path)
            if "integer" in kinds and isinstance(v, float) and "number" not in kinds:
                if not v.is_integer():
                    raise Invalid(f"{P} must be an integer", path)
                v = int(v)
            lo, hi = self.min, self.max
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise Invalid(f"{P} must be between {lo} and {hi}", path)
        elif isinstance(v, list):
            if self.max_len is not None and len(v) > self.max_len:
                raise Invalid(f"{P} must have at most {self.max_len} items", path)
            if self.min_len is not None and len(v) < self.min_len:
                raise Invalid(f"{P} must not be empty" if self.min_len == 1
                              else f"{P} must have at least {self.min_len} items", path)
            item = self.items
            if item is not None:
                i = 0
                try:
                    for i, x in enumerate(v):
                        item.check(x, "")
                except Invalid as e:
                    e.param = f"{path}[{i}]" + (e.param if not e.param or e.param[0] == "[" else "." + e.param)
                    raise
        elif isinstance(v, dict):
            if self.fields is not None:
                try:
                    self.fields.check(v)
                except Invalid as e:
                    e.param = f"{path}.{e.param}" if path else e.param
                    raise
        if self.enum is not None and (v not in self.enum or v is True or v is False):
            raise Invalid(f"{P} must be {self.describe()}", path)
        return v

    # -- JSON Schema ------------------------------------------------------------------------------
    def schema(self) -> dict[str, Any]:
        kinds = list(self._kinds)
        if self.nullable and not self.required and "null" not in kinds:
            kinds.append("null")
        s: dict[str, Any] = {"type": kinds[0] if len(kinds) == 1 else kinds}
        if self.doc:
            s["description"] = self.doc
        if self.min is not None:
            s["minimum"] = self.min
        if self.max is not None:
            s["maximum"] = self.max
        if "string" in kinds:
            if self.max_len is not None:
                s["maxLength"] = self.max_len
            if self.min_len is not None:
                s["minLength"] = self.min_len
        if "array" in kinds:
            if self.max_len is not None:
                s["maxItems"] = self.max_len
            if self.min_len is not None:
                s["minItems"] = self.min_len
            if self.items is not None:
                s["items"] = self.items.schema()
        if "object" in kinds and self.fields is not None:
            s.update({k: v for k, v in self.fields.schema().items() if k != "type"})
        if self.enum is not None:
            s["enum"] = list(self.enum) + ([None] if "null" in kinds and None not in self.enum else [])
        if self.default is not None:
            s["default"] = self.default
        if self.example is not None:
            s["examples"] = [self.example]
        return s


class Shape:
    """An object's declared fields (a body, a query, a nested object)."""

    def __init__(self, *fields: Field, extra: Callable[[dict[str, Any]], None] | None = None,
                 min_props: int | None = None) -> None:
        self.fields = fields
        self.by_name = {f.name: f for f in fields}
        self.required = tuple(f.name for f in fields if f.required)
        self.extra = extra  # cross-field checks, after the fields
        self.min_props = min_props

    def check(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check the declared fields the body carries (in place: whole floats become ints)."""
        by_name = self.by_name
        changed = None
        for k, v in body.items():
            f = by_name.get(k)
            if f is not None:
                nv = f.check(v, k)
                if nv is not v:
                    changed = changed or {}
                    changed[k] = nv
        if changed:
            body.update(changed)
        for k in self.required:
            if body.get(k) is None:
                raise by_name[k].missing(k)
        if self.extra is not None:
            self.extra(body)
        return body

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "object", "properties": {f.name: f.schema() for f in self.fields}}
        if self.required:
            s["required"] = list(self.required)
        if self.min_props:
            s["minProperties"] = self.min_props
        return s


# -- query strings --------------------------------------------------------------------------------
def query_value(f: Field, raw: str) -> Any:
    """A query argument (text) as its declared type: "" is absent."""
    raw = raw.strip()
    if raw == "":
        if f.required:
            raise f.missing(f.name)
        return None
    kinds = f._kinds
    v: Any = raw
    if "integer" in kinds:
        if not (raw.isascii() and (raw.isdigit() or (raw[0] in "+-" and raw[1:].isdigit()))) or len(raw) > 40:
            raise Invalid(f"{P} must be an integer, got {raw[:40]!r}", f.name)
        v = int(raw)
    elif "boolean" in kinds:
        if raw.lower() not in ("1", "0", "true", "false"):
            raise Invalid(f"{P} must be true or false", f.name)
        v = raw.lower() in ("1", "true")
    return f.check(v, f.name)


@dataclass(eq=False)
class Op:
    """One route method's declared inputs (and how the OpenAPI document describes it)."""

    summary: str = ""
    query: Shape | None = None
    body: Shape | None = None
    data: dict[str, Any] | None = None  # JSON Schema of the envelope's ``data``, when known
    tags: tuple[str, ...] = ()


PAGE = Field("p", "integer", min=INT64_MIN, max=2**31 - 1, doc="Page number from 0 (a negative page is page 0)")
