"""A content-keyed cache for expensive results, written atomically.

An entry lives in ``<cache root>/<name>/<key>/`` where the key hashes the parameters that
produced it and the source of the modules that computed it (showyourwork's idea: plotting
can change freely without retraining). Entries are built in a temporary sibling folder and
renamed into place, so an interrupted run leaves nothing half-written and resumes from the
entries that were finished; the temporary folder's name carries its writer's machine and pid, so
the next run removes those whose writer is gone (:func:`clean_stale_parts`). A lock file beside
the entry makes two processes (or two machines sharing the cache folder) that ask for one missing
entry build it once. Each entry's meta.json lists the size of every file written, so an
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
import socket
import tempfile
import threading
import time
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

ARRAYS = "arrays.npz"
META = "meta.json"


def project_folder() -> Path | None:
    """The checkout this package runs from (an editable install, as `make venv` makes), else None."""
    project = Path(__file__).resolve().parents[2]
    return project if (project / "pyproject.toml").is_file() and (project / "notebooks").is_dir() else None


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """Argument, then $HDMANN_CACHE, then the checkout's ``_cache`` (./_cache outside a checkout).

    Anchored to the checkout, not the working directory, so a notebook run from anywhere (a lab copy
    under ``_build/lab``, ``jupyter nbconvert --execute``, papermill, ``jupyter execute``) finds the
    stages ``make book`` built instead of starting a second cache beside itself and retraining."""
    chosen = root or os.environ.get("HDMANN_CACHE")
    if chosen:
        return Path(chosen).expanduser().resolve()
    project = project_folder()
    return (project / "_cache") if project else Path("_cache").resolve()


def usable_root(root: str | os.PathLike | None = None) -> Path:
    """The cache folder, created if needed, or one sentence (:class:`CacheWriteError`) when this user
    cannot write there, before a run spends anything on stages it could not keep."""
    path = cache_root(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        why = "a part of it is a file, not a folder" if isinstance(exc, (NotADirectoryError, FileExistsError)) \
            else (exc.strerror or str(exc)).lower()
        raise CacheWriteError(f"the cache folder {str(path)!r} cannot be written ({why}): point HDMANN_CACHE at a "
                              "folder this user can write (the default is the checkout's _cache/).") from None
    return path


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


HOST = socket.gethostname().replace(".", "-")
LOCK_SUFFIX = ".lock"
PART_SUFFIX = ".part"
LOCK_REFRESH_S = 20  # a live holder touches its lock this often
LOCK_STALE_S = 120  # a lock of another machine untouched this long is taken over


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_gone(lock: Path) -> bool:
    """The writer that took ``lock`` is dead: its pid is gone (same machine) or it stopped touching it."""
    try:
        age = time.time() - lock.stat().st_mtime
        info = json.loads(lock.read_text() or "{}")
    except FileNotFoundError:
        return False
    except (OSError, ValueError):  # written half by a writer killed at once: judge by age alone
        info = {}
    if info.get("host") == HOST and isinstance(info.get("pid"), int):
        return not _alive(info["pid"])
    return age > LOCK_STALE_S


@contextmanager
def entry_lock(final: Path, poll_s: float = 0.5):
    """Hold ``<entry>.lock`` (created with O_EXCL, so one process at a time on a shared filesystem too)
    while an entry is built; others wait for it. A lock whose writer died is taken over."""
    lock = final.with_name(final.name + LOCK_SUFFIX)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if _holder_gone(lock):
                aside = lock.with_name(f"{lock.name}.{HOST}.{os.getpid()}.stale")
                try:  # rename first: of two processes taking over the same stale lock, one wins
                    os.rename(lock, aside)
                    aside.unlink()
                except FileNotFoundError:
                    pass
                continue
            time.sleep(poll_s)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"host": HOST, "pid": os.getpid(), "since": time.time()}, f)
        break
    stop = threading.Event()

    def refresh():
        while not stop.wait(LOCK_REFRESH_S):
            try:
                os.utime(lock)
            except OSError:
                return

    beat = threading.Thread(target=refresh, daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        lock.unlink(missing_ok=True)


def _part_owner(part: Path) -> tuple[str, int] | None:
    """(host, pid) from a temporary folder named ``.<key>.<host>.<pid>.<random>.part``."""
    bits = part.name[:-len(PART_SUFFIX)].split(".")
    if len(bits) >= 5 and bits[-2].isdigit():
        return bits[-3], int(bits[-2])
    return None


def clean_stale_parts(root: str | os.PathLike | None = None, started: float | None = None) -> int:
    """Remove the half-written entries an interrupted or killed writer left; returns how many.

    A ``.part`` folder goes if its writer (same machine) is dead, or, from another machine or an
    older layout, if it is older than ``started`` (the start of this run) and no lock holds its entry."""
    root = cache_root(root)
    removed = 0
    if not root.is_dir():
        return 0
    for part in root.rglob(f".*{PART_SUFFIX}"):
        if not part.is_dir():
            continue
        owner = _part_owner(part)
        key = part.name[1:].split(".")[0]
        locked = (part.parent / (key + LOCK_SUFFIX)).exists()
        if owner and owner[0] == HOST:
            stale = not _alive(owner[1])
        else:
            stale = started is not None and part.stat().st_mtime < started and not locked
        if stale:
            shutil.rmtree(part, ignore_errors=True)
            removed += 1
    return removed


def entry_path(name: str, key: str, root: str | os.PathLike | None = None) -> Path:
    return cache_root(root) / name / key


def is_cached(folder: Path) -> bool:
    return (folder / META).is_file()


def cached_dir(name: str, params: dict[str, Any], build: Callable[[Path], None], *,
               code: Iterable[str] = (), root: str | os.PathLike | None = None, rebuild: bool = False,
               key: str | None = None, extra_meta: dict | None = None) -> Path:
    """Return the entry folder, calling ``build(tmp_folder)`` only if it does not exist yet.

    ``key`` (a stage's provenance key, see :mod:`hdmann.engine.stages`) replaces the key computed from
    ``params`` and ``code``. Two processes asking for one missing entry build it once: the second
    waits on the entry's lock, then loads. A damaged entry (meta.json unreadable, a file shorter
    than written) is reported with a :class:`CacheRepair` warning and rebuilt; ``rebuild=True``
    forces that. If writing fails for lack of space, :class:`CacheWriteError` says so and every
    earlier entry stays as it was."""
    code = tuple(code)
    final = cache_root(root) / name / (key or entry_key(params, code))
    if (final / META).is_file() and not rebuild:
        try:
            verify_entry(final)
            return final
        except CacheCorrupt as exc:
            warnings.warn(CacheRepair(f"{exc}; rebuilding it"), stacklevel=2)
            rebuild = True
    with entry_lock(final):
        if (final / META).is_file() and not rebuild:  # built by another process while we waited
            try:
                verify_entry(final)
                return final
            except CacheCorrupt:
                pass
        _build_entry(final, name, params, build, code, extra_meta)
    return final


BUILT: set[str] = set()  # entry folders this process built (not found built by another process)


def _build_entry(final: Path, name: str, params, build, code, extra_meta) -> None:
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.{HOST}.{os.getpid()}.",
                                suffix=PART_SUFFIX))
    try:
        build(tmp)
        meta_path = tmp / META
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        meta["_params"] = _jsonable(params)
        meta["_code"] = list(code)
        meta.update(_jsonable(extra_meta or {}))
        meta["_files"] = _manifest(tmp)
        meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True))
        if final.exists():  # an older incomplete or damaged entry: set it aside, then replace it
            aside = final.with_name(f".{final.name}.{os.getpid()}.old")
            os.rename(final, aside)
            os.rename(tmp, final)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(tmp, final)
        BUILT.add(str(final))
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            raise CacheWriteError(
                exc.errno, f"no space left while writing cache entry {name}/{final.name} under "
                f"{str(final.parent.parent)!r} ({exc.strerror or exc}). The half-written entry was removed; "
                "every entry already in the cache is unchanged. Free disk space (or point HDMANN_CACHE at "
                "a larger disk) and run again: finished entries are reused.") from exc
        raise


def cached(name: str, params: dict[str, Any], make: Callable[[], dict[str, Any]], *,
           code: Iterable[str] = (), root: str | os.PathLike | None = None, key: str | None = None,
           extra_meta: dict | None = None) -> dict[str, Any]:
    """Memoise ``make()``, whose dict holds numpy arrays and JSON-able values.

    An entry that fails to load (truncated arrays, unreadable meta.json) is reported and rebuilt."""

    def build(folder: Path) -> None:
        result = make()
        arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
        other = {k: _jsonable(v) for k, v in result.items() if not isinstance(v, np.ndarray)}
        np.savez(folder / ARRAYS, **arrays)
        (folder / META).write_text(json.dumps({"values": other}, indent=1, sort_keys=True))

    options = {"code": code, "root": root, "key": key, "extra_meta": extra_meta}
    folder = cached_dir(name, params, build, **options)
    try:
        return load_entry(folder)
    except CacheCorrupt as exc:
        warnings.warn(CacheRepair(f"{exc}; rebuilding it"), stacklevel=2)
        return load_entry(cached_dir(name, params, build, rebuild=True, **options))


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
