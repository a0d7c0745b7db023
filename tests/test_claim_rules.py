"""A claim is one record: its words and the rule that decides it, registered together, in order."""
from __future__ import annotations

import pytest

from hdmann.methods import verdicts as vd
from hdmann.studies.study_b import claims


def _toy(claim: vd.Claim, outcome: str):
    return lambda cfg, data_root=None: vd.from_parts(claim, [vd.Part("toy part", outcome)], None, "a toy rule")


def test_a_study_b_verdict_is_one_claim_record(monkeypatch):
    rules = vd.Rules()
    toy = vd.Claim("B9", "Study B", "A toy claim about patches", chapter=claims.CHAPTER)
    rules.decides(toy)(_toy(toy, vd.HOLDS))
    monkeypatch.setattr(claims, "RULES", rules)
    (verdict,) = claims.verdicts("smoke")
    assert (verdict.claim.id, verdict.outcome) == ("B9", vd.HOLDS)


def test_rules_keep_their_order_and_refuse_a_reused_id():
    rules = vd.Rules()
    first, second = vd.Claim("Z1", "Toy", "first"), vd.Claim("Z2", "Toy", "second")
    rules.decides(second)(_toy(second, vd.FAILS))
    rules.decides(first)(_toy(first, vd.HOLDS))
    assert [c.id for c in rules.claims] == ["Z2", "Z1"]
    assert [v.outcome for v in rules.decide(cfg=None)] == [vd.FAILS, vd.HOLDS]
    with pytest.raises(ValueError, match="Z1 already has a rule"):
        rules.decides(vd.Claim("Z1", "Toy", "another"))


def test_study_b_declares_each_claim_with_its_rule():
    assert [c.id for c in claims.CLAIMS] == ["B1", "B2", "B3", "B4"]
    assert claims.CLAIMS == claims.RULES.claims
