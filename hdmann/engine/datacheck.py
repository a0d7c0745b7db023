"""``hdmann check``: decode every image of the data root once and say what is wrong with it.

Each verdict (usable or not, the pixel digest, the conversion made) is stored under the cache
root, keyed by the SHA-256 of the file's bytes, the mode it is read in and the decoding policy
(the source of ``hdmann.engine.data`` and the Pillow version). A second check therefore only reads and
hashes the files, and a copy of the data (or a data root with a few damaged files) re-decodes only
what changed. Verdict files are written once and never rewritten, so a check never changes what
is already in the cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL

from hdmann.engine import cache, data, digests, parallel

VERDICTS = "datacheck"


def _policy() -> str:
    source = Path(data.__file__).read_bytes()
    return hashlib.sha256(source + PIL.__version__.encode()).hexdigest()[:12]


@dataclass
class Verdict:
    """What decoding one file by the policy gave."""

    ok: bool
    reason: str = ""  # why it is refused (without the path)
    remedy: str = ""
    digest: str = ""  # pixel_digest of the decoded stored-size pixels
    shape: tuple[int, ...] = ()
    note: str = ""  # the conversion made, if any
    file_sha256: str = ""


class VerdictStore:
    """Append-only verdicts under ``<cache root>/datacheck/<policy>/``."""

    def __init__(self, root=None):
        self.folder = cache.cache_root(root) / VERDICTS / _policy()
        self.decoded = self.reused = 0
        self.write_failed: str | None = None
        self._known: dict[tuple[Path, str], Verdict] = {}

    def _path(self, sha: str, mode: str) -> Path:
        return self.folder / sha[:2] / f"{sha}-{mode}.json"

    def _stored(self, sha: str, mode: str) -> Verdict | None:
        try:
            record = json.loads(self._path(sha, mode).read_text())
            return Verdict(**{**record, "shape": tuple(record["shape"])})
        except (OSError, ValueError, TypeError, KeyError):
            return None  # not checked yet, or an unreadable verdict: decode again

    def _store(self, result: Verdict, mode: str) -> None:
        stored = self._path(result.file_sha256, mode)
        try:
            cache.atomic_write_bytes(stored, json.dumps(result.__dict__).encode())
        except OSError as exc:  # a full or read-only disk costs speed next time, never a verdict
            self.write_failed = f"{exc.strerror or exc} ({stored.parent})"

    def verdict(self, path: Path, mode: str) -> Verdict:
        if (path, mode) in self._known:
            return self._known.pop((path, mode))
        try:
            blob, sha = digests.read_bytes(path)  # and remembered, so the next plan need not hash it again
        except OSError as exc:
            return Verdict(False, data._cannot_read(path, exc), data._READ_REMEDY)
        result = self._stored(sha, mode)
        if result is not None:
            self.reused += 1
            return result
        result = _decode_verdict(blob, path, mode, sha)
        self.decoded += 1
        self._store(result, mode)
        return result

    def prefetch(self, jobs: list[tuple[Path, str]], workers: int | None = None) -> None:
        """Decode the files not checked before in worker processes (a first check of 2,000
        images), so the later :meth:`verdict` calls find them ready."""
        todo = []
        for path, mode in jobs:
            try:
                sha = digests.read_bytes(path)[1]
            except OSError:
                continue  # verdict() reports it
            if self._stored(sha, mode) is None:
                todo.append((path, mode, sha))
        workers = max(1, min(workers or os.cpu_count() or 1, 8))
        if len(todo) < PARALLEL_MIN_FILES or workers == 1:
            return
        results = parallel.fork_map(_decode_file, todo, workers)  # workers run only Pillow and NumPy
        for (path, mode, _), result in zip(todo, results):
            self._store(result, mode)
            self._known[(path, mode)] = result
            self.decoded += 1


PARALLEL_MIN_FILES = 200  # fewer files decode faster in-process than shipped to workers


def _decode_verdict(blob: bytes, path: Path, mode: str, sha: str) -> Verdict:
    try:
        pixels, note = data.decode_bytes(blob, path, mode)
        return Verdict(True, digest=data.pixel_digest(pixels), shape=tuple(pixels.shape),
                       note=note or "", file_sha256=sha)
    except data.ImageRejected as exc:
        return Verdict(False, exc.reason, exc.remedy, file_sha256=sha)


def _decode_file(job) -> Verdict:
    path, mode, sha = job
    return _decode_verdict(path.read_bytes(), path, mode, sha)


def pixel_digests(paths, mode: str, root=None) -> list[str]:
    """The pixel digest of each file (decoding only files not checked before); refuses bad files."""
    store = VerdictStore(root)
    paths = [Path(p) for p in paths]
    store.prefetch([(p, mode) for p in paths])
    out = []
    for p in paths:
        v = store.verdict(Path(p), mode)
        if not v.ok:
            raise data.ImageRejected(p, v.reason, v.remedy)
        out.append(v.digest)
    return out



def film_groups(mias: data.MiasSet) -> np.ndarray:
    """Fold groups of the films: both films of a patient, and any pixel-identical films, share a
    group. Pixel digests come from the verdicts of ``hdmann check`` (decoded once, then reused)."""
    return data.duplicate_groups(pixel_digests([mias.path(n) for n in mias.names], "L"), mias.patient)


@dataclass
class CheckReport:
    root: Path
    images: dict[str, int] = field(default_factory=dict)  # checked images per dataset
    bad: list[tuple[str, str]] = field(default_factory=list)  # (file or folder, reason and remedy)
    converted: list[tuple[str, str]] = field(default_factory=list)  # (file, conversion)
    identical: dict[str, list[list[str]]] = field(default_factory=dict)  # groups of pixel-identical files
    across_splits: int = 0  # isic4 identical groups with members in train and test
    skipped: list[str] = field(default_factory=list)  # what was left out on purpose
    copies: list[tuple[str, str]] = field(default_factory=list)  # (dropped copy, original kept)
    decoded: int = 0
    reused: int = 0
    seconds: float = 0.0
    cache_note: str | None = None

    @property
    def ok(self) -> bool:
        return not self.bad

    def identical_images(self, dataset: str) -> int:
        """Images that have a pixel-identical twin (all members of every group)."""
        return sum(len(g) for g in self.identical.get(dataset, []))

    def lines(self) -> list[str]:
        out = [f"hdmann check: {sum(self.images.values())} images decoded or verified in {self.seconds:.1f} s "
               f"({self.decoded} decoded, {self.reused} verdicts reused)"]
        for name, n in self.images.items():
            groups = self.identical.get(name, [])
            out.append(f"  {name}: {n} images; {len(groups)} group(s) of pixel-identical images "
                       f"({self.identical_images(name)} images)"
                       + (f": {'; '.join(' = '.join(_escaped(m) for m in g) for g in groups[:4])}" if groups else "")
                       + ("; split together by data.duplicate_groups" if groups else ""))
        if self.across_splits:
            out.append(f"  isic4: {self.across_splits} identical group(s) span the train and test folders")
        if self.converted:
            kinds = Counter(note for _, note in self.converted)
            out.append("  converted by the decoding policy: " + "; ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))
                       + f" (e.g. {_escaped(self.converted[0][0])})")
        out.append("  skipped on purpose: " + ("; ".join(_escaped(k) for k in self.skipped) if self.skipped else "nothing"))
        if self.cache_note:
            out.append(f"  note: verdicts could not be stored ({self.cache_note}); the next check decodes again")
        if self.bad:
            out.append(f"{len(self.bad)} bad file(s) or folder(s):")
            out += [f"  {_escaped(path)}: {_escaped(reason)}" for path, reason in self.bad]
        else:
            out.append("  all images usable")
        return out


def _escaped(text: str) -> str:
    """A name or a sentence as one line of the report: control characters escaped (a newline in a
    file name cannot forge a line such as "all images usable")."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _isic(report: CheckReport, root: Path, store: VerdictStore) -> None:
    try:
        folder = data.dataset_dir("isic4", root)
    except data.DataError as exc:
        report.bad.append(("isic4/", str(exc)))
        return
    found: dict[str, list[tuple[str, str]]] = {}
    count, other_folders, other_files = 0, set(), []
    for split in data.ISIC_SPLITS:
        try:
            scan = data.scan_isic(split, root)
        except data.DataError as exc:
            report.bad.append((f"isic4 {split}", str(exc)))
            continue
        other_folders |= {f"{split}: {f}" for f in scan.other_folders}
        other_files += scan.other_files
        report.copies += [(str(q.relative_to(folder)), str(k.relative_to(folder))) for q, k in scan.copies]
        for path, _ in scan.items:
            count += 1
            v = store.verdict(path, "RGB")
            rel = str(path.relative_to(folder))
            if not v.ok:
                report.bad.append((str(path), f"{v.reason}. {v.remedy}"))
                continue
            for note in _notes(v):
                report.converted.append((str(path), note))
            found.setdefault(v.digest, []).append((split, rel))
    report.images["isic4"] = count
    groups = [members for members in found.values() if len(members) > 1]
    report.identical["isic4"] = [[rel for _, rel in g] for g in groups]
    report.across_splits = sum(1 for g in groups if len({s for s, _ in g}) > 1)
    if other_folders:
        report.skipped.append(f"{len(other_folders)} isic4 diagnosis folder(s) outside the four classes "
                              f"({', '.join(sorted(other_folders))})")
    if report.copies:
        report.skipped.append(f"{len(report.copies)} byte-identical download copies ("
                              + ", ".join(f"{q} = {k}" for q, k in report.copies) + ")")
    if other_files:
        report.skipped.append(f"{len(other_files)} non-image file(s) in isic4 class folders "
                              f"(e.g. {other_files[0].name})")


