"""Anthropic Messages (type 14). Placeholder until the adaptor lands."""
from .base import Adaptor


class AnthropicAdaptor(Adaptor):
    name = "anthropic"
    channel_types = (14,)
