"""Study A beyond the paper: class addition by a written key, the OOD score, map agreement, the
colour thumbnails, the config, and a seeded tiny train-on-compressed run (synthetic data)."""
from __future__ import annotations

import os

import keras
import numpy as np
import pytest

from hdmann.book import prose
from hdmann.methods import verdicts

from hdmann.methods import evaluation, saliency
from hdmann.methods.memory import KeyMemory
from hdmann.studies.study_a import pipeline as study_a, report as study_a_report
from hdmann.studies.study_a.config import study_a_config
from hdmann.studies.study_a_beyond import addition, ood, pipeline as study_a_beyond, report, training
from hdmann.studies.study_a_beyond.config import study_a_beyond_config
from synthetic import write_isic, write_isic_other


# ------------------------------------------------------------------------ class addition
def test_new_key_is_the_mean_of_the_outputs_and_nearest_for_them():
    memory = KeyMemory.for_classes(["a", "b", "c", "d"], 256, seed=0)
    rng = np.random.default_rng(1)
    centre = rng.integers(0, 2, 256).astype(np.float32)
    outputs = np.clip(centre + rng.normal(0, 0.2, (7, 256)), -0.5, 1.5).astype(np.float32)
    before = memory.keys.copy()
    key = memory.add_class_from_outputs("new", outputs)
    np.testing.assert_allclose(key, outputs.mean(axis=0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(memory.keys[-1], outputs.mean(axis=0), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(memory.keys[:4], before)  # old keys untouched
    assert memory.labels[-1] == "new"
    for metric in ("hamming", "l2", "cosine"):
        assert (memory.predict(outputs, metric) == 4).all(), metric


def test_mean_key_stays_nearest_under_l2_when_the_outputs_sit_near_an_old_key():
    """The case met on real data: a trained network puts an unseen class's outputs near one of the
    old binary keys (here key 1, displaced a little on a subset of bits). Under L2 (and cosine) on the
    raw outputs the written mean key is the nearest for them; under Hamming a soft mean key never is,
    which is why the chapter's rule is mean-l2."""
    memory = KeyMemory.for_classes(["a", "b", "c", "d"], 500, seed=0)
    rng = np.random.default_rng(2)
    shift = np.where(rng.random(500) < 0.3, np.where(memory.keys[1] > 0.5, -0.3, 0.3), 0.0)
    outputs = (memory.keys[1] + shift + rng.normal(0, 0.1, (40, 500))).astype(np.float32)
    assert (memory.predict(outputs, "hamming") == 1).all()  # before: they look like class b
    key = memory.add_class_from_outputs("new", outputs[:20])
    np.testing.assert_allclose(key, outputs[:20].mean(axis=0), rtol=0, atol=1e-6)
    for metric in ("l2", "cosine"):
        assert (memory.predict(outputs, metric) == 4).all(), metric  # the 20 it was written from and 20 more
    assert (memory.predict(outputs, "hamming") == 1).all()  # a soft key loses under Hamming


def test_majority_key_is_the_per_bit_majority_of_the_thresholded_outputs():
    memory = KeyMemory.for_classes(["a"], 4, seed=0)
    outputs = np.array([[0.9, 0.1, 0.6, 0.2], [0.8, 0.7, 0.4, 0.1], [0.2, 0.9, 0.7, 0.3]], np.float32)
    key = memory.add_class_from_outputs("new", outputs, bundle="majority")
    np.testing.assert_array_equal(key, [1, 1, 1, 0])
    assert set(np.unique(memory.keys)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="bundle"):
        memory.add_class_from_outputs("other", outputs, bundle="median")


def test_new_key_rejects_bad_outputs():
    memory = KeyMemory.for_classes(["a"], 16, seed=0)
    with pytest.raises(ValueError, match="outputs must be"):
        memory.add_class_from_outputs("x", np.zeros((0, 16)))
    with pytest.raises(ValueError, match="outputs must be"):
        memory.add_class_from_outputs("x", np.zeros((3, 8)))
    with pytest.raises(ValueError, match="already has a key"):
        memory.add_class_from_outputs("a", np.zeros((1, 16)))


# ------------------------------------------------------------------------ OOD score
@pytest.mark.parametrize("metric", ["l2", "hamming", "cosine"])
def test_ood_score_is_monotone_in_the_distance_to_the_nearest_key(metric):
    cfg = study_a_beyond_config("smoke", study_a=study_a_config("smoke", distance=metric, hypervector_dim=64))
    keys = KeyMemory.for_classes(["a", "b", "c", "d"], 64, seed=3).keys
    rng = np.random.default_rng(0)
    flips = rng.permutation(64)
    # walk away from key 0 by flipping more and more of its bits (toward no other key in particular)
    outputs = np.stack([np.where(np.isin(np.arange(64), flips[:n]), 1 - keys[0], keys[0]) for n in range(0, 20, 2)])
    score = report.ood_score(cfg, "study_a", outputs.astype(np.float32), keys)
    nearest = KeyMemory.for_classes(["a", "b", "c", "d"], 64, seed=3).distances(outputs, metric).min(axis=1)
    np.testing.assert_allclose(score, nearest)
    assert np.all(np.diff(score) >= 0) and score[-1] > score[0]


def test_softmax_baseline_score_falls_as_confidence_rises():
    cfg = study_a_beyond_config("smoke")
    probs = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.2, 0.2, 0.1], [0.9, 0.05, 0.03, 0.02]])
    score = report.ood_score(cfg, "cross_entropy", probs, np.zeros((0, 0)))
    assert np.all(np.diff(score) < 0)


