"""Adaptor registry: channel type -> Adaptor instance (explicit, no import-time magic)."""

from __future__ import annotations

from .anthropic import AnthropicAdaptor
from .base import Adaptor
from .openai import OpenAIAdaptor, AzureAdaptor, OPENAI_COMPATIBLE

# Channel types with a native adaptor (REFERENCE.md §4) that OneRelay does not
# implement yet: channels of these types are refused at routing time.
CHANNEL_TYPE_NAMES: dict[int, str] = {t: n for t, (n, _) in OPENAI_COMPATIBLE.items()}
CHANNEL_TYPE_NAMES.update({
    3: "Azure", 11: "PaLM", 14: "Anthropic", 15: "Baidu", 16: "Zhipu", 17: "Ali", 18: "Xunfei",
    21: "AIProxyLibrary", 23: "Tencent", 24: "Gemini", 30: "Ollama", 33: "AWS Bedrock", 34: "Coze",
    35: "Cohere", 37: "Cloudflare", 38: "DeepL", 42: "VertexAI", 43: "Proxy", 46: "Replicate",
})


def build_registry() -> dict[int, Adaptor]:
    registry: dict[int, Adaptor] = {}
    for adaptor in (OpenAIAdaptor(), AzureAdaptor(), AnthropicAdaptor()):
        for t in adaptor.channel_types:
            registry[t] = adaptor
    return registry


__all__ = ["Adaptor", "build_registry", "CHANNEL_TYPE_NAMES"]
