"""One typed config per study, with named profiles.

``smoke`` keeps CI under its budget, ``quick`` is the CPU default, ``paper`` carries the
papers' stated settings (GPU-sized). Every field that the papers leave unstated is marked
``# unstated`` and the book says which value we chose.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

PROFILES = ("smoke", "quick", "paper")
DEFAULT_PROFILE = "quick"

STUDY_A_QUALITIES = (50, 20, 10, 5, 3, 1)
STUDY_B_RATIOS = (15, 20, 25, 50, 100, 500, 1000, 5000, 10000, 11000)
# the paper's ten targets plus achievable points between 1,000 and the codec floor (~6,700:1 on a film)
STUDY_B_PATCH_RATIOS = (15, 20, 25, 50, 100, 500, 1000, 2000, 3000, 5000, 10000, 11000)


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")


def _in_range(name: str, value: Any, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ValueError(f"{name}={value!r} is out of range: it must lie in [{low}, {high}]")


class _Config:
    """What every config can do: become a dict (for cache keys) and give a changed copy."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class StudyAConfig(_Config):
    """HD-MANN on the 4-class ISIC set (Barros Everett), Table I architecture."""

    profile: str = DEFAULT_PROFILE
    image_size: int = 180
    source_size: int = 180  # the stored images' size: JPEG copies are made at it, then resized
    hypervector_dim: int = 500
    conv_filters: tuple[int, int] = (64, 128)
    dense_units: int = 1000
    dropout_rate: float = 0.5  # unstated
    output_activation: str = "linear"  # unstated
    per_class_target: int = 600
    validation_fraction: float = 0.2
    paper_order: bool = False  # True: augment to 600/class first, then split (leaks)
    rotation_factor: float = 0.1  # unstated; fraction of a full turn, as keras.layers.RandomRotation
    zoom_factor: float = 0.2  # unstated
    flip: str = "horizontal_and_vertical"  # unstated
    batch_size: int = 32
    max_epochs: int = 200
    patience: int = 10  # unstated
    learning_rate: float = 1e-3  # unstated (AdamW default)
    weight_decay: float = 0.004  # unstated (AdamW default)
    jpeg_qualities: tuple[int, ...] = STUDY_A_QUALITIES
    jpeg_subsampling: str = "4:2:0"  # unstated (libjpeg default)
    distance: str = "hamming"
    max_images_per_class: int | None = None  # subsample the train folder (smoke only)
    max_test_images_per_class: int | None = None
    split_seed: int = 0
    augment_seed: int = 1
    key_seed: int = 2
    train_seed: int = 3
    tsne_perplexity: float = 30.0
    tsne_seed: int = 4
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 5

    def __post_init__(self) -> None:
        _check_profile(self.profile)
        _in_range("image_size", self.image_size, 16, 1024)
        if self.image_size % 4:
            raise ValueError(f"image_size={self.image_size} must be a multiple of 4 (two 2x2 poolings)")
        _in_range("hypervector_dim", self.hypervector_dim, 8, 100_000)
        _in_range("dropout_rate", self.dropout_rate, 0.0, 0.95)
        _in_range("validation_fraction", self.validation_fraction, 0.05, 0.5)
        _in_range("per_class_target", self.per_class_target, 2, 100_000)
        _in_range("rotation_factor", self.rotation_factor, 0.0, 0.5)
        _in_range("zoom_factor", self.zoom_factor, 0.0, 0.9)
        _in_range("batch_size", self.batch_size, 1, 4096)
        _in_range("max_epochs", self.max_epochs, 1, 10_000)
        _in_range("patience", self.patience, 0, 10_000)
        _in_range("tsne_perplexity", self.tsne_perplexity, 2.0, 100.0)
        _in_range("bootstrap_samples", self.bootstrap_samples, 10, 100_000)
        for q in self.jpeg_qualities:
            _in_range("jpeg quality", q, 1, 95)
        if self.output_activation not in ("linear", "sigmoid", "tanh"):
            raise ValueError(f"output_activation={self.output_activation!r}: use linear, sigmoid or tanh")
        if self.distance not in ("hamming", "cosine", "l2"):
            raise ValueError(f"distance={self.distance!r}: use hamming, cosine or l2")
        if self.flip not in ("horizontal", "vertical", "horizontal_and_vertical", "none"):
            raise ValueError(f"flip={self.flip!r}: use horizontal, vertical, horizontal_and_vertical or none")
        if self.jpeg_subsampling not in ("4:4:4", "4:2:2", "4:2:0"):
            raise ValueError(f"jpeg_subsampling={self.jpeg_subsampling!r}: use 4:4:4, 4:2:2 or 4:2:0")