def test_wilson_interval_brackets_the_proportion():
    low, high = report.wilson(7, 10)
    assert 0 < low < 0.7 < high < 1
    assert report.wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------------ map agreement
def test_saliency_agreement_of_a_map_with_itself_is_one():
    rng = np.random.default_rng(0)
    m = rng.random((12, 12))
    assert saliency.rank_agreement(m, m) == pytest.approx(1.0)
    assert saliency.top_overlap(m, m, 0.1) == 1.0
    other = rng.random((12, 12))
    assert saliency.rank_agreement(m, other) < 0.5
    assert saliency.top_overlap(m, -m, 0.1) == 0.0
    assert np.isnan(saliency.rank_agreement(np.zeros((4, 4)), m[:4, :4]))
    with pytest.raises(ValueError, match="shape"):
        saliency.top_overlap(m, m[:5], 0.1)


def test_hypervector_scorer_is_negative_squared_distance_and_gives_maps():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="last_conv")(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(16, name="hypervector")(x))
    keys = KeyMemory.for_classes(["a", "b"], 16, seed=0).keys
    images = np.random.default_rng(1).integers(0, 256, (5, 8, 8, 3)).astype(np.uint8)
    scorer = saliency.hypervector_scorer(model, keys[1])
    h = model.predict(images.astype("float32"), verbose=0)
    np.testing.assert_allclose(scorer.predict(images.astype("float32"), verbose=0)[:, 0],
                               -((h - keys[1]) ** 2).sum(1), rtol=1e-5)
    for method in ("grad_cam", "input_gradients"):
        maps = saliency.hypervector_maps(model, images, keys, np.array([0, 1, 0, 1, 1]), method)
        assert maps.shape == (5, 8, 8) and np.isfinite(maps).all() and maps.max() <= 1
    with pytest.raises(ValueError, match="key has"):
        saliency.hypervector_scorer(model, keys[0][:3])


# ------------------------------------------------------------------------ colour thumbnails, config
def test_thumbnails_are_block_mean_colours():
    img = np.zeros((1, 4, 4, 3), np.uint8)
    img[0, :2, :2] = 255
    t = study_a_beyond.thumbnails(img, 2).reshape(2, 2, 3)
    np.testing.assert_allclose(t[0, 0], 1.0)
    np.testing.assert_allclose(t[1, 1], 0.0)
    with pytest.raises(ValueError, match="grid"):
        study_a_beyond.thumbnails(np.zeros((1, 5, 5, 3), np.uint8), 2)


