"""Download the real data from its original public hosts: ``hdmann fetch isic4|mias``.

The shared copies of both datasets came from third-party GitHub mirrors; this module rebuilds
the same project layout (see :mod:`hdmann.engine.data`) from the original hosts so anyone can
reproduce the book without those copies:

* ``isic4``: the ids, splits and classes are listed in ``resources/isic4_ids.csv``. That file
  was derived once from the shared copy's ``isic4/manifest.csv`` (``isic_id`` = stem of
  ``file``, plus its ``split`` and ``class``); it holds labels only, never images. Each image
  is fetched at full resolution from the ISIC Archive API and resized to 180x180, so the pixels
  differ from the Kaggle copy (which was already 180x180 and carried one q~95 JPEG generation).
* ``mias``: the mini-MIAS tarball from PEIPA. Each PGM is checked against
  ``resources/mias_pgm.sha256`` (the SHA-256 of the source files behind the shared copy), written
  as PNG and read back, and the ground-truth table is parsed as the shared copy's
  ``prepare.py`` did.

Every output is written atomically and a rerun skips whatever is already complete, so an
interrupted fetch resumes where it stopped. Nothing already downloaded is deleted on failure.
Only the standard library (urllib) plus Pillow and numpy are used.
"""
from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import os
import re
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

import numpy as np
import PIL
from PIL import Image, UnidentifiedImageError

from hdmann import __version__
from hdmann.engine import provenance
from hdmann.engine.cache import atomic_write_bytes
from hdmann.engine.data import ISIC_CLASSES, ISIC_SPLITS, MIAS_SIZE

DATASETS = ("isic4", "mias")
ISIC_API = "https://api.isic-archive.com"
MIAS_URL = "http://peipa.essex.ac.uk/pix/mias/all-mias.tar.gz"
RESOURCES = Path(__file__).resolve().parents[1] / "resources"
ISIC_IDS = RESOURCES / "isic4_ids.csv"
MIAS_CHECKSUMS = RESOURCES / "mias_pgm.sha256"
ISIC_SIZE = 180
MIAS_N_IMAGES = 322

ATTEMPTS = 3
BACKOFF_S = (1.0, 4.0)  # wait before the 2nd and the 3rd attempt
TIMEOUT_S = 60
CHUNK = 1 << 20
USER_AGENT = f"hdmann-fetch/{__version__} (research data download; Python urllib)"

Progress = Callable[[str], None]


class FetchError(RuntimeError):
    """A download failed or delivered unusable data; rerunning the same command resumes."""


RERUN = "Rerun the same command: it resumes where it stopped and keeps what was already downloaded."


# ---------------------------------------------------------------------------------------------
# HTTP with retries