STRETCHED = data.STRETCHED + " by the loaders"


def _notes(v: Verdict) -> list[str]:
    """What decoding and loading do to a usable image: each conversion, and stretching a non-square one."""
    notes = [n for n in v.note.split("; ") if n] if v.note else []
    if len(v.shape) >= 2 and v.shape[0] != v.shape[1]:
        notes.append(STRETCHED)
    return notes


def _mias(report: CheckReport, root: Path, store: VerdictStore) -> None:
    try:
        folder = data.dataset_dir("mias", root)
        mias, _ = data.mias_tables(folder)
    except data.DataError as exc:
        report.bad.append(("mias/", str(exc)))
        return
    names = [n for n in mias.names if data.FILE_NAME.match(n or "")]  # a name that is a path is reported, never opened
    present = [n for n in names if mias.path(n).is_file() or mias.path(n).is_symlink()]
    for n in names:
        if n not in present:
            report.bad.append((str(mias.path(n)), "is listed in images.csv but missing. " + data._how_to_get("mias")))
    found: dict[str, list[str]] = {}
    shapes: dict[str, tuple[int, int]] = {}
    for n in present:
        path = mias.path(n)
        v = store.verdict(path, "L")
        if not v.ok:
            report.bad.append((str(path), f"{v.reason}. {v.remedy}"))
            continue
        shapes[n] = tuple(v.shape[:2])
        if v.note:
            report.converted += [(str(path), note) for note in v.note.split("; ")]
        found.setdefault(v.digest, []).append(n)
    side = film_side(list(shapes.values()))
    for n, (height, width) in shapes.items():
        if (height, width) != (side, side):
            report.bad.append((str(mias.path(n)), f"is {width}x{height} pixels, but the films are {side}x{side}, the "
                               "size labels.csv's circles refer to and the loaders expect. Replace it with the original "
                               "film (delete it and run `hdmann fetch mias` again)"))
    _, problems = data.mias_tables(folder, side)
    report.bad += [("mias tables", problem) for problem in problems]
    report.images["mias"] = len(present)
    report.identical["mias"] = [g for g in found.values() if len(g) > 1]
    listed = set(names)
    extra = [p.name for p in data.listing(folder / "images") if p.stem not in listed and not p.name.startswith(".")] \
        if (folder / "images").is_dir() else []
    if extra:
        report.skipped.append(f"{len(extra)} file(s) in mias/images not listed in images.csv (e.g. {sorted(extra)[0]})")