def test_config_profiles_and_validation():
    for profile in ("smoke", "quick", "paper"):
        cfg = study_a_beyond_config(profile)
        assert cfg.study_a.profile == profile and "original" in cfg.train_levels
    assert study_a_beyond_config("paper").train_levels == ("original", "q50", "q20", "q10", "q5", "q3", "q1")
    with pytest.raises(ValueError, match="not Study A levels"):
        study_a_beyond_config("quick", train_levels=("original", "q7"))
    with pytest.raises(ValueError, match="must include 'original'"):
        study_a_beyond_config("quick", train_levels=("q5",))
    with pytest.raises(ValueError, match="isic-other has enough"):
        study_a_beyond_config("quick", new_classes=("actinic_keratosis",))
    with pytest.raises(ValueError, match="profile"):
        study_a_beyond_config("quick", study_a=study_a_config("smoke"))
    with pytest.raises(ValueError, match="bundle"):
        study_a_beyond_config("quick", addition_rules=("mean-manhattan",))
    with pytest.raises(ValueError, match="empty"):
        study_a_beyond_config("quick", addition_rules=())


def test_the_originals_model_is_study_as_and_the_dimension_sweep_has_its_own_budget():
    """The chapter's models have Study A's budget, so the originals-trained one is Study A's model
    (reused, not trained again); a shorter dimension-sweep budget applies to every D, 500 included."""
    quick = study_a_beyond_config("quick")
    assert study_a_beyond.budget(quick) == (quick.study_a.max_epochs, quick.study_a.patience)
    dim = quick.study_a.hypervector_dim
    assert study_a_beyond.is_study_a_model(quick, "original", dim, None)
    assert not study_a_beyond.is_study_a_model(quick, "q5", dim, None)
    assert not study_a_beyond.is_study_a_model(quick, "original", dim, "melanoma")
    assert not study_a_beyond.is_study_a_model(quick, "original", 64, None)
    assert not study_a_beyond.is_study_a_model(quick, "original", dim, None, dims_sweep=True)
    assert study_a_beyond.budget(quick, dims_sweep=True)[0] == quick.dim_max_epochs
    assert not study_a_beyond.is_study_a_model(quick.replace(max_epochs=3), "original", dim, None)


def test_the_leave_one_out_models_take_their_own_budget_and_the_prose_names_it():
    """quick trains the three-class models on leave_out_max_epochs; paper on the chapter's budget.
    The budget is part of the model's identity, so changing it re-keys only those models."""
    quick, paper = study_a_beyond_config("quick"), study_a_beyond_config("paper")
    assert study_a_beyond.model_request(quick, "original", None, "melanoma")[3:] == (quick.leave_out_max_epochs,
                                                                                     quick.study_a.patience)
    assert study_a_beyond.model_request(quick, "q5")[3:] == study_a_beyond.budget(quick)
    assert study_a_beyond.model_request(paper, "original", None, "melanoma")[3:] == study_a_beyond.budget(paper)
    assert report.leave_out_budget_wording(paper) == "the chapter's budget"
    assert report.leave_out_budget_wording(quick).startswith("a shorter budget")
    assert f"up to {quick.leave_out_max_epochs} epochs" in report.leave_out_budget_wording(quick)
    assert report.leave_out_budget_wording(quick.replace(leave_out_max_epochs=40)).startswith("a longer budget")
    assert report.dims_budget_wording(paper).startswith("That is the chapter's budget")
    assert "shorter than the chapter's" in report.dims_budget_wording(quick)
    for text in (report.leave_out_budget_wording(quick), report.dims_budget_wording(quick)):
        assert "_" not in text and "None" not in text, "the prose says settings in words"
    with pytest.raises(ValueError, match="four classes"):
        study_a_beyond.model_request(quick, "original", None, "melanoma", dims_sweep=True)


def test_the_prose_names_the_mixed_row_as_the_profile_trains_it():
    """quick leaves out the mixed row (its dearest model); paper trains it; the chapter says which."""
    quick, paper = study_a_beyond_config("quick"), study_a_beyond_config("paper")
    mixed = study_a_beyond.MIXED
    assert mixed not in study_a_beyond.training_levels(quick) and mixed in study_a_beyond.training_levels(paper)
    assert report.mixed_row_wording(paper) == {"models": "one on mixed levels", "state": "trained"}
    assert "quick profile" in report.mixed_row_wording(quick)["models"]
    assert report.mixed_row_wording(quick)["state"].startswith("not trained")
    assert "_" not in report.mixed_row_wording(quick)["state"], "no config field name in the prose"


def test_originals_index_picks_the_first_row_of_each_source():
    source = np.array([0, 1, 2, 0, 2, 2, 1])
    np.testing.assert_array_equal(study_a_beyond.originals_index(source), [0, 1, 2])


