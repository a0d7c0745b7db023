"""Study A's three claims, decided over the training seeds on the reporting half and checked on the
test folder, on each ladder this profile has: the paper's nominal JPEG qualities, and where the
model reads a smaller size than JPEG codes, the matched ladder that gives the model the distortion
the paper's levels give at 180 px (:mod:`hdmann.studies.study_a.distortion`).

Each claim is a :class:`hdmann.methods.vd.Verdict`: decided on its parts, seed-pooled (seeds and
images resampled) and on each seed alone, kept only when ``seed_agreement`` of the seeds reach the
pooled outcome. Nothing here is a stage: rewording a rule re-keys nothing.
"""
from __future__ import annotations

import numpy as np

from hdmann.engine import data
from hdmann.methods import evaluation, verdicts as vd
from hdmann.methods.verdicts import Claim, Effect, FAILS, HOLDS, NOT_TESTABLE, Part, UNDECIDED
from hdmann.methods.words import count
from hdmann.studies import papers
from hdmann.studies.study_a import distortion, pipeline, report
from hdmann.studies.study_a.config import study_a_config, StudyAConfig
from hdmann.studies.study_a.pipeline import key_memory, levels
from hdmann.studies.study_a_beyond import pipeline as beyond
from hdmann.studies.study_a_beyond.config import study_a_beyond_config

CHAPTER = "study_a_model"  # the chapter whose opening decides the three claims (the next opens with A3)
LABEL = "claims-study-a"  # the label of the chapter's verdict section (linked from the landing page)
FLAT = Claim("A1", "Study A", "Performance stays constant for significant compression, from 50 % to 20 % quality",
             "flat from q50 to q20 (read off its Fig. 4)", CHAPTER,
              short="accuracy flat down to q20")
DROP = Claim("A2", "Study A", "Accuracy decreases sharply past 10 % quality",
             "a sharp drop below q10 (Fig. 4)", CHAPTER,
              short="a sharp drop below q10")
CLUSTERS = Claim("A3", "Study A", "As quality lessens, class clusters lose density (greatly at 5 %) and join together",
                 "t-SNE maps, Fig. 3", CHAPTER,
                  short="clusters lose density and join")
CLAIMS = (FLAT, DROP, CLUSTERS)
REPORTING, HELD_OUT = "val", "test"


def legend(cfg: StudyAConfig, arm: str) -> str:
    """A ladder's name in a figure's legend."""
    if arm == report.NOMINAL:
        return f"the paper's quality values, coded at {cfg.source_size} px"
    return f"the paper's distortion, coded at {cfg.image_size} px (PSNR matched)"


def condition(cfg: StudyAConfig, arm: str) -> str:
    """How a ladder reaches the model, in a few words."""
    if arm == report.NOMINAL:
        return f"the paper's quality values, coded at {cfg.source_size} px, read at {cfg.image_size} px"
    return f"the paper's distortion: coded at {cfg.image_size} px, PSNR matched to {cfg.source_size} px"

TAGS = {report.NOMINAL: "nominal quality", report.MATCHED: "paper's distortion"}
SEPARATED = 0.0  # a silhouette at or below this: an image lies as near another class's cluster as its own


def arms(cfg: StudyAConfig) -> tuple[str, ...]:
    """The ladders this profile decides the claims on."""
    return report.ARMS if distortion.matched_arm(cfg) else (report.NOMINAL,)


def _intervals(cfg: StudyAConfig, per_image) -> tuple[list[tuple], tuple]:
    return evaluation.seed_intervals(per_image, cfg.bootstrap_samples, cfg.bootstrap_seed)


def _effect(what: str, v: tuple) -> Effect:
    return Effect(what, *v)


def _missing(cfg: StudyAConfig, *needed: str) -> str:
    absent = [lv for lv in needed if lv not in levels(cfg)]
    return f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not in this profile's ladder" if absent else ""


# ----------------------------------------------------------------------------------------- A1
def _flat_outcomes(cfg, data_root, part, arm) -> tuple[list[Part], list[str], dict]:
    base = report.hits(cfg, data_root, part, "original", arm=arm).astype(float)
    m = cfg.flat_margin
    parts, per_level = [], {}
    for lv in ("q50", "q20"):
        if lv not in levels(cfg):
            parts.append(Part(f"no loss at {lv}", NOT_TESTABLE, _missing(cfg, lv)))
            continue
        per_level[lv] = _intervals(cfg, report.hits(cfg, data_root, part, lv, arm=arm) - base)
        parts.append(Part(f"no loss at {lv}", evaluation.non_inferiority(*per_level[lv][1][1:], m)))
    per_seed = [evaluation.all_of(evaluation.non_inferiority(*iv[0][s][1:], m) for iv in per_level.values())
                if per_level else NOT_TESTABLE for s in range(cfg.seeds)]
    return parts, per_seed, per_level