def _open(url: str, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def _retrying(url: str, work: Callable[[], object]):
    """Run ``work`` (which talks to ``url``) up to ATTEMPTS times; transient failures back off.

    A 4xx answer (other than 408/429) will not change on retry, so it fails at once.
    """
    last: BaseException | None = None
    for attempt in range(ATTEMPTS):
        try:
            return work()
        except urllib.error.HTTPError as exc:
            if exc.code < 500 and exc.code not in (408, 429):
                raise FetchError(f"{url} answered HTTP {exc.code} {exc.reason}. The host or the URL "
                                 "may have changed; check it in a browser. " + RERUN) from exc
            last = exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:  # includes timeouts
            last = exc
        if attempt + 1 < ATTEMPTS:
            time.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
    raise FetchError(f"could not download {url} after {ATTEMPTS} attempts ({last}). "
                     "Check the network connection. " + RERUN) from last


def _get_bytes(url: str) -> bytes:
    def work() -> bytes:
        with _open(url) as response:
            return response.read()  # raises IncompleteRead if the body is short of Content-Length
    return _retrying(url, work)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range: bytes a-b/total`` header, None where absent."""
    match = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not match:
        return None, None
    start, total = match.groups()
    return (int(start) if start else None), (int(total) if total and total != "*" else None)


def _download_resumable(url: str, dest: Path, progress: Progress) -> None:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file with HTTP Range.

    A server that ignores Range (answers 200) gets a full download that overwrites the part file.
    ``dest`` only appears once the whole body has arrived.
    """
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)

    def work(use_range: bool = True) -> None:
        have = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={have}-"} if use_range and have else {}
        try:
            response = _open(url, headers)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and headers:  # asked past the end: complete already, or a stale part
                _, total = _content_range(exc.headers.get("Content-Range"))
                if total == have:
                    return
                return work(use_range=False)
            raise
        with response:
            start, total = _content_range(response.headers.get("Content-Range"))
            if headers and response.status == 206 and start == have:
                mode, done = "ab", have
                progress(f"  resuming at {have / 1e6:.1f} MB")
            elif response.status == 206:  # not the range we asked for: start over cleanly
                if not headers:
                    raise FetchError(f"{url} answered a full request with a partial body (HTTP 206).")
                response.close()
                return work(use_range=False)
            else:
                mode, done = "wb", 0
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                if headers:
                    progress("  the server ignored the Range request; downloading from the start")
            with open(part, mode) as f:
                while chunk := response.read(CHUNK):
                    f.write(chunk)
                    done += len(chunk)
                f.flush()
                os.fsync(f.fileno())
        if total is not None and done != total:  # a retry resumes from here
            raise ConnectionError(f"connection closed after {done} of {total} bytes")

    _retrying(url, work)
    os.replace(part, dest)


# ---------------------------------------------------------------------------------------------
# helpers


def _fetch_root(data_root) -> Path:
    """Like :func:`hdmann.engine.data.resolve_data_root`, but creates the folder: fetching fills it."""
    root = Path(data_root if data_root not in (None, "") else os.environ.get("HDMANN_DATA") or "data")
    root = root.expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def _image_ok(path: Path, mode: str, size: tuple[int, int]) -> bool:
    """True if ``path`` exists and decodes to the expected mode and size (a finished output)."""
    if not path.is_file():
        return False
    try:
        with Image.open(path) as img:
            img.load()
            return img.mode == mode and img.size == size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------------------------------------
# ISIC


def read_isic_ids(path: Path = ISIC_IDS) -> list[tuple[str, str, str]]:
    """(isic_id, split, class) for every image of the 4-class subset, in the file's order."""
    with open(path, newline="") as f:
        rows = [(r["isic_id"], r["split"], r["class"]) for r in csv.DictReader(f)]
    bad = [r for r in rows if r[1] not in ISIC_SPLITS or r[2] not in ISIC_CLASSES]
    if bad:
        raise ValueError(f"{path} has rows with an unknown split or class, e.g. {bad[:3]}")
    return rows


def _fetch_isic_image(api: str, isic_id: str, dest: Path) -> None:
    """Fetch one image record and its full-resolution JPEG; write the 180x180 PNG atomically."""
    record_url = f"{api}/api/v2/images/{urllib.parse.quote(isic_id)}/"
    raw = _get_bytes(record_url)
    try:
        image_url = json.loads(raw)["files"]["full"]["url"]
        if not isinstance(image_url, str) or not image_url:
            raise TypeError("files.full.url is not a URL")
    except (ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"{record_url} did not return the expected image record for {isic_id} "
                         f"(no files.full.url: {exc!r}); the ISIC API may have changed. " + RERUN) from exc
    image_url = urllib.parse.urljoin(record_url, image_url)
    jpeg = _get_bytes(image_url)
    try:
        with Image.open(io.BytesIO(jpeg)) as img:
            img.load()
            rgb = img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise FetchError(f"the image downloaded for {isic_id} from {image_url} is corrupt or truncated "
                         f"({exc}); nothing was written for it. " + RERUN) from exc
    # stretch to a square, no crop: the same geometry as the shared copy and keras' loader
    small = rgb.resize((ISIC_SIZE, ISIC_SIZE), Image.Resampling.BILINEAR)
    atomic_write_bytes(dest, _png_bytes(small))


