"""Every glued value of a build in one ``results.json``, and which numbers moved between two builds.

The runner reads the glued values from the executed notebooks' outputs (MyST-NB stores each
``glue`` as an output tagged with its name), so a chapter needs nothing beyond its ``glue`` calls.
"""
from __future__ import annotations

import ast
import base64
import hashlib
import json
import math
from pathlib import Path

GLUE_PREFIX = "application/papermill.record/"
FORMAT = "hdmann-results/1"


def _value(bundle: dict) -> tuple[str, object]:
    """(type, value) of one glued output: numbers and text parsed from their repr, figures hashed."""
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime in bundle:
            payload = bundle[mime]
            raw = base64.b64decode(payload) if mime != "image/svg+xml" else "".join(payload).encode()
            return "figure", "sha256:" + hashlib.sha256(raw).hexdigest()[:16]
    text = bundle.get("text/plain")
    if text is None:
        return "other", None
    text = "".join(text) if isinstance(text, list) else text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return "text", text
    if isinstance(value, bool) or value is None:
        return "text", value
    if isinstance(value, (int, float)):
        return "number", value
    if isinstance(value, str):
        return "text", value
    return "other", text


def glued_values(notebook: dict, chapter: str, profile: str) -> list[dict]:
    """The glued values of one executed notebook, in the order they were glued (last one wins)."""
    found: dict[str, dict] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if not name:
                continue
            bundle = {k[len(GLUE_PREFIX):] if k.startswith(GLUE_PREFIX) else k: v
                      for k, v in output.get("data", {}).items()}
            kind, value = _value(bundle)
            found.pop(name, None)
            found[name] = {"name": name, "chapter": chapter, "profile": profile, "type": kind, "value": value}
    return list(found.values())


def write(path: Path, profile: str, provenance: dict, values: list[dict], tables: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "profile": profile, "provenance": provenance, "values": values, "tables": tables}
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=True))
    tmp.replace(path)
    return path


def load(path) -> dict:
    """A results.json, or a ValueError that says what is wrong with it."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (a built book has it at _build/html/results.json)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable results.json ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("values"), list):
        raise ValueError(f"{path}: not a results.json written by `hdmann book` (format {FORMAT})")
    return doc


def _moved(a: float, b: float, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return False
    return not math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def compare(a: dict, b: dict, rel_tol: float = 0.0, abs_tol: float = 0.0) -> dict:
    """Match values by (chapter, name) and sort them into moved numbers, changed texts and figures,
    and names found in only one build. A number moved when it differs beyond both tolerances."""
    if rel_tol < 0 or abs_tol < 0:
        raise ValueError("tolerances must be >= 0")
    index_a = {(v["chapter"], v["name"]): v for v in a["values"]}
    index_b = {(v["chapter"], v["name"]): v for v in b["values"]}
    report = {"moved": [], "unchanged": 0, "texts": [], "figures": [], "only_a": [], "only_b": []}
    for key in sorted(index_a.keys() | index_b.keys()):
        va, vb = index_a.get(key), index_b.get(key)
        if vb is None:
            report["only_a"].append(key)
        elif va is None:
            report["only_b"].append(key)
        elif va["type"] == vb["type"] == "number":
            if _moved(va["value"], vb["value"], rel_tol, abs_tol):
                report["moved"].append((key, va["value"], vb["value"]))
            else:
                report["unchanged"] += 1
        elif va["value"] == vb["value"]:
            report["unchanged"] += 1
        elif "figure" in (va["type"], vb["type"]):
            report["figures"].append(key)
        else:
            report["texts"].append((key, va["value"], vb["value"]))
    return report


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return repr(x) if isinstance(x, str) else str(x)


def format_report(report: dict, label_a: str, label_b: str) -> str:
    lines = [f"A: {label_a}", f"B: {label_b}",
             f"{len(report['moved'])} number(s) moved, {len(report['texts'])} text(s) and "
             f"{len(report['figures'])} figure(s) changed, {report['unchanged']} unchanged; "
             f"{len(report['only_a'])} only in A, {len(report['only_b'])} only in B"]
    if report["moved"]:
        rows = [(f"{c}:{n}", _fmt(x), _fmt(y), _fmt(y - x),
                 f"{(y - x) / abs(x):+.1%}" if x not in (0, 0.0) and math.isfinite(x) and math.isfinite(y) else "")
                for (c, n), x, y in report["moved"]]
        widths = [max(len(r[i]) for r in rows + [("value", "A", "B", "B - A", "rel.")]) for i in range(5)]
        lines.append("")
        lines.append("Numbers that moved:")
        for row in [("value", "A", "B", "B - A", "rel."), *rows]:
            lines.append("  " + "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    if report["texts"]:
        lines += ["", "Texts that changed:"] + [f"  {c}:{n}: {_fmt(x)} -> {_fmt(y)}" for (c, n), x, y in report["texts"]]
    if report["figures"]:
        lines += ["", "Figures whose pixels changed:"] + [f"  {c}:{n}" for c, n in report["figures"]]
    for key, title in (("only_a", "Only in A"), ("only_b", "Only in B")):
        if report[key]:
            lines += ["", f"{title}:"] + [f"  {c}:{n}" for c, n in report[key]]
    return "\n".join(lines)
