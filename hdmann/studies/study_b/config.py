"""Study B's config (mammograms under JPEG 2000): the patch design, the whole-film control, their profiles."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdmann.engine.config import build, builds, check_profile, Config, DEFAULT_PROFILE, in_range, unstated
from hdmann.studies import merged

STUDY_B_RATIOS = (15, 20, 25, 50, 100, 500, 1000, 5000, 10000, 11000)
# the paper's ten targets plus achievable points between 1,000 and the codec floor (~6,700:1 on a film)
STUDY_B_PATCH_RATIOS = (15, 20, 25, 50, 100, 500, 1000, 2000, 3000, 5000, 10000, 11000)

# Old flat field names and where each lives now: an override that names an old one (``--set
# study_b.patch_epochs=3``, a notebook's ``overrides``) stops with a message that gives the new name.
RENAMED: dict[str, str] = {
    "input_size": "films.input_size", "learning_rate": "films.learning_rate", "batch_size": "films.batch_size",
    "max_epochs": "films.max_epochs", "patience": "films.patience",
    "inner_validation_fraction": "films.inner_validation_fraction",
    "compression_ratios": "films.compression_ratios", "matrix_ratios": "films.matrix_ratios",
    "resnet_ratios": "films.resnet_ratios", "resnet_max_epochs": "films.resnet_max_epochs",
    "survey_films": "films.survey_films", "saliency_ratios": "films.saliency_ratios", "patch_size": "patches.size",
    "patch_shift": "patches.shift", "patch_levels": "patches.levels", "patch_train_levels": "patches.train_levels",
    "patch_resnet_levels": "patches.resnet_levels", "patch_repeats": "patches.repeats",
    "patch_level_repeats": "patches.level_repeats", "patch_resnet_repeats": "patches.resnet_repeats",
    "patch_epochs": "patches.epochs", "patch_resnet_epochs": "patches.resnet_epochs",
    "patch_batch_size": "patches.batch_size", "patch_learning_rate": "patches.learning_rate",
    "patch_lr_schedule": "patches.lr_schedule", "patch_standardise": "patches.standardise",
    "patch_head": "patches.head", "patch_weight_decay": "patches.weight_decay",
    "patch_batchnorm": "patches.batchnorm", "patch_select_variants": "patches.select_variants",
    "patch_seed": "patches.seed", "negative_scheme": "patches.negative_scheme",
    "negatives_per_lesion": "patches.negatives_per_lesion", "negative_stride": "patches.negative_stride",
    "breast_threshold": "patches.breast_threshold", "max_normal_films": "patches.max_normal_films",
    "feature_c": "patches.feature_c", "sliding_stride": "patches.sliding_stride",
    "saliency_centre_sigma": "patches.saliency_centre_sigma", "seed_agreement": "patches.seed_agreement",
    "flat_auroc_margin": "patches.flat_auroc_margin", "health_min_train_auroc": "patches.health_min_train_auroc",
    "health_retries": "patches.health_retries", "sliding_films": "patches.sliding_films",
}



@dataclass(frozen=True)
class StudyBFilms(Config):
    """The whole-film design (chapter study_b_control): films resized to one input, early stopping."""

    input_size: int = unstated(256, "the film is resized to this side; small enough to train on a CPU")
    learning_rate: float = unstated(1e-3, "Adam's default")
    batch_size: int = unstated(16, "a common batch for ~260 training films")
    max_epochs: int = unstated(60, "an upper bound; early stopping ends training sooner")
    patience: int = unstated(10, "epochs without a better validation loss before stopping")
    inner_validation_fraction: float = unstated(0.2, "early stopping inside each training fold uses this share of its films")
    compression_ratios: tuple[int, ...] = STUDY_B_RATIOS
    matrix_ratios: tuple[int, ...] = STUDY_B_RATIOS  # experiment (c): train-CR x test-CR
    resnet_ratios: tuple[int, ...] = STUDY_B_RATIOS  # ResNet18 also trained on these (always on originals)
    resnet_max_epochs: int | None = None  # None: max_epochs; ResNet18 costs ~10x the CNN per epoch
    survey_films: int | None = None  # films of the JPEG 2000 survey table: a seeded sample (quick); None: all
    saliency_ratios: tuple[int, ...] = (15, 1000, 11000)

    def __post_init__(self) -> None:
        in_range("input_size", self.input_size, 32, 1024)
        if self.input_size % 8:
            raise ValueError(f"input_size={self.input_size} must be a multiple of 8 (three 2x2 poolings)")
        in_range("inner_validation_fraction", self.inner_validation_fraction, 0.05, 0.5)
        in_range("max_epochs", self.max_epochs, 1, 10_000)
        if self.resnet_max_epochs is not None:
            in_range("resnet_max_epochs", self.resnet_max_epochs, 1, 10_000)
        if self.survey_films is not None:
            in_range("survey_films", self.survey_films, 1, 100_000)
        for r in (*self.compression_ratios, *self.matrix_ratios, *self.resnet_ratios, *self.saliency_ratios):
            in_range("compression ratio", r, 1, 1_000_000)
        for name in ("matrix_ratios", "resnet_ratios", "saliency_ratios"):
            extra = set(getattr(self, name)) - set(self.compression_ratios)
            if extra:
                raise ValueError(f"{name} {sorted(extra)} are not among compression_ratios")


@dataclass(frozen=True)
class StudyBPatches(Config):
    """The patch design (chapter study_b_patches): lesion-centred patches at native 200 um pixels,
    a fixed epoch budget, repeated cross-validations, inner-split model selection."""

    size: int = unstated(224, "the paper classifies whole films; 224 px is 45 mm at 200 um")
    shift: int = unstated(8, "largest random shift (pixels) in training augmentation")
    levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # test levels, experiment (a)
    train_levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # own CNN training runs, (b) and (c)
    resnet_levels: tuple[int, ...] = STUDY_B_PATCH_RATIOS  # own ResNet18 runs (originals always)
    # seeds of the whole 5-fold cross-validation (paper: five of every verdict-bearing run, as Study A)
    repeats: int = 5
    level_repeats: int = 5  # CNN repeats at each compressed training level
    resnet_repeats: int = 5
    epochs: int = unstated(12, "a short fixed budget: held-out AUROC falls as the training loss does")
    resnet_epochs: int = unstated(12, "as the CNN")
    batch_size: int = unstated(16, "small batches give more steps on ~280 training patches")
    learning_rate: float = unstated(1e-3, "Adam's default (the peak rate under a cosine schedule)")
    lr_schedule: str = unstated(
        "constant", "constant | cosine (decay to 0 over the fixed budget, the bn_wd_cos variant); the chapter's "
        "inner-split selection compares the two")
    standardise: bool = unstated(True, "z-score each patch: the CNN then cannot use a patch's overall brightness")
    head: str = unstated("flatten", "CNN head: flatten (the paper's 3 FC) | gap (global average pooling first)")
    weight_decay: float = unstated(0.05, "Adam's decoupled weight decay (0: none): the CNN has far more weights than "
                                   "training patches; the chapter's inner-split selection compares it with none")
    batchnorm: bool = unstated(True, "BatchNormalization between each convolution and its ReLU steadies training on "
                               "few patches; the chapter's inner-split selection compares it with none")
    select_variants: tuple[str, ...] = ("flatten", "gap", "flatten_wd", "gap_wd", "bn_wd", "bn_wd_slow", "bn_wd_cos")  # CNN variants tried on inner splits
    negative_scheme: str = "matched"  # matched | contralateral (the sensitivity check)
    negatives_per_lesion: int = unstated(2, "negative patches drawn per lesion patch")
    negative_stride: int = unstated(32, "grid step of candidate negative centres")
    breast_threshold: float = unstated(20.0, "grey level that separates breast from background")
    max_normal_films: int | None = None  # normal films that may give negatives (None: all)
    feature_c: float = unstated(1.0, "inverse L2 strength of the feature baseline (scikit-learn's default)")
    sliding_stride: int = unstated(32, "step of the sliding-window map over a whole film")
    saliency_centre_sigma: float = unstated(
        0.25, "the centre-biased reference map: a Gaussian on the patch centre (where every lesion sits) with this "
        "SD as a share of the patch side; a saliency map must beat it, not only a uniform map")
    seed_agreement: float = unstated(0.8, "share of the training seeds (rounded up) that must reach the pooled "
                                     "outcome on their own for a verdict of holds or does not hold")
    flat_auroc_margin: float = unstated(0.05, "non-inferiority margin of 'flat' in AUROC: a loss under 0.05 "
                                        "counts as none (the paper reads its 'up to 5K' from a curve by eye)")
    health_min_train_auroc: float = unstated(
        0.6, "a fold model that ranks its own training patches below this AUROC did not learn (a collapsed or "
        "constant output) and is retrained with the next seed")
    health_retries: int = unstated(2, "retrainings with the next seeds of a fold model that did not learn; one that "
                                   "still has not learned is kept (dropping it would drop its patients) and named")
    sliding_films: int = 12  # malignant films drawn for the sliding-window maps
    seed: int = 3  # which normal films, negatives and sliding-window films are drawn

    def __post_init__(self) -> None:
        in_range("size", self.size, 32, 512)
        if self.size % 8:
            raise ValueError(f"patches.size={self.size} must be a multiple of 8 (three 2x2 poolings)")
        in_range("shift", self.shift, 0, self.size // 4)
        in_range("repeats", self.repeats, 1, 100)
        in_range("level_repeats", self.level_repeats, 1, 100)
        in_range("resnet_repeats", self.resnet_repeats, 0, 100)
        in_range("epochs", self.epochs, 1, 10_000)
        in_range("resnet_epochs", self.resnet_epochs, 1, 10_000)
        in_range("batch_size", self.batch_size, 1, 4096)
        in_range("negatives_per_lesion", self.negatives_per_lesion, 1, 50)
        in_range("negative_stride", self.negative_stride, 4, 512)
        in_range("sliding_stride", self.sliding_stride, 4, 512)
        in_range("sliding_films", self.sliding_films, 0, 322)
        in_range("health_min_train_auroc", self.health_min_train_auroc, 0.0, 1.0)
        in_range("flat_auroc_margin", self.flat_auroc_margin, 0.0, 0.5)
        in_range("seed_agreement", self.seed_agreement, 0.0, 1.0)
        in_range("saliency_centre_sigma", self.saliency_centre_sigma, 0.01, 10.0)
        in_range("health_retries", self.health_retries, 0, 20)
        in_range("breast_threshold", self.breast_threshold, 0, 254)
        if self.head not in ("flatten", "gap"):
            raise ValueError(f"patches.head={self.head!r}: use flatten or gap")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"patches.lr_schedule={self.lr_schedule!r}: use one of {', '.join(LR_SCHEDULES)}")
        in_range("weight_decay", self.weight_decay, 0.0, 1.0)
        unknown = set(self.select_variants) - set(PATCH_CNN_VARIANTS)
        if unknown:
            raise ValueError(f"patches.select_variants {sorted(unknown)} unknown; use some of {sorted(PATCH_CNN_VARIANTS)}")
        if self.negative_scheme not in ("matched", "contralateral"):
            raise ValueError(f"patches.negative_scheme={self.negative_scheme!r}: use matched or contralateral")
        for r in self.levels:
            in_range("patch level ratio", r, 1, 1_000_000)
        for name in ("train_levels", "resnet_levels"):
            extra = set(getattr(self, name)) - set(self.levels)
            if extra:
                raise ValueError(f"patches.{name} {sorted(extra)} are not among patches.levels")


@dataclass(frozen=True)
class StudyBConfig(Config):
    """Malignant-vs-not mammogram classification under JPEG 2000 (Jo et al. 2021) on mini-MIAS: the
    settings both designs share, and each design's own section (``films``, ``patches``)."""
    UNKEYED = ("workers",)  # how many processes code images changes no result (not in any stage key)
    RENAMED = RENAMED  # old flat names: an override that uses one is told the new name

    profile: str = DEFAULT_PROFILE
    conv_filters: tuple[int, int, int] = unstated((16, 32, 64), "a small 3-conv CNN; the paper gives no filter counts")
    dense_units: tuple[int, int] = unstated((128, 32), "the first two FC layers; the third is the sigmoid output")
    dropout_rate: float = unstated(0.3, "a common rate before the dense layers")
    n_folds: int = 5
    fold_seed: int = unstated(0, "any fixed seed: the paper gives none")
    train_seed: int = unstated(1, "any fixed seed")
    codec: str = unstated("jpeg2000", "JPEG 2000, the lossy codec of DICOM; the paper names no codec")
    resnet_weights: str | None = None  # a user-supplied .weights.h5 for the ResNet18
    batchnorm_momentum: float = unstated(
        0.9, "BatchNormalization's running-statistics momentum (ResNet18, the patch CNN). Keras's 0.99 keeps ~18 % "
        "of the initial (0, 1) statistics after the ~170 steps of a 12-epoch patch run (~50 % after 4 ResNet18 "
        "epochs): inference then sees statistics training never had, and fold models' scores drift apart in scale, "
        "which a pooled AUROC punishes. 0.9 forgets the initial statistics in ~50 steps.")
    max_films: int | None = None  # subsample the films (smoke only), stratified
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 2
    workers: int = 2
    films: StudyBFilms = field(default_factory=StudyBFilms)
    patches: StudyBPatches = field(default_factory=StudyBPatches)

    def __post_init__(self) -> None:
        for name, section in (("films", StudyBFilms), ("patches", StudyBPatches)):
            if isinstance(getattr(self, name), dict):  # to_dict()'s form: the config rebuilds from it
                object.__setattr__(self, name, section(**getattr(self, name)))
        check_profile(self.profile)
        in_range("n_folds", self.n_folds, 2, 20)
        in_range("dropout_rate", self.dropout_rate, 0.0, 0.95)
        in_range("workers", self.workers, 1, 256)
        in_range("batchnorm_momentum", self.batchnorm_momentum, 0.0, 0.999)
        if self.codec not in ("jpeg2000", "jpeg", "webp"):
            raise ValueError(f"codec={self.codec!r}: use jpeg2000, jpeg or webp")


