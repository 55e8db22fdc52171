"""Fields shared by the ``/api`` declarations (handlers/api/*.py ``ops``)."""

from __future__ import annotations

from .fields import PAGE, Field, Shape

MAX_QUOTA = 10**18  # far below int64: $inc can never overflow
MAX_ID = 2**62
TS_MAX = 2**40  # unix seconds far beyond any real date


def ident(name: str = "id", *, required: bool = True, doc: str = "", msg: str = "") -> Field:
    if name == "id" and not msg:
        msg = "id is required and must be a positive integer"
    return Field(name, "integer", min=1, max=MAX_ID, required=required, doc=doc, msg=msg)


def keyword(max_len: int) -> Shape:
    return Shape(Field("keyword", max_len=max_len, doc="Search text"))


def quota(name: str = "quota", *, minimum: int = 0, required: bool = False, doc: str = "") -> Field:
    return Field(name, "integer", min=minimum, max=MAX_QUOTA, required=required, doc=doc)


PAGED = Shape(PAGE)
STATUS_ONLY = Field("status_only", "boolean", doc="Change the status alone")