# ------------------------------------------------------------------------ seeded tiny run
TINY_A = study_a_config("smoke", image_size=16, source_size=32, per_class_target=12, max_epochs=2, patience=2,
                        hypervector_dim=64, dense_units=32, conv_filters=(4, 8), batch_size=8,
                        bootstrap_samples=50, max_images_per_class=None, max_test_images_per_class=None)
TINY = study_a_beyond_config("smoke", study_a=TINY_A, max_epochs=2, patience=2, train_levels=("original", "q5"),
                             mixed_training=True)


def test_tiny_train_on_compressed_is_seeded_and_reproducible(tmp_path, monkeypatch):
    root = tmp_path / "data"
    write_isic(root, train_per_class=10, test_per_class=4, size=32)
    runs = []
    for attempt in ("first", "second"):
        monkeypatch.setenv("HDMANN_CACHE", str(tmp_path / f"cache_{attempt}"))
        sets = study_a_beyond.image_sets(TINY, root)
        runs.append({"sets": sets, "q5": study_a_beyond.hdmann_outputs(TINY, "q5", None, None, root),
                     "mixed": study_a_beyond.hdmann_outputs(TINY, "mixed", None, None, root)})
    first, second = runs
    # the JPEG'd training part differs from the original one, and the mixed one draws several levels
    assert not np.array_equal(first["sets"]["train_q5"], first["sets"]["train_original"])
    assert len(np.unique(first["sets"]["mixed_levels"])) > 1
    for name in ("q5", "mixed"):
        for key in ("val_original", "val_q5", "test_q1", "keys", "train_originals"):
            np.testing.assert_array_equal(first[name][key], second[name][key], err_msg=f"{name} {key}")
    assert first["q5"]["epochs_run"] == 2
    assert not np.array_equal(first["q5"]["val_original"], first["mixed"]["val_original"])
    with pytest.raises(ValueError, match="not a training level"):
        study_a_beyond.train_hdmann(TINY, "q10", None, None, root)


def test_matrix_verdicts_are_stated_across_seeds_each_paired_with_its_own_originals_model(tmp_path, monkeypatch):
    root = tmp_path / "data"
    write_isic(root, train_per_class=10, test_per_class=4, size=32)
    monkeypatch.setenv("HDMANN_CACHE", str(tmp_path / "cache"))
    cfg = TINY.replace(mixed_training=False)
    seeds = study_a_beyond.seed_configs(cfg)
    assert [b.study_a.train_seed for b in seeds] == [c.train_seed for c in study_a.seed_configs(TINY_A)]
    assert len(seeds) == TINY_A.seeds == 2
    # each seed's originals row is that seed's Study A model
    for b in seeds:
        call = training._model_call(b, *study_a_beyond.model_request(b, "original"))
        assert call.key(root) == study_a.train_model.on(b.study_a).key(root)
    rows = report.matrix_verdicts(cfg, root)
    assert [r["trained at"] for r in rows] == ["q5"]
    r = rows[0]
    assert r["gains at low quality"] in evaluation.OUTCOMES and r["no loss on originals"] in evaluation.OUTCOMES
    assert r["seeds"] == 2 and r["needed"] == 2
    # the test folder checks each verdict (confirms / contradicts / undecided there), its numbers beside them
    held = report.matrix_verdicts(cfg, root, "test", check=None)[0]
    assert r["test folder: gain"] == held["gain at low quality"]
    assert r["test folder: gain check"] == verdicts.held_out_check(r["gains at low quality"], held["gains at low quality"])
    # the pooled change on originals is the mean over seeds of each seed's paired change
    per_seed = [np.mean(report._hits(b, study_a_beyond.hdmann_outputs(b, "q5", None, None, root), "original"))
                - np.mean(report._hits(b, study_a_beyond.hdmann_outputs(b, "original", None, None, root), "original"))
                for b in seeds]
    assert r["change"] == pytest.approx(np.mean(per_seed))
    cells = report.matrix_rows(cfg, root)
    assert {c["seeds"] for c in cells} == {2} and all(c["seed_min"] <= c["accuracy"] <= c["seed_max"] for c in cells)


