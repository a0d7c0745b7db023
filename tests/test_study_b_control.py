"""Study B's whole-film negative control: the shortcut classifiers, the patient bootstrap, the
permuted-label and mirrored runs, and the report built from them (tiny synthetic runs)."""
from __future__ import annotations

import csv

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hdmann.engine import data
from hdmann.studies.study_b import control as study_b, control_report, negative_control as negative
from hdmann.studies.study_b.config import study_b_config


CFG = study_b_config("smoke", conv_filters=(4, 4, 4), dense_units=(8, 4), n_folds=2, workers=1, max_films=None,
                     bootstrap_samples=50,
                     films=dict(input_size=32, max_epochs=1, patience=1, compression_ratios=(15,), matrix_ratios=(),
                                resnet_ratios=(), saliency_ratios=(), batch_size=8, inner_validation_fraction=0.5))


@pytest.fixture(scope="module")
def control(mias_root, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HDMANN_CACHE", str(tmp_path_factory.mktemp("control_cache")))
        mias = study_b.films(CFG, mias_root)
        features = negative.film_features(CFG, mias_root)
        runs = negative.control_runs(CFG, mias_root)
        return {"mias": mias, "features": features, "runs": runs,
                "summaries": [negative.run_summary(CFG, r, features, mias.patient) for r in runs],
                "untrained": negative.untrained_scores(CFG, 3, mias_root),
                "baselines": negative.feature_baselines(CFG, mias_root),
                "pixels": negative.pixel_baseline(CFG, (8, 16), mias_root),
                "plain_folder": study_b.run(negative.control_config(CFG), "cnn", None, mias_root),
                "aligned_folder": study_b.run(negative.control_config(CFG), "cnn", None, mias_root, align_sides=True)}


def test_pair_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    score = rng.integers(0, 5, 60).astype(float)  # many ties
    assert negative.pair_auroc(y, score) == pytest.approx(roc_auc_score(y, score))
    assert np.isnan(negative.pair_auroc(np.zeros(5), np.arange(5)))


def test_fold_auroc_ci_resamples_patients():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0])
    fold = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    patient = np.array([1, 1, 2, 2, 3, 3, 4, 4])
    assert negative.fold_auroc_ci(y, y.astype(float), fold, patient, 50, 0) == (1.0, 1.0, 1.0)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    score = y + rng.normal(0, 1.5, 200)
    fold, patient = np.arange(200) % 4, np.arange(200) // 2
    m, low, high = negative.fold_auroc_ci(y, score, fold, patient, 200, 0)
    assert low < m < high and high - low > 0.02
    assert m == pytest.approx(np.mean(negative.fold_auroc(y, score, fold)))
    assert negative.fold_auroc_ci(y, score, fold, patient, 200, 0) == (m, low, high)  # seeded


def test_direction_scores_learn_the_sign_on_training_folds_only():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 1])
    fold = np.arange(9) % 3
    feature = -y.astype(float)  # lower means malignant
    assert np.all(negative.fold_auroc(y, negative.direction_scores(feature, y, fold), fold) == 1.0)


def test_side_shortcut_reverses_when_the_sides_balance():
    """Malignant films split evenly between sides and both films of a patient in one fold: the side
    the training folds favour is the side the held-out fold disfavours, so a side-only classifier
    scores below 0.5 on every fold whose held-out malignant films are not split evenly."""
    patient = np.repeat(np.arange(12), 2)
    left = np.tile([True, False], 12)
    y = np.zeros(24, int)
    y[[0, 3, 4, 7, 9, 10]] = 1  # malignant: 3 left (0, 4, 10), 3 right (3, 7, 9)
    fold = patient % 3
    per_fold = negative.fold_auroc(y, negative.direction_scores(left.astype(float), y, fold), fold)
    unequal = [k for k in range(3) if y[(fold == k) & left].sum() != y[(fold == k) & ~left].sum()]
    assert unequal and all(per_fold[k] < 0.5 for k in unequal)
    assert np.all(per_fold <= 0.5)


def test_side_shortcut_on_real_mias(data_root):
    cfg = study_b_config("quick")
    mias = study_b.films(cfg, data_root)
    side = study_b.sides(mias)
    assert int(mias.malignant[side].sum()) == int(mias.malignant[~side].sum()) == 26
    assert np.all(negative.side_learner_over_splits(cfg, 10, data_root) < 0.5)


def test_sides_come_from_images_csv(mias_root, tmp_path):
    mias = study_b.films(CFG, mias_root)
    side = study_b.sides(mias)
    with open(mias_root / "mias" / "images.csv") as f:
        expected = {r["image"]: r["side"] == "L" for r in csv.DictReader(f)}
    assert side.tolist() == [expected[n] for n in mias.names]
    broken = mias.subset(np.arange(len(mias)))
    broken.root = tmp_path
    (tmp_path / "images.csv").write_text("image,tissue,severity,patient\nmdb001,F,normal,1\n")
    with pytest.raises(data.DataError, match="no side"):
        study_b.sides(broken)


def test_training_labels_permute_seeded(mias_root):
    mias = study_b.films(CFG, mias_root)
    real = study_b.training_labels(mias)
    np.testing.assert_array_equal(real, mias.malignant)
    perm = study_b.training_labels(mias, 3)
    assert perm.sum() == real.sum() and not np.array_equal(perm, real)
    np.testing.assert_array_equal(study_b.training_labels(mias, 3), perm)


