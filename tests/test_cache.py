"""hdmann.engine.cache: content-keyed entries, computed once, written atomically, keyed by code too."""
from __future__ import annotations

import errno
import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from hdmann.engine import cache


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".part") or ".part" in p.name]


def test_cache_root_follows_env_and_argument(isolated_cache, tmp_path, monkeypatch):
    assert cache.cache_root() == isolated_cache.resolve()
    assert cache.cache_root(tmp_path / "x") == (tmp_path / "x").resolve()
    monkeypatch.delenv("HDMANN_CACHE")
    monkeypatch.chdir(tmp_path)  # a notebook run from elsewhere (a lab copy, nbconvert) finds the checkout's cache
    assert cache.project_folder() is not None, "the tests run from a checkout (an editable install)"
    assert cache.cache_root() == cache.project_folder() / "_cache"
    monkeypatch.setattr(cache, "project_folder", lambda: None)  # an installed package: the working directory's
    assert cache.cache_root() == (tmp_path / "_cache").resolve()


def test_cached_computes_once_then_loads(isolated_cache):
    calls = []

    def make():
        calls.append(1)
        return {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "names": np.array(["a", "b"]),
                "n": 3, "score": np.float64(0.25), "info": {"epochs": [1, 2], "path": Path("p")}}

    params = {"size": 16, "qualities": (50, 10)}
    first = cache.cached("unit/demo", params, make, code=("engine.data",))
    second = cache.cached("unit/demo", params, make, code=("engine.data",))
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
    assert meta["_code"] == ["engine.data"]
    # a list and a tuple of the same values are the same parameters
    cache.cached("unit/demo", {"size": 16, "qualities": [50, 10]}, make, code=("engine.data",))
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
    assert cache.entry_key(params, ("engine.data",)) != cache.entry_key(params, ("engine.data", "methods.train"))
    assert cache.entry_key(params, ("engine.data", "methods.train")) == cache.entry_key(params, ("methods.train", "engine.data"))
    assert cache.code_fingerprint(["engine.data"]) != cache.code_fingerprint(["methods.train"])
    assert len(cache.code_fingerprint(["engine.data", "engine.cache"])) == 16


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


# ------------------------------------------------------------------- faults during a build
def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _entry(root: Path, name: str) -> Path:
    (folder,) = [p for p in (root / name).iterdir() if not p.name.startswith(".")]
    return folder


@pytest.mark.parametrize("damage", ["truncated arrays", "garbage arrays", "garbage meta", "empty meta"])
def test_damaged_entry_is_reported_and_rebuilt(isolated_cache, damage):
    calls = []

    def make():
        calls.append(1)
        return {"x": np.arange(1000, dtype=np.float64), "n": 3}

    cache.cached("unit/dmg", {"a": 1}, make, code=())
    entry = _entry(isolated_cache, "unit/dmg")
    arrays, meta = entry / cache.ARRAYS, entry / cache.META
    if damage == "truncated arrays":  # a copy killed half-way, e.g. onto another filesystem
        arrays.write_bytes(arrays.read_bytes()[: arrays.stat().st_size // 2])
    elif damage == "garbage arrays":  # same size, wrong bytes: only the load itself can tell
        arrays.write_bytes(b"\0" * arrays.stat().st_size)
    elif damage == "garbage meta":
        meta.write_text('{"values": {"n": 3')
    else:
        meta.write_bytes(b"")
    with pytest.warns(cache.CacheRepair, match="unit/dmg"):
        out = cache.cached("unit/dmg", {"a": 1}, make, code=())
    assert len(calls) == 2, "the damaged entry was rebuilt, never loaded as garbage"
    np.testing.assert_array_equal(out["x"], np.arange(1000, dtype=np.float64))
    assert out["n"] == 3
    assert _leftovers(isolated_cache) == [] and len(list((isolated_cache / "unit" / "dmg").iterdir())) == 1
    assert cache.cached("unit/dmg", {"a": 1}, make, code=())["n"] == 3 and len(calls) == 2


def test_truncated_file_of_a_dir_entry_is_rebuilt(isolated_cache):
    calls = []

    def build(folder: Path):
        calls.append(1)
        (folder / "model.bin").write_bytes(b"w" * 4096)

    entry = cache.cached_dir("unit/model", {"a": 1}, build, code=())
    (entry / "model.bin").write_bytes(b"w" * 100)
    with pytest.warns(cache.CacheRepair, match=r"model\.bin is 100 bytes, not the 4096 written"):
        again = cache.cached_dir("unit/model", {"a": 1}, build, code=())
    assert again == entry and (entry / "model.bin").read_bytes() == b"w" * 4096 and len(calls) == 2
    with pytest.raises(cache.CacheCorrupt, match="model.bin is missing"):
        (entry / "model.bin").unlink()
        cache.load_entry(entry)


def test_entries_without_a_file_list_still_load(isolated_cache):
    """Entries written before the file list existed are not treated as damaged."""
    cache.cached("unit/old", {"a": 1}, lambda: {"x": np.ones(3)}, code=())
    meta = _entry(isolated_cache, "unit/old") / cache.META
    record = json.loads(meta.read_text())
    del record["_files"]
    meta.write_text(json.dumps(record))
    assert cache.cached("unit/old", {"a": 1}, lambda: {"x": np.zeros(3)}, code=())["x"].tolist() == [1, 1, 1]


def test_full_disk_while_writing_keeps_the_cache_as_it_was(isolated_cache, monkeypatch):
    cache.cached("unit/keep", {"a": 1}, lambda: {"x": np.arange(5)}, code=())
    before = _snapshot(isolated_cache)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(np, "savez", full_disk)
        with pytest.raises(cache.CacheWriteError) as info:
            cache.cached("unit/new", {"a": 2}, lambda: {"x": np.arange(7)}, code=())
        message = str(info.value)
        assert "unit/new" in message and "no space left" in message
        assert "unchanged" in message and "HDMANN_CACHE" in message
        assert info.value.errno == errno.ENOSPC
        assert _snapshot(isolated_cache) == before and _leftovers(isolated_cache) == []
        # a damaged entry whose rebuild hits the full disk stays as it was (and is rebuilt next time)
        entry = _entry(isolated_cache, "unit/keep")
        (entry / cache.ARRAYS).write_bytes(b"PK broken")
        damaged = _snapshot(isolated_cache)
        with pytest.warns(cache.CacheRepair), pytest.raises(cache.CacheWriteError):
            cache.cached("unit/keep", {"a": 1}, lambda: {"x": np.arange(5)}, code=())
        assert _snapshot(isolated_cache) == damaged and _leftovers(isolated_cache) == []
    with pytest.warns(cache.CacheRepair):
        assert cache.cached("unit/keep", {"a": 1}, lambda: {"x": np.arange(5)}, code=())["x"].tolist() == list(range(5))


def test_other_os_errors_are_not_called_a_full_disk(isolated_cache):
    def build(folder: Path):
        raise FileNotFoundError("input missing")

    with pytest.raises(FileNotFoundError) as info:
        cache.cached_dir("unit/other", {"a": 1}, build, code=())
    assert not isinstance(info.value, cache.CacheWriteError)