def test_a_changed_dimension_list_retrains_only_the_new_dimensions(tmp_path):
    """Cache keys of the chapter's models: adding a dimension or a training level leaves the key of
    every existing model unchanged; the dimension and the level are in the key."""
    root = tmp_path / "data"
    write_isic(root, train_per_class=3, test_per_class=1, size=32)

    def key(cfg, level, dim=None):
        return training._model_call(cfg, *study_a_beyond.model_request(cfg, level, dim)).key(root)

    wider = TINY.replace(dims=(64, 500, 2000), train_levels=("original", "q5", "q1"))
    assert key(TINY, "original", 500) == key(wider, "original", 500)
    assert key(TINY, "q5", 500) == key(wider, "q5", 500)
    assert len({key(wider, "original", 500), key(wider, "original", 2000), key(wider, "q1", 500)}) == 3
    # the originals model at Study A's own D and budget is Study A's model, read from Study A's stage
    call = training._model_call(TINY, *study_a_beyond.model_request(TINY, "original"))
    assert call.stage.name == "study_a/model" and call.key(root) == study_a.train_model.on(TINY_A).key(root)
    assert training._model_call(TINY, *study_a_beyond.model_request(TINY, "q5")).stage.name == "study_a_beyond/model"
    with pytest.raises(ValueError, match="not a training level"):
        study_a_beyond.model_request(TINY, "q10")


def test_the_leave_one_out_budget_re_keys_only_the_three_class_models(tmp_path):
    """leave_out_max_epochs is in the three-class models' keys (and so in class addition's, which
    reads their outputs), and in no other model's."""
    root = tmp_path / "data"
    write_isic(root, train_per_class=3, test_per_class=1, size=32)
    write_isic_other(root)
    ten, twelve = TINY.replace(leave_out_max_epochs=10), TINY.replace(leave_out_max_epochs=12)

    def key(cfg, level, leave_out=None, dims_sweep=False):
        request = study_a_beyond.model_request(cfg, level, None, leave_out, dims_sweep)
        return study_a_beyond.outputs.on(cfg, *request).key(root)

    assert key(ten, "original", "melanoma") != key(twelve, "original", "melanoma")
    assert study_a_beyond.class_addition.on(ten).key(root) != study_a_beyond.class_addition.on(twelve).key(root)
    for level, dims_sweep in (("q5", False), ("original", False), ("original", True)):
        assert key(ten, level, dims_sweep=dims_sweep) == key(twelve, level, dims_sweep=dims_sweep)


def test_addition_rows_give_every_rule_and_the_probe_per_k_and_level():
    """The class-addition stage's arithmetic on synthetic outputs: old classes on their keys, the new
    class near key 0 but displaced; the mean-l2 key is the nearest for its own support outputs."""
    cfg = study_a_beyond_config("smoke", shots=(1, 5), shot_draws=2, probe_draws=1)
    keys = KeyMemory.for_classes(["a", "b", "c", "d"], 64, seed=0).keys
    rng = np.random.default_rng(0)
    old_y = np.repeat(np.arange(4), 10)
    old = (keys[old_y] + rng.normal(0, 0.1, (40, 64))).astype(np.float32)
    shift = np.where(rng.random(64) < 0.3, np.where(keys[0] > 0.5, -0.35, 0.35), 0.0)
    new = (keys[0] + shift + rng.normal(0, 0.1, (30, 64))).astype(np.float32)
    rows = addition._add_rows(cfg, "synthetic", "new", keys, new[:20], {"original": new[20:]},
                                    {"original": old}, old_y, old, old_y, np.random.default_rng(1))
    methods = {r["method"] for r in rows}
    assert methods == {*cfg.addition_rules, "probe"}
    assert sorted({(r["k"], r["all"]) for r in rows}) == [(1, False), (5, False), (20, True)]
    full = {r["method"]: r for r in rows if r["all"]}
    assert full["mean-l2"]["self_nearest"] == 1.0 and full["mean-l2"]["new_accuracy"] == 1.0
    assert full["mean-hamming"]["new_accuracy"] == 0.0  # the soft key under Hamming: never nearest
    assert full["mean-l2"]["old_before"] == 1.0 and np.isnan(full["probe"]["self_nearest"])
    assert all(r["draws"] == (1 if r["all"] or r["method"] == "probe" else 2) for r in rows)