STUDY_A_LEVELS = ("original",) + tuple(f"q{q}" for q in STUDY_A_QUALITIES)
ISIC_OTHER_USABLE = ("dermatofibroma", "squamous_cell_carcinoma", "vascular_lesion")


@dataclass(frozen=True)
class StudyABeyondConfig(_Config):
    """Study A beyond the paper: train on compressed images, representation drift, class addition,
    out-of-distribution scores, hypervector dimension and the colour shortcut.

    ``study_a`` is the Study A config whose trained model (frozen) the chapter probes; every model
    the chapter trains itself uses that config's architecture and split with this config's epoch
    budget (``max_epochs``, ``patience``), so all of its models share one budget.
    """

    profile: str = DEFAULT_PROFILE
    study_a: StudyAConfig = field(default_factory=StudyAConfig)
    max_epochs: int = 200  # the paper's cap, as Study A
    patience: int = 10  # unstated, as Study A
    train_levels: tuple[str, ...] = STUDY_A_LEVELS  # JPEG levels a model is trained at (item 1)
    mixed_training: bool = True  # one more model: a random level per sample and epoch copy
    mixed_seed: int = 11  # unstated
    dims: tuple[int, ...] = (64, 500, 2000, 10000)  # item 5
    new_classes: tuple[str, ...] = ISIC_OTHER_USABLE  # isic-other diagnoses added as a fifth class
    shots: tuple[int, ...] = (1, 5, 20)  # k images whose mean output becomes the key; "all" always added
    held_out_fraction: float = 0.5  # unstated; share of each new class kept for testing
    shot_draws: int = 20  # unstated; random draws of the k support images, averaged
    probe_draws: int = 5  # unstated; draws on which the linear probe is also fitted (it costs ~1 s each)
    addition_levels: tuple[str, ...] = ("original", "q10", "q5", "q1")  # unstated
    leave_out_classes: tuple[str, ...] = ("melanoma", "nevus", "basal_cell_carcinoma",
                                          "pigmented_benign_keratosis")
    max_new_per_class: int | None = None  # subsample isic-other (smoke only)
    ood_compressed_max_quality: int = 5  # "too compressed": JPEG quality at or below this
    mias_patches: int = 200  # unstated; far-OOD mammogram patches (one per film, seeded position)
    mias_patch_size: int = 180  # unstated; patch side on the 1024-pixel film, as an ISIC image
    max_far_images: int | None = None  # subsample each far-OOD set (smoke only)
    saliency_images: int | None = 120  # unstated; validation images whose maps are compared
    grid_images: int = 3  # images in the grid of maps
    top_share: float = 0.10  # top-10 % overlap of two maps
    thumbnail_size: int = 4  # unstated; colour baseline input: size x size x 3 mean colours
    colour_c: float = 1.0  # unstated; inverse L2 strength of the colour logistic regression
    probe_c: float = 1.0  # unstated; inverse L2 strength of the linear probe
    selective_coverages: int = 20  # points on a selective-accuracy curve
    sample_seed: int = 12  # unstated; held-out splits, shot draws, patch positions, subsamples
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 13

    def __post_init__(self) -> None:
        _check_profile(self.profile)
        _in_range("max_epochs", self.max_epochs, 1, 10_000)
        _in_range("patience", self.patience, 0, 10_000)
        _in_range("held_out_fraction", self.held_out_fraction, 0.05, 0.95)
        _in_range("shot_draws", self.shot_draws, 1, 10_000)
        _in_range("probe_draws", self.probe_draws, 1, 10_000)
        _in_range("top_share", self.top_share, 0.001, 0.5)
        _in_range("thumbnail_size", self.thumbnail_size, 1, 64)
        _in_range("bootstrap_samples", self.bootstrap_samples, 10, 100_000)
        _in_range("ood_compressed_max_quality", self.ood_compressed_max_quality, 1, 95)
        _in_range("mias_patch_size", self.mias_patch_size, 16, 1024)
        _in_range("selective_coverages", self.selective_coverages, 2, 1000)
        for k in self.shots:
            _in_range("shot count", k, 1, 10_000)
        for d in self.dims:
            _in_range("hypervector dimension", d, 8, 100_000)
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
        from hdmann.data import ISIC_CLASSES
        extra = set(self.leave_out_classes) - set(ISIC_CLASSES)
        if extra:
            raise ValueError(f"leave_out_classes {sorted(extra)} are not isic4 classes {ISIC_CLASSES}")
        if self.profile != self.study_a.profile:
            raise ValueError(f"profile {self.profile!r} but study_a has profile {self.study_a.profile!r}: "
                             "build both with study_a_beyond_config(profile)")