@dataclass(frozen=True)
class StudyBControlConfig(Config):
    """How much of the whole-film negative control (chapter study_b_control) a profile runs; the
    films, model and training settings are the StudyBConfig's."""

    profile: str = DEFAULT_PROFILE
    seeds: int = 5  # CNN training seeds on the real labels
    permutations: int = 5  # CNN runs on permuted labels (what "no signal" scores)
    aligned: bool = True  # also a run with every breast turned the same way (the side cue removed)
    untrained: int = 100  # untrained networks scored (the output spread of random weights)
    fold_splits: int = 1000  # patient-grouped splits drawn for the side-only score's distribution

    def __post_init__(self) -> None:
        check_profile(self.profile)
        in_range("seeds", self.seeds, 1, 100)
        in_range("permutations", self.permutations, 1, 1000)
        in_range("untrained", self.untrained, 1, 10_000)
        in_range("fold_splits", self.fold_splits, 1, 100_000)




# each profile's shared settings, then those of each design's section
_STUDY_B_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(
        max_films=60, bootstrap_samples=200,
        films=dict(input_size=64, max_epochs=2, patience=1, compression_ratios=(15, 1000, 11000),
                   matrix_ratios=(15, 11000), resnet_ratios=(), saliency_ratios=(15, 11000),
                   survey_films=20),  # a seeded 20 films keep the film survey a small stage of the smoke book
        patches=dict(size=48, shift=4, levels=(1000, 11000), train_levels=(), resnet_levels=(), repeats=1,
                     level_repeats=1, resnet_repeats=1, epochs=2, resnet_epochs=1,
                     select_variants=("bn_wd", "bn_wd_cos"), max_normal_films=20, negatives_per_lesion=1,
                     negative_stride=64, sliding_stride=96, sliding_films=2,
                     health_retries=0)),  # smoke's 2-epoch models often fail the check: name them, retrain none
    # quick, films: the film survey (a table of the compression chapter) on a seeded 100 of the 322 films.
    # quick, patches: a 2-core budget for the chapter (CPU seconds per stage: bench/records); three seeds
    # of the CNN on originals (their held-out ensemble is one more row), one of ResNet18 on 3 epochs, and
    # two selection variants at the same 12-epoch budget that differ only in the learning-rate schedule
    # (constant, the configured CNN, or cosine; the paper profile runs all seven). No CNN trained on
    # compressed films (experiments (b) and (c)): `paper` trains one per level; the seeds of the CNN
    # cost what that saves (bench/records/README.md)
    "quick": dict(
        films=dict(input_size=64, max_epochs=20, patience=5, resnet_max_epochs=8,
                   matrix_ratios=(15, 100, 1000, 5000, 11000), resnet_ratios=(), survey_films=100),
        patches=dict(size=96, levels=(15, 1000, 2000, 3000, 5000, 11000), train_levels=(), resnet_levels=(),
                     repeats=3, level_repeats=1, resnet_repeats=1, epochs=12, resnet_epochs=3,
                     select_variants=("bn_wd", "bn_wd_cos"), max_normal_films=60, sliding_stride=48,
                     sliding_films=8)),
    "paper": dict(films=dict(input_size=512)),
}

