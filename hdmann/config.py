"""One typed config per study, with named profiles.

``smoke`` keeps CI under its budget, ``quick`` is the CPU default, ``paper`` carries the
papers' stated settings (GPU-sized). Every field that the papers leave unstated is declared with
:func:`unstated` (field metadata saying why we chose its value), from which each chapter's
"what we chose" table is generated (:func:`hdmann.report.choices`).

``overrides`` (a notebook parameter; ``hdmann book --set SECTION.FIELD=VALUE``) change fields of a
profile through :func:`from_overrides`, checked against each field's type: an unknown field or a
value of the wrong type raises a ValueError naming the field and the valid ones.
"""
from __future__ import annotations

import dataclasses
import numbers
import types
import typing
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


UNSTATED = "unstated"  # field metadata: why we chose a value the papers leave unstated
SCOPE = "scope"  # field metadata: the part of a study the field belongs to (e.g. "patches")


def unstated(default: Any, why: str, scope: str | None = None):
    """A field whose value the papers leave unstated; ``why`` is shown in the chapter's choices table."""
    return field(default=default, metadata={UNSTATED: why, **({SCOPE: scope} if scope else {})})


def unstated_fields(cfg, scope: str | None = None) -> dict[str, str]:
    """``{field: why}`` of the unstated fields of a config (class or instance) in ``scope``
    (None: the fields without a scope), in declaration order."""
    return {f.name: f.metadata[UNSTATED] for f in dataclasses.fields(cfg)
            if UNSTATED in f.metadata and f.metadata.get(SCOPE) == scope}


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
    source_size: int = unstated(180, "the stored images' size: JPEG copies are made at it, then resized to image_size")
    hypervector_dim: int = 500
    conv_filters: tuple[int, int] = (64, 128)
    dense_units: int = 1000
    dropout_rate: float = unstated(0.5, "a common rate for one dense layer of this size")
    output_activation: str = unstated("linear", "the hypervector layer's activation; linear adds no squashing")
    per_class_target: int = 600
    validation_fraction: float = 0.2
    stopping_fraction: float = unstated(
        0.5, "share of the validation part (stratified, identical images kept together) that early stopping "
        "watches; the other half only reports, so the images that choose an epoch never score a verdict")
    paper_order: bool = False  # True: augment to 600/class first, then split (leaks)
    rotation_factor: float = unstated(0.1, "fraction of a full turn, as keras.layers.RandomRotation; a mild, common augmentation")
    zoom_factor: float = unstated(0.2, "fraction of the image size; a mild, common augmentation")
    flip: str = unstated("horizontal_and_vertical", "lesions have no canonical orientation, so both flips")
    batch_size: int = 32
    max_epochs: int = 200
    patience: int = unstated(10, "epochs without a better validation loss before stopping; a common choice")
    learning_rate: float = unstated(1e-3, "AdamW's default")
    weight_decay: float = unstated(0.004, "AdamW's default")
    jpeg_qualities: tuple[int, ...] = STUDY_A_QUALITIES
    jpeg_subsampling: str = unstated("4:2:0", "libjpeg's default, as Pillow writes JPEG")
    distance: str = "hamming"
    max_images_per_class: int | None = None  # subsample the train folder (smoke only)
    max_test_images_per_class: int | None = None
    split_seed: int = unstated(0, "any fixed seed: the paper gives none")
    augment_seed: int = unstated(1, "any fixed seed")
    key_seed: int = unstated(2, "any fixed seed")
    train_seed: int = unstated(3, "any fixed seed")
    seeds: int = unstated(5, "training seeds of every verdict-bearing model (train_seed, +1000, +2000, ...); a verdict "
                          "says in how many it holds")
    seed_agreement: float = unstated(0.8, "share of the seeds (rounded up) that must reach the seed-pooled outcome "
                                     "on their own for a verdict of holds or does not hold; fewer: undecided")
    flat_margin: float = unstated(0.05, "non-inferiority margin of 'flat' and 'no loss': an accuracy loss "
                                  "smaller than 5 points counts as none (the paper reads its curves by eye)")
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
        _in_range("stopping_fraction", self.stopping_fraction, 0.1, 0.9)
        _in_range("seeds", self.seeds, 1, 100)
        _in_range("seed_agreement", self.seed_agreement, 0.0, 1.0)
        _in_range("flat_margin", self.flat_margin, 0.0, 0.5)
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
    train_levels: tuple[str, ...] = STUDY_A_LEVELS  # JPEG levels a model is trained at (item 1)
    mixed_training: bool = True  # one more model: a random level per sample and epoch copy
    mixed_seed: int = unstated(11, "the random level drawn per sample and epoch copy of the mixed model")
    dims: tuple[int, ...] = (64, 500, 2000, 10000)  # item 5
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
        _check_profile(self.profile)
        for name, low in (("max_epochs", 1), ("patience", 0), ("dim_max_epochs", 1), ("leave_out_max_epochs", 1)):
            if getattr(self, name) is not None:
                _in_range(name, getattr(self, name), low, 10_000)
        from hdmann.memory import BUNDLES, DISTANCES
        for rule in self.addition_rules:
            bundle, _, distance = rule.partition("-")
            if bundle not in BUNDLES or distance not in DISTANCES:
                raise ValueError(f"addition rule {rule!r}: write <bundle>-<distance> with a bundle of {BUNDLES} "
                                 f"and a distance of {DISTANCES}, e.g. 'mean-l2'")
        if not self.addition_rules:
            raise ValueError("addition_rules is empty: give at least one rule, e.g. ('mean-l2',)")
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
    input_size: int = unstated(256, "the film is resized to this side; small enough to train on a CPU")
    conv_filters: tuple[int, int, int] = unstated((16, 32, 64), "a small 3-conv CNN; the paper gives no filter counts")
    dense_units: tuple[int, int] = unstated((128, 32), "the first two FC layers; the third is the sigmoid output")
    dropout_rate: float = unstated(0.3, "a common rate before the dense layers")
    learning_rate: float = unstated(1e-3, "Adam's default")
    batch_size: int = unstated(16, "a common batch for ~260 training films")
    max_epochs: int = unstated(60, "an upper bound; early stopping ends training sooner")
    patience: int = unstated(10, "epochs without a better validation loss before stopping")
    inner_validation_fraction: float = unstated(0.2, "early stopping inside each training fold uses this share of its films")
    n_folds: int = 5
    fold_seed: int = unstated(0, "any fixed seed: the paper gives none")
    train_seed: int = unstated(1, "any fixed seed")
    codec: str = unstated("jpeg2000", "JPEG 2000, the lossy codec of DICOM; the paper names no codec")
    compression_ratios: tuple[int, ...] = STUDY_B_RATIOS
    matrix_ratios: tuple[int, ...] = STUDY_B_RATIOS  # experiment (c): train-CR x test-CR
    resnet_ratios: tuple[int, ...] = STUDY_B_RATIOS  # ResNet18 also trained on these (always on originals)
    resnet_weights: str | None = None  # a user-supplied .weights.h5 for the ResNet18
    batchnorm_momentum: float = unstated(
        0.9, "BatchNormalization's running-statistics momentum (ResNet18, the patch CNN). Keras's 0.99 keeps ~18 % "
        "of the initial (0, 1) statistics after the ~170 steps of a 12-epoch patch run (~50 % after 4 ResNet18 "
        "epochs): inference then sees statistics training never had, and fold models' scores drift apart in scale "
        "(patch CNN on inner splits: per-fold AUROC 0.73-0.79, pooled 0.55). 0.9 forgets in ~50 steps.")
    resnet_max_epochs: int | None = None  # None: max_epochs; ResNet18 costs ~10x the CNN per epoch
    max_films: int | None = None  # subsample the films (smoke only), stratified
    survey_films: int | None = None  # films of the JPEG 2000 survey table: a seeded sample (quick); None: all
    saliency_ratios: tuple[int, ...] = (15, 1000, 11000)
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 2
    workers: int = 2
    # --- the patch design (study_b_patches): lesion-centred patches at native 200 um pixels ---
    patch_size: int = unstated(224, "the paper classifies whole films; 224 px is 45 mm at 200 um", scope="patches")
    patch_shift: int = unstated(8, "largest random shift (pixels) in training augmentation", scope="patches")
    patch_levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # test levels, experiment (a)
    patch_train_levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # own CNN training runs, (b) and (c)
    patch_resnet_levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # own ResNet18 runs (originals always)
    patch_repeats: int = 3  # seeds of the whole 5-fold cross-validation
    patch_level_repeats: int = 3  # CNN repeats at each compressed training level
    patch_resnet_repeats: int = 3
    patch_epochs: int = unstated(12, "a short fixed budget: held-out AUROC falls as the training loss does", scope="patches")
    patch_resnet_epochs: int = unstated(12, "as the CNN", scope="patches")
    patch_batch_size: int = unstated(16, "small batches give more steps on ~280 training patches", scope="patches")
    patch_learning_rate: float = unstated(1e-3, "Adam's default (the peak rate under a cosine schedule)", scope="patches")
    patch_lr_schedule: str = unstated(
        "constant", "constant | cosine (decay to 0 over the fixed budget, the bn_wd_cos variant): the cosine "
        "variant did not win the inner splits", scope="patches")
    patch_standardise: bool = unstated(True, "z-score each patch: raw 8-bit patches left the CNN's loss at ln 2", scope="patches")
    patch_head: str = unstated("flatten", "CNN head: flatten (the paper's 3 FC) | gap (global average pooling first)", scope="patches")
    patch_weight_decay: float = unstated(0.05, "Adam's decoupled weight decay (0: none); won the inner-split selection", scope="patches")
    patch_batchnorm: bool = unstated(True, "BatchNormalization between each convolution and its ReLU (won the inner splits)", scope="patches")
    patch_select_variants: tuple[str, ...] = ("flatten", "gap", "flatten_wd", "gap_wd", "bn_wd", "bn_wd_slow", "bn_wd_cos")  # CNN variants tried on inner splits
    negative_scheme: str = "matched"  # matched | contralateral (the sensitivity check)
    negatives_per_lesion: int = unstated(2, "negative patches drawn per lesion patch", scope="patches")
    negative_stride: int = unstated(32, "grid step of candidate negative centres", scope="patches")
    breast_threshold: float = unstated(20.0, "grey level that separates breast from background", scope="patches")
    max_normal_films: int | None = None  # normal films that may give negatives (None: all)
    feature_c: float = unstated(1.0, "inverse L2 strength of the feature baseline (scikit-learn's default)", scope="patches")
    sliding_stride: int = unstated(32, "step of the sliding-window map over a whole film", scope="patches")
    saliency_centre_sigma: float = unstated(
        0.25, "the centre-biased reference map: a Gaussian on the patch centre (where every lesion sits) with this "
        "SD as a share of the patch side; a saliency map must beat it, not only a uniform map", scope="patches")
    seed_agreement: float = unstated(0.8, "share of the training seeds (rounded up) that must reach the pooled "
                                     "outcome on their own for a verdict of holds or does not hold", scope="patches")
    flat_auroc_margin: float = unstated(0.05, "non-inferiority margin of 'flat' in AUROC: a loss under 0.05 "
                                        "counts as none (the paper's 0.87 'up to 5K' reads a curve by eye)",
                                        scope="patches")
    health_min_train_auroc: float = unstated(
        0.6, "a fold model that ranks its own training patches below this AUROC did not learn (a collapsed or "
        "constant output: one quick fold ended at loss 7.9, AUROC 0.50) and is retrained with the next seed",
        scope="patches")
    health_retries: int = unstated(2, "retrainings with the next seeds of a fold model that did not learn; one that "
                                   "still has not learned is kept (dropping it would drop its patients) and named",
                                   scope="patches")
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
        if self.survey_films is not None:
            _in_range("survey_films", self.survey_films, 1, 100_000)
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
        _in_range("health_min_train_auroc", self.health_min_train_auroc, 0.0, 1.0)
        _in_range("flat_auroc_margin", self.flat_auroc_margin, 0.0, 0.5)
        _in_range("seed_agreement", self.seed_agreement, 0.0, 1.0)
        _in_range("saliency_centre_sigma", self.saliency_centre_sigma, 0.01, 10.0)
        _in_range("health_retries", self.health_retries, 0, 20)
        _in_range("breast_threshold", self.breast_threshold, 0, 254)
        if self.patch_head not in ("flatten", "gap"):
            raise ValueError(f"patch_head={self.patch_head!r}: use flatten or gap")
        if self.patch_lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"patch_lr_schedule={self.patch_lr_schedule!r}: use one of {', '.join(LR_SCHEDULES)}")
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
    max_isic_images: int | None = None  # per class, over both splits: a seeded sample (quick, smoke); None: all
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