@dataclass(frozen=True)
class StudyBConfig(_Config):
    """Malignant-vs-not mammogram classification under JPEG 2000 (Jo et al. 2021) on mini-MIAS."""

    profile: str = DEFAULT_PROFILE
    input_size: int = 256  # unstated
    conv_filters: tuple[int, int, int] = (16, 32, 64)  # unstated
    dense_units: tuple[int, int] = (128, 32)  # unstated; the third FC layer is the sigmoid output
    dropout_rate: float = 0.3  # unstated
    learning_rate: float = 1e-3  # unstated (Adam)
    batch_size: int = 16  # unstated
    max_epochs: int = 60  # unstated
    patience: int = 10  # unstated
    inner_validation_fraction: float = 0.2  # unstated; early stopping inside each training fold
    n_folds: int = 5
    fold_seed: int = 0
    train_seed: int = 1
    codec: str = "jpeg2000"  # unstated
    compression_ratios: tuple[int, ...] = STUDY_B_RATIOS
    matrix_ratios: tuple[int, ...] = STUDY_B_RATIOS  # experiment (c): train-CR x test-CR
    resnet_ratios: tuple[int, ...] = STUDY_B_RATIOS  # ResNet18 also trained on these (always on originals)
    resnet_weights: str | None = None  # a user-supplied .weights.h5 for the ResNet18
    # unstated; BatchNormalization's running-statistics momentum (ResNet18, the patch CNN). Keras's 0.99 keeps
    # ~18 % of the initial (0, 1) statistics after the ~170 steps of a 12-epoch patch run (~50 % after 4
    # ResNet18 epochs): inference then sees statistics training never had, and fold models' scores drift
    # apart in scale (patch CNN on inner splits: per-fold AUROC 0.73-0.79, pooled 0.55). 0.9 forgets in ~50 steps.
    batchnorm_momentum: float = 0.9
    resnet_max_epochs: int | None = None  # None: max_epochs; ResNet18 costs ~10x the CNN per epoch
    max_films: int | None = None  # subsample the films (smoke only), stratified
    saliency_ratios: tuple[int, ...] = (15, 1000, 11000)
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 2
    workers: int = 2
    # --- the patch design (study_b_patches): lesion-centred patches at native 200 um pixels ---
    patch_size: int = 224  # unstated (the paper classifies whole films)
    patch_shift: int = 8  # unstated; largest random shift (pixels) in training augmentation
    patch_levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # test levels, experiment (a)
    patch_train_levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # own CNN training runs, (b) and (c)
    patch_resnet_levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # own ResNet18 runs (originals always)
    patch_repeats: int = 3  # seeds of the whole 5-fold cross-validation
    patch_level_repeats: int = 3  # CNN repeats at each compressed training level
    patch_resnet_repeats: int = 3
    patch_epochs: int = 12  # unstated; a short fixed budget: held-out AUROC falls as the training loss does
    patch_resnet_epochs: int = 12  # unstated
    patch_batch_size: int = 16  # unstated; small batches give more steps on ~280 training patches
    patch_learning_rate: float = 1e-3  # unstated (Adam)
    patch_standardise: bool = True  # unstated; z-score each patch: raw 8-bit patches left the CNN's loss at ln 2
    patch_head: str = "flatten"  # unstated; CNN head: flatten (the paper's 3 FC) | gap (global average pooling first)
    patch_weight_decay: float = 0.05  # unstated; Adam's decoupled weight decay (0: none); won the inner-split selection
    patch_batchnorm: bool = True  # unstated; BatchNormalization between each convolution and its ReLU (won the inner splits)
    patch_select_variants: tuple[str, ...] = ("flatten", "gap", "flatten_wd", "gap_wd", "bn_wd", "bn_wd_slow")  # CNN variants tried on inner splits
    negative_scheme: str = "matched"  # matched | contralateral (the sensitivity check)
    negatives_per_lesion: int = 2  # unstated
    negative_stride: int = 32  # unstated; grid step of candidate negative centres
    breast_threshold: float = 20.0  # unstated; grey level that separates breast from background
    max_normal_films: int | None = None  # normal films that may give negatives (None: all)
    feature_c: float = 1.0  # unstated; inverse L2 strength of the feature baseline's logistic regression
    sliding_stride: int = 32  # unstated; step of the sliding-window map over a whole film
    sliding_films: int = 12  # malignant films drawn for the sliding-window maps
    patch_seed: int = 3

    def __post_init__(self) -> None:
        _check_profile(self.profile)
        self._check_patches()
        _in_range("input_size", self.input_size, 32, 1024)
        if self.input_size % 8:
            raise ValueError(f"input_size={self.input_size} must be a multiple of 8 (three 2x2 poolings)")
        _in_range("n_folds", self.n_folds, 2, 20)
        _in_range("dropout_rate", self.dropout_rate, 0.0, 0.95)
        _in_range("inner_validation_fraction", self.inner_validation_fraction, 0.05, 0.5)
        _in_range("max_epochs", self.max_epochs, 1, 10_000)
        if self.resnet_max_epochs is not None:
            _in_range("resnet_max_epochs", self.resnet_max_epochs, 1, 10_000)
        _in_range("workers", self.workers, 1, 256)
        _in_range("batchnorm_momentum", self.batchnorm_momentum, 0.0, 0.999)
        if self.codec not in ("jpeg2000", "jpeg", "webp"):
            raise ValueError(f"codec={self.codec!r}: use jpeg2000, jpeg or webp")
        for r in (*self.compression_ratios, *self.matrix_ratios, *self.resnet_ratios, *self.saliency_ratios):
            _in_range("compression ratio", r, 1, 1_000_000)
        for name in ("matrix_ratios", "resnet_ratios", "saliency_ratios"):
            extra = set(getattr(self, name)) - set(self.compression_ratios)
            if extra:
                raise ValueError(f"{name} {sorted(extra)} are not among compression_ratios")

    def _check_patches(self) -> None:
        _in_range("patch_size", self.patch_size, 32, 512)
        if self.patch_size % 8:
            raise ValueError(f"patch_size={self.patch_size} must be a multiple of 8 (three 2x2 poolings)")
        _in_range("patch_shift", self.patch_shift, 0, self.patch_size // 4)
        _in_range("patch_repeats", self.patch_repeats, 1, 100)
        _in_range("patch_level_repeats", self.patch_level_repeats, 1, 100)
        _in_range("patch_resnet_repeats", self.patch_resnet_repeats, 0, 100)
        _in_range("patch_epochs", self.patch_epochs, 1, 10_000)
        _in_range("patch_resnet_epochs", self.patch_resnet_epochs, 1, 10_000)
        _in_range("patch_batch_size", self.patch_batch_size, 1, 4096)
        _in_range("negatives_per_lesion", self.negatives_per_lesion, 1, 50)
        _in_range("negative_stride", self.negative_stride, 4, 512)
        _in_range("sliding_stride", self.sliding_stride, 4, 512)
        _in_range("sliding_films", self.sliding_films, 0, 322)
        _in_range("breast_threshold", self.breast_threshold, 0, 254)
        if self.patch_head not in ("flatten", "gap"):
            raise ValueError(f"patch_head={self.patch_head!r}: use flatten or gap")
        _in_range("patch_weight_decay", self.patch_weight_decay, 0.0, 1.0)
        unknown = set(self.patch_select_variants) - set(PATCH_CNN_VARIANTS)
        if unknown:
            raise ValueError(f"patch_select_variants {sorted(unknown)} unknown; use some of {sorted(PATCH_CNN_VARIANTS)}")
        if self.negative_scheme not in ("matched", "contralateral"):
            raise ValueError(f"negative_scheme={self.negative_scheme!r}: use matched or contralateral")
        for r in self.patch_levels:
            _in_range("patch level ratio", r, 1, 1_000_000)
        for name in ("patch_train_levels", "patch_resnet_levels"):
            extra = set(getattr(self, name)) - set(self.patch_levels)
            if extra:
                raise ValueError(f"{name} {sorted(extra)} are not among patch_levels")


@dataclass(frozen=True)
class StudyBControlConfig(_Config):
    """How much of the whole-film negative control (chapter study_b_control) a profile runs; the
    films, model and training settings are the StudyBConfig's."""

    profile: str = DEFAULT_PROFILE
    seeds: int = 5  # CNN training seeds on the real labels
    permutations: int = 5  # CNN runs on permuted labels (what "no signal" scores)
    aligned: bool = True  # also a run with every breast turned the same way (the side cue removed)
    untrained: int = 100  # untrained networks scored (the output spread of random weights)
    fold_splits: int = 1000  # patient-grouped splits drawn for the side-only score's distribution

    def __post_init__(self) -> None:
        _check_profile(self.profile)
        _in_range("seeds", self.seeds, 1, 100)
        _in_range("permutations", self.permutations, 1, 1000)
        _in_range("untrained", self.untrained, 1, 10_000)
        _in_range("fold_splits", self.fold_splits, 1, 100_000)


@dataclass(frozen=True)
class CompressionConfig(_Config):
    """The compression chapter: codec ladders on both datasets."""

    profile: str = DEFAULT_PROFILE
    jpeg_qualities: tuple[int, ...] = STUDY_A_QUALITIES
    jp2_ratios: tuple[int, ...] = STUDY_B_RATIOS
    max_isic_images: int | None = None  # per class, over both splits (smoke only)
    example_class: str = "melanoma"
    example_film: str | None = None  # default: the first malignant film with a located lesion
    survey_seed: int = 0
    workers: int = 2
    ratio_tolerance: float = 0.10  # a target counts as reached within 10 %

    def __post_init__(self) -> None:
        _check_profile(self.profile)
        _in_range("ratio_tolerance", self.ratio_tolerance, 0.0, 1.0)
        for q in self.jpeg_qualities:
            _in_range("jpeg quality", q, 1, 95)
        for r in self.jp2_ratios:
            _in_range("compression ratio", r, 1, 1_000_000)
        _in_range("workers", self.workers, 1, 256)


_STUDY_A_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(image_size=32, per_class_target=40, max_images_per_class=30,
                  max_test_images_per_class=8, max_epochs=3, patience=2,
                  tsne_perplexity=10.0, bootstrap_samples=200),
    "quick": dict(image_size=48, max_epochs=20, patience=4),
    "paper": dict(),
}

