"""results.json: glued values read back from executed notebooks, and `hdmann compare` between builds."""
from __future__ import annotations

import base64
import json

import pytest

from hdmann.book import cli, results


def _glue_output(name, bundle):
    return {"output_type": "display_data", "metadata": {"scrapbook": {"name": name, "mime_prefix": results.GLUE_PREFIX}},
            "data": {results.GLUE_PREFIX + k: v for k, v in bundle.items()}}


def _notebook():
    png = base64.b64encode(b"\x89PNG fake pixels").decode()
    outputs = [_glue_output("acc", {"text/plain": "0.7281553398058253"}),
               _glue_output("n", {"text/plain": "1697"}),
               _glue_output("profile", {"text/plain": "'smoke'"}),
               _glue_output("fig", {"image/png": png, "text/plain": "<Figure size 600x340 with 1 Axes>"}),
               _glue_output("n", {"text/plain": "1698"}),  # glued again: the last value is the page's
               {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "not glued"}}]
    return {"cells": [{"cell_type": "code", "outputs": outputs, "source": ""}]}


def test_glued_values_are_typed_and_the_last_one_wins():
    values = {v["name"]: v for v in results.glued_values(_notebook(), "data", "smoke")}
    assert set(values) == {"acc", "n", "profile", "fig"}
    assert values["acc"] == {"name": "acc", "chapter": "data", "profile": "smoke", "type": "number",
                             "value": 0.7281553398058253}
    assert values["n"]["value"] == 1698
    assert values["profile"]["type"] == "text" and values["profile"]["value"] == "smoke"
    assert values["fig"]["type"] == "figure" and values["fig"]["value"].startswith("sha256:")


def _build(tmp_path, name, values, profile="quick"):
    doc = {"format": results.FORMAT, "profile": profile, "provenance": {"commit": "abc", "finished": "t"},
           "values": [{"name": n, "chapter": c, "profile": profile, "type": t, "value": v} for c, n, t, v in values],
           "tables": []}
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


A = [("a", "acc", "number", 0.700), ("a", "n", "number", 64), ("a", "verdict", "text", "holds"),
     ("a", "fig", "figure", "sha256:1"), ("a", "gone", "number", 1.0)]
B = [("a", "acc", "number", 0.705), ("a", "n", "number", 64), ("a", "verdict", "text", "does not hold"),
     ("a", "fig", "figure", "sha256:2"), ("b", "new", "number", 2.0)]


def test_compare_sorts_moved_changed_and_missing(tmp_path):
    a, b = results.load(_build(tmp_path, "a.json", A)), results.load(_build(tmp_path, "b.json", B))
    report = results.compare(a, b)
    assert report["moved"] == [(("a", "acc"), 0.700, 0.705)]
    assert report["texts"] == [(("a", "verdict"), "holds", "does not hold")]
    assert report["figures"] == [("a", "fig")]
    assert report["only_a"] == [("a", "gone")] and report["only_b"] == [("b", "new")]
    assert report["unchanged"] == 1
    assert results.compare(a, b, abs_tol=0.01)["moved"] == []
    assert results.compare(a, b, rel_tol=0.01)["moved"] == []
    assert results.compare(a, b, rel_tol=0.001)["moved"] != []
    with pytest.raises(ValueError, match=">= 0"):
        results.compare(a, b, rel_tol=-1)


def test_compare_command_prints_what_moved(tmp_path, capsys):
    a, b = _build(tmp_path, "a.json", A), _build(tmp_path, "b.json", B, profile="paper")
    assert cli.main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "1 number(s) moved" in out and "a:acc" in out and "0.7" in out and "0.705" in out and "+0.7%" in out
    assert "holds' -> 'does not hold'" in out and "profile paper" in out
    assert cli.main(["compare", str(a), str(a)]) == 0
    assert "0 number(s) moved" in capsys.readouterr().out
    assert cli.main(["compare", str(a), str(b), "--atol", "0.01"]) == 1  # the text still changed


def test_compare_refuses_what_is_not_a_results_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert cli.main(["compare", str(bad), str(bad)]) == 2
    assert "not a results.json written by `hdmann book`" in capsys.readouterr().err
    assert cli.main(["compare", str(tmp_path / "missing.json"), str(bad)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_glue_all_refuses_a_name_a_glue_role_cannot_cite():
    import pytest
    from hdmann.book import report
    with pytest.raises(ValueError, match="one identifier"):
        report.glue_all({"acc q5": 0.5})
    with pytest.raises(ValueError, match="dict"):
        report.glue_all([("acc", 0.5)])


def test_the_landing_page_values_are_its_abstract_and_every_verdict_under_the_names_it_cites():
    from hdmann.book import summary, verdicts as book_verdicts
    from hdmann.methods import verdicts as vd

    held = vd.Verdict(vd.Claim("A1", "Study A", "accuracy flat", short="flat to q20"), vd.HOLDS, None, "rule")
    open_ = vd.Verdict(vd.Claim("B2", "Study B", "AUROC falls"), vd.UNDECIDED, None, "rule")
    records = {"study_a": [held], "study_b": [open_]}
    values = summary.page_values(records, "smoke")
    assert (values["profile"], values["n_claims"]) == ("smoke", "2")
    assert values["abstract_holds"] == "flat to q20 (A1)" and values["abstract_undecided"] == "B2"
    assert values["abstract_fails"] == values["abstract_untestable"] == "none"
    cited = {v["name"]: v["value"] for v in book_verdicts.values("smoke", records=records)}
    assert cited and all(values[name] == value for name, value in cited.items())