def film_side(shapes: list[tuple[int, int]]) -> int:
    """The side every film must have: that of most films when square (mini-MIAS: 1024), else 1024."""
    if not shapes:
        return data.MIAS_SIZE
    (height, width), _ = Counter(shapes).most_common(1)[0]
    return height if height == width else data.MIAS_SIZE


def _jobs(root: Path, datasets=("isic4", "mias")) -> list[tuple[Path, str]]:
    """Every image the check will decode, found leniently (problems are reported later)."""
    jobs = []
    for split in data.ISIC_SPLITS if "isic4" in datasets else ():
        try:
            jobs += [(p, "RGB") for p, _ in data.scan_isic(split, root).items]
        except data.DataError:
            pass
    images = root / "mias" / "images"
    if "mias" in datasets and images.is_dir():
        try:
            jobs += [(p, "L") for p in data.listing(images) if p.suffix == ".png"]
        except data.DataError:
            pass
    return jobs


DECODED = ("isic4", "mias")


def check(data_root=None, cache_root=None, workers: int | None = None, datasets=DECODED) -> CheckReport:
    """Decode every image of isic4/ and mias/ (or of those ``datasets`` named) once (verdicts
    cached) and report what is wrong."""
    start = time.perf_counter()
    unknown = set(datasets) - set(DECODED)
    if unknown:
        raise ValueError(f"hdmann check decodes {DECODED}, not {sorted(unknown)}")
    root = data.resolve_data_root(data_root)
    report = CheckReport(root)
    store = VerdictStore(cache_root)
    store.prefetch(_jobs(root, datasets), workers)
    for name, part in (("isic4", _isic), ("mias", _mias)):
        if name in datasets:
            try:
                part(report, root, store)
            except data.DataError as exc:  # a folder that cannot be listed, say: one more line of the report
                report.bad.append((f"{name}/", str(exc)))
    digests.flush()
    report.decoded, report.reused, report.cache_note = store.decoded, store.reused, store.write_failed
    report.seconds = time.perf_counter() - start
    return report


def require_clean(data_root=None, log=print, datasets=DECODED) -> CheckReport:
    """Run the check, print its summary, and raise :class:`DataError` listing every bad file."""
    report = check(data_root, datasets=datasets)
    for line in report.lines():
        if log:
            log(line)
    if not report.ok:
        raise data.DataError(f"{len(report.bad)} problem(s) in the data under {str(report.root)!r}:\n"
                             + "\n".join(f"  {path}: {reason}" for path, reason in report.bad)
                             + "\nFix or remove these files and run `hdmann check` again.")
    return report

