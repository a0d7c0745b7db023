"""Study A beyond the paper: the chapter's config and its profiles."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdmann.engine.config import build, builds, check_profile, Config, DEFAULT_PROFILE, in_range, unstated
from hdmann.engine.data import ISIC_CLASSES
from hdmann.methods.memory import BUNDLES, DISTANCES
from hdmann.studies import merged

from hdmann.studies.study_a.config import study_a_config, STUDY_A_LEVELS, StudyAConfig

ISIC_OTHER_USABLE = ("dermatofibroma", "squamous_cell_carcinoma", "vascular_lesion")


@dataclass(frozen=True)
class StudyABeyondConfig(Config):
    """Study A beyond the paper: train on compressed images, representation drift, class addition,
    out-of-distribution scores, hypervector dimension and the colour shortcut.

    ``study_a`` is the Study A config whose trained model (frozen) the chapter probes. Every model
    the chapter trains uses that config's architecture, split and epoch budget (``max_epochs`` and
    ``patience`` left at None), so the model trained on originals *is* Study A's model, reused, and
    every row of the train x test matrix is trained as long as it. ``dim_max_epochs`` may give the
    dimension sweep a shorter budget, shared by every D, and ``leave_out_max_epochs`` the three-class
    models of the leave-one-out rows one of their own.
    """

    profile: str = DEFAULT_PROFILE
    study_a: StudyAConfig = field(default_factory=StudyAConfig)
    max_epochs: int | None = None  # None: Study A's budget (the originals-trained model is then Study A's)
    patience: int | None = None  # None: Study A's
    dim_max_epochs: int | None = unstated(None, "epochs of every model of the D sweep (None: the budget above); one shared budget so D alone differs")
    leave_out_max_epochs: int | None = unstated(None, "epochs of each three-class (leave-one-out) model (None: the budget above)")
    train_levels: tuple[str, ...] = STUDY_A_LEVELS  # JPEG levels a model is trained at (the train x test matrix)
    mixed_training: bool = True  # one more model: a random level per sample and epoch copy
    mixed_seed: int = unstated(11, "the random level drawn per sample and epoch copy of the mixed model")
    dims: tuple[int, ...] = (64, 500, 2000, 10000)  # hypervector dimensions of the D sweep
    new_classes: tuple[str, ...] = ISIC_OTHER_USABLE  # isic-other diagnoses added as a fifth class
    shots: tuple[int, ...] = (1, 5, 20)  # k images whose mean output becomes the key; "all" always added
    addition_rules: tuple[str, ...] = unstated(
        ("mean-l2", "majority-hamming", "mean-hamming"),
        "how a new key is written and compared, '<bundle>-<distance>'; the first is the chapter's rule (its "
        "verdict), the others are reported beside it. mean-l2: the centroid of the k outputs, nearest by L2 on "
        "the raw outputs; majority-hamming: the per-bit majority under the paper's Hamming rule; mean-hamming: "
        "a soft key under Hamming (never nearest: outputs sit near the old keys)")
    held_out_fraction: float = unstated(0.5, "share of each new class kept for testing")
    shot_draws: int = unstated(20, "random draws of the k support images, averaged")
    probe_draws: int = unstated(5, "draws on which the linear probe is also fitted (it costs ~1 s each)")
    addition_levels: tuple[str, ...] = unstated(("original", "q10", "q5", "q1"), "JPEG levels at which class addition is tested")
    leave_out_classes: tuple[str, ...] = ("melanoma", "nevus", "basal_cell_carcinoma",
                                          "pigmented_benign_keratosis")
    max_new_per_class: int | None = None  # subsample isic-other (smoke only)
    ood_compressed_max_quality: int = 5  # "too compressed": JPEG quality at or below this
    mias_patches: int = unstated(200, "far-OOD mammogram patches (one per film, seeded position)")
    mias_patch_size: int = unstated(180, "patch side on the 1024-pixel film, as an ISIC image")
    max_far_images: int | None = None  # subsample each far-OOD set (smoke only)
    saliency_images: int | None = unstated(120, "validation images whose maps are compared")
    grid_images: int = 3  # images in the grid of maps
    top_share: float = 0.10  # top-10 % overlap of two maps
    thumbnail_size: int = unstated(4, "colour baseline input: size x size x 3 mean colours")
    colour_c: float = unstated(1.0, "inverse L2 strength of the colour logistic regression (scikit-learn's default)")
    probe_c: float = unstated(1.0, "inverse L2 strength of the linear probe, on standardised outputs (scikit-learn's default)")
    selective_coverages: int = 20  # points on a selective-accuracy curve
    sample_seed: int = unstated(12, "held-out splits, shot draws, patch positions, subsamples")
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 13

    def __post_init__(self) -> None:
        check_profile(self.profile)
        for name, low in (("max_epochs", 1), ("patience", 0), ("dim_max_epochs", 1), ("leave_out_max_epochs", 1)):
            if getattr(self, name) is not None:
                in_range(name, getattr(self, name), low, 10_000)
        for rule in self.addition_rules:
            bundle, _, distance = rule.partition("-")
            if bundle not in BUNDLES or distance not in DISTANCES:
                raise ValueError(f"addition rule {rule!r}: write <bundle>-<distance> with a bundle of {BUNDLES} "
                                 f"and a distance of {DISTANCES}, e.g. 'mean-l2'")
        if not self.addition_rules:
            raise ValueError("addition_rules is empty: give at least one rule, e.g. ('mean-l2',)")
        in_range("held_out_fraction", self.held_out_fraction, 0.05, 0.95)
        in_range("shot_draws", self.shot_draws, 1, 10_000)
        in_range("probe_draws", self.probe_draws, 1, 10_000)
        in_range("top_share", self.top_share, 0.001, 0.5)
        in_range("thumbnail_size", self.thumbnail_size, 1, 64)
        in_range("bootstrap_samples", self.bootstrap_samples, 10, 100_000)
        in_range("ood_compressed_max_quality", self.ood_compressed_max_quality, 1, 95)
        in_range("mias_patch_size", self.mias_patch_size, 16, 1024)
        in_range("selective_coverages", self.selective_coverages, 2, 1000)
        for k in self.shots:
            in_range("shot count", k, 1, 10_000)
        for d in self.dims:
            in_range("hypervector dimension", d, 8, 100_000)
        known = {"original", *(f"q{q}" for q in self.study_a.jpeg_qualities)}
        for name in ("train_levels", "addition_levels"):
            extra = [lv for lv in getattr(self, name) if lv not in known]
            if extra:
                raise ValueError(f"{name} {extra} are not Study A levels; choose from {sorted(known)}")
        if "original" not in self.train_levels:
            raise ValueError("train_levels must include 'original': it is the reference row")
        for name in ("new_classes",):
            extra = set(getattr(self, name)) - set(ISIC_OTHER_USABLE)
            if extra:
                raise ValueError(f"new_classes {sorted(extra)}: isic-other has enough images only for "
                                 f"{ISIC_OTHER_USABLE}")
        extra = set(self.leave_out_classes) - set(ISIC_CLASSES)
        if extra:
            raise ValueError(f"leave_out_classes {sorted(extra)} are not isic4 classes {ISIC_CLASSES}")
        if self.profile != self.study_a.profile:
            raise ValueError(f"profile {self.profile!r} but study_a has profile {self.study_a.profile!r}: "
                             "build both with study_a_beyond_config(profile)")



_STUDY_A_BEYOND_PROFILES: dict[str, dict[str, Any]] = {
    # smoke: the chapter's models keep Study A's smoke budget (so the originals row reuses its model)
    "smoke": dict(dim_max_epochs=1, train_levels=("original", "q5"), mixed_training=False, dims=(64, 500),
                  shots=(1, 5), shot_draws=3, probe_draws=2, addition_levels=("original", "q5"),
                  leave_out_classes=("melanoma",), max_new_per_class=20, mias_patches=20,
                  max_far_images=20, saliency_images=8, grid_images=2, bootstrap_samples=200),
    # quick: the matrix and the softmax baseline have Study A's quick budget (the originals row is Study
    # A's model, reused); one compressed level (q5, where the paper sees clustering greatly diminished), no mixed
    # row (the dearest model, ~570 CPU s: `paper` trains it); one left-out class of four, its
    # three-class model on 6 epochs; the dimension sweep on 3 epochs shared by every D, at three D
    # (64, the paper's 500 and 10,000; `paper` adds 2,000). The seeds of the matrix cost what these
    # cuts save (bench/records/README.md, the quick book within 60 min cold on 2 cores)
    "quick": dict(train_levels=("original", "q5"), mixed_training=False, dim_max_epochs=3, dims=(64, 500, 10000),
                  leave_out_max_epochs=6, leave_out_classes=("melanoma",), probe_draws=2, mias_patches=200),
    "paper": dict(),
}


@builds(StudyABeyondConfig)
def study_a_beyond_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None,
                          **fields: Any) -> StudyABeyondConfig:
    """The chapter's config; its ``study_a`` is Study A's config of the same profile (with the
    ``study_a`` part of ``overrides``, so one override changes the model the chapter probes too)."""
    fields = merged("study_a_beyond", overrides, fields)
    fields.setdefault("study_a", study_a_config(profile, overrides))
    return build(StudyABeyondConfig, _STUDY_A_BEYOND_PROFILES, profile, fields)

