"""Languages of the API's own messages: English in the source, Simplified Chinese from a catalog.

Every message OneRelay writes is an English template in the code (``f"Redemption code {rid}
not found"``); :data:`services.locales.zh_cn.MESSAGES` maps each template to its Chinese text,
with One API's exact wording wherever One API has the same message (scripts written against
One API match on it). Messages are translated where they leave the process: the ``/api``
envelope, the OpenAI and Anthropic error bodies, log ``content`` as it is written.
``tests/test_i18n.py`` extracts every template from the source and fails when one lacks a
translation, so a new message cannot ship in English only.

The language of a request is its ``Accept-Language`` (zh*, en*, with q-values); without one
that we speak, the ``Language`` option (the operator's default; log content always uses it).
Upstream error messages relayed as they came are never translated.
"""

from __future__ import annotations

import re
from typing import Iterable

EN, ZH = "en", "zh-CN"
LANGUAGES = (ZH, EN)
DEFAULT = EN

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def normalize(tag: str | None) -> str | None:
    """A language tag as one we speak (``zh``, ``zh-Hans``, ``zh-TW`` → zh-CN; ``en-GB`` → en)."""
    if not tag:
        return None
    t = tag.strip().lower()
    if t.startswith("zh"):
        return ZH
    if t.startswith("en"):
        return EN
    return None


def negotiate(header: str | None, default: str = DEFAULT) -> str:
    """The best language of an ``Accept-Language`` header (RFC 9110 q-values), else ``default``."""
    if not header:
        return default
    best, best_q = None, 0.0
    for i, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if not 0 < q <= 1:
            continue
        lang = default if tag.strip() == "*" else normalize(tag)
        if lang and q > best_q:  # the first of equal q wins
            best, best_q = lang, q
    return best or default


class Catalog:
    """English templates → translations, matched exactly or with ``{placeholders}`` filled."""

    def __init__(self, messages: dict[str, str]) -> None:
        self.exact: dict[str, str] = {}
        self.patterns: list[tuple[str, re.Pattern[str], str]] = []  # (literal prefix, regex, target)
        for src, dst in messages.items():
            if _PLACEHOLDER.search(src):
                self.patterns.append(self._compile(src, dst))
            else:
                self.exact[src] = dst
        # the longest literal prefix first: "Channel {id} not found" before "{what} not found"
        self.patterns.sort(key=lambda p: -len(p[0]))
        self._cache: dict[str, str] = {}

    @staticmethod
    def _compile(src: str, dst: str) -> tuple[str, re.Pattern[str], str]:
        parts, pos, seen = [], 0, {}
        names = []
        for m in _PLACEHOLDER.finditer(src):
            parts.append(re.escape(src[pos:m.start()]))
            name = m.group(1)
            seen[name] = seen.get(name, 0) + 1
            group = name if seen[name] == 1 else f"{name}__{seen[name]}"
            names.append(group)
            parts.append(f"(?P<{group}>.+?)" if m.end() < len(src) else f"(?P<{group}>.+)")
            pos = m.end()
        parts.append(re.escape(src[pos:]))
        prefix = src[:_PLACEHOLDER.search(src).start()]  # type: ignore[union-attr]
        return prefix, re.compile("".join(parts) + r"\Z", re.S), dst

    def translate(self, message: str, depth: int = 0) -> str:
        hit = self.exact.get(message)
        if hit is not None:
            return hit
        cached = self._cache.get(message)
        if cached is not None:
            return cached
        out = None
        if depth == 0 and "; " in message:  # log notes: "a; b; c", each part a message
            parts = message.split("; ")
            done = [self.translate(p, 1) for p in parts]
            if all(d != p for d, p in zip(done, parts)):
                out = "；".join(done)
        if out is None:
            out = self._match(message, depth)
        if len(self._cache) < 4096:
            self._cache[message] = out
        return out

    def _match(self, message: str, depth: int) -> str:
        for prefix, rx, dst in self.patterns:
            if not message.startswith(prefix):
                continue
            m = rx.match(message)
            if m is None:
                continue
            values = m.groupdict()
            if depth < 2:  # a filled-in value may be our message too ("... : {reason}")
                values = {k: v if _FOREIGN.search(k) else self.translate(v, depth + 1) for k, v in values.items()}
            return _PLACEHOLDER.sub(lambda g: values.get(g.group(1), g.group(0)), dst)
        return message


# Placeholders that carry someone else's text (an upstream's error message or body): never translated,
# so an upstream "Invalid API key" is not shown as our own message about the client's key.
_FOREIGN = re.compile(r"message|body|detail|error|desc|answer")


_catalogs: dict[str, Catalog] = {}


def catalog(lang: str) -> Catalog | None:
    if lang == EN:
        return None
    cat = _catalogs.get(lang)
    if cat is None and lang == ZH:
        from .locales.zh_cn import MESSAGES

        cat = _catalogs[lang] = Catalog(MESSAGES)
    return cat


def translate(message: str, lang: str) -> str:
    """``message`` (an English template filled in) in ``lang``; unchanged when not in the catalog."""
    if lang == EN or not message:
        return message
    cat = catalog(lang)
    return cat.translate(message) if cat is not None else message


def templates_missing(templates: Iterable[str], lang: str = ZH) -> list[str]:
    """The templates the catalog of ``lang`` does not translate (for the completeness test)."""
    from .locales.zh_cn import MESSAGES

    keys = {_PLACEHOLDER.sub("{}", k) for k in MESSAGES}
    return sorted({t for t in templates if _PLACEHOLDER.sub("{}", t) not in keys})

