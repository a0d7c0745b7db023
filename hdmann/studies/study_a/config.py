"""Study A's config (HD-MANN on the 4-class ISIC set) and its profiles."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hdmann.engine.config import build, builds, check_profile, Config, DEFAULT_PROFILE, in_range, unstated
from hdmann.studies import merged

STUDY_A_QUALITIES = (50, 20, 10, 5, 3, 1)


@dataclass(frozen=True)
class StudyAConfig(Config):
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
    paper_distortion: bool = unstated(
        True, "where the model reads a smaller size than JPEG codes, also decide the claims on a second ladder coded "
        "at the input size, each level at the quality whose mean PSNR there matches the paper's level at the stored "
        "size: downsampling after JPEG averages much of its error away")
    matched_qualities: tuple[int, ...] = unstated(
        tuple(range(1, 96)), "the JPEG qualities the matched ladder may pick from (libjpeg's 1-95)")
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
        check_profile(self.profile)
        in_range("image_size", self.image_size, 16, 1024)
        if self.image_size % 4:
            raise ValueError(f"image_size={self.image_size} must be a multiple of 4 (two 2x2 poolings)")
        in_range("hypervector_dim", self.hypervector_dim, 8, 100_000)
        in_range("dropout_rate", self.dropout_rate, 0.0, 0.95)
        in_range("validation_fraction", self.validation_fraction, 0.05, 0.5)
        in_range("stopping_fraction", self.stopping_fraction, 0.1, 0.9)
        in_range("seeds", self.seeds, 1, 100)
        in_range("seed_agreement", self.seed_agreement, 0.0, 1.0)
        in_range("flat_margin", self.flat_margin, 0.0, 0.5)
        in_range("per_class_target", self.per_class_target, 2, 100_000)
        in_range("rotation_factor", self.rotation_factor, 0.0, 0.5)
        in_range("zoom_factor", self.zoom_factor, 0.0, 0.9)
        in_range("batch_size", self.batch_size, 1, 4096)
        in_range("max_epochs", self.max_epochs, 1, 10_000)
        in_range("patience", self.patience, 0, 10_000)
        in_range("tsne_perplexity", self.tsne_perplexity, 2.0, 100.0)
        in_range("bootstrap_samples", self.bootstrap_samples, 10, 100_000)
        for q in (*self.jpeg_qualities, *self.matched_qualities):
            in_range("jpeg quality", q, 1, 95)
        if not self.matched_qualities:
            raise ValueError("matched_qualities is empty: give the JPEG qualities the matched ladder may pick from")
        if self.output_activation not in ("linear", "sigmoid", "tanh"):
            raise ValueError(f"output_activation={self.output_activation!r}: use linear, sigmoid or tanh")
        if self.distance not in ("hamming", "cosine", "l2"):
            raise ValueError(f"distance={self.distance!r}: use hamming, cosine or l2")
        if self.flip not in ("horizontal", "vertical", "horizontal_and_vertical", "none"):
            raise ValueError(f"flip={self.flip!r}: use horizontal, vertical, horizontal_and_vertical or none")
        if self.jpeg_subsampling not in ("4:4:4", "4:2:2", "4:2:0"):
            raise ValueError(f"jpeg_subsampling={self.jpeg_subsampling!r}: use 4:4:4, 4:2:2 or 4:2:0")


STUDY_A_LEVELS = ("original",) + tuple(f"q{q}" for q in STUDY_A_QUALITIES)


_STUDY_A_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(image_size=32, per_class_target=40, max_images_per_class=30,
                  max_test_images_per_class=8, max_epochs=3, patience=2, seeds=2,
                  tsne_perplexity=10.0, bootstrap_samples=200),
    # quick: three training seeds of each verdict-bearing model (paper: five), at 36 px (a 5x
    # downscale of the stored 180 px images; JPEG is applied at 180 px first, and the matched ladder
    # at 36 px) and at most 15 epochs: every model of Study A and Study A beyond trains on this
    # budget, which keeps the cold quick book within its target on 2 cores (bench/records/README.md)
    "quick": dict(image_size=36, max_epochs=15, patience=4, seeds=3),
    "paper": dict(),
}


@builds(StudyAConfig)
def study_a_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None, **fields: Any) -> StudyAConfig:
    """Study A's config in ``profile``; ``overrides`` is a chapter's parameter (its ``study_a`` part applies)."""
    return build(StudyAConfig, _STUDY_A_PROFILES, profile, merged("study_a", overrides, fields))