def fetch_isic4(root: Path, *, base_url: str | None = None, ids: Iterable[str] | None = None,
                workers: int = 4, progress: Progress = print) -> Path:
    """Fetch the 4-class ISIC subset into ``root/isic4/<split>/<class>/<isic_id>.png``.

    ``ids`` restricts the fetch to some of the listed ISIC ids (tests, trials). Images already
    present and decodable are skipped. The first failure stops new downloads; images in flight
    finish, and the error is raised once they have.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r}: use a positive integer")
    api = (base_url or ISIC_API).rstrip("/")
    listed = read_isic_ids()
    if ids is not None:
        wanted = [ids] if isinstance(ids, str) else list(ids)
        known = {r[0] for r in listed}
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise ValueError(f"ids {unknown[:5]} are not in {ISIC_IDS.name} "
                             f"({len(unknown)} unknown; ids look like {listed[0][0]})")
        keep = set(wanted)
        listed = [r for r in listed if r[0] in keep]
    out = root / "isic4"
    dest = {i: out / split / cls / f"{i}.png" for i, split, cls in listed}
    todo = [i for i, _, _ in listed if not _image_ok(dest[i], "RGB", (ISIC_SIZE, ISIC_SIZE))]
    progress(f"isic4: {len(listed)} images listed, {len(listed) - len(todo)} already present, "
             f"{len(todo)} to fetch from {api}")

    failure: BaseException | None = None
    done = 0
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(_fetch_isic_image, api, i, dest[i]): i for i in todo}
        for future in as_completed(futures):
            if future.cancelled():
                continue
            exc = future.exception()
            if exc is not None:
                if failure is None:
                    failure = exc
                    for other in futures:
                        other.cancel()
                continue
            done += 1
            if done % 100 == 0 or done == len(todo):
                progress(f"isic4: fetched {done}/{len(todo)}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        progress(f"isic4: stopped after fetching {done} image(s); a rerun fetches the rest")
        raise failure

    present = sum(1 for p in dest.values() if p.is_file())
    note = (
        f"isic4 fetched by `hdmann fetch isic4` (hdmann {__version__}) on {provenance.now()}.\n"
        f"Source: the ISIC Archive API at {api}: GET /api/v2/images/<isic_id>/, then the JPEG at "
        "files.full.url of that record.\n"
        f"Images: {present} of the {len(dest)} requested ids from hdmann/resources/isic4_ids.csv "
        "(the ids, splits and classes of the 4-class subset of the Kaggle 'Skin cancer ISIC' dataset).\n"
        f"Processing: the full-resolution ISIC Archive JPEG was decoded with Pillow {PIL.__version__}, "
        "converted to RGB and resized to exactly 180x180 with Image.Resampling.BILINEAR (stretched, "
        "not cropped; no EXIF transpose), then saved as lossless PNG.\n"
        "These pixels differ from the Kaggle/GitHub copy: that copy was already 180x180 and carried "
        "one JPEG generation at quality about 95 (4:2:0) made by its uploader with an unrecorded resize, "
        "while these were resized here from the archive's full-resolution files.\n"
        "Licence: per image (CC0, CC-BY or CC-BY-NC; HAM10000 images CC BY-NC 4.0), see each image's "
        "ISIC Archive page. Cite the ISIC id of each image; research / non-commercial use.\n")
    atomic_write_bytes(out / "FETCHED.txt", note.encode())
    progress(f"isic4: {present} images under {out}")
    return out


# ---------------------------------------------------------------------------------------------
# MIAS (table parsing as in shared/data/mias/prepare.py)

MIAS_TISSUE = {"F", "G", "D"}
MIAS_CLASSES = {"CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM", "NORM"}
MIAS_SEVERITY = {"B": "benign", "M": "malignant"}
MIAS_RANK = {"normal": 0, "benign": 1, "malignant": 2}
LABEL_COLUMNS = ["image", "tissue", "abnormality", "severity", "x", "y", "radius", "y_top"]
IMAGE_COLUMNS = ["image", "tissue", "severity", "n_abnormalities", "patient", "side"]
_TABLE_START = re.compile(r"^\s*mdb001\s", re.MULTILINE)


def parse_mias_table(text: str) -> list[dict]:
    """One dict per table row of the MIAS README text (the table has no header line)."""
    rows = []
    for raw in text.splitlines():
        line = raw.strip()
        if not re.match(r"^mdb\d{3}\b", line):
            continue
        tok = line.split()
        if len(tok) < 3:
            raise ValueError(f"unexpected MIAS table row: {raw!r}")
        ref, tissue, cls = tok[0], tok[1], tok[2]
        if tissue not in MIAS_TISSUE or cls not in MIAS_CLASSES:
            raise ValueError(f"unexpected MIAS table row: {raw!r}")
        row = {"image": ref, "tissue": tissue, "abnormality": cls, "severity": "normal",
               "x": "", "y": "", "radius": "", "y_top": ""}
        rest = tok[3:]
        if cls == "NORM":
            if rest:
                raise ValueError(f"NORM row with extra fields: {raw!r}")
        else:
            if not rest or rest[0] not in MIAS_SEVERITY:
                raise ValueError(f"abnormal row without severity: {raw!r}")
            row["severity"] = MIAS_SEVERITY[rest[0]]
            nums = rest[1:]
            if len(nums) == 3 and all(n.isdigit() for n in nums):
                x, y, r = (int(n) for n in nums)
                # the table's origin is bottom-left; y_top is the row index in the PNG
                row.update(x=x, y=y, radius=r, y_top=MIAS_SIZE - y)
            elif nums and " ".join(nums) != "*NOTE 3*":
                raise ValueError(f"unexpected coordinates: {raw!r}")
        rows.append(row)
    return rows


def mias_tables(rows: list[dict], names: list[str]) -> tuple[bytes, bytes]:
    """``labels.csv`` and ``images.csv`` for the films ``names``, as prepare.py wrote them."""
    in_table: OrderedDict[str, list[dict]] = OrderedDict()
    for r in rows:
        in_table.setdefault(r["image"], []).append(r)
    missing = [n for n in names if n not in in_table]
    if missing:
        raise ValueError(f"the MIAS table lacks film(s) {missing[:5]} ({len(missing)} in all)")
    if len(names) == MIAS_N_IMAGES and list(in_table) != names:
        raise ValueError("the MIAS table does not list exactly mdb001..mdb322 in order")
    for n in names:
        if len({r["tissue"] for r in in_table[n]}) != 1:
            raise ValueError(f"{n}: inconsistent tissue in the MIAS table")

    labels = io.StringIO()
    w = csv.DictWriter(labels, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(r for n in names for r in in_table[n])
    images = io.StringIO()
    w = csv.writer(images, lineterminator="\n")
    w.writerow(IMAGE_COLUMNS)
    for n in names:
        rs, num = in_table[n], int(n[3:])
        severity = max((r["severity"] for r in rs), key=MIAS_RANK.get)
        n_abn = sum(r["abnormality"] != "NORM" for r in rs)
        # MIAS README note 1: films come in pairs per patient; even = left, odd = right breast
        w.writerow([n, rs[0]["tissue"], severity, n_abn, (num + 1) // 2, "L" if num % 2 == 0 else "R"])
    return labels.getvalue().encode(), images.getvalue().encode()


def read_checksums(path: Path) -> dict[str, str]:
    """``sha256sum`` format (``<hex>  <name>``) to {name: hex}; blank and # lines are skipped."""
    out = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise ValueError(f"{path}:{number} is not a sha256sum line: {line!r}")
        out[parts[1].strip().lstrip("*")] = parts[0].lower()
    return out