def test_model_inputs_align_sides(mias_root):
    mias = study_b.films(CFG, mias_root)
    left = study_b.sides(mias)
    plain = study_b.model_inputs(CFG, None, mias_root)[..., 0].astype(float)
    aligned = study_b.model_inputs(CFG, None, mias_root, align_sides=True)[..., 0].astype(float)
    half = CFG.films.input_size // 2
    brighter_left = plain[:, :, :half].mean((1, 2)) > plain[:, :, half:].mean((1, 2))
    np.testing.assert_array_equal(brighter_left, left)  # the synthetic breast sits on the film's side
    assert np.all(aligned[:, :, :half].mean((1, 2)) > aligned[:, :, half:].mean((1, 2)))
    np.testing.assert_array_equal(aligned[left], plain[left])
    np.testing.assert_array_equal(aligned[~left], plain[~left][:, :, ::-1])


def test_control_runs(control):
    runs, mias = control["runs"], control["mias"]
    plan = negative.control_plan(CFG)
    assert [r["kind"] for r in runs] == (["real labels"] * plan["seeds"] + ["permuted labels"] * plan["permutations"]
                                         + ["sides aligned"] * (plan["seeds"] if plan["aligned"] else 0))
    real, perm = runs[0], runs[plan["seeds"]]
    np.testing.assert_array_equal(real["labels"], mias.malignant)
    np.testing.assert_array_equal(perm["labels"], study_b.training_labels(mias, 0))
    np.testing.assert_array_equal(perm["fold"], real["fold"])  # the same folds
    assert list(real) and study_b.levels(negative.control_config(CFG)) == ["original"]
    assert not np.array_equal(perm["original"], real["original"])
    for r in runs:
        assert np.all(np.isfinite(r["original"])) and len(r["folds_info"]) == CFG.n_folds


def test_aligned_run_is_its_own_cache_entry(control):
    assert control["plain_folder"] != control["aligned_folder"]
    with np.load(control["plain_folder"] / "scores.npz") as plain, np.load(control["aligned_folder"] / "scores.npz") as aligned:
        np.testing.assert_array_equal(plain["labels"], aligned["labels"])
        assert not np.array_equal(plain["original"], aligned["original"])


def test_run_summary(control):
    for run, s in zip(control["runs"], control["summaries"]):
        y, fold, score = run["labels"], run["fold"], run["original"]
        assert s["auroc"] == pytest.approx(np.nanmean(negative.fold_auroc(y, score, fold)))
        assert s["auroc_low"] <= s["auroc"] <= s["auroc_high"]
        assert s["pooled_auroc"] == pytest.approx(roc_auc_score(y, score))
        assert s["distinct_scores_min"] <= s["test_films_min"] == min(np.sum(fold == k) for k in range(CFG.n_folds))
        assert len(s["best_epochs"]) == CFG.n_folds and 0.5 <= s["side_separation"] <= 1


def test_untrained_scores_are_seeded(control, mias_root):
    u = control["untrained"]
    assert u.shape == (3, 24) and np.all((u > 0) & (u < 1))
    assert not np.array_equal(u[0], u[1])
    np.testing.assert_array_equal(negative.untrained_scores(CFG, 3, mias_root), u)  # cached, and seeded


def test_baselines_and_lesion_scale(control, mias_root):
    names = [r["feature"] for r in control["baselines"]]
    assert names == list(control["features"])
    for r in control["baselines"] + control["pixels"]:
        assert r["auroc_low"] <= r["auroc"] <= r["auroc_high"]
    assert [r["size"] for r in control["pixels"]] == [8, 16]
    scale = negative.lesion_scale(CFG, mias_root)
    assert scale["film_size"] == 256 and scale["lesions"] > 0
    assert scale["median_radius_input"] == pytest.approx(scale["median_radius"] * 32 / 256)


def test_report(control):
    summaries, untrained = control["summaries"], np.array([0.45, 0.5, 0.55, 0.48, 0.52])
    table = control_report.runs_table(summaries)
    assert len(table) == len(summaries) and table["Run"].iloc[0].startswith("CNN, real labels")
    assert len(control_report.baselines_table(control["baselines"], control["pixels"], untrained)) == \
        len(control["baselines"]) + len(control["pixels"]) + 1
    fig = control_report.figure(summaries, control["baselines"], control["pixels"], untrained)
    assert isinstance(fig, plt.Figure)
    plt.close(fig)
    real, perm = dict(summaries[0]), dict(summaries[0], kind="permuted labels", auroc=0.45, auroc_low=0.4, auroc_high=0.48)
    real.update(auroc=0.9, auroc_low=0.8, auroc_high=0.95)
    assert control_report.null_verdict(real, [perm], untrained)["verdict"] == "some signal learned"
    real.update(auroc=0.42, auroc_low=0.35, auroc_high=0.49)
    verdict = control_report.null_verdict(real, [perm], untrained)
    assert verdict["verdict"] == "no signal learned" and "permuted labels" in verdict["below_chance"]
    perm.update(auroc_high=0.55)
    assert "not ruled out" in control_report.null_verdict(real, [perm], untrained)["below_chance"]
    real.update(auroc_high=0.52)
    assert "not below chance" in control_report.null_verdict(real, [perm], untrained)["below_chance"]
    assert control_report.null_verdict(real, [], untrained)["verdict"] == "no signal learned"
    assert len(control_report.paper_table(summaries[0])) == 4


def test_control_profiles_are_a_typed_config():
    from hdmann.studies.study_b.config import study_b_control_config

    assert negative.control_plan(study_b_config("paper")) == {"seeds": 5, "permutations": 5, "aligned": True,
                                                             "untrained": 100, "fold_splits": 1000}
    assert study_b_control_config("smoke").seeds <= study_b_control_config("quick").seeds
    with pytest.raises(ValueError):
        study_b_control_config("quick", seeds=0)
    with pytest.raises(ValueError):
        study_b_control_config("quick", extra_seeds=1)
