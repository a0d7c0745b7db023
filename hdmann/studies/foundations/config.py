"""The compression chapter's config (codec ladders on both datasets) and its profiles."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hdmann.engine.config import build, builds, check_profile, Config, DEFAULT_PROFILE, in_range
from hdmann.studies import merged

from hdmann.studies.study_a.config import STUDY_A_QUALITIES
from hdmann.studies.study_b.config import STUDY_B_RATIOS

@dataclass(frozen=True)
class CompressionConfig(Config):
    """The compression chapter: codec ladders on both datasets."""
    UNKEYED = ("workers",)  # how many processes code images changes no result (not in any stage key)

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
        check_profile(self.profile)
        in_range("ratio_tolerance", self.ratio_tolerance, 0.0, 1.0)
        for q in self.jpeg_qualities:
            in_range("jpeg quality", q, 1, 95)
        for r in self.jp2_ratios:
            in_range("compression ratio", r, 1, 1_000_000)
        in_range("workers", self.workers, 1, 256)


# Knob ladders of the codec chapter, per dataset, chosen on a few images so that every codec spans the
# same bits-per-pixel range: ISIC (180x180 RGB) about 0.2 to 2 bpp; MIAS films (1024x1024 grey) about
# 0.01 to 0.4 bpp (JPEG's header floor on a film lies near 0.03 bpp, so JPEG stops there).


_COMPRESSION_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(max_isic_images=10),
    # quick: the survey tables on a seeded 100 images per class (~380 CPU s for all 1,697; bench/records/README.md)
    "quick": dict(max_isic_images=100),
    "paper": dict(),
}


@builds(CompressionConfig)
def compression_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None, **fields: Any) -> CompressionConfig:
    return build(CompressionConfig, _COMPRESSION_PROFILES, profile, merged("compression", overrides, fields))

