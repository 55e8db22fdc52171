"""The provider registry is the one source of channel-type facts, and it is complete."""

from __future__ import annotations

import re
from pathlib import Path

from adaptors import FAMILIES, build_registry
from adaptors.base import MODE_PATHS
from adaptors.registry import PROVIDERS, ProviderSpec
from relay.channel_test import BALANCE_SPECS
from tests.conftest import Gateway

ROOT = Path(__file__).resolve().parent.parent


def test_every_one_api_type_has_an_entry() -> None:
    assert sorted(PROVIDERS) == list(range(1, 52))
    names = [s.name for s in PROVIDERS.values()]
    assert len(set(names)) == len(names)
    for t, s in PROVIDERS.items():
        assert isinstance(s, ProviderSpec) and s.id == t and s.name
        assert s.base_url or s.base_url_required or not s.supported or s.adaptor == "azure", t
        assert re.fullmatch(r"#[0-9a-f]{6}", s.color), t


def test_every_claimed_mode_has_an_adaptor() -> None:
    families = {a.name: a for a in FAMILIES}
    registry = build_registry()
    for t, s in PROVIDERS.items():
        if s.adaptor is None:
            assert not s.supported and t not in registry
            continue
        assert s.adaptor in families, f"type {t} names adaptor {s.adaptor!r}, which does not exist"
        adaptor = families[s.adaptor]
        assert s.modes, t
        for mode in s.modes:
            assert mode in MODE_PATHS and mode in adaptor.modes, f"type {t}: {mode} has no adaptor"
        assert type(registry[t]) is type(adaptor)


def test_balance_readers_match_the_registry() -> None:
    assert set(BALANCE_SPECS) == {t for t, s in PROVIDERS.items() if s.balance}
    assert all(s.balance in (None, "USD", "CNY") for s in PROVIDERS.values())


def test_config_fields_and_key_templates_agree() -> None:
    for t, s in PROVIDERS.items():
        keys = {c.key for c in s.config}
        assert len(keys) == len(s.config), t
        for name in re.findall(r"{(\w+)}", s.key_from_config):
            assert name in keys, f"type {t}: key template uses {name}, not a config field"


def test_no_other_module_lists_channel_types() -> None:
    """The facts live in adaptors/registry.py only: no second table of type ids and names
    (the console reads GET /api/channel/types)."""
    copies = []
    for path in [*ROOT.glob("adaptors/*.py"), *ROOT.glob("relay/*.py"), *ROOT.glob("handlers/**/*.py"),
                 *ROOT.glob("services/*.py"), *ROOT.glob("frontend/src/**/*.ts")]:
        if path.name == "registry.py":
            continue
        text = path.read_text()
        if re.search(r"\b(11|24)\s*:\s*\(?\s*[\"'](?:PaLM|Google PaLM|Gemini|Google Gemini)", text) or \
                re.search(r"value:\s*24,\s*name:", text):
            copies.append(str(path.relative_to(ROOT)))
    assert copies == []


async def test_types_are_served_to_admins(gw: Gateway) -> None:
    data = await gw.ok("GET", "/api/channel/types")
    assert [d["id"] for d in data] == list(range(1, 52))
    azure = data[2]
    assert azure["name"] == "Azure OpenAI" and azure["supported"] and azure["base_url_required"]
    assert azure["config"][0]["key"] == "api_version"
    bedrock = data[32]
    assert bedrock["key_from_config"] == "{ak}|{sk}|{region}" and any(c["secret"] for c in bedrock["config"])
    stored = [d for d in data if not d["supported"]]  # stored, not relayed yet: no modes claimed
    assert all(d["modes"] == [] for d in stored)
    assert data[0]["balance"] == "USD" and "gpt-4o-mini" in data[0]["models"]
    code, anon = await gw.api("GET", "/api/channel/types", token=None)
    assert code == 401 and anon["success"] is False


def test_readme_channel_table_is_generated_from_the_registry() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("channel_table", ROOT / "scripts" / "channel_table.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert mod.readme_with_table(readme) == readme, "run: python scripts/channel_table.py --write"
