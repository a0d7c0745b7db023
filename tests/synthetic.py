"""Small synthetic data trees in hdmann's on-disk layouts, for the unit tier (tests only).

Nothing here is imported by ``hdmann`` or the book: the book always runs on the real data.

* :func:`write_isic` writes ``isic4/{train,test}/<class>/*.png`` (our layout) or the original
  Kaggle layout ``isic4/{Train,Test}/<diagnosis with spaces>/*.jpg``. Every image is a skin-toned
  noisy background with one blob whose colour depends on the class, so a tiny CNN can learn it.
* :func:`write_mias` writes ``mias/images/mdbNNN.png`` (grey films, two per patient),
  ``mias/images.csv`` and ``mias/labels.csv`` in the columns of the real tree. Films are
  ``size`` x ``size`` (256 by default, to keep compression fast; ``load_mias`` does not check
  the size). Lesions are bright discs; the CSV stores MIAS coordinates (``y`` from the bottom)
  and ``y_top = size - y``, the top-left row that hdmann reads.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from hdmann.engine.data import ISIC_CLASSES, KAGGLE_CLASSES, KAGGLE_FOLDERS

# one strongly different blob colour per class, in ISIC_CLASSES order
ISIC_COLOURS = ((170, 30, 40), (60, 150, 60), (40, 60, 190), (210, 190, 40))
SKIN = (225, 185, 160)


def isic_image(label: int, seed: int, size: int = 32) -> np.ndarray:
    """One RGB image: noisy skin background and a class-coloured blob at a random place."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.35, 0.65, 2) * size
    radius = rng.uniform(0.18, 0.3) * size
    # an irregular blob: a disc with a wobbly edge, soft alpha
    angle = np.arctan2(yy - cy, xx - cx)
    wobble = 1 + 0.15 * np.sin(3 * angle + rng.uniform(0, 2 * np.pi))
    dist = np.hypot(yy - cy, xx - cx) / (radius * wobble)
    alpha = np.clip(1.5 - dist, 0, 1)[..., None]
    background = np.array(SKIN, np.float32) + rng.normal(0, 12, (size, size, 3))
    blob = np.array(ISIC_COLOURS[label], np.float32) + rng.normal(0, 10, (size, size, 3))
    img = (1 - alpha) * background + alpha * blob
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _counts(n, classes=len(ISIC_CLASSES)) -> tuple[int, ...]:
    return tuple(n) if isinstance(n, (tuple, list)) else (int(n),) * classes


def write_isic(root: Path, *, train_per_class=10, test_per_class=4, size: int = 32,
               layout: str = "ours", seed: int = 0) -> Path:
    """Write ``root/isic4`` and return it. ``*_per_class``: an int or one count per class."""
    if layout not in ("ours", "kaggle"):
        raise ValueError(f"layout={layout!r}: use ours or kaggle")
    isic = Path(root) / "isic4"
    number = 0
    for split, per_class in (("train", _counts(train_per_class)), ("test", _counts(test_per_class))):
        for label, (cls, n) in enumerate(zip(ISIC_CLASSES, per_class)):
            if layout == "ours":
                folder, suffix = isic / split / cls, ".png"
            else:
                folder, suffix = isic / KAGGLE_FOLDERS[split] / KAGGLE_CLASSES[cls], ".jpg"
            folder.mkdir(parents=True, exist_ok=True)
            for _ in range(n):
                number += 1
                img = Image.fromarray(isic_image(label, seed * 100_003 + number, size))
                path = folder / f"ISIC_{number:07d}{suffix}"
                if suffix == ".png":
                    img.save(path)
                else:
                    img.save(path, quality=95)
    return isic


def write_isic_other(root: Path, *, per_class: int = 3, size: int = 32) -> Path:
    """Write ``root/isic-other`` (train/<class>/*.png for the classes Study A beyond adds)."""
    from hdmann.studies.study_a_beyond.config import ISIC_OTHER_USABLE

    other = Path(root) / "isic-other"
    for label, cls in enumerate(ISIC_OTHER_USABLE):
        folder = other / "train" / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(isic_image(label, 900_000 + 100 * label + i, size)).save(folder / f"ISIC_{label}{i:05d}.png")
    return other


@dataclass
class SyntheticMias:
    """What :func:`write_mias` wrote, to check the loader against."""

    root: Path
    names: list[str] = field(default_factory=list)
    severity: list[str] = field(default_factory=list)
    patient: list[int] = field(default_factory=list)
    tissue: list[str] = field(default_factory=list)
    # name -> [(x, y_top, radius, severity, abnormality)] for the located lesions only
    lesions: dict[str, list[tuple[float, float, float, str, str]]] = field(default_factory=dict)
    size: int = 256

    @property
    def malignant_patients(self) -> set[int]:
        return {p for p, s in zip(self.patient, self.severity) if s == "malignant"}