def _flat(cfg, data_root, part, arm) -> vd.Verdict:
    parts, per_seed, per_level = _flat_outcomes(cfg, data_root, part, arm)
    shown = "q20" if "q20" in per_level else next(iter(per_level), None)  # the claim's boundary
    effect = _effect(f"accuracy change from the original at {shown} (seed mean)", per_level[shown][1]) if shown else None
    m = cfg.flat_margin
    v = vd.from_parts(
        FLAT, parts, effect, margin=m,
        rule=f"no loss beyond {m:g} in accuracy at q50 and at q20: the 95 % interval of the change from the original "
             f"(seeds and images resampled) lies above −{m:g} (holds), wholly below −{m:g} (does not hold), or "
             "straddles it (undecided); decided on the seeds pooled and on each seed alone",
        details="; ".join(f"{lv}: {Effect('', *iv[1]).text()}" for lv, iv in per_level.items()),
        values={lv: float(iv[1][0]) for lv, iv in per_level.items()})
    return vd.with_seeds(v, per_seed, cfg.seed_agreement)


# ----------------------------------------------------------------------------------------- A2
def _drop(cfg, data_root, part, arm) -> vd.Verdict:
    m = cfg.flat_margin
    missing = _missing(cfg, "q10", "q1")
    if missing:
        return vd.from_parts(DROP, [Part("a sharp drop below q10", NOT_TESTABLE, missing)], None,
                                   "needs q10 and q1 in the ladder", margin=m)
    orig, q10, q1 = (report.hits(cfg, data_root, part, lv, arm=arm).astype(float) for lv in ("original", "q10", "q1"))
    drop = _intervals(cfg, q1 - q10)
    steeper = _intervals(cfg, (q1 - q10) - (q10 - orig))  # the q10 -> q1 change minus the original -> q10 one

    def loss(d) -> str:
        return HOLDS if d[2] < -m else FAILS if d[1] > -m else UNDECIDED

    def sharper(s) -> str:
        return HOLDS if s[2] < 0 else FAILS if s[1] > 0 else UNDECIDED

    parts = [Part("a loss beyond the margin from q10 to q1", loss(drop[1])),
             Part("steeper than from the original to q10", sharper(steeper[1]))]
    per_seed = [evaluation.all_of([loss(drop[0][s]), sharper(steeper[0][s])]) for s in range(cfg.seeds)]
    v = vd.from_parts(
        DROP, parts, _effect("accuracy change from q10 to q1 (seed mean)", drop[1]), margin=m,
        rule=f"the q10 to q1 change has a 95 % interval wholly below −{m:g} (a loss beyond the margin) and exceeds "
             "the original to q10 change (the interval of their difference below 0): holds; the q10 to q1 interval "
             f"above −{m:g}, or the difference's interval above 0: does not hold; else undecided",
        details=f"q10 to q1 minus original to q10: {Effect('', *steeper[1]).text()}",
        values={"q10_to_q1": float(drop[1][0]), "steeper_by": float(steeper[1][0])})
    return vd.with_seeds(v, per_seed, cfg.seed_agreement)


