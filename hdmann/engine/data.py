"""Real data, loaded the same way everywhere: the 4-class ISIC set and mini-MIAS.

The data root is found as: an explicit argument, else ``$HDMANN_DATA``, else ``./data``.
Anything missing or malformed raises :class:`DataError` naming the file and how to get it.

Decoding policy. Every image is decoded by one rule (hdmann.engine.data.decode_image) and refused, never guessed, where the
rule cannot tell what the pixels mean:
* 8-bit greyscale (L) and RGB decode exactly as stored; L<->RGB uses Pillow's conversion
  (ITU-R 601-2 luma for RGB->L, copies for L->RGB).
* 16-bit greyscale is scaled by its declared depth, round(v * 255 / 65535), so a film saved as
  v * 257 comes back as exactly v. One whose largest value is below 4096 (12 bits or fewer used,
  as in raw DICOM exports) is refused: scaling it would give a nearly black image, and hdmann
  does not guess a display window.
* 32-bit integer and float images (no declared range) are scaled by their real range,
  min..max -> 0..255, rounded; constant or non-finite ones are refused.
* 16-bit colour PNGs: Pillow keeps the high byte of each sample (within 1 of the rounded scale).
* Palette images are expanded to their RGB colours; 1-bit images to 0/255.
* Alpha: a fully opaque alpha channel is dropped; any transparent pixel refuses the image (what
  lies under it is undefined).
* Other modes (CMYK, LAB, HSV, ...) are refused; YCbCr is converted to RGB.
* Empty, undecodable or truncated files, and images under 16 px on a side, are refused.
Every refusal names the file and what to do; every conversion is reported by the loaders and
by `hdmann check`.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hdmann.engine import digests
from hdmann.engine.digests import note_read  # noqa: F401  (for the loaders of other modules)

ISIC_CLASSES = ("melanoma", "nevus", "basal_cell_carcinoma", "pigmented_benign_keratosis")
ISIC_LABELS = ("Melanoma", "Nevus", "Basal cell carcinoma", "Pigmented benign keratosis")
ISIC_SPLITS = ("train", "test")
# the original Kaggle "Skin cancer ISIC" layout: Train/<diagnosis with spaces>/*.jpg
KAGGLE_FOLDERS = {"train": "Train", "test": "Test"}
KAGGLE_CLASSES = {c: c.replace("_", " ") for c in ISIC_CLASSES}
MIAS_SIZE = 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class DataError(FileNotFoundError):
    """Data is missing or malformed; the message says what to do."""


def shown(path) -> str:
    """A path or name as printed: quoted, with control characters escaped (a newline in a file name
    cannot forge a line of a report)."""
    return repr(str(path))


def unreadable(exc: OSError, what: str = "") -> "DataError":
    """One sentence for a path the operating system refuses: missing, a dangling link, unreadable."""
    path = exc.filename if exc.filename is not None else what
    shown_path = shown(path)
    if isinstance(exc, PermissionError):
        return DataError(f"{shown_path} cannot be read (permission denied): make it readable by this user "
                         f"(e.g. `chmod -R u+rX {shown_path}`) or point --data-root/HDMANN_DATA at a readable copy.")
    if isinstance(exc, FileNotFoundError) and path and os.path.islink(path):
        return DataError(f"{shown_path} is a symbolic link to {shown(os.readlink(path))}, which does not exist: "
                         "restore its target or remove the link.")
    if isinstance(exc, FileNotFoundError):
        return DataError(f"{shown_path} is missing (it vanished while hdmann read the data): restore it, or "
                         "run `hdmann fetch` again for the shipped datasets.")
    return DataError(f"{shown_path} cannot be read ({exc.strerror or exc}): check the disk and the file, "
                     "or replace it with a good copy.")


def path_sentence(exc: OSError) -> str:
    """One sentence for any path the operating system refused (reading or writing), naming the path
    and what to do: how every command answers a missing, dangling or unreadable path."""
    if isinstance(exc, DataError):
        return str(exc)
    path = exc.filename
    if path is None:
        return f"{exc.strerror or exc}: check the files and folders this command uses (data root, HDMANN_CACHE, --out)."
    target = shown(path) + (f" (and {shown(exc.filename2)})" if getattr(exc, "filename2", None) else "")
    if os.path.islink(path) and not os.path.exists(path):
        return f"{target} is a symbolic link to {shown(os.readlink(path))}, which does not exist: restore its target or remove the link."
    if isinstance(exc, FileExistsError):
        return f"{target} exists and is not a folder: give the path of a folder (or of one to create)."
    if isinstance(exc, FileNotFoundError):
        return f"{target} does not exist: create it, or give a path that exists."
    if isinstance(exc, PermissionError):
        return (f"{target} cannot be used (permission denied): give this user access to it (chmod), "
                "or choose another folder (--data-root, HDMANN_CACHE, --out).")
    if isinstance(exc, NotADirectoryError):
        return f"{target} is not a folder (a part of it is a file): give the path of a folder."
    if isinstance(exc, IsADirectoryError):
        return f"{target} is a folder where a file was expected: give the path of a file."
    return f"{target}: {exc.strerror or exc}: check the disk and the path, or choose another folder."


def listing(folder: Path) -> list[Path]:
    """The entries of ``folder``, or one sentence (:class:`DataError`) if it cannot be listed."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise unreadable(exc, str(folder)) from None


