"""hdmann.cache: content-keyed entries, computed once, written atomically, keyed by code too."""
from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from hdmann import cache


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".part") or ".part" in p.name]


def test_cache_root_follows_env_and_argument(isolated_cache, tmp_path, monkeypatch):
    assert cache.cache_root() == isolated_cache.resolve()
    assert cache.cache_root(tmp_path / "x") == (tmp_path / "x").resolve()
    monkeypatch.delenv("HDMANN_CACHE")
    monkeypatch.chdir(tmp_path)
    assert cache.cache_root() == (tmp_path / "_cache").resolve()


def test_cached_computes_once_then_loads(isolated_cache):
    calls = []

    def make():
        calls.append(1)
        return {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "names": np.array(["a", "b"]),
                "n": 3, "score": np.float64(0.25), "info": {"epochs": [1, 2], "path": Path("p")}}

    params = {"size": 16, "qualities": (50, 10)}
    first = cache.cached("unit/demo", params, make, code=("data",))
    second = cache.cached("unit/demo", params, make, code=("data",))
    assert len(calls) == 1
    for out in (first, second):
        np.testing.assert_array_equal(out["x"], np.arange(6, dtype=np.float32).reshape(2, 3))
        assert out["x"].dtype == np.float32
        assert out["names"].tolist() == ["a", "b"]
        assert out["n"] == 3 and out["score"] == 0.25
        assert out["info"] == {"epochs": [1, 2], "path": "p"}
    entries = list((isolated_cache / "unit" / "demo").iterdir())
    assert len(entries) == 1
    meta = json.loads((entries[0] / cache.META).read_text())
    assert meta["_params"] == {"qualities": [50, 10], "size": 16}
    assert meta["_code"] == ["data"]
    # a list and a tuple of the same values are the same parameters
    cache.cached("unit/demo", {"size": 16, "qualities": [50, 10]}, make, code=("data",))
    assert len(calls) == 1


def test_different_params_make_different_entries(isolated_cache):
    calls = []

    def make_for(value):
        def make():
            calls.append(value)
            return {"v": np.array([value])}
        return make

    a = cache.cached("unit/p", {"q": 1}, make_for(1), code=())
    b = cache.cached("unit/p", {"q": 2}, make_for(2), code=())
    assert calls == [1, 2]
    assert a["v"].tolist() == [1] and b["v"].tolist() == [2]
    assert len(list((isolated_cache / "unit" / "p").iterdir())) == 2
    # the parameter dict's key order does not matter
    assert cache.entry_key({"a": 1, "b": 2}, ()) == cache.entry_key({"b": 2, "a": 1}, ())
    assert cache.entry_key({"a": 1}, ()) != cache.entry_key({"a": 2}, ())


def test_entry_key_depends_on_the_code_it_names():
    params = {"a": 1}
    assert cache.entry_key(params, ("data",)) != cache.entry_key(params, ("data", "train"))
    assert cache.entry_key(params, ("data", "train")) == cache.entry_key(params, ("train", "data"))
    assert cache.code_fingerprint(["data"]) != cache.code_fingerprint(["train"])
    assert len(cache.code_fingerprint(["data", "cache"])) == 16


@pytest.fixture
def probe_module(tmp_path, monkeypatch):
    """A stand-in ``hdmann.<module>`` whose source file the test can edit."""
    source = tmp_path / "probe_source.py"
    source.write_text("VALUE = 1\n")
    module = types.ModuleType("hdmann.cacheprobe")
    module.__file__ = str(source)
    monkeypatch.setitem(sys.modules, "hdmann.cacheprobe", module)
    return source


def test_code_change_invalidates_entry(probe_module, isolated_cache):
    calls = []

    def make():
        calls.append(1)
        return {"v": np.array([len(calls)])}

    before = cache.code_fingerprint(["cacheprobe"])
    assert cache.cached("unit/code", {"a": 1}, make, code=("cacheprobe",))["v"].tolist() == [1]
    assert cache.cached("unit/code", {"a": 1}, make, code=("cacheprobe",))["v"].tolist() == [1]
    probe_module.write_text("VALUE = 2  # the computation changed\n")
    assert cache.code_fingerprint(["cacheprobe"]) != before
    assert cache.cached("unit/code", {"a": 1}, make, code=("cacheprobe",))["v"].tolist() == [2]
    assert len(calls) == 2


def test_failing_make_leaves_nothing(isolated_cache):
    def make():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cache.cached("unit/fail", {"a": 1}, make, code=())
    folder = isolated_cache / "unit" / "fail"
    assert not folder.exists() or list(folder.iterdir()) == []
    assert _leftovers(isolated_cache) == []
    # and the next call computes for real
    assert cache.cached("unit/fail", {"a": 1}, lambda: {"ok": 1}, code=())["ok"] == 1


def test_unserialisable_result_leaves_nothing(isolated_cache):
    with pytest.raises(TypeError):
        cache.cached("unit/bad", {"a": 1}, lambda: {"x": object()}, code=())
    assert _leftovers(isolated_cache) == []
    assert list((isolated_cache / "unit" / "bad").iterdir()) == []


def test_failing_build_in_cached_dir_leaves_nothing(isolated_cache):
    def build(folder: Path):
        (folder / "model.keras").write_bytes(b"half a model")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.cached_dir("unit/dir", {"a": 1}, build, code=())
    assert list((isolated_cache / "unit" / "dir").iterdir()) == []


def test_cached_dir_builds_once_and_keeps_files(isolated_cache):
    calls = []

    def build(folder: Path):
        calls.append(folder)
        assert folder.name.endswith(".part")  # built aside, renamed into place
        (folder / "model.bin").write_bytes(b"weights")
        (folder / cache.META).write_text(json.dumps({"values": {"epochs": 3}}))

    a = cache.cached_dir("unit/dir", {"a": 1}, build, code=())
    b = cache.cached_dir("unit/dir", {"a": 1}, build, code=())
    assert a == b and len(calls) == 1
    assert (a / "model.bin").read_bytes() == b"weights"
    assert not a.name.endswith(".part")
    entry = cache.load_entry(a)
    assert entry["epochs"] == 3
    meta = json.loads((a / cache.META).read_text())
    assert meta["_params"] == {"a": 1}


def test_incomplete_entry_is_rebuilt(isolated_cache):
    key = cache.entry_key({"a": 1}, ())
    stale = isolated_cache / "unit" / "stale" / key
    stale.mkdir(parents=True)
    (stale / "junk").write_text("from an interrupted older run without meta.json")
    out = cache.cached("unit/stale", {"a": 1}, lambda: {"v": np.array([7])}, code=())
    assert out["v"].tolist() == [7]
    assert not (stale / "junk").exists()


def test_explicit_root_argument(tmp_path, isolated_cache):
    out = cache.cached("unit/root", {"a": 1}, lambda: {"v": 1}, code=(), root=tmp_path / "elsewhere")
    assert out["v"] == 1
    assert (tmp_path / "elsewhere" / "unit" / "root").is_dir()
    assert not (isolated_cache / "unit" / "root").exists()


def test_atomic_write_bytes_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "dir" / "table.csv"
    cache.atomic_write_bytes(path, b"x" * 1000)  # makes the parent folders
    assert path.read_bytes() == b"x" * 1000
    cache.atomic_write_bytes(path, b"short")
    assert path.read_bytes() == b"short"  # no tail of the longer old file
    assert sorted(p.name for p in path.parent.iterdir()) == ["table.csv"]


def test_atomic_write_bytes_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    cache.atomic_write_bytes(path, b"old contents")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        cache.atomic_write_bytes(path, b"new contents that never land")
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