def test_the_softmax_check_explains_a_backwards_auroc_as_an_inverted_score():
    fine = [{"task": "near", "auroc": 0.7, "auroc_reversed": 0.3, "max_softmax_in": 0.8, "max_softmax_out": 0.6}]
    assert "right way round" in report.softmax_wording(fine)
    backwards = fine + [{"task": "far: BreastMNIST vs isic4", "auroc": 0.06, "auroc_reversed": 0.94,
                         "max_softmax_in": 0.81, "max_softmax_out": 0.99}]
    text = report.softmax_wording(backwards)
    assert "inverted" in text and "BreastMNIST" in text and "near" not in text
    assert max(len(s.split()) for s in prose.sentences(text)) <= prose.MAX_WORDS
    assert "0.990" not in text, "the numbers behind it are in the softmax-confidence table, not in a sentence"


_PREDICT_IN_A_FRESH_PROCESS = """
import sys
import hdmann
from hdmann.studies.study_a import pipeline as study_a
from hdmann.studies.study_a.config import study_a_config
cfg = study_a_config("smoke", image_size=16, source_size=32, per_class_target=12, max_epochs=2, patience=2,
                     hypervector_dim=64, dense_units=32, conv_filters=(4, 8), batch_size=8, bootstrap_samples=50,
                     max_images_per_class=None, max_test_images_per_class=None)
out = study_a.predictions(cfg, sys.argv[1])
print("OUTPUTS", out["val_original_outputs"].shape)
"""


