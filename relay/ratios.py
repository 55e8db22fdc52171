"""One API's billing ratios (REFERENCE.md §5.11): ratio 1 = $0.002 / 1K tokens.

The tables are the defaults of the ModelRatio / CompletionRatio / GroupRatio
options; the live values come from :class:`models.options.Options`.
"""

from __future__ import annotations

import math
from typing import Any

USD_PER_RATIO = 0.002  # $ per 1K tokens at ratio 1
UNKNOWN_MODEL_RATIO = 30.0


def _usd_per_million(price: float) -> float:
    """A $/1M-token price as a model ratio."""
    return round(price / 1000 / USD_PER_RATIO, 6)


MODEL_RATIO: dict[str, float] = {
    # OpenAI
    "gpt-3.5-turbo": 0.25, "gpt-3.5-turbo-0125": 0.25, "gpt-3.5-turbo-1106": 0.5,
    "gpt-3.5-turbo-instruct": 0.75, "gpt-3.5-turbo-16k": 1.5,
    "gpt-4": 15, "gpt-4-0613": 15, "gpt-4-32k": 30, "gpt-4-turbo": 5, "gpt-4-turbo-preview": 5,
    "gpt-4-1106-preview": 5, "gpt-4-0125-preview": 5,
    "gpt-4o": 2.5, "gpt-4o-2024-05-13": 2.5, "gpt-4o-2024-08-06": 1.25,
    "gpt-4o-2024-11-20": 1.25, "chatgpt-4o-latest": 2.5,
    "gpt-4o-mini": 0.075, "gpt-4o-mini-2024-07-18": 0.075,
    "gpt-4.1": _usd_per_million(2), "gpt-4.1-mini": _usd_per_million(0.4),
    "gpt-4.1-nano": _usd_per_million(0.1),
    "o1": 7.5, "o1-preview": 7.5, "o1-mini": 1.5, "o3-mini": 0.55, "o3": _usd_per_million(2),
    "o4-mini": 0.55,
    "text-embedding-ada-002": 0.05, "text-embedding-3-small": 0.01, "text-embedding-3-large": 0.065,
    "text-moderation-latest": 0.1, "text-moderation-stable": 0.1,
    "davinci-002": 1, "babbage-002": 0.2,
    "dall-e-2": 8, "dall-e-3": 20, "whisper-1": 15, "tts-1": 7.5, "tts-1-hd": 15,
    # Anthropic
    "claude-instant-1.2": 0.4, "claude-2.0": 4.0, "claude-2.1": 4.0,
    "claude-3-haiku-20240307": 0.125, "claude-3-5-haiku-20241022": 0.5,
    "claude-3-sonnet-20240229": 1.5, "claude-3-5-sonnet-20240620": 1.5,
    "claude-3-5-sonnet-20241022": 1.5, "claude-3-5-sonnet-latest": 1.5,
    "claude-3-7-sonnet-20250219": 1.5, "claude-sonnet-4-20250514": 1.5,
    "claude-3-opus-20240229": 7.5, "claude-opus-4-20250514": 7.5,
    # Google
    "gemini-pro": 0.25, "gemini-1.0-pro": 0.25, "gemini-1.5-pro": 0.625,
    "gemini-1.5-flash": 0.0375, "gemini-2.0-flash": 0.05, "gemini-2.5-pro": 0.625,
    "gemini-2.5-flash": 0.15,
    # DeepSeek, Mistral, Moonshot, Groq, xAI
    "deepseek-chat": 0.07, "deepseek-reasoner": 0.275,
    "mistral-large-latest": 1.0, "mistral-small-latest": 0.1, "open-mistral-nemo": 0.075,
    "mistral-embed": 0.05,
    "moonshot-v1-8k": 0.857, "moonshot-v1-32k": 1.714, "moonshot-v1-128k": 4.286,
    "llama-3.1-8b-instant": 0.025, "llama-3.3-70b-versatile": 0.295, "mixtral-8x7b-32768": 0.12,
    "grok-2": 1.0, "grok-beta": 2.5,
}

COMPLETION_RATIO: dict[str, float] = {
    "gpt-4o": 4, "gpt-4o-mini": 4, "gpt-4": 2, "gpt-4.1": 4, "gpt-4.1-mini": 4, "gpt-4.1-nano": 4,
    "deepseek-chat": 2, "deepseek-reasoner": 4,
}

GROUP_RATIO: dict[str, float] = {"default": 1, "vip": 1, "svip": 1}


def model_ratio(table: dict[str, Any], model: str, channel_type: int) -> float:
    """``model(channelType)`` overrides ``model``; unknown models cost 30 (One API)."""
    for key in (f"{model}({channel_type})", model):
        v = table.get(key)
        if isinstance(v, (int, float)):
            return float(v)
    return UNKNOWN_MODEL_RATIO


def completion_ratio(table: dict[str, Any], model: str, channel_type: int = 0) -> float:
    """Explicit table entry first, else One API's prefix rules."""
    for key in (f"{model}({channel_type})", model):
        v = table.get(key)
        if isinstance(v, (int, float)):
            return float(v)
    m = model.lower()
    if m.startswith("gpt-3.5"):
        if m == "gpt-3.5-turbo" or m.endswith("0125"):
            return 3
        if m.endswith("1106"):
            return 2
        return 4 / 3
    if m.startswith("gpt-4o") or m.startswith("chatgpt-4o") or m.startswith("gpt-4.1"):
        return 4
    if m.startswith("gpt-4"):
        if "turbo" in m or "preview" in m:
            return 3
        return 2
    if m.startswith("o1") or m.startswith("o3") or m.startswith("o4"):
        return 4
    if m.startswith("claude-3") or m.startswith("claude-sonnet-4") or m.startswith("claude-opus-4"):
        return 5
    if m.startswith("claude"):
        return 3
    if m.startswith("mistral") or m.startswith("gemini"):
        return 3
    if m.startswith("deepseek"):
        return 2
    return 1


def group_ratio(table: dict[str, Any], group: str) -> float:
    v = table.get(group)
    return float(v) if isinstance(v, (int, float)) else 1.0


def quota_for(prompt: int, completion: int, ratio: float, comp_ratio: float) -> int:
    """``ceil((prompt + completion × completionRatio) × ratio)``; min 1 when tokens > 0."""
    if prompt + completion <= 0:
        return 0
    q = math.ceil((prompt + completion * comp_ratio) * ratio)
    return max(1, q)
