"""Study A beyond the paper: the class-addition stage (``class_addition``): a new class written as a
fifth key from the outputs of k of its images, beside a linear probe given the same images."""
from __future__ import annotations

import numpy as np

from hdmann.engine import data
from hdmann.engine.stages import stage
from hdmann.methods.memory import KeyMemory
from hdmann.studies.study_a_beyond.config import StudyABeyondConfig
from hdmann.studies.study_a_beyond.images import _fields
from hdmann.studies.study_a_beyond.ood import outputs_on_every_set
from hdmann.studies.study_a_beyond.training import hdmann_outputs, model_request, outputs


ADDITION_FIELDS = ("new_classes", "addition_levels", "held_out_fraction", "shots", "shot_draws", "probe_draws",
                   "leave_out_classes", "probe_c", "addition_rules", "sample_seed")


def _addition_reads(bcfg: StudyABeyondConfig) -> list:
    return ([outputs_on_every_set.on(bcfg, "study_a")]
            + [outputs.on(bcfg, *model_request(bcfg, "original", None, cls)) for cls in bcfg.leave_out_classes])


@stage("study_a_beyond/class_addition",
       params=lambda bcfg, data_root: {"beyond": _fields(bcfg, ADDITION_FIELDS)}, reads=_addition_reads)
def class_addition(bcfg: StudyABeyondConfig, data_root=None) -> dict:
    """Add each new class to the frozen Study A model by writing a fifth key from the outputs
    of k of its images, under each of ``addition_rules``; and, inside isic4, add each left-out class
    to a three-class model the same way. Beside each: a linear probe (logistic regression on the
    frozen outputs) given the same images."""
    rows = []
    frozen = outputs_on_every_set(bcfg, "study_a", data_root)
    rng = np.random.default_rng(bcfg.sample_seed)
    for c, cls in enumerate(bcfg.new_classes):
        members = np.flatnonzero(frozen["new_labels"] == c)
        perm = rng.permutation(members)
        n_held = max(1, int(round(bcfg.held_out_fraction * len(members))))
        held, pool = np.sort(perm[:n_held]), perm[n_held:]
        new_at = {lv: frozen[f"new_{lv}"][held] for lv in bcfg.addition_levels}
        rows += _add_rows(bcfg, "isic-other", cls, frozen["keys"], frozen["new_original"][pool], new_at,
                          {lv: frozen[f"val_{lv}"] for lv in bcfg.addition_levels}, frozen["val_labels"],
                          frozen["train_originals"], frozen["train_originals_labels"], rng)
    for cls in bcfg.leave_out_classes:
        out = hdmann_outputs(bcfg, "original", None, cls, data_root)
        c = data.ISIC_CLASSES.index(cls)
        names = list(out["classes"])
        remap = np.array([names.index(x) if x in names else len(names) for x in data.ISIC_CLASSES])
        y_val = remap[out["val_labels"]]  # the left-out class becomes index 3 (the added key)
        y_tr = out["train_originals_labels"]
        pool = out["train_originals"][y_tr == c]
        rest = y_tr != c
        held_mask = y_val == len(names)
        rows += _add_rows(bcfg, "isic4 leave-one-out", cls, out["keys"], pool,
                          {lv: out[f"val_{lv}"][held_mask] for lv in bcfg.addition_levels},
                          {lv: out[f"val_{lv}"][~held_mask] for lv in bcfg.addition_levels}, y_val[~held_mask],
                          out["train_originals"][rest], remap[y_tr[rest]], rng)
    return {"rows": rows}


def split_rule(rule: str) -> tuple[str, str]:
    """'mean-l2' -> ('mean', 'l2'): how the key is bundled, and the distance all five keys are compared by."""
    bundle, _, distance = rule.partition("-")
    return bundle, distance


def _add_rows(bcfg, source, cls, keys, pool, new_at, old_at, old_labels, probe_x, probe_y, rng) -> list[dict]:
    """Accuracy on the new class's held-out images and on the old classes' images, per k and level,
    averaged over draws of the k support images, for the key written by each rule and for the probe.
    Also per rule: the share of the support outputs whose nearest key is the one written from them,
    and the old classes' accuracy before the addition under the rule's distance (so that the cost
    of the addition is told apart from the cost of changing the distance)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_old = len(keys)
    settings = [k for k in bcfg.shots if k < len(pool)] + [len(pool)]
    methods = list(bcfg.addition_rules) + ["probe"]
    before = {}
    for rule in bcfg.addition_rules:
        _, metric = split_rule(rule)
        four = KeyMemory.from_keys(keys)
        before[rule] = {lv: float(np.mean(four.predict(old_at[lv], metric) == old_labels)) for lv in old_at}
    # one probe, refitted from its last solution: the regularised problem is strictly convex, so the warm
    # start only shortens the path to the same optimum (about 350 L-BFGS steps a cold fit in quick)
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=bcfg.probe_c, class_weight="balanced", max_iter=1000,
                                                               warm_start=True))
    rows = []
    for k in settings:
        draws = 1 if k == len(pool) else bcfg.shot_draws
        hits = {(m, lv, part): [] for m in methods for lv in new_at for part in ("new", "old")}
        self_nearest = {rule: [] for rule in bcfg.addition_rules}
        for d in range(draws):
            support = pool[rng.choice(len(pool), k, replace=False)] if k < len(pool) else pool
            for rule in bcfg.addition_rules:
                bundle, metric = split_rule(rule)
                memory = KeyMemory.from_keys(keys)
                memory.add_class_from_outputs(cls, support, bundle)
                self_nearest[rule].append(np.mean(memory.predict(support, metric) == n_old))
                for lv in new_at:
                    hits[(rule, lv, "new")].append(np.mean(memory.predict(new_at[lv], metric) == n_old))
                    hits[(rule, lv, "old")].append(np.mean(memory.predict(old_at[lv], metric) == old_labels))
            if d < min(draws, bcfg.probe_draws):
                probe.fit(np.vstack([probe_x, support]), np.concatenate([probe_y, np.full(k, n_old)]))
                for lv in new_at:
                    hits[("probe", lv, "new")].append(np.mean(probe.predict(new_at[lv]) == n_old))
                    hits[("probe", lv, "old")].append(np.mean(probe.predict(old_at[lv]) == old_labels))
        for (method, lv, part), values in hits.items():
            if part == "old":
                continue
            rows.append({"source": source, "class": cls, "k": int(k), "all": bool(k == len(pool)),
                         "method": method, "level": lv, "draws": len(values),
                         "new_accuracy": float(np.mean(values)), "new_draw_sd": float(np.std(values)),
                         "old_accuracy": float(np.mean(hits[(method, lv, "old")])),
                         "old_before": before[method][lv] if method in before else float("nan"),
                         "self_nearest": float(np.mean(self_nearest[method])) if method in self_nearest
                         else float("nan"),
                         "n_new": int(len(new_at[lv])), "n_old": int(len(old_at[lv]))})
    return rows
