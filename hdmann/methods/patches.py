"""Lesion-centred patches from mini-MIAS films at native resolution, and matched negatives.

A lesion is small against a 1024x1024 film, so Study B asks its question where the content is:
square patches at the film's own 200 um pixel size, centred on each located lesion (x, y_top).
Negatives come from inside the breast (never the black background or the film label), from normal
films and from abnormal films away from every circle, and are matched to the lesion patches on mean
intensity and on distance from the breast edge, so neither brightness nor position alone separates
the classes. The contralateral scheme takes instead the mirrored position on the patient's other film.

Everything here works on plans (film, centre, label); pixels are cut later, after compression of
the whole film (see :func:`cut`), so a patch always sees the codec's effect on the full film.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from hdmann.engine import data

FILM_SIZE = 1024
MASK_STEP = 8  # the breast mask is found on an 8x block-mean image (128x128): fast and smooth enough


def breast_mask(film: np.ndarray, threshold: float = 20.0) -> np.ndarray:
    """Boolean mask of the breast: the largest bright connected region of the film, holes filled.

    The film label and tape markers are bright too, but they are separate islands on the black
    background, so keeping only the largest component drops them."""
    film = np.asarray(film)
    if film.ndim != 2 or film.shape[0] % MASK_STEP or film.shape[1] % MASK_STEP:
        raise ValueError(f"breast_mask needs a 2-D film whose sides are multiples of {MASK_STEP}, got {film.shape}")
    h, w = film.shape
    small = film.reshape(h // MASK_STEP, MASK_STEP, w // MASK_STEP, MASK_STEP).mean(axis=(1, 3))
    bright = ndimage.binary_opening(small > threshold, iterations=1)
    labels, n = ndimage.label(bright)
    if n == 0:
        return np.zeros_like(film, dtype=bool)
    sizes = ndimage.sum(bright, labels, index=np.arange(1, n + 1))
    largest = ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))
    return np.repeat(np.repeat(largest, MASK_STEP, axis=0), MASK_STEP, axis=1)


def edge_distance(mask: np.ndarray) -> np.ndarray:
    """Distance in film pixels from each pixel to the nearest non-breast pixel (0 outside)."""
    small = mask[::MASK_STEP, ::MASK_STEP]
    dist = ndimage.distance_transform_edt(np.pad(small, 1))[1:-1, 1:-1] * MASK_STEP
    return np.repeat(np.repeat(dist, MASK_STEP, axis=0), MASK_STEP, axis=1)


def cut(film: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    """The ``size`` x ``size`` patch centred on column ``x``, row ``y`` of the film.

    Centres near the border are kept: the part of the patch beyond the film is filled by
    reflecting the film (a lesion near the border stays centred, as its label says)."""
    film = np.asarray(film)
    if size < 1 or size > min(film.shape):
        raise ValueError(f"patch size {size} must lie in [1, {min(film.shape)}]")
    half = size // 2
    top, left = int(round(y)) - half, int(round(x)) - half
    rows = np.arange(top, top + size)
    cols = np.arange(left, left + size)
    return film[np.ix_(_reflect(rows, film.shape[0]), _reflect(cols, film.shape[1]))]


def _reflect(index: np.ndarray, n: int) -> np.ndarray:
    period = 2 * (n - 1)
    index = np.abs(index) % period
    return np.where(index >= n, period - index, index)


@dataclass(frozen=True)
class PatchPlan:
    """Where each patch comes from: one row per patch."""

    film: np.ndarray  # index into the MiasSet
    x: np.ndarray  # centre column on the 1024x1024 film
    y: np.ndarray  # centre row (top-left origin)
    radius: np.ndarray  # the circle's radius for lesion patches, 0 for negatives
    kind: np.ndarray  # 'malignant' | 'benign' | 'normal'
    source: np.ndarray  # 'lesion' | 'normal_film' | 'abnormal_film' | 'contralateral'
    patient: np.ndarray
    intensity: np.ndarray  # mean of the uncompressed patch
    edge: np.ndarray  # distance of the centre from the breast edge, film pixels

    def __len__(self) -> int:
        return len(self.film)

    def subset(self, index) -> "PatchPlan":
        index = np.asarray(index)
        return PatchPlan(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})

    @staticmethod
    def concat(plans) -> "PatchPlan":
        return PatchPlan(**{k: np.concatenate([getattr(p, k) for p in plans]) for k in PatchPlan.__dataclass_fields__})

    def labels(self, task: str) -> tuple[np.ndarray, np.ndarray]:
        """Labels of a task and the rows it uses: ``malignant`` (vs benign and normal pooled),
        ``abnormal`` (lesion vs normal tissue) or ``malignant_vs_benign`` (lesions only)."""
        if task == "malignant":
            return (self.kind == "malignant").astype(np.int32), np.arange(len(self))
        if task == "abnormal":
            return (self.kind != "normal").astype(np.int32), np.arange(len(self))
        if task == "malignant_vs_benign":
            rows = np.flatnonzero(self.kind != "normal")
            return (self.kind[rows] == "malignant").astype(np.int32), rows
        raise ValueError(f"task={task!r}: use malignant, abnormal or malignant_vs_benign")

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f"plan_{k}": getattr(self, k) for k in self.__dataclass_fields__}

    @staticmethod
    def from_arrays(arrays: dict) -> "PatchPlan":
        return PatchPlan(**{k: np.asarray(arrays[f"plan_{k}"]) for k in PatchPlan.__dataclass_fields__})


_DTYPES = {"film": np.int64, "x": np.float64, "y": np.float64, "radius": np.float64, "kind": "<U16",
           "source": "<U16", "patient": np.int64, "intensity": np.float64, "edge": np.float64}


def _plan(rows: list[dict]) -> PatchPlan:
    return PatchPlan(**{k: np.array([r[k] for r in rows], dtype=dt) for k, dt in _DTYPES.items()})


def lesion_census(mias: data.MiasSet, masks: dict[int, np.ndarray]) -> tuple[list[dict], list[dict]]:
    """Located lesions fit for a patch, and the odd ones left out with the reason.

    Left out: abnormal films whose lesions have no coordinates (mdb059, mdb216, mdb233, mdb245),
    and circles whose centre lies outside the breast mask (on background, e.g. mdb212, mdb214)."""
    kept, odd = [], []
    for i, name in enumerate(mias.names):
        if mias.severity[i] != "normal" and not mias.lesions[name]:
            odd.append({"film": name, "severity": str(mias.severity[i]), "reason": "no coordinates"})
        for les in mias.lesions[name]:
            row = {"film": name, "index": i, "severity": les.severity, "abnormality": les.abnormality,
                   "x": les.x, "y": les.y, "radius": les.radius}
            h, w = masks[i].shape
            cx, cy = int(np.clip(round(les.x), 0, w - 1)), int(np.clip(round(les.y), 0, h - 1))
            if not masks[i][cy, cx]:
                odd.append({"film": name, "severity": les.severity, "reason": "centre outside the breast mask"})
            else:
                kept.append(row)
    return kept, odd


def _far_from_circles(x, y, lesions, margin: float) -> np.ndarray:
    ok = np.ones(np.shape(x), bool)
    for les in lesions:
        ok &= np.hypot(np.asarray(x) - les.x, np.asarray(y) - les.y) > les.radius + margin
    return ok


def candidates(film: np.ndarray, mask: np.ndarray, lesions, size: int, stride: int) -> dict[str, np.ndarray]:
    """Grid centres inside the breast whose patch keeps clear of every circle, with the patch's
    mean intensity and the centre's distance from the breast edge."""
    half = size // 2
    ys, xs = np.meshgrid(np.arange(half, film.shape[0] - half + 1, stride),
                         np.arange(half, film.shape[1] - half + 1, stride), indexing="ij")
    xs, ys = xs.ravel(), ys.ravel()
    inside = mask[ys, xs] & _far_from_circles(xs, ys, lesions, margin=size * 0.71)
    xs, ys = xs[inside], ys[inside]
    integral = np.pad(film.astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    top, left = ys - half, xs - half
    total = (integral[top + size, left + size] - integral[top, left + size]
             - integral[top + size, left] + integral[top, left])
    dist = edge_distance(mask)
    return {"x": xs.astype(float), "y": ys.astype(float), "intensity": total / size**2,
            "edge": dist[ys, xs].astype(float)}


def match(targets: np.ndarray, pool: np.ndarray, per_target: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy nearest-neighbour matching without replacement in standardised feature space.

    Targets are visited in random order, each taking its ``per_target`` nearest unused pool rows,
    so the negatives' joint distribution of (intensity, edge distance) follows the lesions'."""
    if len(pool) < per_target * len(targets):
        raise ValueError(f"only {len(pool)} candidate negatives for {len(targets)} lesions x {per_target}: "
                         "lower negatives_per_lesion or the candidate stride")
    scale = pool.std(axis=0)
    scale[scale == 0] = 1.0
    p, t = pool / scale, targets / scale
    used = np.zeros(len(pool), bool)
    chosen = []
    for i in rng.permutation(len(targets)):
        d = np.sum((p - t[i]) ** 2, axis=1)
        d[used] = np.inf
        take = np.argpartition(d, per_target - 1)[:per_target]
        used[take] = True
        chosen.append(take)
    return np.concatenate(chosen) if chosen else np.zeros(0, int)


def plan_patches(mias: data.MiasSet, films: dict[int, np.ndarray], *, size: int, scheme: str,
                 negatives_per_lesion: int, stride: int, seed: int, threshold: float = 20.0
                 ) -> tuple[PatchPlan, list[dict]]:
    """The lesion patches and their negatives under ``scheme`` ('matched' or 'contralateral').

    ``films`` maps film index to the uncompressed film for every film of ``mias``. Returns the plan
    and the list of lesions left out (with reasons)."""
    if scheme not in ("matched", "contralateral"):
        raise ValueError(f"negative scheme {scheme!r}: use matched or contralateral")
    masks = {i: breast_mask(f, threshold) for i, f in films.items()}
    kept, odd = lesion_census(mias, masks)
    lesion_rows = []
    for les in kept:
        i = les["index"]
        patch = cut(films[i], les["x"], les["y"], size)
        lesion_rows.append({"film": i, "x": les["x"], "y": les["y"], "radius": les["radius"], "kind": les["severity"],
                            "source": "lesion", "patient": int(mias.patient[i]), "intensity": float(patch.mean()),
                            "edge": float(edge_distance(masks[i])[int(round(les["y"])), int(round(les["x"]))])})
    lesions = _plan(lesion_rows)
    if scheme == "contralateral":
        return PatchPlan.concat([lesions, contralateral(mias, films, masks, lesions, size, odd)]), odd
    pool_rows = []
    for i, film in films.items():
        c = candidates(film, masks[i], mias.lesions[mias.names[i]], size, stride)
        source = "normal_film" if mias.severity[i] == "normal" else "abnormal_film"
        for k in range(len(c["x"])):
            pool_rows.append((i, c["x"][k], c["y"][k], c["intensity"][k], c["edge"][k], source))
    pool = np.array([(r[3], r[4]) for r in pool_rows])
    take = match(np.stack([lesions.intensity, lesions.edge], axis=1), pool, negatives_per_lesion,
                 np.random.default_rng(seed))
    neg = _plan([{"film": pool_rows[j][0], "x": pool_rows[j][1], "y": pool_rows[j][2], "radius": 0.0,
                  "kind": "normal", "source": pool_rows[j][5], "patient": int(mias.patient[pool_rows[j][0]]),
                  "intensity": pool_rows[j][3], "edge": pool_rows[j][4]} for j in np.sort(take)])
    return PatchPlan.concat([lesions, neg]), odd


def other_film(mias: data.MiasSet, index: int) -> int | None:
    """The patient's other film (MIAS films come in left/right pairs), or None."""
    same = np.flatnonzero(mias.patient == mias.patient[index])
    others = [int(j) for j in same if j != index]
    return others[0] if others else None


def mirrored(x: float, width: int = FILM_SIZE) -> float:
    """Column of the same anatomical position on the other breast: MIAS left and right films face
    opposite ways, so the position mirrors about the film's vertical centre line."""
    return float(width - 1 - x)


def contralateral(mias, films, masks, lesions: PatchPlan, size: int, odd: list) -> PatchPlan:
    """For each lesion patch, the mirrored position on the patient's other film, when that film
    exists, the position lies in its breast and the patch keeps clear of that film's circles."""
    rows = []
    for k in range(len(lesions)):
        i = int(lesions.film[k])
        j = other_film(mias, i)
        if j is None:
            odd.append({"film": mias.names[i], "severity": str(lesions.kind[k]), "reason": "no contralateral film"})
            continue
        x, y = mirrored(lesions.x[k], films[j].shape[1]), float(lesions.y[k])
        cx, cy = int(round(x)), int(round(y))
        if not masks[j][cy, cx] or not _far_from_circles(x, y, mias.lesions[mias.names[j]], size * 0.71):
            odd.append({"film": mias.names[i], "severity": str(lesions.kind[k]),
                        "reason": "mirrored position off the other breast or on its lesion"})
            continue
        patch = cut(films[j], x, y, size)
        rows.append({"film": j, "x": x, "y": y, "radius": 0.0, "kind": "normal", "source": "contralateral",
                     "patient": int(mias.patient[j]), "intensity": float(patch.mean()),
                     "edge": float(edge_distance(masks[j])[cy, cx])})
    return _plan(rows)