_STUDY_B_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(input_size=64, max_epochs=2, patience=1, max_films=60,
                  compression_ratios=(15, 1000, 11000), matrix_ratios=(15, 11000),
                  resnet_ratios=(), saliency_ratios=(15, 11000), bootstrap_samples=200),
    "quick": dict(input_size=64, max_epochs=20, patience=5, resnet_max_epochs=8,
                  matrix_ratios=(15, 100, 1000, 5000, 11000), resnet_ratios=()),
    "paper": dict(input_size=512),
}

_STUDY_B_CONTROL_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(seeds=1, permutations=1, aligned=False, untrained=5, fold_splits=20),
    "quick": dict(seeds=1, permutations=1, aligned=True, untrained=20, fold_splits=200),
    "paper": dict(),
}

# CNN variants the patch chapter compares on an inner split (config overrides of each). Every variant
# names its head, weight decay, BatchNorm and learning rate; all but *_slow train for the profile's
# patch_epochs (12 in quick and paper, 2 in smoke), *_slow for a longer budget of its own.
_SHORT = dict(patch_learning_rate=1e-3)
PATCH_CNN_VARIANTS: dict[str, dict[str, Any]] = {
    "flatten": dict(patch_head="flatten", patch_weight_decay=0.0, patch_batchnorm=False, **_SHORT),
    "gap": dict(patch_head="gap", patch_weight_decay=0.0, patch_batchnorm=False, **_SHORT),
    "flatten_wd": dict(patch_head="flatten", patch_weight_decay=0.05, patch_batchnorm=False, **_SHORT),
    "gap_wd": dict(patch_head="gap", patch_weight_decay=0.05, patch_batchnorm=False, **_SHORT),
    # BatchNormalization between each convolution and its ReLU, same budget
    "bn_wd": dict(patch_head="flatten", patch_weight_decay=0.05, patch_batchnorm=True, **_SHORT),
    # ... and a lower learning rate over a longer fixed budget (the same number of "learning-rate epochs")
    "bn_wd_slow": dict(patch_head="flatten", patch_weight_decay=0.05, patch_batchnorm=True,
                       patch_learning_rate=3e-4, patch_epochs=30),
}

