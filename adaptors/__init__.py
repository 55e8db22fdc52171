"""Adaptors: one per wire-format family, chosen for a channel type by the provider registry.

Every fact about a channel type lives in :mod:`adaptors.registry`; this module only
joins each registry entry's ``adaptor`` family name to the adaptor instance that
speaks it (explicit, no import-time magic).
"""

from __future__ import annotations

from typing import Any

from .anthropic import AnthropicAdaptor
from .base import Adaptor
from .openai import AzureAdaptor, OpenAIAdaptor
from .registry import CHANNEL_TYPE_NAMES, PROVIDERS, ProviderSpec, spec

from .gemini import GeminiAdaptor
from .ollama import OllamaAdaptor
from .cohere import CohereAdaptor
from .cloudflare import CloudflareAdaptor
from .coze import CozeAdaptor
from .deepl import DeepLAdaptor
from .palm import PaLMAdaptor
from .aiproxy_library import AIProxyLibraryAdaptor
from .bedrock import BedrockAdaptor
from .tencent import TencentAdaptor
from .zhipu import ZhipuAdaptor
from .ali import AliAdaptor
from .baidu import BaiduAdaptor
from .vertex import VertexAdaptor
from .xunfei import XunfeiAdaptor
from .replicate import ReplicateAdaptor
# (imports of further adaptor families go above this line)


def families(settings: Any = None) -> tuple[Adaptor, ...]:
    """The adaptor families; a registry entry names one (``ProviderSpec.adaptor``). ``settings``
    (services.context.Settings) carries the few deployment-wide adaptor options."""
    return (
        OpenAIAdaptor(),
        AzureAdaptor(),
        AnthropicAdaptor(),
        GeminiAdaptor(settings),
        OllamaAdaptor(),
        CohereAdaptor(),
        CloudflareAdaptor(),
        DeepLAdaptor(),
        CozeAdaptor(),
        PaLMAdaptor(),
        AIProxyLibraryAdaptor(),
        BedrockAdaptor(),
        TencentAdaptor(),
        ZhipuAdaptor(),
        AliAdaptor(),
        BaiduAdaptor(),
        VertexAdaptor(settings),
        XunfeiAdaptor(),
        ReplicateAdaptor(),
        # (further adaptor families go above this line)
    )


FAMILIES: tuple[Adaptor, ...] = families()


def build_registry(settings: Any = None) -> dict[int, Adaptor]:
    """channel type -> the adaptor that relays it (types not relayed yet are absent)."""
    by_name = {a.name: a for a in families(settings)}
    return {t: by_name[s.adaptor] for t, s in PROVIDERS.items() if s.adaptor in by_name}


__all__ = ["Adaptor", "FAMILIES", "build_registry", "families", "CHANNEL_TYPE_NAMES", "PROVIDERS",
           "ProviderSpec", "spec"]