# Knob ladders of the codec chapter, per dataset, chosen on a few images so that every codec spans the
# same bits-per-pixel range: ISIC (180x180 RGB) about 0.2 to 2 bpp; MIAS films (1024x1024 grey) about
# 0.01 to 0.4 bpp (JPEG's header floor on a film lies near 0.03 bpp, so JPEG stops there).
CODEC_SETTINGS_ISIC: dict[str, tuple[float, ...]] = {
    "jpeg420": (3, 10, 25, 50, 75, 90), "jpeg444": (3, 10, 25, 50, 75, 90),
    "jpeg2000": (160, 80, 40, 20, 10), "webp": (0, 15, 40, 70, 85, 95),
    "avif": (2, 15, 35, 55, 75, 90), "jxl": (1, 15, 40, 70, 85, 95)}
CODEC_BPP_RANGE_ISIC = (0.3, 1.5)  # every codec's ladder reaches below the first and above the second
CODEC_BPP_RANGE_FILM = (0.04, 0.15)
CODEC_SETTINGS_FILM: dict[str, tuple[float, ...]] = {
    "jpeg420": (1, 5, 20, 50, 80, 95), "jpeg2000": (2000, 1000, 500, 250, 100, 50, 20),
    "webp": (0, 10, 40, 70, 90, 98), "avif": (0, 10, 30, 50, 70, 90), "jxl": (1, 10, 30, 60, 85, 97)}