# the patch design's profile settings, apart from the whole-film ones above
_STUDY_B_PATCH_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(patch_size=48, patch_shift=4, patch_levels=(1000, 11000), patch_train_levels=(),
                  patch_resnet_levels=(), patch_repeats=1, patch_level_repeats=1, patch_resnet_repeats=1,
                  patch_epochs=2, patch_resnet_epochs=1, patch_select_variants=("flatten_wd", "bn_wd"), max_normal_films=20,
                  negatives_per_lesion=1, negative_stride=64, sliding_stride=96, sliding_films=2),
    # quick: a 2-core budget of ~17 min cold for the chapter (CPU seconds per stage: bench/run.py RECORDED);
    # one seed each for the CNN and ResNet18 on originals, one CNN run at 3,000:1, and the two selection
    # variants at the same 12-epoch budget that differ only in BatchNorm (the paper profile runs all six)
    "quick": dict(patch_size=96, patch_levels=(15, 1000, 2000, 3000, 5000, 11000),
                  patch_train_levels=(3000,), patch_resnet_levels=(), patch_repeats=1,
                  patch_level_repeats=1, patch_resnet_repeats=1, patch_epochs=12, patch_resnet_epochs=4,
                  patch_select_variants=("flatten_wd", "bn_wd"), max_normal_films=60, sliding_stride=48,
                  sliding_films=8),
    "paper": dict(),
}

