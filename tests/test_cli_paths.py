"""Every command answers a missing, dangling or unreadable path with one sentence naming the path and
what to do, and exit status 2: never a traceback (issue 33)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hdmann.book import cli

COMMANDS = {  # command -> its arguments given a data root
    "run": lambda root: ["run", "study_a_model", "--profile", "smoke", "--data-root", root],
    "status": lambda root: ["status", "study_a_model", "--profile", "smoke", "--data-root", root],
    "book": lambda root: ["book", "--profile", "smoke", "--chapters", "data", "--data-root", root],
    "check": lambda root: ["check", "--data-root", root],
    "verdicts": lambda root: ["verdicts", "--profile", "smoke", "--data-root", root],
    "lab": lambda root: ["lab", "--profile", "smoke", "--dry-run", "--data-root", root],
    "info": lambda root: ["info", "--data-root", root],
}


def _roots(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Bad data roots: (path, words the sentence says)."""
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "gone")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    return {"missing": (tmp_path / "nowhere", "does not exist"),
            "dangling link": (dangling, "is a symbolic link to"),
            "a file": (a_file, "is a file, not a folder")}


@pytest.mark.parametrize("kind", ["missing", "dangling link", "a file"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_bad_data_root_is_one_sentence_and_exit_2(tmp_path, capsys, command, kind):
    root, words = _roots(tmp_path)[kind]
    assert cli.main(COMMANDS[command](str(root))) == 2
    captured = capsys.readouterr()
    said = captured.err if command != "info" else captured.out.splitlines()[-1]
    assert str(root) in said and words in said and "HDMANN_DATA" in said, said
    if command != "info":  # info prints the versions first, then the one sentence
        assert captured.err.count("\n") == 1 and captured.err.startswith(f"hdmann {command}: error: "), captured.err


def test_fetch_into_a_path_that_cannot_be_a_folder_is_one_sentence(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert cli.main(["fetch", "mias", "--data-root", str(a_file / "data")]) == 2  # refused before any download
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(a_file / "data") in err and "not a folder" in err, err


def test_compare_with_a_missing_file_is_one_sentence(tmp_path, capsys):
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"format": 1, "values": []}))
    assert cli.main(["compare", str(tmp_path / "missing.json"), str(ok)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.json" in err and "no such file" in err, err


def test_an_unusable_cache_folder_is_one_sentence(tmp_path, capsys, monkeypatch, synthetic_root):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    monkeypatch.setenv("HDMANN_CACHE", str(a_file / "cache"))
    assert cli.main(["run", "study_a_model", "--profile", "smoke", "--data-root", str(synthetic_root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(a_file) in err and "is a file, not a folder" in err and "HDMANN_CACHE" in err, err


def test_no_traceback_from_the_command_line(tmp_path):
    """The same through the installed entry point, as a user types it."""
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "gone")
    for command in ("run", "status", "check"):
        out = subprocess.run([sys.executable, "-m", "hdmann.book.cli", *COMMANDS[command](str(dangling))],
                             capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        assert out.returncode == 2 and "Traceback" not in out.stderr and str(dangling) in out.stderr, out.stderr
