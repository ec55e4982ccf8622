"""A third party adds a kind of currency with a package of its own, through entry points."""

from __future__ import annotations

import sys
import textwrap

from currencies import load_kinds
from gateway.config import settings_from_dict
from tests.support import config


def test_a_third_party_currency_kind(tmp_path, monkeypatch):
    (tmp_path / "gold_gateway.py").write_text(
        textwrap.dedent("""
        from currencies.kind import community_currency
        from currencies.unit import CurrencyUnit

        class GoldKind:
            name = "gold"

            def build(self, code, options):
                currency = community_currency(code, 1000, "grams of gold")
                return CurrencyUnit(code=code, kind=self.name, currency=currency, minor_per_major=1000)
    """)
    )
    dist = tmp_path / "gold_gateway-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: gold-gateway\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[gateway.currencies]\ngold = gold_gateway:GoldKind\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "gold" in load_kinds()
    data = config()
    data["currencies"]["XAUG"] = {"kind": "gold", "minimum_budget": "0.5"}
    settings = settings_from_dict(data)
    assert settings.currencies.get("XAUG").parse("1.25") == 1250
    assert settings.policies["XAUG"].minimum_budget == 500
    sys.modules.pop("gold_gateway", None)