def _film(rng: np.random.Generator, size: int, side: str, lesions) -> np.ndarray:
    """A grey film: dark background, a bright breast-like half disc on one side, noise, lesions."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    edge_x = 0 if side == "L" else size - 1
    breast = np.hypot((xx - edge_x) / 0.85, yy - size / 2) < 0.6 * size
    img = 20 + 110 * breast + rng.normal(0, 10, (size, size))
    for x, y_top, radius in lesions:
        disc = np.hypot(xx - x, yy - y_top) <= radius
        img = np.where(disc, 235 + rng.normal(0, 5, (size, size)), img)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_mias(root: Path, *, n_patients: int = 12, n_malignant: int = 4, n_benign: int = 3,
               size: int = 256, seed: int = 0) -> SyntheticMias:
    """Write ``root/mias``: two films per patient (R then L).

    Patients ``1..n_malignant`` have a malignant right film, the next ``n_benign`` a benign left
    film; every other film is normal. The first malignant film has two lesions; the last malignant
    film has no coordinates (as some real MIAS films), so it counts as malignant but not located.
    """
    if n_malignant + n_benign > n_patients:
        raise ValueError("more abnormal patients than patients")
    mias = Path(root) / "mias"
    (mias / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = SyntheticMias(root=mias, size=size)
    film_rows, label_rows = [], []
    tissues = ("F", "G", "D")
    for p in range(1, n_patients + 1):
        tissue = tissues[p % 3]
        for side in ("R", "L"):
            name = f"mdb{len(out.names) + 1:03d}"
            severity, abnormality, circles = "normal", "NORM", []
            if p <= n_malignant and side == "R":
                severity, abnormality = "malignant", "CIRC"
                n_les = 2 if p == 1 else (0 if p == n_malignant and n_malignant > 1 else 1)
                circles = [(float(rng.integers(size // 4, 3 * size // 4)),
                            float(rng.integers(size // 4, 3 * size // 4)),
                            float(rng.integers(size // 32 + 2, size // 10 + 3))) for _ in range(n_les)]
                if n_les == 0:
                    abnormality = "CALC"
            elif n_malignant < p <= n_malignant + n_benign and side == "L":
                severity, abnormality = "benign", "ASYM"
                circles = [(float(rng.integers(size // 4, 3 * size // 4)),
                            float(rng.integers(size // 4, 3 * size // 4)),
                            float(rng.integers(size // 32 + 2, size // 10 + 3)))]
            Image.fromarray(_film(rng, size, side, circles)).save(mias / "images" / f"{name}.png")
            film_rows.append({"image": name, "tissue": tissue, "severity": severity,
                              "n_abnormalities": len(circles) if severity != "normal" else 0,
                              "patient": p, "side": side})
            if circles:
                for x, y_top, radius in circles:
                    label_rows.append({"image": name, "tissue": tissue, "abnormality": abnormality,
                                       "severity": severity, "x": int(x), "y": int(size - y_top),
                                       "radius": int(radius), "y_top": int(y_top)})
            else:  # a normal film, or a lesion without coordinates
                label_rows.append({"image": name, "tissue": tissue, "abnormality": abnormality,
                                   "severity": severity, "x": "", "y": "", "radius": "", "y_top": ""})
            out.names.append(name)
            out.severity.append(severity)
            out.patient.append(p)
            out.tissue.append(tissue)
            out.lesions[name] = [(x, y_top, r, severity, abnormality) for x, y_top, r in circles]
    write_csv(mias / "images.csv", film_rows, ["image", "tissue", "severity", "n_abnormalities", "patient", "side"])
    write_csv(mias / "labels.csv", label_rows,
              ["image", "tissue", "abnormality", "severity", "x", "y", "radius", "y_top"])
    return out


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row[c] for c in columns})


def read_csv(path: Path) -> tuple[list[dict], list[str]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader), list(reader.fieldnames or [])


def drop_column(path: Path, column: str) -> None:
    """Rewrite a CSV without one column (to check the loader's error)."""
    rows, columns = read_csv(path)
    write_csv(path, rows, [c for c in columns if c != column])


def write_all(root: Path, **isic_kwargs) -> Path:
    """A data root with synthetic ``isic4/`` and ``mias/``; returns ``root``."""
    write_isic(root, **isic_kwargs)
    write_mias(root)
    return Path(root)
