"""Keys and secrets out of text that is stored or shown (error logs, channel test results).

Upstream error messages sometimes quote the key they refused ("Incorrect API key provided:
sk-abc…"), a signed URL, or an ``Authorization`` header. Each pattern keeps a short prefix
so an operator can still tell which key it was, and hides the rest.
"""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization / api-key headers and "Bearer <token>" anywhere
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***"),
    (re.compile(r"(?i)\b(x-api-key|api-key|x-goog-api-key|authorization)(\"?\s*[:=]\s*\"?)(?!(?i:bearer|basic)\b)[^\s\",;]{6,}"), r"\1\2***"),
    # key=... / access_token=... / signature=... in URLs and forms
    (re.compile(r"(?i)([?&](?:key|api_key|apikey|access_token|token|sig|signature|x-amz-signature|x-amz-credential)=)"
                r"[^&\s\"']+"), r"\1***"),
    # provider key shapes: OpenAI/Anthropic/DeepSeek sk-..., Google AIza..., AWS AKIA..., GitHub, Slack
    (re.compile(r"\b(sk-(?:ant-|proj-)?[A-Za-z0-9]{2})[A-Za-z0-9_*-]{6,}"), r"\1***"),
    (re.compile(r"\b(AIza)[0-9A-Za-z_-]{20,}"), r"\1***"),
    (re.compile(r"\b((?:AKIA|ASIA)[0-9A-Z]{2})[0-9A-Z]{12,}"), r"\1***"),
    (re.compile(r"\b(gh[pousr]_)[A-Za-z0-9]{20,}"), r"\1***"),
    (re.compile(r"\b(xox[abprs]-)[A-Za-z0-9-]{10,}"), r"\1***"),
    # JWTs (three base64url parts)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "eyJ***"),
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with key-shaped strings and the given ``secrets`` (e.g. the channel's own keys)
    replaced by ``***``."""
    for s in secrets:
        if s and len(s) >= 6 and s in text:
            text = text.replace(s, s[:3] + "***")
    for rx, repl in _PATTERNS:
        text = rx.sub(repl, text)
    return text
