"""Real data, loaded the same way everywhere: the 4-class ISIC set and mini-MIAS.

The data root is found as: an explicit argument, else ``$HDMANN_DATA``, else ``./data``.
Anything missing or malformed raises :class:`DataError` naming the file and how to get it.
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

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


def read_image(path: Path, mode: str, size: int | None = None) -> np.ndarray:
    """Decode one image to uint8 in ``mode``, resized (bilinear, antialiased) to ``size`` if given."""
    try:
        with Image.open(path) as img:
            img.load()
            img = img.convert(mode)
            if size is not None and img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"cannot decode image {str(path)!r} ({exc}). The file is corrupt or truncated: "
                        "delete it and run `hdmann fetch` again to restore it.") from exc


@dataclass
class ImageSet:
    """Images with integer labels and the file each came from."""

    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int
    names: list[str]
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> "ImageSet":
        index = np.asarray(index)
        return ImageSet(self.images[index], self.labels[index], [self.names[i] for i in index], self.class_names)


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


def list_isic(split: str = "train", data_root=None) -> list[tuple[Path, int]]:
    """Every (file, label) of a split, sorted by class then name so the order never depends on the disk."""
    if split not in ISIC_SPLITS:
        raise ValueError(f"split={split!r}: use one of {ISIC_SPLITS}")
    root = dataset_dir("isic4", data_root)
    items = []
    for label, (cls, folder) in enumerate(_isic_class_dirs(root, split).items()):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {str(folder)!r} holds no images. " + _how_to_get("isic4"))
        items.extend((p, label) for p in files)
    return items


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
    images = np.stack([read_image(items[i][0], "RGB", image_size) for i in keep])
    names = [items[i][0].stem for i in keep]
    return ImageSet(images, labels[keep], names, ISIC_CLASSES)


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
    """The mini-MIAS films: one row per film, plus the located lesions of each."""

    root: Path
    names: list[str]
    severity: np.ndarray  # 'normal' | 'benign' | 'malignant'
    patient: np.ndarray  # int patient id, both films of a patient share it
    tissue: np.ndarray
    lesions: dict[str, list[Lesion]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def malignant(self) -> np.ndarray:
        return (self.severity == "malignant").astype(np.int32)

    def path(self, name: str) -> Path:
        return self.root / "images" / f"{name}.png"

    def subset(self, index) -> "MiasSet":
        index = np.asarray(index)
        names = [self.names[i] for i in index]
        return MiasSet(self.root, names, self.severity[index], self.patient[index], self.tissue[index],
                       {n: self.lesions.get(n, []) for n in names})

    def load_images(self, size: int | None = None) -> np.ndarray:
        return np.stack([read_image(self.path(n), "L", size) for n in self.names])


def _read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(f"{str(path)!r} is missing. " + _how_to_get("mias"))
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{str(path)!r} lacks column(s) {missing} (has {reader.fieldnames}). "
                            "The file is not in hdmann's MIAS layout: " + _how_to_get("mias"))
        return list(reader)


def load_mias(data_root=None) -> MiasSet:
    """The films table with patient ids and lesion circles; pixels are read on demand."""
    root = dataset_dir("mias", data_root)
    films = _read_csv(root / "images.csv", ["image", "tissue", "severity", "patient"])
    rows = _read_csv(root / "labels.csv", ["image", "abnormality", "severity", "x", "y_top", "radius"])
    names = [r["image"] for r in films]
    bad = sorted({r["severity"] for r in films} - {"normal", "benign", "malignant"})
    if bad:
        raise DataError(f"images.csv has unknown severity value(s) {bad}. " + _how_to_get("mias"))
    missing = [n for n in names if not (root / "images" / f"{n}.png").is_file()]
    if missing:
        raise DataError(f"{len(missing)} MIAS image(s) are missing under {str(root / 'images')!r}, "
                        f"e.g. {missing[:3]}. " + _how_to_get("mias"))
    lesions: dict[str, list[Lesion]] = {n: [] for n in names}
    for r in rows:
        if r["image"] not in lesions:
            raise DataError(f"labels.csv names {r['image']!r}, which images.csv lacks. " + _how_to_get("mias"))
        if r["abnormality"] != "NORM" and r["x"] and r["y_top"] and r["radius"]:
            lesions[r["image"]].append(Lesion(float(r["x"]), float(r["y_top"]), float(r["radius"]),
                                              r["severity"], r["abnormality"]))
    return MiasSet(root, names, np.array([r["severity"] for r in films]),
                   np.array([int(r["patient"]) for r in films]), np.array([r["tissue"] for r in films]),
                   lesions)


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
    """A cheap identity of a set of input files (name and size), so caches notice a changed data root."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(f"{p.parent.name}/{p.name}:{p.stat().st_size};".encode())
    return h.hexdigest()[:16]
