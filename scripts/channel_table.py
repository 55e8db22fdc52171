"""Print (or, with --write, put into README.md) the channel table generated from the provider
registry, so the README never lists a channel type differently from the code.

    python scripts/channel_table.py           # print the table
    python scripts/channel_table.py --write   # replace the table between README's markers
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from adaptors import build_registry  # noqa: E402
from adaptors.base import (  # noqa: E402
    CHAT, COMPLETIONS, EMBEDDINGS, IMAGES, MESSAGES, MODERATIONS, RERANK, RESPONSES, SPEECH, TRANSCRIPTIONS,
)
from adaptors.registry import PROVIDERS  # noqa: E402

START, END = "<!-- channel-table:start -->", "<!-- channel-table:end -->"


def _yes(flag: bool) -> str:
    return "✓" if flag else "–"


def table() -> str:
    adaptors = build_registry()
    rows = ["| type | provider | chat + stream | tools | completions | embeddings | images | audio | also | key "
            "| default base URL |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for t, s in sorted(PROVIDERS.items()):
        a = adaptors.get(t)
        modes = set(s.modes) if a is not None else set()
        tools = a is not None and CHAT in modes and s.tools
        key = s.key_format or ("built from " + s.key_from_config if s.key_from_config else "API key")
        key = "`" + key + "`" if key != "API key" else key
        if t == 43:
            key += " (raw pass-through only: `/v1/oneapi/proxy/43…`)"
        elif a is None:
            key += " (stored; not relayed yet)"
        audio = "/".join(n for m, n in ((SPEECH, "speech"), (TRANSCRIPTIONS, "transcripts")) if m in modes) or "–"
        also = ", ".join(n for m, n in ((MESSAGES, "Messages"), (RESPONSES, "Responses"), (MODERATIONS, "moderations"),
                                        (RERANK, "rerank")) if m in modes) or "–"
        base = f"`{s.base_url}`" if s.base_url else ("required" if s.base_url_required else "–")
        key = key.replace("|", "\\|")  # a literal pipe inside a table cell
        rows.append(f"| {t} | {s.name}{' (deprecated)' if s.deprecated else ''} | {_yes(CHAT in modes)} | "
                    f"{_yes(tools)} | {_yes(COMPLETIONS in modes)} | {_yes(EMBEDDINGS in modes)} | "
                    f"{_yes(IMAGES in modes)} | {audio} | {also} | {key} | {base} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main() -> int:
    if "--write" in sys.argv:
        path = os.path.join(ROOT, "README.md")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(readme_with_table(text))
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