_STUDY_B_CONTROL_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(seeds=1, permutations=1, aligned=False, untrained=5, fold_splits=20),
    "quick": dict(seeds=1, permutations=1, aligned=True, untrained=20, fold_splits=200),
    "paper": dict(),
}


# CNN variants the patch chapter compares on an inner split (overrides of the patches section). Every
# variant names its head, weight decay, BatchNorm, learning rate and schedule; all but *_slow train for
# the profile's patches.epochs, *_slow for a longer budget of its own.
LR_SCHEDULES = ("constant", "cosine")
_SHORT = dict(learning_rate=1e-3, lr_schedule="constant")
PATCH_CNN_VARIANTS: dict[str, dict[str, Any]] = {
    "flatten": dict(head="flatten", weight_decay=0.0, batchnorm=False, **_SHORT),
    "gap": dict(head="gap", weight_decay=0.0, batchnorm=False, **_SHORT),
    "flatten_wd": dict(head="flatten", weight_decay=0.05, batchnorm=False, **_SHORT),
    "gap_wd": dict(head="gap", weight_decay=0.05, batchnorm=False, **_SHORT),
    # BatchNormalization between each convolution and its ReLU, same budget
    "bn_wd": dict(head="flatten", weight_decay=0.05, batchnorm=True, **_SHORT),
    # ... and a lower learning rate over a longer fixed budget (the same number of "learning-rate epochs")
    "bn_wd_slow": dict(head="flatten", weight_decay=0.05, batchnorm=True, learning_rate=3e-4,
                       lr_schedule="constant", epochs=30),
    # ... or the same budget and peak rate, decayed to 0 along a cosine
    "bn_wd_cos": dict(head="flatten", weight_decay=0.05, batchnorm=True, learning_rate=1e-3, lr_schedule="cosine"),
}


@builds(StudyBConfig)
def study_b_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None, **fields: Any) -> StudyBConfig:
    """Study B's config in ``profile``; a section's field is set as ``patches={"epochs": 3}`` or, in
    ``overrides``, as ``{"study_b": {"patches.epochs": 3}}`` (``--set study_b.patches.epochs=3``)."""
    return build(StudyBConfig, _STUDY_B_PROFILES, profile, merged("study_b", overrides, fields), section="study_b")


@builds(StudyBControlConfig)
def study_b_control_config(profile: str = DEFAULT_PROFILE, **fields: Any) -> StudyBControlConfig:
    """The whole-film control's run sizes; read by ``negative_control.control_plan`` from the profile alone."""
    return build(StudyBControlConfig, _STUDY_B_CONTROL_PROFILES, profile, fields)
