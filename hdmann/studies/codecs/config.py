"""The codec chapter's config (which codec keeps a CNN's accuracy per byte) and its profiles."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdmann.engine import codecs
from hdmann.engine.config import build, builds, check_profile, Config, DEFAULT_PROFILE, in_range, unstated
from hdmann.studies import merged

from hdmann.studies.study_a.config import study_a_config, StudyAConfig
from hdmann.studies.study_b.config import study_b_config, StudyBConfig

# Knob ladders of the codec chapter, per dataset, as each codec module declares them (hdmann.engine.codecs),
# chosen on a few images so that every codec spans the same bits-per-pixel range: ISIC (180x180 RGB) about
# 0.2 to 2 bpp; MIAS films (1024x1024 grey) about 0.01 to 0.4 bpp.
CODEC_SETTINGS_ISIC: dict[str, tuple[float, ...]] = codecs.ladders("isic")
CODEC_BPP_RANGE_ISIC = (0.3, 1.5)  # every codec's ladder reaches below the first and above the second
CODEC_BPP_RANGE_FILM = (0.04, 0.15)
CODEC_SETTINGS_FILM: dict[str, tuple[float, ...]] = codecs.ladders("film")


@dataclass(frozen=True)
class CodecConfig(Config):
    """The codec chapter: which codec keeps a CNN's accuracy at a given number of bytes, on both
    studies' models trained on originals (predictions only). ``study_a``/``study_b`` are the configs
    whose trained models are read; greyscale films have no chroma, so JPEG 4:4:4 equals 4:2:0 there
    and only ``jpeg420`` is run on them."""
    UNKEYED = ("workers",)  # how many processes code images changes no result (not in any stage key)

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
    accuracy_margin: float = unstated(0.02, "Study A: a loss of accuracy tolerated against originals (the lowest "
                                      "bpp within the margin); the chapter says where the sample cannot resolve it")
    auroc_margin: float = unstated(0.02, "Study B: a loss of AUROC tolerated against originals (the lowest bpp "
                                   "within the margin); the chapter says where the sample cannot resolve it")
    bd_margin: float = unstated(0.025, "practical margin of a codec comparison, in accuracy (Study A) and AUROC "
                                "(Study B): half of the 0.05 the studies call no loss against originals, so a "
                                "codec is better or worse only by a gap worth switching codecs for, and a "
                                "difference well inside a training seed's spread (the seeds page measures it) is not one")
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 21
    workers: int = 2

    def __post_init__(self) -> None:
        known = codecs.names()
        check_profile(self.profile)
        for name in ("isic_settings", "film_settings"):
            table = getattr(self, name)
            unknown = set(table) - set(known)
            if unknown:
                raise ValueError(f"{name} has unknown codec(s) {sorted(unknown)}; use some of {known}")
        unknown = set(self.codecs) - set(known)
        if unknown:
            raise ValueError(f"codecs {sorted(unknown)} unknown; use some of {known}")
        if self.reference not in known:
            raise ValueError(f"reference={self.reference!r}: use one of {known}")
        in_range("webp_method", self.webp_method, 0, 6)
        in_range("avif_speed", self.avif_speed, 0, 10)
        in_range("jxl_effort", self.jxl_effort, 1, 9)
        in_range("accuracy_margin", self.accuracy_margin, 0.0, 0.5)
        in_range("auroc_margin", self.auroc_margin, 0.0, 0.5)
        in_range("bd_margin", self.bd_margin, 0.0, 0.5)
        in_range("bootstrap_samples", self.bootstrap_samples, 10, 100_000)
        in_range("workers", self.workers, 1, 256)
        if self.profile != self.study_a.profile or self.profile != self.study_b.profile:
            raise ValueError(f"profile {self.profile!r} but study_a/study_b have profiles {self.study_a.profile!r}/"
                             f"{self.study_b.profile!r}: build all with codec_config(profile)")





_CODEC_PROFILES: dict[str, dict[str, Any]] = {
    # smoke: two points per codec (a line), fewer bootstrap samples
    "smoke": dict(isic_settings={k: (v[1], v[-2]) for k, v in CODEC_SETTINGS_ISIC.items()},
                  film_settings={k: (v[1], v[-2]) for k, v in CODEC_SETTINGS_FILM.items()},
                  webp_method=4, avif_speed=9, jxl_effort=3, bootstrap_samples=200),
    # quick: faster encoder presets (the paper profile uses the libraries' defaults). Every knob of each
    # ladder is kept: with every other knob (tried, 2026-12-06) the validation ranking moved from "not
    # distinguishable" to "JPEG XL better", so the ranking rests on the ladder's density; not a place to save time
    "quick": dict(webp_method=4, avif_speed=8, jxl_effort=3),
    "paper": dict(),
}


@builds(CodecConfig)
def codec_config(profile: str = DEFAULT_PROFILE, overrides: dict | None = None, **fields: Any) -> CodecConfig:
    """The codec chapter's config; its ``study_a``/``study_b`` are those studies' configs of the same
    profile (with their parts of ``overrides``, so the models it scores are the ones the book trained)."""
    fields = merged("codecs", overrides, fields)
    fields.setdefault("study_a", study_a_config(profile, overrides))
    fields.setdefault("study_b", study_b_config(profile, overrides))
    return build(CodecConfig, _CODEC_PROFILES, profile, fields)


