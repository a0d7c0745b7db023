"""Study A beyond the paper: the datasets Study A's loaders do not cover (isic-other's new classes,
BreastMNIST, mammogram patches), read at model size."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from hdmann.engine import coding, data

ISIC_OTHER = "isic-other"
BREASTMNIST = "breastmnist"


def list_isic_other(classes, data_root=None) -> list[tuple[Path, int]]:
    """(file, index into ``classes``) of isic-other, train and test folders pooled (its README: the
    source's test folder is tiny and uneven), sorted by class then name."""
    root = data.dataset_dir(ISIC_OTHER, data_root)
    items = []
    for label, cls in enumerate(classes):
        files = []
        for split in ("train", "test"):
            folder = root / split / cls
            if folder.is_dir():
                files += [p for p in folder.iterdir() if p.suffix.lower() in data.IMAGE_SUFFIXES]
        if not files:
            raise data.DataError(f"isic-other has no images of {cls!r} under {str(root)!r} "
                                 "({train,test}/<class>/*.png expected; see its README).")
        items += [(p, label) for p in sorted(files, key=lambda p: p.name)]
    return items


def load_isic_other(classes, size: int, data_root=None, max_per_class=None, seed: int = 0) -> data.ImageSet:
    items = list_isic_other(classes, data_root)
    labels = np.array([label for _, label in items])
    keep = data.take_per_class(labels, max_per_class, seed)
    images = np.stack([data.read_image(items[i][0], "RGB", size) for i in keep])
    return data.ImageSet(images, labels[keep], [items[i][0].stem for i in keep], tuple(classes))


def breastmnist_file(data_root=None) -> Path:
    return data.dataset_dir(BREASTMNIST, data_root) / "breastmnist.npz"


def load_breastmnist(size: int, data_root=None, limit=None, seed: int = 0) -> np.ndarray:
    """BreastMNIST's test split (ultrasound, 28 px grey) as RGB uint8 at ``size``: a far
    out-of-distribution set."""
    path = breastmnist_file(data_root)
    if not path.is_file():
        raise data.DataError(f"{str(path)!r} is missing; see the breastmnist README for its source.")
    data.note_read(path)
    with np.load(path) as npz:
        if "test_images" not in npz.files:
            raise data.DataError(f"{str(path)!r} has no 'test_images' (keys: {npz.files}).")
        grey = npz["test_images"]
    if limit is not None and limit < len(grey):
        grey = grey[np.sort(np.random.default_rng(seed).choice(len(grey), limit, replace=False))]
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    return coding.compress_many(rgb, None, out_size=size, workers=1)[0]


def load_mias_patches(count: int, patch: int, size: int, data_root=None, seed: int = 0) -> np.ndarray:
    """One square patch per film (seeded position inside the breast's bounding box of non-dark
    pixels), grey repeated to RGB and resized to ``size``: a far out-of-distribution set."""
    films = data.load_mias(data_root)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(films), min(count, len(films)), replace=False))
    out = []
    for i in pick:
        film = data.read_image(films.path(films.names[i]), "L")
        rows, cols = np.nonzero(film > 40)
        r0, r1 = (rows.min(), rows.max()) if len(rows) else (0, film.shape[0])
        c0, c1 = (cols.min(), cols.max()) if len(cols) else (0, film.shape[1])
        top = int(rng.integers(r0, max(r0 + 1, min(r1, film.shape[0]) - patch + 1)))
        left = int(rng.integers(c0, max(c0 + 1, min(c1, film.shape[1]) - patch + 1)))
        crop = film[top:top + patch, left:left + patch]
        crop = np.pad(crop, ((0, patch - crop.shape[0]), (0, patch - crop.shape[1])))
        out.append(np.repeat(crop[..., None], 3, axis=-1))
    return coding.compress_many(np.stack(out), None, out_size=size, workers=1)[0]