@dataclass(frozen=True)
class CodecConfig(_Config):
    """The codec chapter: which codec keeps a CNN's accuracy at a given number of bytes, on both
    studies' models trained on originals (predictions only). ``study_a``/``study_b`` are the configs
    whose trained models are read; greyscale films have no chroma, so JPEG 4:4:4 equals 4:2:0 there
    and only ``jpeg420`` is run on them."""

    profile: str = DEFAULT_PROFILE
    study_a: StudyAConfig = field(default_factory=StudyAConfig)
    study_b: StudyBConfig = field(default_factory=StudyBConfig)
    codecs: tuple[str, ...] = ("jpeg420", "jpeg444", "jpeg2000", "webp", "avif", "jxl")
    isic_settings: dict = field(default_factory=lambda: dict(CODEC_SETTINGS_ISIC))
    film_settings: dict = field(default_factory=lambda: dict(CODEC_SETTINGS_FILM))
    webp_method: int = unstated(6, "0 (fast) .. 6 (slowest, fewest bytes)")
    avif_speed: int = unstated(6, "libavif's default; 0 (slowest) .. 10")
    jxl_effort: int = unstated(7, "libjxl's default; 1 (fast) .. 9")
    reference: str = unstated("jpeg420", "the codec the others are compared with (the archive default)")
    accuracy_margin: float = unstated(0.02, "Study A: a loss of accuracy tolerated against originals")
    auroc_margin: float = unstated(0.02, "Study B: a loss of AUROC tolerated against originals")
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 21
    workers: int = 2

    def __post_init__(self) -> None:
        from hdmann.codecs import NAMES

        _check_profile(self.profile)
        for name in ("isic_settings", "film_settings"):
            table = getattr(self, name)
            unknown = set(table) - set(NAMES)
            if unknown:
                raise ValueError(f"{name} has unknown codec(s) {sorted(unknown)}; use some of {NAMES}")
        unknown = set(self.codecs) - set(NAMES)
        if unknown:
            raise ValueError(f"codecs {sorted(unknown)} unknown; use some of {NAMES}")
        if self.reference not in NAMES:
            raise ValueError(f"reference={self.reference!r}: use one of {NAMES}")
        _in_range("webp_method", self.webp_method, 0, 6)
        _in_range("avif_speed", self.avif_speed, 0, 10)
        _in_range("jxl_effort", self.jxl_effort, 1, 9)
        _in_range("accuracy_margin", self.accuracy_margin, 0.0, 0.5)
        _in_range("auroc_margin", self.auroc_margin, 0.0, 0.5)
        _in_range("bootstrap_samples", self.bootstrap_samples, 10, 100_000)
        _in_range("workers", self.workers, 1, 256)
        if self.profile != self.study_a.profile or self.profile != self.study_b.profile:
            raise ValueError(f"profile {self.profile!r} but study_a/study_b have profiles {self.study_a.profile!r}/"
                             f"{self.study_b.profile!r}: build all with codec_config(profile)")


