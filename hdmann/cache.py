"""A content-keyed cache for expensive results, written atomically.

An entry lives in ``<cache root>/<name>/<key>/`` where the key hashes the parameters that
produced it and the source of the modules that computed it (showyourwork's idea: plotting
can change freely without retraining). Entries are built in a temporary sibling folder and
renamed into place, so an interrupted run leaves nothing half-written and resumes from the
entries that were finished. Each entry's meta.json lists the size of every file written, so an
entry damaged later (truncated by a killed copy, say) is detected on load, reported and rebuilt;
a full disk while writing removes the half-written entry, leaves every other one intact and
says so (:class:`CacheWriteError`).
"""
from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import shutil
import tempfile
import warnings
import zipfile
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


class CacheWriteError(OSError):
    """Writing a cache entry failed (a full disk); nothing already in the cache was changed."""


class CacheCorrupt(RuntimeError):
    """A cache entry on disk is truncated or unreadable; it must be rebuilt, never loaded."""


class CacheRepair(UserWarning):
    """A damaged cache entry was found and is being rebuilt."""


DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def _manifest(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != META}


def verify_entry(folder: Path) -> None:
    """Raise :class:`CacheCorrupt` unless meta.json parses and every file it lists has its size."""
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError) as exc:
        raise CacheCorrupt(f"cache entry {str(folder)!r}: meta.json is unreadable ({exc})") from exc
    if not isinstance(meta, dict):
        raise CacheCorrupt(f"cache entry {str(folder)!r}: meta.json holds no object")
    for rel, size in (meta.get("_files") or {}).items():
        path = folder / rel
        actual = path.stat().st_size if path.is_file() else None
        if actual != size:
            raise CacheCorrupt(f"cache entry {str(folder)!r}: {rel} is "
                               + ("missing" if actual is None else f"{actual} bytes, not the {size} written")
                               + " (truncated or damaged, e.g. by a killed process)")


def cached_dir(name: str, params: dict[str, Any], build: Callable[[Path], None], *,
               code: Iterable[str], root: str | os.PathLike | None = None, rebuild: bool = False) -> Path:
    """Return the entry folder, calling ``build(tmp_folder)`` only if it does not exist yet.

    A damaged entry (meta.json unreadable, a file shorter than written) is reported with a
    :class:`CacheRepair` warning and rebuilt; ``rebuild=True`` forces that. If writing fails for
    lack of space, :class:`CacheWriteError` says so and every earlier entry stays as it was."""
    code = tuple(code)
    final = cache_root(root) / name / entry_key(params, code)
    if (final / META).is_file() and not rebuild:
        try:
            verify_entry(final)
            return final
        except CacheCorrupt as exc:
            warnings.warn(CacheRepair(f"{exc}; rebuilding it"), stacklevel=2)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part"))
    try:
        build(tmp)
        meta_path = tmp / META
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        meta["_params"] = _jsonable(params)
        meta["_code"] = list(code)
        meta["_files"] = _manifest(tmp)
        meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
        if final.exists():  # an older incomplete or damaged entry: set it aside, then replace it
            aside = final.with_name(f".{final.name}.{os.getpid()}.old")
            os.rename(final, aside)
            os.rename(tmp, final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            raise CacheWriteError(
                exc.errno, f"no space left while writing cache entry {name}/{final.name} under "
                f"{str(final.parent.parent)!r} ({exc.strerror or exc}). The half-written entry was removed; "
                "every entry already in the cache is unchanged. Free disk space (or point HDMANN_CACHE at "
                "a larger disk) and run again: finished entries are reused.") from exc
        raise
    return final


def cached(name: str, params: dict[str, Any], make: Callable[[], dict[str, Any]], *,
           code: Iterable[str], root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Memoise ``make()``, whose dict holds numpy arrays and JSON-able values.

    An entry that fails to load (truncated arrays, unreadable meta.json) is reported and rebuilt."""

    def build(folder: Path) -> None:
        result = make()
        arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
        other = {k: _jsonable(v) for k, v in result.items() if not isinstance(v, np.ndarray)}
        np.savez(folder / ARRAYS, **arrays)
        (folder / META).write_text(json.dumps({"values": other}, indent=1, sort_keys=True))

    folder = cached_dir(name, params, build, code=code, root=root)
    try:
        return load_entry(folder)
    except CacheCorrupt as exc:
        warnings.warn(CacheRepair(f"{exc}; rebuilding it"), stacklevel=2)
        return load_entry(cached_dir(name, params, build, code=code, root=root, rebuild=True))


def load_entry(folder: Path) -> dict[str, Any]:
    """The values and arrays of an entry; :class:`CacheCorrupt` (naming the entry) if it is damaged."""
    verify_entry(folder)
    meta = json.loads((folder / META).read_text())
    out = dict(meta.get("values", {}))
    if (folder / ARRAYS).is_file():
        try:
            with np.load(folder / ARRAYS, allow_pickle=False) as npz:
                out.update({k: npz[k] for k in npz.files})
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise CacheCorrupt(f"cache entry {str(folder)!r}: {ARRAYS} is unreadable ({exc}); "
                               "delete the folder and it is rebuilt on the next run") from exc
    return out