# ----------------------------------------------------------------------------------------- A3
def _cluster_per_image(outputs: np.ndarray, labels: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image: its silhouette value (the silhouette score is their mean) and its key margin
    (distance to the nearest other key minus distance to its own)."""
    from sklearn.metrics import silhouette_samples

    d = np.linalg.norm(outputs[:, None, :] - keys[None, :, :], axis=2)
    own = d[np.arange(len(labels)), labels]
    other = np.where(np.eye(len(keys), dtype=bool)[labels], np.inf, d).min(axis=1)
    defined = 1 < len(np.unique(labels)) < len(labels)  # as embedding.cluster_metrics
    sil = silhouette_samples(outputs, labels) if defined else np.full(len(labels), np.nan)
    return sil, other - own


def _clusters(cfg, data_root, part, arm) -> vd.Verdict:
    missing = _missing(cfg, "q5", "q1")
    if missing:
        return vd.from_parts(CLUSTERS, [Part("clusters at q5 and q1", NOT_TESTABLE, missing)], None,
                                   "needs q5 and q1 in the ladder")
    keys = key_memory(cfg).keys
    runs = report.seed_outputs(cfg, data_root, arm)
    measure = {lv: [_cluster_per_image(p[f"{part}_{lv}_outputs"], p[f"{part}_labels"], keys) for p in runs]
               for lv in ("original", "q5", "q1")}
    silhouette = {lv: np.stack([m[0] for m in measure[lv]]) for lv in measure}
    margin = {lv: np.stack([m[1] for m in measure[lv]]) for lv in measure}
    sil_drop = _intervals(cfg, silhouette["q5"] - silhouette["original"])
    key_drop = _intervals(cfg, margin["q5"] - margin["original"])
    sil_low = _intervals(cfg, silhouette["q1"])

    def declines(a, b) -> str:  # both measures lower at q5 than on the original
        return HOLDS if a[2] < 0 and b[2] < 0 else FAILS if a[1] >= 0 or b[1] >= 0 else UNDECIDED

    def joined(s) -> str:  # the clusters no longer separate at the lowest quality
        return HOLDS if s[2] <= SEPARATED else FAILS if s[1] > SEPARATED else UNDECIDED

    parts = [Part("density lost at q5 (silhouette and key margin lower than on the original)",
                  declines(sil_drop[1], key_drop[1])),
             Part("clusters joined at q1 (silhouette at or below 0)", joined(sil_low[1]))]
    per_seed = [evaluation.all_of([declines(sil_drop[0][s], key_drop[0][s]), joined(sil_low[0][s])])
                for s in range(cfg.seeds)]
    finite = {lv: np.asarray(silhouette[lv], float)[np.isfinite(silhouette[lv])] for lv in silhouette}
    mean = {lv: float(f.mean()) if f.size else float("nan") for lv, f in finite.items()}  # nan: no seed could measure it
    v = vd.from_parts(
        CLUSTERS, parts, _effect("silhouette change from the original at q5 (seed mean)", sil_drop[1]),
        rule="the silhouette (how much nearer an image's output lies to its own class's outputs than to the nearest "
             "other class's) and the key margin both fall from the original to q5, each 95 % interval wholly below 0; "
             f"and at q1 the silhouette's interval lies at or below {SEPARATED:g}, where clusters no longer separate. "
             "Holds when both parts hold; does not hold when a measure does not fall, or q1's silhouette lies wholly "
             f"above {SEPARATED:g}; else undecided",
        details=(f"silhouette (seed mean) original {mean['original']:.3f}, q5 {mean['q5']:.3f}, q1 {mean['q1']:.3f} "
                 f"({Effect('', *sil_low[1]).text()}); key margin change at q5 {Effect('', *key_drop[1]).text()}"),
        values={"silhouette_original": mean["original"], "silhouette_q5": mean["q5"], "silhouette_q1": mean["q1"]})
    return vd.with_seeds(v, per_seed, cfg.seed_agreement)


# ----------------------------------------------------------------------------------------- records
RULES = {FLAT.id: _flat, DROP.id: _drop, CLUSTERS.id: _clusters}


def decide(cfg: StudyAConfig, data_root=None, part: str = REPORTING, arm: str = report.NOMINAL) -> list[vd.Verdict]:
    """The three claims decided on ``part`` of ``arm``'s ladder, without the held-out check."""
    return [RULES[c.id](cfg, data_root, part, arm) for c in CLAIMS]


def verdicts(profile: str, data_root=None, overrides: dict | None = None) -> list[vd.Verdict]:
    """Every claim on every ladder of ``profile``, decided on the reporting half, with the test
    folder's check and the baseline a reader would ask for."""
    cfg = study_a_config(profile, overrides)
    return decided(cfg, data_root, baseline_notes(cfg, _beyond(profile, overrides), data_root))


def decided(cfg: StudyAConfig, data_root=None, baselines: dict | None = None) -> list[vd.Verdict]:
    """:func:`verdicts` for a config at hand; ``baselines``: claim id -> sentence (:func:`baseline_notes`)."""
    from dataclasses import replace

    out = []
    for arm in arms(cfg):
        for v, held in zip(decide(cfg, data_root, REPORTING, arm), decide(cfg, data_root, HELD_OUT, arm)):
            out.append(replace(v, check=vd.held_out_check(v.outcome, held.outcome),
                               condition=condition(cfg, arm) if len(arms(cfg)) > 1 else "",
                               tag=TAGS[arm] if len(arms(cfg)) > 1 else "", name=arm if len(arms(cfg)) > 1 else "",
                               baseline=(baselines or {}).get(v.claim.id, "")))
    return out


def _beyond(profile: str, overrides: dict | None):
    return study_a_beyond_config(profile, overrides)


def colour_comparison(cfg: StudyAConfig, bcfg, data_root=None, part: str = REPORTING) -> dict:
    """HD-MANN (seed mean) against a colour-only classifier on the same images at the low qualities
    (q5 and below, pooled): both accuracies, and the paired difference with an interval that
    resamples seeds and images. The colour baseline is Study A beyond's (``bcfg``: logistic
    regression on colour thumbnails, trained on the same training part)."""
    colour = beyond.colour_baseline(bcfg, data_root)
    low = [lv for lv in levels(cfg) if lv != "original" and int(lv[1:]) <= 5]
    model = np.concatenate([report.hits(cfg, data_root, part, lv) for lv in low], axis=1).astype(float)
    shortcut = np.concatenate([colour[f"{part}_{lv}"] == colour[f"{part}_labels"] for lv in low]).astype(float)
    diff = evaluation.seed_image_ci(model - shortcut[None], cfg.bootstrap_samples, cfg.bootstrap_seed)
    return {"levels": low, "model": float(model.mean()), "colour": float(shortcut.mean()), "difference": diff}


def recall_gap(cfg: StudyAConfig, data_root=None, level: str = "original") -> dict:
    """The class whose recall (seed mean) differs most between the reporting half and the test folder at ``level``."""
    memory = key_memory(cfg)
    recall = {}
    for part in (REPORTING, HELD_OUT):
        runs = report.seed_outputs(cfg, data_root)
        recall[part] = np.mean([evaluation.per_class_recall(p[f"{part}_labels"], memory.predict(p[f"{part}_{level}_outputs"],
                                                            cfg.distance), len(data.ISIC_CLASSES)) for p in runs], axis=0)
    worst = int(np.argmax(np.abs(recall[REPORTING] - recall[HELD_OUT])))
    return {"class": data.ISIC_LABELS[worst], "reporting": float(recall[REPORTING][worst]),
            "held_out": float(recall[HELD_OUT][worst]), "level": level}


def versus_words(d: tuple, other: str) -> str:
    """"level with / ahead of / behind ``other``" by whether the paired interval ``d`` excludes 0."""
    if d[1] > 0:
        return f"ahead of {other}"
    if d[2] < 0:
        return f"behind {other}"
    return f"level with {other}"


def baseline_notes(cfg: StudyAConfig, bcfg, data_root=None) -> dict:
    """Per claim, the comparison a skeptic asks for: where the drop happens, is the model any better
    than colour alone; and which class the test folder finds hardest against the reporting half."""
    notes = {}
    if "q5" in levels(cfg) or "q1" in levels(cfg):
        c = colour_comparison(cfg, bcfg, data_root)
        d = c["difference"]
        standing = versus_words(d, "a colour-only classifier")
        meaning = {"level": "below q10 it does no better than colour alone",
                   "ahead": "below q10 it keeps more than colour alone gives",
                   "behind": "below q10 colour alone does better"}[standing.split()[0]]
        notes[DROP.id] = (f"at {', '.join(c['levels'])} (pooled) HD-MANN scores {c['model']:.3f}, {standing} "
                          f"({c['colour']:.3f}; difference {Effect('', *d).text()}): {meaning}")
    gap = recall_gap(cfg, data_root)
    notes[FLAT.id] = (f"{gap['class']} recall on originals is {gap['held_out']:.2f} on the test folder against "
                      f"{gap['reporting']:.2f} on the reporting half, the largest gap of any class")
    return notes


def stage_calls(profile: str, overrides: dict | None = None) -> list:
    """What the claims read: every seed's outputs on each ladder, and the colour baseline."""
    cfg = study_a_config(profile, overrides)
    return ([pipeline.predictions.on(c) for c in pipeline.seed_configs(cfg)] + distortion.stage_calls(cfg)
            + [beyond.colour_baseline.on(_beyond(profile, overrides))])


# ----------------------------------------------------------------------------------------- deviations
def input_ladder(cfg: StudyAConfig, data_root=None, part: str = REPORTING) -> list[dict]:
    """Per paper level: its PSNR and SSIM at the stored size (what the paper's model read) and at this
    profile's input size, and where the matched ladder exists, the quality it codes at the input and
    the PSNR and SSIM that gives there."""
    at = distortion.input_distortion(cfg, data_root)
    ladder = distortion.matched_ladder(cfg, data_root) if distortion.matched_arm(cfg) else None
    matched = report.seed_outputs(cfg, data_root, report.MATCHED)[0] if ladder is not None else None
    rows = []
    for i, lv in enumerate(levels(cfg)[1:]):
        row = {"level": lv, "psnr_stored": float(np.mean(at[f"{part}_{lv}_psnr_stored"])),
               "psnr_input": float(np.mean(at[f"{part}_{lv}_psnr_input"])),
               "ssim_stored": float(np.mean(at[f"{part}_{lv}_ssim_stored"])),
               "ssim_input": float(np.mean(at[f"{part}_{lv}_ssim_input"]))}
        if ladder is not None:
            row.update({"matched_quality": int(ladder["input_quality"][i]),
                        "matched_psnr": float(np.mean(matched[f"{part}_{lv}_psnr"])),
                        "matched_ssim": float(np.mean(matched[f"{part}_{lv}_ssim"]))})
        rows.append(row)
    return rows


def input_ladder_display(cfg: StudyAConfig, data_root=None):
    """:func:`input_ladder` under human headers, for a page."""
    import pandas as pd

    frame = pd.DataFrame(input_ladder(cfg, data_root)).rename(columns={
        "psnr_stored": f"PSNR at {cfg.source_size} px (dB)", "psnr_input": f"PSNR at {cfg.image_size} px (dB)",
        "ssim_stored": f"SSIM at {cfg.source_size} px", "ssim_input": f"SSIM at {cfg.image_size} px",
        "matched_quality": f"matched quality at {cfg.image_size} px", "matched_psnr": "matched PSNR (dB)",
        "matched_ssim": "matched SSIM"})
    return frame.style.format(precision=2).hide(axis="index")


def nearest_paper_level(psnr: float, ladder: list[dict]) -> str:
    """The paper level whose PSNR at the stored size is nearest ``psnr``."""
    return min(ladder, key=lambda r: abs(r["psnr_stored"] - psnr))["level"]


def deviations(profile: str, data_root=None, overrides: dict | None = None) -> list[dict]:
    """How this run differs from Study A, each with what it changes where the run can measure it."""
    cfg = study_a_config(profile, overrides)
    paper = papers.STUDY_A
    rows = []
    if cfg.image_size < cfg.source_size:
        ladder = input_ladder(cfg, data_root)
        probe = next((r for r in ladder if r["level"] == "q20"), ladder[0])
        like = nearest_paper_level(probe["psnr_input"], ladder)
        consequence = (f"downsampling after JPEG removes much of its error: {probe['level']} reads "
                       f"{probe['psnr_input']:.1f} dB at {cfg.image_size} px against {probe['psnr_stored']:.1f} dB at "
                       f"{cfg.source_size} px, nearest the paper's {like}; every claim is also decided on a ladder "
                       "matched to the paper's distortion")
    else:
        consequence = "none: the model reads the size JPEG codes"
    rows.append({"study": "Study A", "what": "input size", "paper": f"{cfg.source_size} px",
                 "this run": f"{cfg.image_size} px, JPEG coded at {cfg.source_size} px", "consequence": consequence})
    runs = [pipeline.load_model(c, data_root)[1] for c in pipeline.seed_configs(cfg)]
    best = [r["best_epoch"] for r in runs]
    rows.append({"study": "Study A", "what": "training length",
                 "paper": f"up to {paper['max_epochs']} epochs, {paper['effective_epochs']} effective",
                 "this run": f"up to {count(cfg.max_epochs, 'epoch')}, best epoch {', '.join(map(str, best))} by seed",
                 "consequence": "not measured here: the paper profile trains the paper's budget"})
    rows.append({"study": "Study A", "what": "data",
                 "paper": f"{paper['images_total']:,} Kaggle ISIC images, {paper['original_per_class']} originals per class",
                 "this run": f"isic4: {count(sum(len(data.list_isic(s, data_root)) for s in data.ISIC_SPLITS), 'image')}, "
                             "the same 4 classes",
                 "consequence": "not measured: the paper's extra images are not public as a set"})
    rows.append({"study": "Study A", "what": "training seeds", "paper": "one run",
                 "this run": count(cfg.seeds, "seed"), "consequence": "every verdict says in how many seeds it holds"})
    return rows