_STUDY_A_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(image_size=32, per_class_target=40, max_images_per_class=30,
                  max_test_images_per_class=8, max_epochs=3, patience=2, seeds=2,
                  tsne_perplexity=10.0, bootstrap_samples=200),
    # quick: three training seeds of each verdict-bearing model (paper: five)
    "quick": dict(image_size=48, max_epochs=20, patience=4, seeds=3),
    "paper": dict(),
}

_STUDY_B_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(input_size=64, max_epochs=2, patience=1, max_films=60,
                  compression_ratios=(15, 1000, 11000), matrix_ratios=(15, 11000),
                  resnet_ratios=(), saliency_ratios=(15, 11000), bootstrap_samples=200),
    # quick: the film survey (a table of the compression chapter) on a seeded 100 of the 322 films
    # (~400 CPU s for all of them; bench/records/README.md)
    "quick": dict(input_size=64, max_epochs=20, patience=5, resnet_max_epochs=8,
                  matrix_ratios=(15, 100, 1000, 5000, 11000), resnet_ratios=(), survey_films=100),
    "paper": dict(input_size=512),
}

_STUDY_B_CONTROL_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(seeds=1, permutations=1, aligned=False, untrained=5, fold_splits=20),
    "quick": dict(seeds=1, permutations=1, aligned=True, untrained=20, fold_splits=200),
    "paper": dict(),
}