def _how_to_get(dataset: str) -> str:
    return (f"Get it with `hdmann fetch {dataset} --data-root <DIR>` (or `make fetch`), "
            f"or point HDMANN_DATA at a folder that holds {dataset}/.")


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """The folder that holds ``isic4/`` and ``mias/``: argument, then $HDMANN_DATA, then ./data."""
    chosen = data_root if data_root not in (None, "") else os.environ.get("HDMANN_DATA") or "data"
    root = Path(chosen).expanduser()
    if not root.is_dir():
        source = "the data-root argument" if data_root not in (None, "") else (
            "$HDMANN_DATA" if os.environ.get("HDMANN_DATA") else "the default, ./data")
        if root.is_symlink() and not root.exists():
            raise DataError(f"data root {shown(root)} (set by {source}) is a symbolic link to {shown(os.readlink(root))}, "
                            "which does not exist: restore its target, or set HDMANN_DATA to the folder that holds "
                            "isic4/ and mias/.")
        if root.exists():
            raise DataError(f"data root {shown(root)} (set by {source}) is a file, not a folder: set HDMANN_DATA "
                            "(or --data-root) to the folder that holds isic4/ and mias/.")
        raise DataError(
            f"data root {str(root)!r} (set by {source}) does not exist. "
            "Set HDMANN_DATA to the folder that holds isic4/ and mias/, or download them with "
            "`hdmann fetch isic4 --data-root DIR` and `hdmann fetch mias --data-root DIR`.")
    return root.resolve()


def dataset_dir(name: str, data_root: str | os.PathLike | None = None) -> Path:
    path = resolve_data_root(data_root) / name
    if not path.is_dir():
        raise DataError(f"{name}/ is missing under the data root {str(path.parent)!r}. " + _how_to_get(name))
    return path


MIN_IMAGE_SIDE = 16  # unstated: smaller images carry no usable picture (the datasets' are 180 and 1024 px)
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
ALPHA_MODES = ("LA", "La", "RGBA", "RGBa", "PA")
SIXTEEN_BIT_FLOOR = 4096  # a 16-bit image whose largest value is below this uses at most 12 bits
REPLACE = ("Replace it with a good copy (for the shipped datasets: delete it and run `hdmann fetch` "
           "again), or move it out of the data folder.")


class ImageRejected(DataError):
    """One image file that hdmann will not compute on; ``reason`` and ``remedy`` are its message."""

    def __init__(self, path, reason: str, remedy: str = REPLACE):
        self.path, self.reason, self.remedy = Path(path), reason, remedy
        super().__init__(f"{str(path)!r} {reason}. {remedy}")


class DataNotice(UserWarning):
    """Something the loaders did on purpose to the data (a copy dropped, a conversion, a skipped folder)."""


