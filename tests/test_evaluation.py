"""hdmann.methods.evaluation: metrics checked against scikit-learn, and inputs that would give silently wrong numbers."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu
from sklearn.metrics import average_precision_score, roc_auc_score

from hdmann.engine import data
from hdmann.methods import evaluation


def _average_precision_by_hand(y, score):
    """Mean over positives of the precision at that positive's rank (no ties in ``score``)."""
    order = np.argsort(-score)
    hits = y[order] == 1
    precision = np.cumsum(hits) / np.arange(1, len(y) + 1)
    return float(precision[hits].mean())


def test_auroc_auprc_match_scikit_learn_on_real_images_and_scores(data_root):
    """Score: mean redness minus blueness of each real ISIC test image; positive: melanoma."""
    images = data.load_isic("test", 32, data_root)
    rgb = images.images.reshape(len(images), -1, 3).astype(np.float64).mean(axis=1)
    score = rgb[:, 0] - rgb[:, 2]
    y = (images.labels == 0).astype(int)
    assert len(np.unique(score)) == len(score)  # no ties, so the hand-made AP is exact
    roc, prc = evaluation.auroc(y, score), evaluation.auprc(y, score)
    assert roc == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    u = mannwhitneyu(score[y == 1], score[y == 0]).statistic
    assert roc == pytest.approx(u / (y.sum() * (len(y) - y.sum())), abs=1e-12)
    assert prc == pytest.approx(average_precision_score(y, score), abs=1e-12)
    assert prc == pytest.approx(_average_precision_by_hand(y, score), abs=1e-12)
    assert 0 < roc < 1 and 0 < prc < 1
    # boolean labels are binary labels
    assert evaluation.auroc(y.astype(bool), score) == roc


@pytest.mark.parametrize("labels, words", [([0, 1, 2, 1], "labels must be 0 or 1"),
                                           ([-1, 1, -1, 1], "labels must be 0 or 1"),
                                           ([0.5, 1, 0, 1], "labels must be 0 or 1")])
