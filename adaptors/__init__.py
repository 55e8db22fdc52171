"""Adaptors: one per wire-format family, chosen for a channel type by the provider registry.

Every fact about a channel type lives in :mod:`adaptors.registry`; this module only
joins each registry entry's ``adaptor`` family name to the adaptor instance that
speaks it (explicit, no import-time magic).
"""

from __future__ import annotations

from .anthropic import AnthropicAdaptor
from .base import Adaptor
from .openai import AzureAdaptor, OpenAIAdaptor
from .registry import CHANNEL_TYPE_NAMES, PROVIDERS, ProviderSpec, spec

# The adaptor families; a registry entry names one of them (``ProviderSpec.adaptor``).
FAMILIES: tuple[Adaptor, ...] = (OpenAIAdaptor(), AzureAdaptor(), AnthropicAdaptor())


def build_registry() -> dict[int, Adaptor]:
    """channel type -> the adaptor that relays it (types not relayed yet are absent)."""
    by_name = {a.name: a for a in FAMILIES}
    return {t: by_name[s.adaptor] for t, s in PROVIDERS.items() if s.adaptor in by_name}


__all__ = ["Adaptor", "FAMILIES", "build_registry", "CHANNEL_TYPE_NAMES", "PROVIDERS", "ProviderSpec", "spec"]
