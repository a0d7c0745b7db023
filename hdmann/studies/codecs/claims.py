"""The codec chapter's claim: the book's own question, whether a newer codec keeps a CNN's accuracy
better than JPEG at equal bytes, decided on both studies' models over their training seeds.

One :class:`hdmann.methods.verdicts.Verdict` per study (its own seed axis: Study A's training seeds,
Study B's repeats of the cross-validation), each decided on its part: over the bpp range every codec
covers, the BD difference of each newer codec from JPEG 4:2:0 (seed mean, its 95 % interval resampling
seeds and images) against the practical margin ``bd_margin``. Study A's reporting half decides and its
test folder checks (:func:`hdmann.methods.verdicts.held_out_check`), as in Study A's own claims.
Nothing here is a stage: rewording a rule re-keys nothing.
"""
from __future__ import annotations

from dataclasses import replace

from hdmann.engine import codecs
from hdmann.methods import verdicts as vd
from hdmann.methods.verdicts import Claim, Effect, FAILS, HOLDS, NOT_TESTABLE, Part, UNDECIDED
from hdmann.methods.words import listing
from hdmann.studies.codecs import pipeline as ra, report as rr
from hdmann.studies.codecs.config import CodecConfig, codec_config

CHAPTER = "codecs"
LABEL = "claims-codecs"  # the label of the chapter's verdict section (linked from the landing page)
NEWER_KEEPS = Claim("C1", "Across studies", "At equal bytes, a newer codec keeps the model's accuracy better than JPEG",
                    "—", CHAPTER, short="a newer codec keeps accuracy better than JPEG at equal bytes")
CLAIMS = (NEWER_KEEPS,)
JPEG = ("jpeg420", "jpeg444")
# per study: the metric that decides, the one that checks (None: no held-out set), the condition and its tag
STUDY_PARTS = {"a": ("val", "test", "Study A: HD-MANN accuracy on skin lesions, reporting half", "Study A"),
               "b": ("cnn", None, "Study B: patch CNN AUROC on mammograms, pooled out-of-fold", "Study B")}


def newer_outcome(intervals: list[tuple[float, float]], margin: float) -> str:
    """The claim on one study from the newer codecs' BD intervals against the reference: holds when
    some newer codec's interval lies wholly above ``+margin``, does not hold when every one lies below
    ``+margin`` (none is better by a gap worth switching for), else undecided."""
    if not intervals:
        raise ValueError("newer_outcome needs at least one newer codec's interval")
    if any(low > margin for low, _ in intervals):
        return HOLDS
    if all(high < margin for _, high in intervals):
        return FAILS
    return UNDECIDED


def _untestable(rank: dict) -> str:
    """Why a ranking cannot decide the claim ("" when it can)."""
    if rank["range"] is None:
        return "the codecs run share no bits-per-pixel range, so no BD difference is defined"
    if rank["reference"] not in JPEG:
        return f"the reference codec is {rank['reference']}, not JPEG"
    if not [r for r in rank["rows"] if r["name"] in rr.NEWER]:
        return "no codec newer than JPEG was run"
    return ""


def _decided(rank: dict, margin: float) -> tuple[str, list[str]]:
    """(seed-pooled outcome, each seed's outcome) of the claim on one ranking."""
    newer = [r for r in rank["rows"] if r["name"] in rr.NEWER]
    pooled = newer_outcome([(r["bd_low"], r["bd_high"]) for r in newer], margin)
    per_seed = [newer_outcome([r["bd_seed_ci"][s] for r in newer], margin) for s in range(rank["seeds"])]
    return pooled, per_seed


def _row_words(r: dict) -> str:
    return f"{r['codec']} {Effect('', r['bd_vs_reference'], r['bd_low'], r['bd_high']).text()}: {rr._outcome_words(r)}"


def _baseline(rank: dict) -> str:
    """What a perceptual metric would pick over the same range, beside the model's own first choice."""
    rows = [r for r in rank["rows"] if "bd_vs_reference" in r]
    best = rows[0]
    by_psnr = max(rows, key=lambda r: r["psnr_over_range"])
    by_ssim = max(rows, key=lambda r: r["ssim_over_range"])

    def shown(r) -> str:
        if r["name"] == rank["reference"]:
            return f"{r['codec']} (the reference)"
        return f"{r['codec']} (BD {Effect('', r['bd_vs_reference'], r['bd_low'], r['bd_high']).text()})"

    agree = "the same codec" if by_psnr["name"] == best["name"] else f"not the model's first choice, {best['codec']}"
    return (f"PSNR over the same range picks {shown(by_psnr)} and SSIM {shown(by_ssim)}: by PSNR, {agree}")