_STUDY_A_BEYOND_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(max_epochs=1, patience=1, train_levels=("original", "q5"), mixed_training=False, dims=(64, 500),
                  shots=(1, 5), shot_draws=3, probe_draws=2, addition_levels=("original", "q5"),
                  leave_out_classes=("melanoma",), max_new_per_class=20, mias_patches=20,
                  max_far_images=20, saliency_images=8, grid_images=2, bootstrap_samples=200),
    # quick: every model of the chapter gets 3 epochs (Study A's quick model runs ~15); four
    # train levels of seven plus mixed; one leave-one-out class of four; all four dimensions
    "quick": dict(max_epochs=3, patience=3, train_levels=("original", "q10", "q5", "q1"),
                  leave_out_classes=("melanoma",), mias_patches=200),
    "paper": dict(),
}

_COMPRESSION_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(max_isic_images=10),
    "quick": dict(),
    "paper": dict(),
}


def _build(cls, table, profile, overrides):
    _check_profile(profile)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; known: {sorted(fields)}")
    values = {**table[profile], **overrides}
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = tuple(value)
    return cls(profile=profile, **values)


def study_a_config(profile: str = DEFAULT_PROFILE, **overrides: Any) -> StudyAConfig:
    return _build(StudyAConfig, _STUDY_A_PROFILES, profile, overrides)


def study_b_config(profile: str = DEFAULT_PROFILE, **overrides: Any) -> StudyBConfig:
    _check_profile(profile)
    table = {p: {**_STUDY_B_PATCH_PROFILES[p], **_STUDY_B_PROFILES[p]} for p in PROFILES}
    return _build(StudyBConfig, table, profile, overrides)


def study_b_control_config(profile: str = DEFAULT_PROFILE, **overrides: Any) -> StudyBControlConfig:
    return _build(StudyBControlConfig, _STUDY_B_CONTROL_PROFILES, profile, overrides)


def compression_config(profile: str = DEFAULT_PROFILE, **overrides: Any) -> CompressionConfig:
    return _build(CompressionConfig, _COMPRESSION_PROFILES, profile, overrides)


def study_a_beyond_config(profile: str = DEFAULT_PROFILE, **overrides: Any) -> StudyABeyondConfig:
    """The chapter's config; its ``study_a`` is Study A's config of the same profile unless given."""
    overrides = dict(overrides)
    overrides.setdefault("study_a", study_a_config(profile))
    return _build(StudyABeyondConfig, _STUDY_A_BEYOND_PROFILES, profile, overrides)
