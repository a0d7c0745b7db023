"""The data and compression chapters' values and wording, from their own measurements (nothing here is a
stage: editing it re-keys nothing)."""
from __future__ import annotations

import io

import numpy as np

from hdmann.engine import codecs, data, datacheck
from hdmann.methods.words import listing, ratio
from hdmann.studies.foundations import pipeline
from hdmann.studies.foundations.config import CompressionConfig
from hdmann.studies.study_b import control as study_b
from hdmann.studies.study_b.config import StudyBConfig

# Neighbouring JPEG qualities are "nearly one condition" when the mean file size changes by less than
# BYTES_TOLERANCE (relative) and the mean PSNR by less than PSNR_TOLERANCE_DB between them.
BYTES_TOLERANCE = 0.05
PSNR_TOLERANCE_DB = 0.5
TABLE_CAP = 255  # the largest entry of a baseline (8-bit) JPEG quantisation table


def sample_wording(used: int, total: int, noun: str, per_class: int | None = None) -> str:
    """How the prose names the set a table covers: "all 322 MIAS films", or, where the profile
    samples it, "a seeded sample of 100 of the 322 MIAS films" (with "(100 per class)" when the
    sample was drawn per class)."""
    if used < 1 or total < used:
        raise ValueError(f"a sample of {used} out of {total} {noun}: expected 1 <= used <= total")
    if used == total:
        return f"all {total:,} {noun}"
    per = f" ({per_class:,} per class)" if per_class is not None else ""
    return f"a seeded sample of {used:,} of the {total:,} {noun}{per}"


def quantisation_cap_share(quality: int) -> float:
    """The share of the entries of libjpeg's quantisation tables (luma and chroma) that sit at
    :data:`TABLE_CAP` at this quality, read from a JPEG the book's encoder writes (the tables do not
    depend on the image)."""
    from PIL import Image

    image = np.full((16, 16, 3), 128, np.uint8)
    tables = Image.open(io.BytesIO(codecs.encode(image, "jpeg", quality))).quantization
    entries = [v for table in tables.values() for v in table]
    return float(np.mean([v >= TABLE_CAP for v in entries]))


def jpeg_saturation(rows: list[dict]) -> dict | None:
    """Where JPEG's quality knob saturates, from a survey table's rows (``setting``: quality, ``bpp``
    and ``psnr``: means over images): the highest quality from which every step down to the lowest
    quality changes the mean bpp by less than :data:`BYTES_TOLERANCE` and the mean PSNR by less than
    :data:`PSNR_TOLERANCE_DB`. None when the lowest step already changes more."""
    ranked = sorted(rows, key=lambda r: -r["setting"])
    within = []
    for upper, lower in zip(ranked, ranked[1:]):
        bytes_change = lower["bpp"] / upper["bpp"] - 1
        psnr_change = lower["psnr"] - upper["psnr"]
        within.append(abs(bytes_change) < BYTES_TOLERANCE and abs(psnr_change) < PSNR_TOLERANCE_DB)
    if not within or not within[-1]:
        return None
    start = len(within) - 1
    while start > 0 and within[start - 1]:
        start -= 1
    top, bottom = ranked[start], ranked[-1]
    return {"from": int(top["setting"]), "to": int(bottom["setting"]),
            "bytes_change": bottom["bpp"] / top["bpp"] - 1, "psnr_change": bottom["psnr"] - top["psnr"]}


def saturation_wording(rows: list[dict]) -> str:
    """Two or three sentences: where JPEG's quality knob saturates on the chapter's own survey, why
    (libjpeg's capped quantisation tables, read from the encoder) and what follows for the ladder."""
    found = jpeg_saturation(rows)
    tolerances = f"{100 * BYTES_TOLERANCE:.0f} % in size and {PSNR_TOLERANCE_DB:g} dB in PSNR"
    if found is None:
        return (f"Every step down the JPEG ladder changes the mean file size by more than {100 * BYTES_TOLERANCE:.0f} % "
                f"or the mean PSNR by more than {PSNR_TOLERANCE_DB:g} dB, so each quality is a condition of its own.")
    top, bottom = f"q{found['from']}", f"q{found['to']}"
    shrinks = "shrinks" if found["bytes_change"] < 0 else "grows"
    return (f"JPEG's quality knob saturates at the bottom of the ladder. From {top} to {bottom}, the mean file "
            f"{shrinks} by {100 * abs(found['bytes_change']):.1f} % and PSNR moves by {abs(found['psnr_change']):.2f} "
            f"dB, within this chapter's tolerance of {tolerances}. The encoder (libjpeg) scales its quantisation "
            f"tables up as quality falls, and caps each entry at {TABLE_CAP}. At {top}, "
            f"{100 * quantisation_cap_share(found['from']):.0f} % of the entries already sit at that cap; at {bottom}, "
            f"{100 * quantisation_cap_share(found['to']):.0f} %. So {top} and {bottom} are nearly one condition, and a "
            "model should score almost the same on both.")