def study_verdict(cfg: CodecConfig, rankings: dict, study: str) -> vd.Verdict:
    """C1 on one study's models, decided on the seeds pooled and on each seed alone."""
    metric, held, condition, tag = STUDY_PARTS[study]
    rank = rankings[metric]
    m = cfg.bd_margin
    why = _untestable(rank)
    part_name = f"a newer codec better than JPEG 4:2:0 by more than {m:g}, {tag}"
    rule = (f"over the bpp range every codec covers, some newer codec (JPEG 2000, WebP, AVIF, JPEG XL) has a BD "
            f"difference from {codecs.CODECS[cfg.reference].label} whose 95 % interval, seeds and images resampled, lies "
            f"wholly above +{m:g} (holds); every newer codec's interval lies below +{m:g}, none better by a gap worth "
            f"switching for (does not hold); else undecided. Decided on the seeds pooled and on each seed alone (its "
            f"images resampled), kept when at least {rr.seed_agreement(cfg, metric) * 100:.0f} % of the seeds (rounded up) "
            "reach the pooled outcome")
    if why:
        return vd.from_parts(NEWER_KEEPS, [Part(part_name, NOT_TESTABLE, why)], None, rule, margin=m,
                             condition=condition, tag=tag, name=f"study_{study}")
    pooled, per_seed = _decided(rank, m)
    newer = [r for r in rank["rows"] if r["name"] in rr.NEWER]
    best = max(newer, key=lambda r: r["bd_vs_reference"])
    unit = "accuracy" if study == "a" else "AUROC"
    effect = Effect(f"BD {unit} of {best['codec']} minus {codecs.CODECS[rank['reference']].label}, "
                    f"{rank['range'][0]:.3g} to {rank['range'][1]:.3g} bpp (seed mean)",
                    best["bd_vs_reference"], best["bd_low"], best["bd_high"])
    v = vd.from_parts(NEWER_KEEPS, [Part(part_name, pooled)], effect, rule, margin=m, condition=condition, tag=tag,
                      name=f"study_{study}",
                      baseline=_baseline(rank), details="; ".join(_row_words(r) for r in newer),
                      values={f"bd_{r['name']}": float(r["bd_vs_reference"]) for r in newer})
    v = vd.with_seeds(v, per_seed, rr.seed_agreement(cfg, metric))
    if held is None:
        return v
    check_rank = rankings[held]
    if _untestable(check_rank):
        return v
    held_pooled, held_seeds = _decided(check_rank, m)
    held_v = vd.with_seeds(vd.from_parts(NEWER_KEEPS, [Part(part_name, held_pooled)], None, rule), held_seeds,
                           rr.seed_agreement(cfg, held))
    return replace(v, check=vd.held_out_check(v.outcome, held_v.outcome),
                      details=v.details + f". Test folder ({held_v.outcome}): "
                      + "; ".join(_row_words(r) for r in check_rank["rows"] if r["name"] in rr.NEWER))


def verdicts_of(cfg: CodecConfig, rankings: dict) -> list[vd.Verdict]:
    """C1 on each study, from the rankings of :func:`hdmann.studies.codecs.report.analysis`."""
    return [study_verdict(cfg, rankings, study) for study in ra.STUDIES]


def verdicts(profile: str, data_root=None, overrides: dict | None = None) -> list[vd.Verdict]:
    """The codec chapter's claims, on every configured codec whose library is installed."""
    cfg = codec_config(profile, overrides)
    names, _ = ra.usable(list(cfg.codecs))
    return verdicts_of(cfg, rr.analysis(cfg, names, data_root)["rankings"])


def stage_calls(profile: str, overrides: dict | None = None) -> list:
    cfg = codec_config(profile, overrides)
    return ra.stage_calls(cfg, list(cfg.codecs))


def outcome_words(records: list[vd.Verdict]) -> dict:
    """The verdict in a few words per study, for the prose: ``{"a": "holds in 3 of 3 seeds", ...}``."""
    out = {}
    for study, v in zip(ra.STUDIES, records):
        if not v.seeds or v.seeds == 1:
            seeds = " (one training seed)" if v.seeds == 1 else ""
        elif v.outcome in (HOLDS, FAILS):
            seeds = f" in {v.seed_text()} seeds"
        else:
            seeds = f" (seed by seed: {v.seed_text()})"
        out[study] = v.outcome + seeds
        out[f"{study}_check"] = v.check
    out["studies"] = listing(sorted({v.outcome for v in records}))
    return out