# CNN variants the patch chapter compares on an inner split (config overrides of each). Every variant
# names its head, weight decay, BatchNorm, learning rate and schedule; all but *_slow train for the
# profile's patch_epochs (12 in quick and paper, 2 in smoke), *_slow for a longer budget of its own.
LR_SCHEDULES = ("constant", "cosine")
_SHORT = dict(patch_learning_rate=1e-3, patch_lr_schedule="constant")
PATCH_CNN_VARIANTS: dict[str, dict[str, Any]] = {
    "flatten": dict(patch_head="flatten", patch_weight_decay=0.0, patch_batchnorm=False, **_SHORT),
    "gap": dict(patch_head="gap", patch_weight_decay=0.0, patch_batchnorm=False, **_SHORT),
    "flatten_wd": dict(patch_head="flatten", patch_weight_decay=0.05, patch_batchnorm=False, **_SHORT),
    "gap_wd": dict(patch_head="gap", patch_weight_decay=0.05, patch_batchnorm=False, **_SHORT),
    # BatchNormalization between each convolution and its ReLU, same budget
    "bn_wd": dict(patch_head="flatten", patch_weight_decay=0.05, patch_batchnorm=True, **_SHORT),
    # ... and a lower learning rate over a longer fixed budget (the same number of "learning-rate epochs")
    "bn_wd_slow": dict(patch_head="flatten", patch_weight_decay=0.05, patch_batchnorm=True,
                       patch_learning_rate=3e-4, patch_lr_schedule="constant", patch_epochs=30),
    # ... or the same budget and peak rate, decayed to 0 along a cosine
    "bn_wd_cos": dict(patch_head="flatten", patch_weight_decay=0.05, patch_batchnorm=True,
                      patch_learning_rate=1e-3, patch_lr_schedule="cosine"),
}