def unreached_wording(targets: list[int], what: str) -> str:
    """One sentence naming the JPEG 2000 targets not reached on every surveyed image, as ratios."""
    if not targets:
        return f"Every target was reached on every surveyed {what}."
    ratios = listing(map(ratio, targets))
    return f"Not reached on every surveyed {what}: {ratios}."


def survey_columns(setting: str, header: str, count: str = "images", reached: bool = False) -> dict[str, str]:
    """``report.table(show=...)`` for a survey table: short human headers, in reading order (the CSV keeps
    the field names; the caption says the ratio is the achieved one, bpp, PSNR and SSIM means over images). ``setting``: the column of the quality or target ratio; ``count``: the column
    counting the surveyed images or films; ``reached``: JPEG 2000's share of them reaching the target."""
    shown = {setting: header, count: count, "achieved_median": "ratio (median)", "achieved_min": "ratio (min)",
             "achieved_max": "ratio (max)", "bpp": "bpp", "psnr": "PSNR (dB)", "ssim": "SSIM"}
    return {**shown, "reached_share": "share reached"} if reached else shown


def data_values(profile: str, check: datacheck.CheckReport, data_root=None) -> dict:
    """Every value the data chapter's prose cites, by glue name: the images per folder and dataset, and what
    the data check found (unreadable, converted and duplicate images). ``check``: :func:`datacheck.check`'s
    report, passed in because the chapter also tables its duplicates (a second check would hash every file
    again)."""
    isic = data.isic_counts(data_root)
    values = {f"isic_{split}": sum(counts.values()) for split, counts in isic.items()}
    values["isic_total"] = sum(sum(c.values()) for c in isic.values())
    values.update({f"mias_{key}": value for key, value in data.mias_counts(data_root).items()})
    values["profile"] = profile
    values.update({"check_images": sum(check.images.values()), "check_bad": len(check.bad),
                   "check_converted": len(check.converted), "check_copies": len(check.copies),
                   "isic_identical_groups": len(check.identical["isic4"]),
                   "isic_identical_images": check.identical_images("isic4"),
                   "isic_identical_across_splits": check.across_splits,
                   "mias_identical_groups": len(check.identical["mias"])})
    return values


def compression_values(cfg: CompressionConfig, study_b_cfg: StudyBConfig, data_root=None) -> dict:
    """Every value and sentence the compression chapter's prose cites, by glue name: the example image's
    ladder ends, and what the isic4 and MIAS surveys reached."""
    image, image_name = pipeline.isic_example(cfg, data_root)
    steps = pipeline.ladder(image, "jpeg", cfg.jpeg_qualities)  # lowest quality last
    values = {"profile": cfg.profile, "isic_example": image_name, "isic_q1_ratio": steps[-1].ratio,
              "isic_q1_bpp": steps[-1].bpp, "isic_q50_ratio": steps[0].ratio,
              "film_example": pipeline.mias_example(cfg, data_root)[1], "tolerance_pct": 100 * cfg.ratio_tolerance}
    jpeg_rows = pipeline.isic_table(cfg, "jpeg", data_root)
    jp2_rows = pipeline.isic_table(cfg, "jpeg2000", data_root)
    film_rows = study_b.ratio_table(study_b_cfg, data_root, cfg.ratio_tolerance)
    values.update({
        "saturation_words": saturation_wording(jpeg_rows),
        "isic_scope": sample_wording(*pipeline.isic_survey_size(cfg, data_root), "isic4 images", cfg.max_isic_images),
        "isic_jp2_unreached": unreached_wording([r["setting"] for r in jp2_rows if r["reached_share"] < 1], "image"),
        "isic_jp2_ceiling": max(r["achieved_max"] for r in jp2_rows),
        "mias_unreached": unreached_wording([r["target_ratio"] for r in film_rows if r["reached_share"] < 1], "film"),
        "mias_ceiling": max(r["achieved_max"] for r in film_rows),
        "mias_scope": sample_wording(*study_b.survey_size(study_b_cfg, data_root), "MIAS films")})
    return values
