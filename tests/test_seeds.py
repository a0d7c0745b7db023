"""The seeds page's arithmetic: each number's spread over seeds, and the page's sentences."""
from __future__ import annotations

import math

import pytest

from hdmann.studies.seeds import report


def _row(values, number="acc_val_q5", chapter="study_a_model", glued=True):
    return {"chapter": chapter, "number": number, "glued": glued, "what": f"the {number}", "values": values}


def test_a_spread_is_the_seeds_mean_sd_and_range():
    r = report.spread(_row([0.5, 0.7, 0.6]))
    assert (r["seeds"], r["mean"], r["lowest"], r["highest"]) == (3, pytest.approx(0.6), 0.5, 0.7)
    assert r["sd"] == pytest.approx(0.1) and r["range"] == pytest.approx(0.2) and r["values"] == "0.500, 0.700, 0.600"


def test_one_seed_has_no_spread_and_the_summary_names_it():
    rows = report.spread_table([_row([0.5, 0.9]), _row([0.61], "orig_resnet18", "study_b_patches"),
                                _row([0.2, 0.25], "gain_q5", "study_a_beyond")])
    assert math.isnan(rows[1]["sd"]) and rows[1]["range"] == 0
    s = report.summary(rows)
    assert (s["numbers"], s["measured"], s["single_count"]) == (3, 2, 1)
    assert s["widest_range"] == pytest.approx(0.4) and s["widest"] == "the acc_val_q5 (Study A: the model)"
    assert s["single_seed"] == "one, in Study B on patches"
    assert report.single_wording(["B", "B", "A"]) == "2 in B and 1 in A"
    assert report.single_wording(["B", "B"]) == "2, all in B" and report.single_wording([]).startswith("none")
    assert s["median_sd"] == pytest.approx((0.4 / math.sqrt(2) + 0.05 / math.sqrt(2)) / 2)


def test_the_page_says_what_a_change_of_machine_does_from_the_thread_setting():
    assert "the same to the bit" in report.machine_wording(1)
    assert "may differ in its last digits" in report.machine_wording(None)
    assert "4 compute threads" in report.machine_wording(4)
    assert all("XLA" not in report.machine_wording(n) and "_" not in report.machine_wording(n) for n in (1, None, 4))


def test_the_page_values_are_the_summary_s_under_the_names_the_prose_cites(monkeypatch):
    monkeypatch.setenv("HDMANN_XLA_THREADS", "1")
    values = report.page_values("smoke", [_row([0.5, 0.9]), _row([0.61], "orig_resnet18", "study_b_patches")])
    assert set(values) == {"profile", "machine_words", "n_numbers", "n_measured", "median_sd", "widest_range",
                           "widest", "single_seed"}
    assert (values["profile"], values["n_numbers"], values["n_measured"]) == ("smoke", 2, 1)
    assert values["widest_range"] == pytest.approx(0.4) and values["single_seed"] == "one, in Study B on patches"
    assert values["machine_words"] == report.machine_wording(1)