# the patch design's profile settings, apart from the whole-film ones above
_STUDY_B_PATCH_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(patch_size=48, patch_shift=4, patch_levels=(1000, 11000), patch_train_levels=(),
                  patch_resnet_levels=(), patch_repeats=1, patch_level_repeats=1, patch_resnet_repeats=1,
                  patch_epochs=2, patch_resnet_epochs=1, patch_select_variants=("bn_wd", "bn_wd_cos"), max_normal_films=20,
                  negatives_per_lesion=1, negative_stride=64, sliding_stride=96, sliding_films=2,
                  health_retries=0),  # smoke's 2-epoch models often fail the check: name them, retrain none
    # quick: a 2-core budget of ~18 min cold for the chapter (CPU seconds per stage: bench/run.py RECORDED);
    # three seeds of the CNN on originals (their held-out ensemble is one more row), one of ResNet18, one CNN
    # run at 3,000:1, and two selection variants at the same 12-epoch budget that differ only in the
    # learning-rate schedule (constant, the configured CNN, or cosine; the paper profile runs all seven)
    "quick": dict(patch_size=96, patch_levels=(15, 1000, 2000, 3000, 5000, 11000),
                  patch_train_levels=(3000,), patch_resnet_levels=(), patch_repeats=3,
                  patch_level_repeats=1, patch_resnet_repeats=1, patch_epochs=12, patch_resnet_epochs=4,
                  patch_select_variants=("bn_wd", "bn_wd_cos"), max_normal_films=60, sliding_stride=48,
                  sliding_films=8),
    "paper": dict(),
}

_STUDY_A_BEYOND_PROFILES: dict[str, dict[str, Any]] = {
    # smoke: the chapter's models keep Study A's smoke budget (so the originals row reuses its model)
    "smoke": dict(dim_max_epochs=1, train_levels=("original", "q5"), mixed_training=False, dims=(64, 500),
                  shots=(1, 5), shot_draws=3, probe_draws=2, addition_levels=("original", "q5"),
                  leave_out_classes=("melanoma",), max_new_per_class=20, mias_patches=20,
                  max_far_images=20, saliency_images=8, grid_images=2, bootstrap_samples=200),
    # quick: the matrix and the softmax baseline have Study A's quick budget (the originals row is Study
    # A's model, reused); one compressed level (q5, where Study A's accuracy starts to fall), no mixed
    # row (the dearest model, ~570 CPU s: `paper` trains it); one left-out class of four, its
    # three-class model on 10 epochs; the dimension sweep on 3 epochs shared by every D (two timed).
    # Aimed at 20 min cold on 2 cores (bench/study_a_beyond.md)
    "quick": dict(train_levels=("original", "q5"), mixed_training=False, dim_max_epochs=3,
                  leave_out_max_epochs=10, leave_out_classes=("melanoma",), probe_draws=2, mias_patches=200),
    "paper": dict(),
}

_COMPRESSION_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(max_isic_images=10),
    # quick: the survey tables on a seeded 100 images per class (~380 CPU s for all 1,697; bench/records/README.md)
    "quick": dict(max_isic_images=100),
    "paper": dict(),
}


