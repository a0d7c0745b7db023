"""What the data files hold: the SHA-256 of each file's bytes, remembered by how the file looks on disk.

Every stage's key hashes the content of every data file it reads (:func:`hdmann.engine.data.fingerprint_files`),
images and the metadata CSVs alike, so an edited ``labels.csv`` or an image rewritten at the same byte
size re-keys exactly the stages that read it. Hashing the ~2,000 images of the book on every plan
would cost seconds, so each digest is remembered in a small index in the cache folder
(``<cache root>/datahash/index.json``, written atomically) under the file's absolute path, byte size,
modification and change times (ns) and inode: a file whose stat is unchanged is not read again.
A file modified within :data:`RACY_S` seconds of its hashing is not remembered (its next change could
fall within the same timestamp tick), so it is hashed again next time, as git treats a racily-clean file.

Each set of files that enters a key is also written once as a manifest (``datahash/sets/<fingerprint>.json``:
each file's name and digest), so ``hdmann status`` can say which file changed when a data edit re-keys a stage.

This module also carries the two hooks that let a smoke build or a test check that a stage reads no
data file its key does not hash (:mod:`hdmann.engine.reads`): :func:`declare` (called for every file
whose digest enters a key) and :func:`note_read` (called by the loaders for every file they read).

Machinery, not code of any stage (:data:`hdmann.engine.stages.MACHINERY`): editing it re-keys nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from hdmann.engine import cache

INDEX = Path("datahash") / "index.json"
SETS = Path("datahash") / "sets"
RACY_S = 2.0
CHUNK = 1 << 20

_INDEX: dict[str, dict[str, list]] = {}  # cache root -> {path: [size, mtime_ns, ctime_ns, inode, sha256]}
_NEW: dict[str, dict[str, list | None]] = {}  # cache root -> entries to write (None: forget)
_RECORDERS: list[set] = []  # files declared while a stage's key is computed (innermost last)
_GUARD = None  # callable(path) while a checked stage body runs, else None


def _root() -> Path:
    return cache.cache_root()


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            if not block:
                return h.hexdigest()
            h.update(block)


def _signature(st: os.stat_result) -> list:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _index(root: Path) -> dict[str, list]:
    key = str(root)
    if key not in _INDEX:
        try:
            loaded = json.loads((root / INDEX).read_text())
            _INDEX[key] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            _INDEX[key] = {}  # none yet, or unreadable: digests are computed again and the index rewritten
    return _INDEX[key]


def remember(path, sha: str, st: os.stat_result | None = None, now_ns: int | None = None) -> None:
    """Remember ``sha`` as the digest of ``path`` as it is now (``st``: its stat when it was hashed)."""
    root = _root()
    path = os.path.abspath(path)
    try:
        st = st or os.stat(path)
    except OSError:
        return
    racy = (now_ns or time.time_ns()) - max(st.st_mtime_ns, st.st_ctime_ns) < RACY_S * 1e9
    entry = None if racy else [*_signature(st), sha]
    index = _index(root)
    if index.get(path) != entry:
        if entry is None:
            index.pop(path, None)
        else:
            index[path] = entry
        _NEW.setdefault(str(root), {})[path] = entry


def read_bytes(path) -> tuple[bytes, str]:
    """A file's bytes and their SHA-256, remembered for the next plan when the file did not change
    while it was read (``hdmann check`` reads every file anyway)."""
    before = os.stat(path)
    with open(path, "rb") as f:
        blob = f.read()
    sha = hashlib.sha256(blob).hexdigest()
    after = os.stat(path)
    if _signature(before) == _signature(after):
        remember(path, sha, after)
    return blob, sha


def file_digests(paths) -> dict[str, str]:
    """``{absolute path: SHA-256}`` of ``paths``, reading only the files whose stat changed since
    they were last hashed. Raises OSError (FileNotFoundError, PermissionError) naming a file it
    cannot stat or read."""
    root = _root()
    index = _index(root)
    out: dict[str, str] = {}
    now = time.time_ns()
    for p in paths:
        path = os.path.abspath(p)
        st = os.stat(path)
        known = index.get(path)
        if known is not None and known[:4] == _signature(st):
            out[path] = known[4]
            continue
        out[path] = sha256_file(path)
        remember(path, out[path], st, now)
    flush()
    return out


def flush() -> None:
    """Write what this process learnt into the index (merged with what others wrote meanwhile),
    atomically. A cache folder that cannot be written costs speed next time, never a key."""
    root = _root()
    new = _NEW.pop(str(root), None)
    if not new:
        return
    path = root / INDEX
    try:
        on_disk = json.loads(path.read_text())
        on_disk = on_disk if isinstance(on_disk, dict) else {}
    except (OSError, ValueError):
        on_disk = {}
    for name, entry in new.items():
        if entry is None:
            on_disk.pop(name, None)
        else:
            on_disk[name] = entry
    try:
        cache.atomic_write_bytes(path, json.dumps(on_disk, separators=(",", ":")).encode())
    except OSError:
        return
    _INDEX[str(root)] = {**on_disk, **{k: v for k, v in _index(root).items() if k not in on_disk}}


def write_manifest(fingerprint: str, named: dict[str, str]) -> None:
    """Keep which files (by their name in the key) and digests made ``fingerprint``, once."""
    path = _root() / SETS / f"{fingerprint}.json"
    if path.is_file():
        return
    try:
        cache.atomic_write_bytes(path, json.dumps(named, sort_keys=True, indent=0).encode())
    except OSError:
        pass


def manifest(fingerprint: str) -> dict[str, str] | None:
    try:
        loaded = json.loads((_root() / SETS / f"{fingerprint}.json").read_text())
        return loaded if isinstance(loaded, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def changed_files(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """What differs between two manifests, one phrase per file: ``mias/labels.csv changed``."""
    out = [f"{n} changed" for n in sorted(set(old) & set(new)) if old[n] != new[n]]
    out += [f"{n} added" for n in sorted(set(new) - set(old))]
    out += [f"{n} removed" for n in sorted(set(old) - set(new))]
    return out


# ------------------------------------------------------------------ what a stage declares and reads
def declare(paths) -> None:
    """``paths`` enter the key being computed (called by :func:`hdmann.engine.data.fingerprint_files`)."""
    if _RECORDERS:
        _RECORDERS[-1].update(os.path.abspath(p) for p in paths)


def note_read(path) -> None:
    """A loader reads ``path``: under a checked stage body, refuse it unless the stage's key hashes it."""
    if _GUARD is not None:
        _GUARD(os.path.abspath(path))