def pgm_to_png(data: bytes, name: str) -> bytes:
    """A PGM film as PNG bytes with identical pixels (mode L, 1024x1024; checked by reading back)."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        if img.mode != "L" or img.size != (MIAS_SIZE, MIAS_SIZE):
            raise ValueError(f"{name}: mode {img.mode}, size {img.size}; expected L, "
                             f"{MIAS_SIZE}x{MIAS_SIZE}")
        arr = np.asarray(img)
    png = _png_bytes(Image.fromarray(arr, mode="L"))
    with Image.open(io.BytesIO(png)) as back:
        back.load()
        if back.mode != "L" or not np.array_equal(np.asarray(back), arr):
            raise RuntimeError(f"{name}: the PNG does not round-trip to the PGM's pixels")
    return png


def _archive_members(archive: Path, wanted: Callable[[str, int], bool]) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of each regular file that ``wanted(name, size)`` accepts, in one streaming
    pass; a damaged archive is a FetchError."""
    try:
        with tarfile.open(archive, "r|*") as tar:
            for member in tar:
                base = PurePosixPath(member.name).name
                if member.isfile() and wanted(base, member.size):
                    yield base, tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise FetchError(f"the downloaded archive {archive} is damaged ({exc}). Delete it and rerun "
                         "`hdmann fetch mias` to download it again.") from exc