_CODEC_PROFILES: dict[str, dict[str, Any]] = {
    # smoke: two points per codec (a line), fewer bootstrap samples
    "smoke": dict(isic_settings={k: (v[1], v[-2]) for k, v in CODEC_SETTINGS_ISIC.items()},
                  film_settings={k: (v[1], v[-2]) for k, v in CODEC_SETTINGS_FILM.items()},
                  webp_method=4, avif_speed=9, jxl_effort=3, bootstrap_samples=200),
    # quick: faster encoder presets so the chapter stays near 10 min cold on 2 cores (the paper profile
    # uses the libraries' defaults)
    "quick": dict(webp_method=4, avif_speed=8, jxl_effort=3),
    "paper": dict(),
}


def _type_text(tp) -> str:
    if typing.get_origin(tp) is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", None) or str(tp)


def _checked(owner: str, name: str, value: Any, tp) -> Any:
    """``value`` as a field of type ``tp`` takes it (a list becomes a tuple, an int a float), or a
    ValueError naming the field and the type it needs."""
    def bad(detail: str = ""):
        return ValueError(f"{owner}.{name}={value!r} has the wrong type: {name} takes {_type_text(tp)}{detail}")

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arm in (a for a in args if a is not type(None)):
            try:
                return _checked(owner, name, value, arm)
            except ValueError:
                pass
        raise bad()
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad(" (a list, e.g. [1, 2])")
        each = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(value) != len(each):
            raise bad(f" ({len(args)} values)")
        try:
            return tuple(_checked(owner, name, v, a) for v, a in zip(value, each))
        except ValueError:
            raise bad() from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad(" (true or false)")
    if tp is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        raise bad()
    if tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad()
    if isinstance(tp, type) and issubclass(tp, _Config):
        if isinstance(value, tp):
            return value
        raise bad(f"; set its fields one by one instead (e.g. --set {name}.FIELD=VALUE)")
    return value


def _build(cls, table, profile, overrides):
    _check_profile(profile)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; known: {sorted(fields)}")
    if "profile" in overrides:
        raise ValueError(f"{cls.__name__}.profile cannot be overridden: choose the profile itself instead")
    hints = typing.get_type_hints(cls)
    overrides = {k: _checked(cls.__name__, k, v, hints[k]) for k, v in overrides.items()}
    values = {**table[profile], **overrides}
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = tuple(value)
    return cls(profile=profile, **values)


def _merged(section: str, overrides: dict | None, fields: dict) -> dict:
    """``overrides[section]`` (a chapter's ``{section: {field: value}}`` parameter) under ``fields``.
    ``overrides`` may also be that dict as JSON text, which is what ``papermill -p overrides '{...}'`` passes."""
    if isinstance(overrides, str):
        import json

        try:
            overrides = json.loads(overrides) if overrides.strip() else {}
        except ValueError as exc:
            raise ValueError(f"overrides {overrides!r} is not JSON ({exc}); write it as "
                             '\'{"study_a": {"hypervector_dim": 256}}\'') from None
        if not isinstance(overrides, dict):
            raise ValueError(f"overrides must be a JSON object of sections, e.g. "
                             f'{{"study_a": {{"hypervector_dim": 256}}}}, not {overrides!r}')
    overrides = overrides or {}
    unknown = set(overrides) - set(BUILDERS)
    if unknown:
        raise ValueError(f"unknown config section(s) {sorted(unknown)}; known: {sorted(BUILDERS)}")
    for name, values in overrides.items():
        if not isinstance(values, dict):
            raise ValueError(f"overrides[{name!r}] must be a dict of {name} fields, not {values!r}")
    return {**overrides.get(section, {}), **fields}


def study_a_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None, **fields: Any) -> StudyAConfig:
    """Study A's config in ``profile``; ``overrides`` is a chapter's parameter (its ``study_a`` part applies)."""
    return _build(StudyAConfig, _STUDY_A_PROFILES, profile, _merged("study_a", overrides, fields))


