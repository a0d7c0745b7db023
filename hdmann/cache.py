"""A content-keyed cache for expensive results, written atomically.

An entry lives in ``<cache root>/<name>/<key>/`` where the key hashes the parameters that
produced it and the source of the modules that computed it (showyourwork's idea: plotting
can change freely without retraining). Entries are built in a temporary sibling folder and
renamed into place, so an interrupted run leaves nothing half-written and resumes from the
entries that were finished.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

ARRAYS = "arrays.npz"
META = "meta.json"


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """Argument, then $HDMANN_CACHE, then ./_cache."""
    return Path(root or os.environ.get("HDMANN_CACHE") or "_cache").expanduser().resolve()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def code_fingerprint(modules: Iterable[str]) -> str:
    """Hash of the source files of the named ``hdmann`` modules."""
    h = hashlib.sha256()
    for name in sorted(set(modules)):
        module = importlib.import_module(f"hdmann.{name}")
        h.update(name.encode())
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:16]


def entry_key(params: dict[str, Any], code: Iterable[str]) -> str:
    blob = json.dumps({"params": _jsonable(params), "code": code_fingerprint(code)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_dir(name: str, params: dict[str, Any], build: Callable[[Path], None], *,
               code: Iterable[str], root: str | os.PathLike | None = None) -> Path:
    """Return the entry folder, calling ``build(tmp_folder)`` only if it does not exist yet."""
    code = tuple(code)
    final = cache_root(root) / name / entry_key(params, code)
    if (final / META).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part"))
    try:
        build(tmp)
        meta_path = tmp / META
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        meta["_params"] = _jsonable(params)
        meta["_code"] = list(code)
        meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
        if final.exists():  # an older incomplete entry (no META): replace it
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def cached(name: str, params: dict[str, Any], make: Callable[[], dict[str, Any]], *,
           code: Iterable[str], root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Memoise ``make()``, whose dict holds numpy arrays and JSON-able values."""

    def build(folder: Path) -> None:
        result = make()
        arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
        other = {k: _jsonable(v) for k, v in result.items() if not isinstance(v, np.ndarray)}
        np.savez(folder / ARRAYS, **arrays)
        (folder / META).write_text(json.dumps({"values": other}, indent=1, sort_keys=True))

    return load_entry(cached_dir(name, params, build, code=code, root=root))


def load_entry(folder: Path) -> dict[str, Any]:
    meta = json.loads((folder / META).read_text())
    out = dict(meta.get("values", {}))
    if (folder / ARRAYS).is_file():
        with np.load(folder / ARRAYS, allow_pickle=False) as npz:
            out.update({k: npz[k] for k in npz.files})
    return out