def _to_eight_bit(img: Image.Image, path: Path) -> tuple[Image.Image, str | None]:
    """Bring any supported mode to 8-bit L or RGB by the stated rule (see the module docstring)."""
    mode = img.mode
    if mode == "1":
        return img.convert("L"), "1-bit image expanded to 0/255"
    if mode == "P":
        if "transparency" in img.info:
            img, mode = img.convert("RGBA"), "RGBA"
        else:
            return img.convert("RGB"), "palette image expanded to its RGB colours"
    if mode in ALPHA_MODES:
        alpha = np.asarray(img.getchannel("A"))
        see_through = int(np.count_nonzero(alpha < 255))
        if see_through:
            raise ImageRejected(
                path, f"has an alpha channel with {see_through} transparent or translucent pixel(s) "
                f"({see_through / alpha.size:.1%}); what lies under them is undefined",
                "Flatten it onto the background you intend and save it without alpha (8-bit RGB or "
                "greyscale PNG), or replace it with the original image.")
        return img.convert("L" if mode in ("LA", "La") else "RGB"), "fully opaque alpha channel dropped"
    if mode in SIXTEEN_BIT_MODES or mode in ("I", "F"):
        values = np.asarray(img)
        if mode == "F" or (mode == "I" and (values.min() < 0 or values.max() > 65535)):
            values = values.astype(np.float64)
            if not np.all(np.isfinite(values)):
                raise ImageRejected(path, f"is a 32-bit ({mode}) image with non-finite values",
                                    "Re-export it as 8-bit or 16-bit greyscale.")
            low, high = float(values.min()), float(values.max())
            if high == low:
                raise ImageRejected(path, f"is a 32-bit ({mode}) image with one value ({low:g}) everywhere",
                                    REPLACE)
            scaled = np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)
            return Image.fromarray(scaled, "L"), f"32-bit image scaled to 8 bits by its real range [{low:g}, {high:g}]"
        values = values.astype(np.int64)
        largest = int(values.max())
        if largest < SIXTEEN_BIT_FLOOR:
            raise ImageRejected(
                path, f"is a 16-bit image whose largest value is {largest}: it uses at most 12 of its 16 "
                "bits (as raw DICOM exports do), so scaling by its declared depth would make it nearly "
                "black, and hdmann does not guess a display window",
                "Re-export it scaled to the full 16-bit range (or to 8 bits) with the window you intend.")
        scaled = ((values * 255 + 32767) // 65535).astype(np.uint8)  # round(v * 255 / 65535)
        return Image.fromarray(scaled, "L"), "16-bit image scaled to 8 bits by its declared depth (v x 255 / 65535)"
    if mode == "YCbCr":
        return img.convert("RGB"), "YCbCr image converted to RGB"
    if mode in ("L", "RGB"):
        return img, None
    raise ImageRejected(path, f"has colour mode {mode}, which hdmann does not convert (no colour management)",
                        "Convert it to 8-bit sRGB or greyscale PNG with a colour-managed tool.")


SUFFIX_FORMATS = {".png": ("PNG",), ".jpg": ("JPEG", "MPO"), ".jpeg": ("JPEG", "MPO")}
MAX_PIXELS = 40_000_000  # unstated: 40 megapixels, far beyond any image a study reads (180 px ISIC, 1024 px films)
TOO_LARGE = ("Downscale it to the size the dataset ships at (isic4: 180x180; mini-MIAS: 1024x1024) or move it "
             "out of the data folder.")
ORIENTATION = 0x0112  # the EXIF tag
ORIENTATIONS = {2: "mirrored", 3: "rotated 180°", 4: "flipped", 5: "mirrored and rotated 90° clockwise",
                6: "rotated 90° clockwise", 7: "mirrored and rotated 90° anticlockwise", 8: "rotated 90° anticlockwise"}


def _orient(img: Image.Image, path: Path) -> tuple[Image.Image, str | None]:
    """Apply an EXIF orientation (as every viewer shows the image), saying so; refuse an invalid one."""
    try:
        value = img.getexif().get(ORIENTATION, 1)
    except Exception:  # noqa: BLE001  (unreadable EXIF: as stored, like every viewer)
        return img, None
    if value in (None, 1):
        return img, None
    if value not in ORIENTATIONS:
        raise ImageRejected(path, f"has an EXIF orientation of {value!r}, which is none of the eight defined (1-8), "
                            "so how it is meant to be shown is unknown",
                            "Save it again without the orientation tag (or with the intended one).")
    return ImageOps.exif_transpose(img), f"EXIF orientation {value} applied ({ORIENTATIONS[value]}, as a viewer shows it)"


def decode_bytes(blob: bytes, path, mode: str) -> tuple[np.ndarray, str | None]:
    """Decode one image file's bytes at its stored size by the decoding policy; also the conversion made."""
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode={mode!r}: use 'L' or 'RGB'")
    path = Path(path)
    if not blob:
        raise ImageRejected(path, "is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own budget decides, below
            img = Image.open(io.BytesIO(blob))
        with img:
            width, height = img.size
            stored_as = img.format
            if width * height > MAX_PIXELS:
                raise ImageRejected(path, f"is too large: {width}x{height} pixels ({width * height / 1e6:.0f} "
                                    f"megapixels), beyond hdmann's limit of {MAX_PIXELS / 1e6:.0f} megapixels for one "
                                    "image; it is not decoded", TOO_LARGE)
            if min(width, height) < MIN_IMAGE_SIDE:
                raise ImageRejected(path, f"is only {width}x{height} pixels; hdmann refuses images under "
                                    f"{MIN_IMAGE_SIDE} px on a side rather than stretch them")
            img.load()
            oriented, turned = _orient(img, path)
            eight_bit, note = _to_eight_bit(oriented, path)
            pixels = np.asarray(eight_bit.convert(mode), dtype=np.uint8)
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected(path, f"is too large: Pillow refuses to decode it as a possible decompression bomb "
                            f"({exc}); it is not decoded", TOO_LARGE) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(path, "cannot be decoded: it is not an image format Pillow recognises "
                            "(the file is corrupt, truncated or not an image)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected(path, f"cannot be decoded ({exc}): the file is corrupt or truncated") from exc
    expected = SUFFIX_FORMATS.get(path.suffix.lower())
    if expected and stored_as not in expected:  # last: a file that is bad anyway is named by what is wrong with it
        raise ImageRejected(path, f"is named {path.suffix} but holds {stored_as} data",
                            f"Replace it with a genuine {expected[0]} file (a {stored_as} saved under another name "
                            "may have lost detail to its codec), or give it its own suffix.")
    notes = [n for n in (turned, note) if n]
    return pixels, "; ".join(notes) if notes else None


def decode_image(path, mode: str) -> tuple[np.ndarray, str | None]:
    """Decode one image file at its stored size by the decoding policy; also the conversion made."""
    path = Path(path)
    digests.note_read(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ImageRejected(path, _cannot_read(path, exc), _READ_REMEDY) from exc
    return decode_bytes(blob, path, mode)


_READ_REMEDY = "Make it readable (or restore a link's target), replace it with a good copy, or move it out of the data folder."


def _cannot_read(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError) and os.path.islink(path):
        return f"is a symbolic link to {shown(os.readlink(path))}, which does not exist"
    if isinstance(exc, PermissionError):
        return "cannot be read (permission denied)"
    return f"cannot be read ({exc.strerror or exc})"


STRETCHED = "non-square image stretched to a square"


def resize(pixels: np.ndarray, size: int | None) -> np.ndarray:
    """Square resize (PIL bilinear, antialiased), or the pixels unchanged if already that size."""
    if size is None or pixels.shape[:2] == (size, size):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def read_image(path: Path, mode: str, size: int | None = None) -> np.ndarray:
    """Decode one image to uint8 in ``mode`` by the decoding policy, resized to ``size`` if given."""
    return resize(decode_image(path, mode)[0], size)


def pixel_digest(pixels: np.ndarray) -> str:
    """Identity of decoded pixels (shape and values): equal digests mean pixel-identical images."""
    h = hashlib.sha256(f"{pixels.dtype}{pixels.shape}".encode())
    h.update(np.ascontiguousarray(pixels).tobytes())
    return h.hexdigest()[:32]


def duplicate_groups(digests, base_groups=None) -> np.ndarray:
    """One group id per item: items with equal digests (identical images) share a group, and so do
    items of the same ``base_groups`` value (e.g. a patient), so a split on these groups never puts
    an image and its twin on two sides. Ids count from 0 in order of first appearance."""
    digests = list(digests)
    n = len(digests)
    if base_groups is not None and len(base_groups) != n:
        raise ValueError(f"base_groups has {len(base_groups)} entries for {n} images")
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for keys in (digests, list(base_groups) if base_groups is not None else None):
        if keys is None:
            continue
        first: dict = {}
        for i, k in enumerate(keys):
            if k in first:
                parent[find(i)] = find(first[k])
            else:
                first[k] = i
    ids: dict[int, int] = {}
    return np.array([ids.setdefault(find(i), len(ids)) for i in range(n)], dtype=np.int64)


def _report_notes(notes: list[tuple[Path, str]], what: str) -> None:
    if notes:
        kinds = Counter(note for _, note in notes)
        warnings.warn(DataNotice(f"{what}: {len(notes)} image(s) converted by the decoding policy: "
                                 + "; ".join(f"{k} ({v})" for k, v in sorted(kinds.items()))
                                 + f"; e.g. {str(notes[0][0])!r}"), stacklevel=3)


@dataclass
class ImageSet:
    """Images with integer labels, the file each came from, and a digest of its stored pixels."""

    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int
    names: list[str]
    class_names: tuple[str, ...]
    digests: list[str] = field(default_factory=list)  # pixel_digest at the stored size

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> "ImageSet":
        index = np.asarray(index)
        digests = [self.digests[i] for i in index] if self.digests else []
        return ImageSet(self.images[index], self.labels[index], [self.names[i] for i in index],
                        self.class_names, digests)

    def duplicate_groups(self) -> np.ndarray:
        """Group ids that put pixel-identical images together (see :func:`duplicate_groups`)."""
        if len(self.digests) != len(self):
            raise ValueError("this ImageSet carries no pixel digests; load it with load_isic")
        return duplicate_groups(self.digests)


def _isic_class_dirs(root: Path, split: str) -> dict[str, Path]:
    """Map each class to its folder, accepting our layout and the original Kaggle one."""
    ours = {c: root / split / c for c in ISIC_CLASSES}
    if (root / split).is_dir():
        missing = [c for c, p in ours.items() if not p.is_dir()]
        if missing:
            raise DataError(f"{str(root / split)!r} lacks class folder(s) {missing}; expected "
                            f"{list(ISIC_CLASSES)}. " + _how_to_get("isic4"))
        return ours
    kaggle = root / KAGGLE_FOLDERS[split]
    if kaggle.is_dir():
        dirs = {c: kaggle / KAGGLE_CLASSES[c] for c in ISIC_CLASSES}
        missing = [KAGGLE_CLASSES[c] for c, p in dirs.items() if not p.is_dir()]
        if missing:
            raise DataError(f"{str(kaggle)!r} lacks diagnosis folder(s) {missing}. " + _how_to_get("isic4"))
        return dirs
    raise DataError(f"{str(root)!r} has neither {split}/<class>/*.png nor {KAGGLE_FOLDERS[split]}/<diagnosis>/*.jpg. "
                    + _how_to_get("isic4"))


COPY_SUFFIX = re.compile(r"^(?P<stem>.+?)\s?\(\d+\)$")  # "name(1)" or "name (1)": a download copy


@dataclass
class IsicScan:
    """What one split's folders hold: the files used, and what was left out on purpose."""

    items: list[tuple[Path, int]]
    copies: list[tuple[Path, Path]]  # (dropped "(1)" file, the byte-identical original kept)
    other_folders: list[str]  # diagnosis folders outside the four classes (Kaggle layout)
    other_files: list[Path]  # files in class folders that are not images by their suffix
    layout: str


def _drop_byte_copies(files: list[Path]) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """Drop download copies: "name(1).jpg" that is byte-identical to "name.jpg" in the same folder.

    Other identical files (different names, e.g. two ISIC ids with the same picture) are kept:
    they are separate records, grouped by their pixel digest so no split separates them."""
    by_name = {p.stem: p for p in files}
    dropped = []
    for p in files:
        match = COPY_SUFFIX.match(p.stem)
        original = by_name.get(match["stem"]) if match else None
        if original is not None and _same_bytes(original, p):
            dropped.append((p, original))
    gone = {q for q, _ in dropped}
    return [p for p in files if p not in gone], dropped


def _same_bytes(a: Path, b: Path) -> bool:
    """Whether two files hold the same bytes; a file that cannot be read is no copy (the check names it)."""
    try:
        return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
    except OSError:
        return False


_MEMO: dict | None = None  # inside memoized(): listings and fingerprints already computed


@contextlib.contextmanager
def memoized():
    """Inside the block, :func:`scan_isic`, :func:`load_mias` and :func:`fingerprint_files` compute
    each answer once: planning the stage graph asks for the same data fingerprints hundreds of times
    (each stage key holds its data's), and the data do not change while a plan is made."""
    global _MEMO
    outer = _MEMO
    _MEMO = {} if outer is None else outer
    try:
        yield
    finally:
        _MEMO = outer


def _remembered(key: tuple, compute):
    if _MEMO is None:
        return compute()
    if key not in _MEMO:
        _MEMO[key] = compute()
    return _MEMO[key]


def scan_isic(split: str = "train", data_root=None) -> IsicScan:
    """List a split without decoding: byte-identical copies in a class folder are dropped, and what
    is left out on purpose is returned with it (the caller reports it)."""
    if split not in ISIC_SPLITS:
        raise ValueError(f"split={split!r}: use one of {ISIC_SPLITS}")
    return _remembered(("isic", split, str(resolve_data_root(data_root))), lambda: _scan_isic(split, data_root))


def _scan_isic(split: str, data_root) -> IsicScan:
    root = dataset_dir("isic4", data_root)
    dirs = _isic_class_dirs(root, split)
    layout = "ours" if (root / split).is_dir() else "kaggle"
    parent = next(iter(dirs.values())).parent
    used = {p.name for p in dirs.values()}
    other_folders = sorted(p.name for p in listing(parent) if p.is_dir() and p.name not in used
                           and not p.name.startswith("."))
    items, copies, other_files = [], [], []
    for label, folder in enumerate(dirs.values()):
        entries = [p for p in listing(folder) if not p.name.startswith(".")]
        files = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
        other_files += [p for p in entries if p.suffix.lower() not in IMAGE_SUFFIXES]
        if not files:
            raise DataError(f"class folder {shown(folder)} holds no images. " + _how_to_get("isic4"))
        files, dropped = _drop_byte_copies(files)
        copies += dropped
        items.extend((p, label) for p in files)
    return IsicScan(items, copies, other_folders, other_files, layout)


def list_isic(split: str = "train", data_root=None) -> list[tuple[Path, int]]:
    """Every (file, label) of a split, sorted by class then name so the order never depends on the disk.

    Byte-identical copies within a class folder (the Kaggle set's "(1)" files) are dropped and
    other diagnosis folders skipped, each with a :class:`DataNotice` warning that says so."""
    scan = scan_isic(split, data_root)
    if scan.copies:
        warnings.warn(DataNotice(
            f"isic4 {split}: dropped {len(scan.copies)} byte-identical copy file(s): "
            + ", ".join(f"{q.parent.name}/{q.name} (= {k.name})" for q, k in scan.copies)), stacklevel=2)
    if scan.other_folders:
        warnings.warn(DataNotice(
            f"isic4 {split}: skipped {len(scan.other_folders)} diagnosis folder(s) outside the four "
            f"classes: {', '.join(scan.other_folders)}"), stacklevel=2)
    return scan.items


def take_per_class(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = [np.sort(rng.permutation(np.flatnonzero(labels == c))[:limit]) for c in np.unique(labels)]
    return np.concatenate(keep)


def load_isic(split: str = "train", image_size: int = 180, data_root=None,
              max_per_class: int | None = None, seed: int = 0) -> ImageSet:
    """The 4-class ISIC images of a split as RGB uint8 at ``image_size``."""
    items = list_isic(split, data_root)
    labels = np.array([label for _, label in items])
    keep = take_per_class(labels, max_per_class, seed)
    images, found, notes = [], [], []
    for i in keep:
        pixels, note = decode_image(items[i][0], "RGB")
        found.append(pixel_digest(pixels))
        images.append(resize(pixels, image_size))
        if image_size and pixels.shape[0] != pixels.shape[1]:
            note = "; ".join(n for n in (note, STRETCHED) if n)
        if note:
            notes.append((items[i][0], note))
    _report_notes(notes, f"isic4 {split}")
    names = [items[i][0].stem for i in keep]
    return ImageSet(np.stack(images), labels[keep], names, ISIC_CLASSES, found)


def isic_counts(data_root=None) -> dict[str, dict[str, int]]:
    """Images per split and class, without decoding them."""
    out = {}
    for split in ISIC_SPLITS:
        items = list_isic(split, data_root)
        out[split] = {c: sum(1 for _, label in items if label == i) for i, c in enumerate(ISIC_CLASSES)}
    return out


@dataclass(frozen=True)
class Lesion:
    """A radiologist's circle, in top-left pixel coordinates of the 1024x1024 film."""

    x: float
    y: float
    radius: float
    severity: str
    abnormality: str


@dataclass
class MiasSet:
    """The mini-MIAS films: one row per film (``images.csv``), plus the located lesions of each
    (``labels.csv``, read through :attr:`lesions`, so a stage that reads the circles is known to)."""

    root: Path
    names: list[str]
    severity: np.ndarray  # 'normal' | 'benign' | 'malignant'
    patient: np.ndarray  # int patient id, both films of a patient share it
    tissue: np.ndarray
    lesion_table: dict[str, list[Lesion]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def lesions(self) -> dict[str, list[Lesion]]:
        """The circles of each film, from ``labels.csv``."""
        digests.note_read(self.root / "labels.csv")
        return self.lesion_table

    @property
    def malignant(self) -> np.ndarray:
        return (self.severity == "malignant").astype(np.int32)

    def path(self, name: str) -> Path:
        return self.root / "images" / f"{name}.png"

    def table_files(self, lesions: bool = False) -> list[Path]:
        """The metadata files a reader of this set reads: ``images.csv``, and ``labels.csv`` if it reads
        the circles. A stage's ``params`` fingerprint them with the films (:func:`fingerprint_files`)."""
        return [self.root / "images.csv"] + ([self.root / "labels.csv"] if lesions else [])

    def subset(self, index) -> "MiasSet":
        index = np.asarray(index)
        names = [self.names[i] for i in index]
        return MiasSet(self.root, names, self.severity[index], self.patient[index], self.tissue[index],
                       {n: self.lesion_table.get(n, []) for n in names})

    def load_images(self, size: int | None = None) -> np.ndarray:
        """Greyscale films by the decoding policy (conversions reported), resized to ``size`` if given."""
        images, notes = [], []
        for n in self.names:
            pixels, note = decode_image(self.path(n), "L")
            images.append(resize(pixels, size))
            if note:
                notes.append((self.path(n), note))
        _report_notes(notes, "mias")
        return np.stack(images)


MIAS_SEVERITIES = ("normal", "benign", "malignant")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a film name is a file name, never a path


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    if not path.is_file() and not os.path.islink(path):
        raise DataError(f"{shown(path)} is missing. " + _how_to_get("mias"))
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{shown(path)} lacks column(s) {missing} (has {reader.fieldnames}). "
                                "The file is not in hdmann's MIAS layout: " + _how_to_get("mias"))
            return list(reader)
    except DataError:
        raise
    except OSError as exc:
        raise unreadable(exc, str(path)) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{shown(path)} is not a readable CSV file ({exc}): " + _how_to_get("mias")) from None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def mias_tables(root: Path, film_size: int | None = None) -> tuple[MiasSet, list[str]]:
    """Read and check ``images.csv`` and ``labels.csv`` under the dataset folder ``root``: the set
    (usable only without problems) and every problem, one sentence each naming the file, the line
    (the header is line 1), the film and the column. A circle's centre must lie on the film: against
    its far edge only given ``film_size`` (``hdmann check`` knows it from decoding the films)."""
    problems: list[str] = []
    films = _read_csv(root / "images.csv", ["image", "tissue", "severity", "patient"])
    rows = _read_csv(root / "labels.csv", ["image", "abnormality", "severity", "x", "y_top", "radius"])
    first_line: dict[str, int] = {}
    patients = []
    for line, r in enumerate(films, start=2):
        name = r["image"] or ""
        where = f"images.csv line {line}"
        if not FILE_NAME.match(name):
            problems.append(f"{where}, column 'image': {shown(name)} is not a film name (letters, digits, '_', '-', '.')")
        elif name in first_line:
            problems.append(f"{where} repeats film {name!r} (first on line {first_line[name]})")
        else:
            first_line[name] = line
        patient = _number(r["patient"])
        if patient is None or patient != int(patient):
            problems.append(f"{where} ({name}), column 'patient': {shown(r['patient'])} is not a whole number")
        patients.append(int(patient) if patient is not None and patient == int(patient) else -1)
    bad = sorted({r["severity"] for r in films} - set(MIAS_SEVERITIES))
    if bad:
        lines = [i for i, r in enumerate(films, start=2) if r["severity"] in bad]
        problems.append(f"images.csv has unknown severity value(s) {bad} (line(s) {lines[:5]}, column 'severity'; "
                        f"expected one of {list(MIAS_SEVERITIES)})")
    names = [r["image"] for r in films]
    lesions: dict[str, list[Lesion]] = {n: [] for n in names}
    seen: dict[tuple, int] = {}
    for line, r in enumerate(rows, start=2):
        name = r["image"]
        where = f"labels.csv line {line} ({name})"
        if name not in lesions:
            problems.append(f"labels.csv line {line} names {name!r}, which images.csv lacks")
            continue
        same = (name, r["abnormality"], r["severity"], r["x"], r["y_top"], r["radius"])
        if same in seen:
            problems.append(f"labels.csv line {line} repeats line {seen[same]} (the same row for film {name})")
            continue
        seen[same] = line
        if r["severity"] not in MIAS_SEVERITIES:
            problems.append(f"{where}, column 'severity': {shown(r['severity'])} is none of {list(MIAS_SEVERITIES)}")
        given = [c for c in ("x", "y_top", "radius") if (r[c] or "").strip()]
        if r["abnormality"] == "NORM" or not given:
            continue
        if len(given) < 3:
            problems.append(f"{where} gives {', '.join(given)} but not "
                            f"{', '.join(c for c in ('x', 'y_top', 'radius') if c not in given)}: a circle needs all three")
            continue
        values = {}
        for column in ("x", "y_top", "radius"):
            values[column] = _number(r[column])
            if values[column] is None:
                problems.append(f"{where}, column {column!r}: {shown(r[column])} is not a number")
        if None in values.values():
            continue
        if values["radius"] <= 0:
            problems.append(f"{where}, column 'radius': {r['radius']} is not a positive radius")
        elif values["x"] < 0 or values["y_top"] < 0 or (film_size is not None and max(values["x"], values["y_top"]) >= film_size):
            problems.append(f"{where}: the circle's centre (x {r['x']}, y_top {r['y_top']}) lies outside the "
                            + (f"{film_size}x{film_size} film" if film_size else "film"))
        else:
            lesions[name].append(Lesion(values["x"], values["y_top"], values["radius"], r["severity"], r["abnormality"]))
    return MiasSet(root, names, np.array([r["severity"] for r in films]), np.array(patients, dtype=np.int64),
                   np.array([r["tissue"] for r in films]), lesions), problems


def load_mias(data_root=None) -> MiasSet:
    """The films table with patient ids and lesion circles; pixels are read on demand."""
    mias = _remembered(("mias", str(resolve_data_root(data_root))), lambda: _load_mias(data_root))
    digests.note_read(mias.root / "images.csv")
    return mias


def _load_mias(data_root) -> MiasSet:
    root = dataset_dir("mias", data_root)
    mias, problems = mias_tables(root)
    if problems:
        raise DataError(f"{len(problems)} problem(s) in the MIAS tables under {shown(root)}: " + "; ".join(problems)
                        + ". Correct these lines, or get the tables again: " + _how_to_get("mias"))
    missing = [n for n in mias.names if not mias.path(n).is_file()]
    if missing:
        raise DataError(f"{len(missing)} MIAS image(s) are missing under {shown(root / 'images')}, "
                        f"e.g. {missing[:3]}. " + _how_to_get("mias"))
    return mias


def mias_counts(data_root=None) -> dict[str, int]:
    films = load_mias(data_root)
    out = {s: int(np.sum(films.severity == s)) for s in ("normal", "benign", "malignant")}
    out["films"] = len(films)
    out["patients"] = int(len(np.unique(films.patient)))
    out["malignant_located"] = sum(
        1 for n, s in zip(films.names, films.severity) if s == "malignant"
        and any(les.severity == "malignant" for les in films.lesions[n]))
    return out


def fingerprint_files(paths) -> str:
    """The identity of a set of input files: each file's folder, name and the SHA-256 of its bytes
    (:mod:`hdmann.engine.digests` remembers digests by the file's stat, so only changed files are
    read again). A stage's ``params`` return it for every data file the stage reads, the metadata
    CSVs included: any edit of a file re-keys exactly the stages that read it."""
    paths = [str(p) for p in paths]
    digests.declare(paths)
    return _remembered(("fingerprint", *paths), lambda: _fingerprint(paths))


def _fingerprint(paths) -> str:
    try:
        found = digests.file_digests(paths)
    except OSError as exc:
        raise unreadable(exc) from None
    ordered = sorted(Path(p) for p in paths)
    h = hashlib.sha256()
    for p in ordered:  # folder and name, not the data root: a moved data root re-keys nothing
        h.update(f"{p.parent.name}/{p.name}:{found[os.path.abspath(p)]};".encode())
    fingerprint = h.hexdigest()[:16]
    if ordered:  # for `hdmann status`: which file changed (named from the dataset's folder)
        base = Path(os.path.commonpath([str(p.parent) for p in ordered])).parent
        digests.write_manifest(fingerprint, {p.relative_to(base).as_posix(): found[os.path.abspath(p)] for p in ordered})
    return fingerprint