def study_b_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None, **fields: Any) -> StudyBConfig:
    _check_profile(profile)
    table = {p: {**_STUDY_B_PATCH_PROFILES[p], **_STUDY_B_PROFILES[p]} for p in PROFILES}
    return _build(StudyBConfig, table, profile, _merged("study_b", overrides, fields))


def compression_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None, **fields: Any) -> CompressionConfig:
    return _build(CompressionConfig, _COMPRESSION_PROFILES, profile, _merged("compression", overrides, fields))


def study_b_control_config(profile: str = DEFAULT_PROFILE, **fields: Any) -> StudyBControlConfig:
    """The whole-film control's run sizes; read by ``study_b.control_plan`` from the profile alone."""
    return _build(StudyBControlConfig, _STUDY_B_CONTROL_PROFILES, profile, fields)


def study_a_beyond_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None,
                          **fields: Any) -> StudyABeyondConfig:
    """The chapter's config; its ``study_a`` is Study A's config of the same profile (with the
    ``study_a`` part of ``overrides``, so one override changes the model the chapter probes too)."""
    fields = _merged("study_a_beyond", overrides, fields)
    fields.setdefault("study_a", study_a_config(profile, overrides))
    return _build(StudyABeyondConfig, _STUDY_A_BEYOND_PROFILES, profile, fields)


def codec_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None, **fields: Any) -> CodecConfig:
    """The codec chapter's config; its ``study_a``/``study_b`` are those studies' configs of the same
    profile (with their parts of ``overrides``, so the models it scores are the ones the book trained)."""
    fields = _merged("codecs", overrides, fields)
    fields.setdefault("study_a", study_a_config(profile, overrides))
    fields.setdefault("study_b", study_b_config(profile, overrides))
    return _build(CodecConfig, _CODEC_PROFILES, profile, fields)


# the configs a chapter can build, by the section name of `hdmann book --set SECTION.FIELD=VALUE`
BUILDERS = {"study_a": study_a_config, "study_a_beyond": study_a_beyond_config, "study_b": study_b_config,
            "compression": compression_config, "codecs": codec_config}


def from_overrides(section: str, profile: str = DEFAULT_PROFILE, overrides: dict | None = None):
    """The config of ``section`` (a key of :data:`BUILDERS`) in ``profile`` with ``overrides`` applied."""
    if section not in BUILDERS:
        raise ValueError(f"unknown config section {section!r}; known: {sorted(BUILDERS)}")
    return BUILDERS[section](profile, overrides)


def parse_assignments(assignments) -> dict[str, dict[str, Any]]:
    """``["study_a.hypervector_dim=2000", ...]`` -> ``{"study_a": {"hypervector_dim": 2000}}``.
    Values are JSON literals (``2000``, ``0.5``, ``true``, ``null``, ``[15, 100]``), anything else a string."""
    import json

    out: dict[str, dict[str, Any]] = {}
    for text in assignments:
        target, sep, raw = text.partition("=")
        section, dot, name = target.strip().partition(".")
        if not sep or not dot or not section or not name:
            raise ValueError(f"--set {text!r}: write SECTION.FIELD=VALUE, e.g. study_a.hypervector_dim=2000 "
                             f"(sections: {', '.join(sorted(BUILDERS))})")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(section, {})[name] = value
    return out


def check_overrides(profile: str, overrides: dict) -> None:
    """Build every overridden section's config once, so a bad ``--set`` fails before any notebook runs."""
    for section in overrides or {}:
        from_overrides(section, profile, overrides)


def flat_overrides(overrides: dict | None) -> dict[str, Any]:
    """``{"study_a": {"hypervector_dim": 2000}}`` -> ``{"study_a.hypervector_dim": 2000}``, sorted."""
    return {f"{s}.{k}": v for s, fields in sorted((overrides or {}).items()) for k, v in sorted(fields.items())}