@pytest.mark.slow
def test_a_cached_model_loads_in_a_process_that_never_trained_one(tmp_path, monkeypatch):
    """Saved models name hdmann's own pooling layer; a fresh process (a worker, `hdmann run` on a warm
    cache) that only loads a cached model must find it: the stage registers hdmann's layers first."""
    import subprocess
    import sys

    root = tmp_path / "data"
    write_isic(root, train_per_class=10, test_per_class=4, size=32)
    monkeypatch.setenv("HDMANN_CACHE", str(tmp_path / "cache"))
    study_a.train_model(TINY_A, root)  # in this process; the predictions stage is not built yet
    done = subprocess.run([sys.executable, "-c", _PREDICT_IN_A_FRESH_PROCESS, str(root)], capture_output=True,
                          text=True, timeout=600, env={**os.environ})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OUTPUTS (" in done.stdout


def test_an_out_of_distribution_task_passes_on_its_interval_and_against_the_softmax_cnn():
    """X4 decides each task on HD-MANN's seed-mean AUROC (its interval must clear 0.5) and its paired
    difference from the softmax CNN (not shown below 0); the claim holds when every task passes."""
    from hdmann.methods import verdicts
    from hdmann.studies.study_a_beyond import claims

    def task(low, high, d_low, d_high):
        return {"low": low, "high": high, "difference_low": d_low, "difference_high": d_high}

    assert claims._ood_pass(task(0.6, 0.8, -0.1, 0.1)) == verdicts.HOLDS
    assert claims._ood_pass(task(0.6, 0.8, -0.3, -0.1)) == verdicts.FAILS  # worse than the softmax CNN
    assert claims._ood_pass(task(0.3, 0.5, -0.1, 0.1)) == verdicts.FAILS  # not above chance
    assert claims._ood_pass(task(0.45, 0.7, -0.1, 0.1)) == verdicts.UNDECIDED
    parts = [verdicts.Part("near", verdicts.HOLDS), verdicts.Part("far", verdicts.FAILS)]
    assert verdicts.decide(parts)[0] == verdicts.FAILS  # every task must pass: no "holds for some"


def test_a_verdict_decided_on_the_seeds_pooled_stands_only_when_enough_seeds_agree():
    from hdmann.methods import verdicts

    claim = verdicts.Claim("X9", "test", "a claim")
    pooled = verdicts.Verdict(claim, verdicts.HOLDS, None, "rule")
    assert verdicts.with_seeds(pooled, [verdicts.HOLDS] * 3, 0.8).outcome == verdicts.HOLDS
    v = verdicts.with_seeds(pooled, [verdicts.HOLDS, verdicts.HOLDS, verdicts.FAILS], 0.8)
    assert v.outcome == verdicts.UNDECIDED and v.seed_text() == "2 holds, 1 does not hold"
    assert verdicts.with_seeds(pooled, [verdicts.HOLDS, verdicts.FAILS], 0.5).seed_text() == "1 of 2"


def test_the_departure_across_seeds_is_the_quality_enough_seeds_have_departed_by():
    dep = [{"departs at": "q10"}, {"departs at": "-"}, {"departs at": "q20"}]
    assert report.first_departure(dep) == "q20" and report.first_departure([{"departs at": "-"}]) is None
    assert report.agreed_departure(["q20", "q10", "q5"], 0.8) == (5, 3)  # all three have departed by q5
    assert report.agreed_departure(["q20", "q10", "q5"], 0.5) == (10, 2)
    assert report.agreed_departure(["q20", None, "q5"], 0.8) == (0, 3)  # one seed never departs


def test_the_probes_of_later_seeds_read_their_own_study_a_model_and_train_nothing_new():
    """The drift, saliency, addition and OOD verdicts probe each seed's Study A model (trained for the
    matrix already); past the first seed, class addition reads no three-class model (each would train)."""
    cfg = study_a_beyond_config("quick")
    probes = study_a_beyond.probe_seed_configs(cfg)
    assert probes[0] == cfg and len(probes) == cfg.study_a.seeds
    assert [b.study_a.train_seed for b in probes] == [b.study_a.train_seed for b in study_a_beyond.seed_configs(cfg)]
    for b in probes[1:]:
        assert b.leave_out_classes == ()
        reads = addition._addition_reads(b)
        assert [c.label() for c in reads] == [study_a_beyond.outputs_on_every_set.on(b, "study_a").label()]
        assert reads[0].cfg.study_a.train_seed == b.study_a.train_seed != cfg.study_a.train_seed
        assert ood._frozen_model_call(b, "study_a").label() == study_a.train_model.on(b.study_a).label()
    assert len(addition._addition_reads(cfg)) == 1 + len(cfg.leave_out_classes)


def test_the_prose_says_where_the_output_departs_in_words():
    rows = [{"measure": "output RMS distance", "departs at": "q10"}, {"measure": "nearest key changed", "departs at": "-"},
            {"measure": "grad_cam rank correlation", "departs at": "q5"}]
    text = report.departure_wording(rows)
    assert text == ("The distance between the two outputs departs at q10; the share of images whose nearest key changes "
                    "does not depart at any level tested.")


def _added(method, cls, new, low, high, old=0.8, before=0.85, self_nearest=0.9):
    return {"method": method, "class": cls, "all": True, "level": "original", "source": "isic-other",
            "new_accuracy": new, "new_low": low, "new_high": high, "old_accuracy": old, "old_before": before,
            "self_nearest": self_nearest}


def test_the_class_addition_wording_follows_the_intervals_and_names_classes_in_words():
    rows = [_added("mean-l2", "dermatofibroma", 0.3, 0.2, 0.4), _added("probe", "dermatofibroma", 0.7, 0.6, 0.8),
            _added("mean-l2", "squamous_cell_carcinoma", 0.5, 0.4, 0.6), _added("probe", "squamous_cell_carcinoma", 0.55, 0.45, 0.65),
            _added("mean-l2", "vascular_lesion", 0.9, 0.85, 0.95), _added("probe", "vascular_lesion", 0.5, 0.4, 0.6)]
    text = report.addition_wording(rows, "mean-l2")
    assert "The written key recognises vascular lesion more often" in text
    assert "The linear probe given the same images recognises dermatofibroma more often" in text
    assert "For squamous cell carcinoma, the two intervals overlap" in text and "_" not in text
    table = report.addition_summary(rows, "mean-l2")
    assert table[0]["measure"] == "new class recalled: the mean key under Euclidean distance"
    assert table[0]["squamous cell carcinoma"] == "0.500 [0.400, 0.600]"
    assert report.rule_words("majority-hamming") == "the majority key under Hamming distance"


def test_the_colour_wording_names_levels_as_the_prose_does():
    rows = [{"level": "original", "difference_low": 0.1, "difference_high": 0.2},
            {"level": "q5", "difference_low": -0.1, "difference_high": 0.1},
            {"level": "q1", "difference_low": -0.3, "difference_high": -0.1}]
    assert report.colour_wording(rows) == ("HD-MANN is ahead of colour alone at the originals; level with it at q5; "
                                           "behind it at q1, by the paired 95 % interval of their difference.")
    level = [dict(r, difference_low=-0.1, difference_high=0.1) for r in rows]
    assert report.colour_wording(level) == ("HD-MANN is level with colour alone at every level, by the paired 95 % "
                                            "interval of their difference.")