def test_metrics_refuse_non_binary_labels(labels, words):
    for metric in (evaluation.auroc, evaluation.auprc):
        with pytest.raises(ValueError, match=words):
            metric(labels, [0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_metrics_refuse_non_finite_scores(bad):
    for metric in (evaluation.auroc, evaluation.auprc):
        with pytest.raises(ValueError, match="1 of 4 scores are NaN or infinite"):
            metric([0, 1, 0, 1], [0.1, bad, 0.3, 0.4])


def test_metrics_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="one length"):
        evaluation.auroc([0, 1, 0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="one length"):
        evaluation.auroc(np.array([[0, 1], [0, 1]]), np.array([[0.1, 0.2], [0.3, 0.4]]))
    with pytest.raises(ValueError, match="one length"):
        evaluation.accuracy([0, 1, 2], np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="different lengths"):
        evaluation.bootstrap_ci(evaluation.accuracy, [0, 1, 1], [0, 1], n_boot=5)
    with pytest.raises(ValueError, match="no samples"):
        evaluation.auroc([], [])


def test_confusion_refuses_labels_outside_the_classes():
    with pytest.raises(ValueError, match="0..3"):
        evaluation.confusion([0, 1, 4], [0, 1, 2], 4)
    with pytest.raises(ValueError, match="predictions"):
        evaluation.per_class_recall([0, 1, 2], [0, 1, -1], 4)
    assert evaluation.confusion([0, 1, 3], [0, 1, 2], 4).sum() == 3


def test_one_class_fold_is_nan_not_a_number():
    assert np.isnan(evaluation.auroc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert np.isnan(evaluation.auprc([0, 0, 0], [0.1, 0.2, 0.3]))


def test_nan_folds_are_reported_not_averaged_away():
    with pytest.warns(evaluation.FoldWarning, match=r"fold\(s\) \[2\] of 4"):
        mean, sd = evaluation.mean_sd([0.6, 0.7, float("nan"), 0.8])
    assert np.isnan(mean) and np.isnan(sd)
    summary = evaluation.fold_summary([0.6, float("nan"), 0.7, float("nan")])
    assert summary["nan_folds"] == [1, 3] and summary["n_folds"] == 4 and np.isnan(summary["mean"])
    mean, sd = evaluation.mean_sd([0.6, 0.7, 0.8])
    assert mean == pytest.approx(0.7) and sd == pytest.approx(0.1)
    mean, sd = evaluation.mean_sd([0.6])  # one fold has no spread: NaN, not 0
    assert mean == 0.6 and np.isnan(sd)


def test_rank_auroc_equals_scikit_learn_with_ties_and_imbalance():
    """auroc is computed from ranks for speed; it must be scikit-learn's number, ties included."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(4, 400))
        y = (rng.random(n) < rng.uniform(0.05, 0.95)).astype(int)
        if y.sum() in (0, n):
            continue
        score = np.round(rng.normal(size=n) * rng.choice([1, 100]), int(rng.choice([0, 2])))  # many ties
        assert abs(evaluation.auroc(y, score) - roc_auc_score(y, score)) < 1e-12
    assert np.isnan(evaluation.auroc([1, 1, 1], [0.1, 0.2, 0.3]))


# ------------------------------------------------------------------ verdicts across seeds
def test_seed_image_interval_widens_when_seeds_disagree():
    rng = np.random.default_rng(0)
    hits = (rng.random((1, 200)) < 0.7).astype(float)
    same = np.repeat(hits, 3, axis=0)  # three seeds that agree on every image
    mean, low, high = evaluation.seed_image_ci(same, 500, 1)
    assert mean == pytest.approx(hits.mean()) and low < mean < high
    # one image bootstrap of the first seed is what resample_seeds=False gives for agreeing seeds
    assert evaluation.seed_image_ci(same, 500, 1, resample_seeds=False) == pytest.approx((mean, low, high))
    spread = np.stack([hits[0], (rng.random(200) < 0.4).astype(float), (rng.random(200) < 0.95).astype(float)])
    m2, l2, h2 = evaluation.seed_image_ci(spread, 500, 1)
    _, l3, h3 = evaluation.seed_image_ci(spread, 500, 1, resample_seeds=False)
    assert m2 == pytest.approx(spread.mean())
    assert h2 - l2 > 2 * (h3 - l3)  # seeds that disagree widen the interval a rerun should expect
    with pytest.raises(ValueError, match="seeds x images"):
        evaluation.seed_image_ci(np.zeros((2, 3, 4)))


def test_non_inferiority_is_three_way_around_the_margin():
    assert evaluation.non_inferiority(-0.03, 0.02, 0.05) == "holds"
    assert evaluation.non_inferiority(-0.20, -0.08, 0.05) == "does not hold"
    assert evaluation.non_inferiority(-0.08, 0.01, 0.05) == "undecided"
    # an interval that includes 0 is not enough on its own: it must clear the margin
    assert evaluation.non_inferiority(-0.09, 0.04, 0.05) == "undecided"
    with pytest.raises(ValueError, match="margin"):
        evaluation.non_inferiority(0, 1, -0.1)


def test_a_verdict_needs_enough_seeds_to_agree_with_the_pooled_test():
    assert evaluation.seeds_needed(3, 0.8) == 3 and evaluation.seeds_needed(5, 0.8) == 4
    assert evaluation.seeds_needed(1, 0.8) == 1 and evaluation.seeds_needed(3, 0.0) == 1
    v = evaluation.seed_verdict(["holds", "holds", "holds"], "holds", 0.8)
    assert v["verdict"] == "holds" and v["holds_in"] == 3
    v = evaluation.seed_verdict(["holds", "undecided", "holds"], "holds", 0.8)
    assert v["verdict"] == "undecided" and v["holds_in"] == 2 and v["undecided_in"] == 1
    assert evaluation.seed_wording(v) == "holds in 2 of 3 seeds (undecided in 1)"
    assert evaluation.seed_verdict(["holds", "undecided", "holds"], "holds", 0.6)["verdict"] == "holds"
    v = evaluation.seed_verdict(["does not hold"] * 4 + ["holds"], "does not hold", 0.8)
    assert v["verdict"] == "does not hold" and v["fails_in"] == 4
    assert evaluation.seed_verdict(["holds"] * 3, "undecided", 0.8)["verdict"] == "undecided"
    assert evaluation.all_of(["holds", "holds"]) == "holds"
    assert evaluation.all_of(["holds", "undecided"]) == "undecided"
    assert evaluation.all_of(["undecided", "does not hold"]) == "does not hold"
    with pytest.raises(ValueError, match="outcome"):
        evaluation.seed_verdict(["yes"], "holds", 0.8)


def test_the_test_folder_can_contradict_a_verdict_but_never_turn_it():
    """The small held-out part checks a reporting-half verdict by its own outcome (the same rule and
    seed agreement): the same outcome confirms it, the opposite contradicts it, and an undecided one
    (what moved between a 1-CPU and a 2-CPU build) neither turns nor confirms it."""
    from hdmann.methods.verdicts import CONFIRMS, CONTRADICTS, held_out_check, NO_HELD_OUT, NO_VERDICT, NOT_DECIDED_THERE

    assert held_out_check("holds", "holds") == CONFIRMS
    assert held_out_check("holds", "undecided") == NOT_DECIDED_THERE
    assert held_out_check("holds", "does not hold") == CONTRADICTS
    assert held_out_check("does not hold", "holds") == CONTRADICTS
    assert held_out_check("does not hold", "does not hold") == CONFIRMS
    assert held_out_check("undecided", "holds") == NO_VERDICT
    assert held_out_check("not testable here", "holds") == NO_VERDICT
    assert held_out_check("holds", None) == NO_HELD_OUT