def fetch_mias(root: Path, *, base_url: str | None = None, names: Iterable[str] | None = None,
               verify: bool = True, checksums: str | os.PathLike | None = None,
               progress: Progress = print) -> Path:
    """Fetch mini-MIAS into ``root/mias``: ``images/mdbNNN.png``, ``labels.csv``, ``images.csv``.

    ``names`` restricts the films (e.g. ``["mdb001", "mdb002"]``); the default is all 322.
    With ``verify`` every PGM must match its SHA-256 in ``checksums`` (default: the hashes of
    the source files behind the shared copy), else ValueError names the file.
    """
    url = base_url or MIAS_URL
    if names is None:
        wanted = [f"mdb{i:03d}" for i in range(1, MIAS_N_IMAGES + 1)]
    else:
        wanted = [names] if isinstance(names, str) else list(names)
        bad = [n for n in wanted if not (isinstance(n, str) and re.fullmatch(r"mdb\d{3}", n))]
        if bad or not wanted:
            raise ValueError(f"names={bad[:5] or wanted!r}: MIAS films are named mdb001 ... mdb322")
        wanted = sorted(set(wanted))
    expected: dict[str, str] = {}  # '<name>.pgm' -> sha256
    if verify:
        source = Path(checksums) if checksums is not None else MIAS_CHECKSUMS
        if not source.is_file():
            raise ValueError(f"checksum file {str(source)!r} does not exist")
        expected = read_checksums(source)
        lacking = [n for n in wanted if f"{n}.pgm" not in expected]
        if lacking:
            raise ValueError(f"checksum file {str(source)!r} has no hash for {lacking[:5]}; "
                             "pass another file or verify=False")

    out = root / "mias"
    images = out / "images"
    info_path = out / "Info.txt"
    todo = [n for n in wanted if not _image_ok(images / f"{n}.png", "L", (MIAS_SIZE, MIAS_SIZE))]
    progress(f"mias: {len(wanted)} films wanted, {len(wanted) - len(todo)} already present")

    if not todo and info_path.is_file():
        table_text = info_path.read_text(encoding="ascii", errors="replace")
    else:
        archive = out / ".download" / (PurePosixPath(urllib.parse.urlparse(url).path).name
                                       or "all-mias.tar.gz")
        if not archive.is_file():
            progress(f"mias: downloading {url}")
            _download_resumable(url, archive, progress)
            progress(f"mias: downloaded {archive.stat().st_size / 1e6:.1f} MB to {archive}")
        table_text, table_bytes, licence = None, None, None
        seen: set[str] = set()
        need = set(todo)
        wanted_pgm = {f"{n}.pgm" for n in wanted}

        def read_member(base: str, size: int) -> bool:
            return base in wanted_pgm or (not base.lower().endswith(".pgm") and size < (2 << 20))

        for base, data in _archive_members(archive, read_member):
            if base in wanted_pgm:
                stem = base[:-4]
                seen.add(stem)
                digest = hashlib.sha256(data).hexdigest()
                if verify and digest != expected[stem + ".pgm"]:
                    raise ValueError(
                        f"{base} in {archive} does not match its SHA-256 in the checksum file "
                        f"(got {digest}, expected {expected[stem + '.pgm']}). The download may be damaged "
                        "or the host serves another version: delete the archive and rerun, or fetch "
                        "without verification to accept it.")
                if stem in need:
                    atomic_write_bytes(images / f"{stem}.png", pgm_to_png(data, base))
                    need.discard(stem)
                    done = len(todo) - len(need)
                    if done % 50 == 0 or not need:
                        progress(f"mias: converted {done}/{len(todo)}")
                continue
            text = data.decode("ascii", errors="replace")
            if _TABLE_START.search(text):
                if table_text is None or base == "Info.txt":
                    table_text, table_bytes = text, data
            elif base.lower().startswith("licen"):
                licence = data
        missing = [n for n in wanted if n not in seen]
        if missing:
            raise FetchError(f"{archive} lacks {len(missing)} film(s), e.g. {missing[:5]}. Delete it and "
                             "rerun `hdmann fetch mias` to download it again.")
        if table_text is None:
            raise FetchError(f"{archive} holds no ground-truth table (a text file with lines starting "
                             "'mdb001 '). Delete it and rerun, or check the MIAS download page.")
        atomic_write_bytes(info_path, table_bytes)
        if licence is not None:
            atomic_write_bytes(out / "Licence.txt", licence)

    labels_csv, images_csv = mias_tables(parse_mias_table(table_text), wanted)
    atomic_write_bytes(out / "labels.csv", labels_csv)
    atomic_write_bytes(out / "images.csv", images_csv)
    note = (
        f"mias fetched by `hdmann fetch mias` (hdmann {__version__}) on {provenance.now()}.\n"
        f"Source: {url} (mini-MIAS, Mammographic Image Analysis Society, J Suckling 1995).\n"
        f"Films: {len(wanted)}; PGM SHA-256 "
        + ("verified against hdmann/resources/mias_pgm.sha256 or the file given.\n" if verify
           else "NOT verified (verify=False).\n")
        + "Processing: each PGM (mode L, 1024x1024) saved as lossless PNG with identical pixels "
        "(read back and compared); Info.txt parsed into labels.csv and images.csv as "
        "shared/data/mias/prepare.py does (y_top = 1024 - y, patient = (number + 1) // 2, side).\n"
        "Licence: research use only under the MIAS licence agreement (Licence.txt); do not "
        "redistribute; cite Suckling et al. (1994), Excerpta Medica ICS 1069 pp375-378.\n")
    atomic_write_bytes(out / "FETCHED.txt", note.encode())
    progress(f"mias: {len(wanted)} films under {out}")
    return out


# ---------------------------------------------------------------------------------------------


def fetch(dataset: str, data_root=None, *, base_url: str | None = None,
          progress: Progress | None = print, **options) -> Path:
    """Download ``dataset`` ('isic4' or 'mias') into the data root and return its folder.

    ``base_url`` replaces the host: the ISIC API root for isic4, the tarball URL for mias.
    ``options`` go to :func:`fetch_isic4` (ids, workers) or :func:`fetch_mias`
    (names, verify, checksums). The data root is the argument, else $HDMANN_DATA, else ./data.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    root = _fetch_root(data_root)
    run = fetch_isic4 if dataset == "isic4" else fetch_mias
    return run(root, base_url=base_url, progress=progress or _quiet, **options)
