"""hdmann.methods.train plus tiny seeded end-to-end runs of study A and study B on synthetic trees.

The runs are deliberately small (16x16 and 32x32 inputs, a couple of epochs) so that the whole
file stays within the unit tier's time budget; they check plumbing, caching and determinism,
not accuracy.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import hdmann  # noqa: F401
import keras
from threadpoolctl import threadpool_limits

from hdmann.engine import coding, data
from hdmann.methods import evaluation, models, train, verdicts
from hdmann.studies.study_a import claims as study_a_claims, pipeline as study_a, report as study_a_report
from hdmann.studies.study_a.config import study_a_config
from hdmann.studies.study_b import control as study_b
from hdmann.studies.study_b.config import study_b_config
from synthetic import isic_image, write_isic


def synthetic_images(per_class=(5, 5, 5, 5), size=32, seed=0):
    images, labels = [], []
    for label, n in enumerate(per_class):
        for i in range(n):
            images.append(isic_image(label, seed * 1000 + label * 100 + i, size))
            labels.append(label)
    return np.stack(images), np.array(labels)


AUG = dict(rotation=0.1, zoom=0.2, flip="horizontal_and_vertical")
# Every augmentation below makes 8 copies of 32x32 images, as the study-A run does, so JAX compiles
# the augmentation ops for one shape only (each new shape costs seconds on a small CPU).


# ----------------------------------------------------------------------------- augmentation
def test_augment_to_keeps_originals_first_and_copies_differ():
    images, labels = synthetic_images((2, 2, 3, 5))
    x, y, src = train.augment_to(images, labels, 5, seed=1, **AUG)
    assert x.dtype == np.uint8 and x.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(x[: len(images)], images)  # originals first, untouched
    np.testing.assert_array_equal(src[: len(images)], np.arange(len(images)))
    np.testing.assert_array_equal(y, labels[src])  # a copy keeps its source's class
    assert np.bincount(y).tolist() == [5, 5, 5, 5]
    assert not np.any(src[len(images):] >= 7)  # the class that already had 5 images got no copies
    for i in range(len(images), len(x)):
        assert not np.array_equal(x[i], images[src[i]]), f"copy {i} equals its source"
    # copies spread over the class's originals rather than repeating one
    assert set(src[len(images):][y[len(images):] == 0]) == {0, 1}
    # seeded: the same call gives the same copies, another seed other copies
    again = train.augment_to(images, labels, 5, seed=1, **AUG)
    for u, v in zip((x, y, src), again):
        np.testing.assert_array_equal(u, v)
    other = train.augment_to(images, labels, 5, seed=2, **AUG)
    assert not np.array_equal(other[0], x)


def test_augmented_split_default_has_no_leak():
    images, labels = synthetic_images((5, 5, 5, 5))
    s = train.augmented_split(images, labels, per_class=7, val_fraction=0.2, paper_order=False,
                              split_seed=0, augment_seed=1, **AUG)
    assert not np.isin(s.source_val, s.source_train).any()
    assert np.bincount(s.y_val).tolist() == [1, 1, 1, 1]  # stratified
    target = int(round(7 * (1 - 0.2)))
    assert np.bincount(s.y_train).tolist() == [target] * 4
    np.testing.assert_array_equal(s.x_val, images[s.source_val])  # validation: originals only
    np.testing.assert_array_equal(s.y_train, labels[s.source_train])
    np.testing.assert_array_equal(s.y_val, labels[s.source_val])
    n_orig = len(labels) - len(s.y_val)
    np.testing.assert_array_equal(s.x_train[:n_orig], images[s.source_train[:n_orig]])
    assert sorted(set(s.source_train) | set(s.source_val)) == list(range(len(labels)))


def test_augmented_split_paper_order_leaks():
    images, labels = synthetic_images((5, 5, 5, 5))
    s = train.augmented_split(images, labels, per_class=7, val_fraction=0.2, paper_order=True,
                              split_seed=0, augment_seed=1, **AUG)
    assert len(s.y_train) + len(s.y_val) == 28
    assert np.bincount(np.concatenate([s.y_train, s.y_val])).tolist() == [7] * 4
    shared = np.isin(s.source_val, s.source_train)
    assert shared.any()  # copies of one image sit on both sides
    np.testing.assert_array_equal(s.y_val, labels[s.source_val])


def test_stratified_split_is_seeded_and_sorted():
    labels = np.repeat(np.arange(4), 10)
    tr, va = train.stratified_split(labels, 0.2, seed=3)
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(va) > 0)
    assert np.bincount(labels[va]).tolist() == [2, 2, 2, 2]
    assert set(tr).isdisjoint(va) and len(tr) + len(va) == 40
    tr2, va2 = train.stratified_split(labels, 0.2, seed=3)
    np.testing.assert_array_equal(va, va2)


def test_stratified_split_keeps_identical_images_on_one_side():
    labels = np.repeat(np.arange(4), 10)
    groups = np.arange(40)
    groups[[1, 2, 3]] = 1  # three identical images of class 0
    groups[[15, 16]] = 15  # a pair in class 1
    # singletons everywhere: the same split as without groups
    for seed in range(3):
        np.testing.assert_array_equal(train.stratified_split(labels, 0.2, seed, np.arange(40))[1],
                                      train.stratified_split(labels, 0.2, seed)[1])
    for seed in range(20):
        tr, va = train.stratified_split(labels, 0.2, seed, groups)
        assert set(tr).isdisjoint(va) and len(tr) + len(va) == 40
        for members in ([1, 2, 3], [15, 16]):
            assert set(members) <= set(tr) or set(members) <= set(va), (seed, members)
    with pytest.raises(ValueError, match="groups has 3 entries"):
        train.stratified_split(labels, 0.2, 0, np.arange(3))


def test_augmented_split_with_groups_keeps_twins_together():
    images, labels = synthetic_images((5, 5, 5, 5))
    images[1] = images[0]  # pixel-identical pair in class 0
    groups = data.duplicate_groups([data.pixel_digest(x) for x in images])
    assert groups[0] == groups[1] and len(np.unique(groups)) == 19
    for seed in range(3):
        s = train.augmented_split(images, labels, per_class=7, val_fraction=0.2, paper_order=False,
                                  split_seed=seed, augment_seed=1, groups=groups, **AUG)
        assert not np.isin(groups[s.source_val], groups[s.source_train]).any()


# --------------------------------------------------------------------------------- fitting
def _tiny_model():
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dense(4, activation="relu")(inputs))
    return keras.Model(inputs, outputs)


def _tiny_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, (x[:, 0] + 0.3 * x[:, 1] > 0).astype(np.float32)


def test_fit_fixed_shapes_gives_finite_history():
    keras.utils.set_random_seed(0)
    model = _tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    x, y = _tiny_data(13, 0)
    xv, yv = _tiny_data(5, 1)
    info = train.fit(model, x, y, xv, yv, batch_size=8, max_epochs=3, patience=5, seed=0,
                     class_weight=train.class_weights(y), fixed_shapes=True)
    assert info["epochs_run"] == 3 == len(info["history"]["loss"]) == len(info["epoch_seconds"]) == len(info["epoch_cpu_seconds"])
    assert all(c > 0 for c in info["epoch_cpu_seconds"])
    assert all(np.isfinite(v) for k in ("loss", "val_loss") for v in info["history"][k])
    assert 1 <= info["best_epoch"] <= 3
    assert info["best_epoch"] == int(np.argmin(info["history"]["val_loss"])) + 1


def test_fit_is_seeded():
    x, y = _tiny_data(20, 0)
    xv, yv = _tiny_data(6, 1)
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        model = _tiny_model()
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
        runs.append(train.fit(model, x, y, xv, yv, batch_size=8, max_epochs=2, patience=1, seed=3)["history"])
    assert runs[0] == runs[1]


def test_reusable_model_reset_restores_the_start():
    reusable = train.ReusableModel(_tiny_model, "binary_crossentropy", keras.optimizers.Adam(1e-2), seed=0)
    x, y = _tiny_data(16, 0)
    xv, yv = _tiny_data(8, 1)
    start = [w.copy() for w in reusable.model.get_weights()]
    opt_start = [v.numpy().copy() for v in reusable.model.optimizer.variables]
    histories = []
    for _ in range(3):
        model = reusable.reset()
        assert model is reusable.model
        for a, b in zip(model.get_weights(), start):
            np.testing.assert_array_equal(a, b)
        for v, b in zip(model.optimizer.variables, opt_start):
            np.testing.assert_array_equal(v.numpy(), b)
        histories.append(train.fit(model, x, y, xv, yv, batch_size=8, max_epochs=2, patience=2, seed=1,
                                   fixed_shapes=True)["history"])
        assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), start))  # it trained
    assert histories[1] == histories[2]  # runs after the first repeat exactly


def test_reusable_model_first_run_matches_later_runs():
    reusable = train.ReusableModel(_tiny_model, "binary_crossentropy", keras.optimizers.Adam(1e-2), seed=0)
    x, y = _tiny_data(16, 0)
    xv, yv = _tiny_data(8, 1)
    histories = [train.fit(reusable.reset(), x, y, xv, yv, batch_size=8, max_epochs=2, patience=2, seed=1,
                           fixed_shapes=True)["history"] for _ in range(2)]
    assert histories[0] == histories[1]


def test_class_weights_balanced():
    w = train.class_weights(np.array([0, 0, 0, 1]))
    assert w == {0: pytest.approx(4 / 6), 1: pytest.approx(2.0)}
    assert train.class_weights(np.zeros(4)) == {0: 0.5, 1: 2.0}  # an absent class does not divide by 0


def test_predict_pads_to_full_batches():
    keras.utils.set_random_seed(0)
    model = _tiny_model()
    x, _ = _tiny_data(11, 0)
    out = train.predict(model, x, batch_size=4)
    assert out.shape == (11, 1)
    np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-6)


# ------------------------------------------------------------------------ study A, tiny run
CFG_A = study_a_config("smoke", image_size=16, source_size=32, per_class_target=12, max_epochs=2, patience=2,
                       hypervector_dim=64, dense_units=32, conv_filters=(4, 8), batch_size=8,
                       bootstrap_samples=50, tsne_perplexity=5, max_images_per_class=None,
                       max_test_images_per_class=None)


@pytest.fixture(scope="module")
def isic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("isic_data")
    write_isic(root, train_per_class=10, test_per_class=4, size=32)
    return root


def _run_a(root):
    for later_seed in study_a.seed_configs(CFG_A)[1:]:
        study_a.predictions(later_seed, root)
    return {"split": study_a.split_data(CFG_A, root), "folder": study_a.train_model(CFG_A, root),
            "pred": study_a.predictions(CFG_A, root), "root": root}


@pytest.fixture(scope="module")
def run_a(isic_root, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("study_a_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HDMANN_CACHE", str(cache_dir))
        out = _run_a(isic_root)
        out["table"] = study_a_report.accuracy_table(CFG_A, isic_root)
        # one OpenMP thread: sklearn's Barnes-Hut t-SNE spins its OpenMP barrier every iteration,
        # which takes ~40 s per tiny map instead of ~0.1 s when the CPU cores are busy
        with threadpool_limits(1, "openmp"):
            out["tsne"] = study_a.tsne_maps(CFG_A, isic_root, "val")
        out["claims"] = study_a_claims.decide(CFG_A, isic_root)  # the nominal ladder: what predictions hold
        out["leak"] = study_a_report.leak_check(CFG_A, isic_root)
    out["cache"] = cache_dir
    return out


def test_study_a_split(run_a):
    s = run_a["split"]
    assert s["x_train"].shape == (40, 16, 16, 3)  # 8 originals + 2 copies per class, at the model size
    assert s["x_val"].shape == (4, 32, 32, 3)  # the reporting half: originals at the stored size
    assert s["x_stop"].shape == (4, 32, 32, 3)  # the stopping half
    assert s["x_test"].shape == (16, 32, 32, 3)
    assert np.bincount(s["y_train"]).tolist() == [10] * 4
    assert np.bincount(s["y_val"]).tolist() == [1] * 4
    assert np.bincount(s["y_stop"]).tolist() == [1] * 4
    assert not set(s["source_val"]) & set(s["source_stop"])
    assert run_a["leak"] == {"val_samples": 8, "val_sharing_an_original": 0, "share": 0.0,
                             "val_identical_to_a_train_original": 0}
    assert len(s["train_names"]) == 40 and len(s["test_names"]) == 16


def test_study_a_model_saved_as_keras_with_config(run_a, isolated_cache):
    folder = run_a["folder"]
    assert folder.parent.name == "model" and folder.parent.parent.name == "study_a"
    assert folder.parent.parent.parent == run_a["cache"].resolve()
    assert (folder / "model.keras").is_file()
    assert (folder / "config.json").is_file()
    assert json.loads((folder / "config.json").read_text()) == json.loads(json.dumps(CFG_A.to_dict()))
    np.testing.assert_array_equal(np.load(folder / "keys.npy"), study_a.key_memory(CFG_A).keys)
    info = json.loads((folder / "meta.json").read_text())["values"]
    assert info["epochs_run"] <= CFG_A.max_epochs
    assert all(np.isfinite(info["history"]["loss"]))
    # the per-test cache was not touched by the module's run
    assert not (isolated_cache / "study_a").exists()


def test_study_a_reload_is_bit_identical(run_a):
    folder = run_a["folder"]
    x = coding.compress_many(run_a["split"]["x_val"], None, out_size=16, workers=1)[0]
    first = keras.saving.load_model(folder / "model.keras")
    second = keras.saving.load_model(folder / "model.keras")
    a, b = train.predict(first, x), train.predict(second, x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a.astype(np.float32), run_a["pred"]["val_original_outputs"])
    # the saved model is the Table I architecture at this config
    rebuilt = models.hdmann_cnn(CFG_A)
    rebuilt.set_weights(first.get_weights())
    np.testing.assert_array_equal(train.predict(rebuilt, x), a)
    assert [r["layer"] for r in models.layer_table(first)] == [r["layer"] for r in models.layer_table(rebuilt)]


def test_study_a_cached_entries_are_reused(run_a, isic_root, monkeypatch):
    monkeypatch.setenv("HDMANN_CACHE", str(run_a["cache"]))

    def no_training(*args, **kwargs):
        raise AssertionError("the cached model was retrained")

    monkeypatch.setattr(train, "fit", no_training)
    assert study_a.train_model(CFG_A, isic_root) == run_a["folder"]
    again = study_a.predictions(CFG_A, isic_root)
    for key, value in run_a["pred"].items():
        np.testing.assert_array_equal(again[key], value)


def test_study_a_same_seed_same_numbers_in_a_fresh_cache(run_a, isic_root, isolated_cache):
    fresh = _run_a(isic_root)
    assert fresh["folder"].parent.parent.parent == isolated_cache.resolve()
    assert fresh["folder"].name == run_a["folder"].name  # same parameters and code, same key
    for key, value in run_a["split"].items():
        np.testing.assert_array_equal(fresh["split"][key], value, err_msg=key)
    for key, value in run_a["pred"].items():
        np.testing.assert_array_equal(fresh["pred"][key], value, err_msg=key)
    a = keras.saving.load_model(run_a["folder"] / "model.keras").get_weights()
    b = keras.saving.load_model(fresh["folder"] / "model.keras").get_weights()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_study_a_accuracy_table(run_a):
    rows = run_a["table"]
    levels = ["original", "q50", "q20", "q10", "q5", "q3", "q1"]
    assert study_a.levels(CFG_A) == levels
    assert [(r["split"], r["level"]) for r in rows] == [(p, lv) for p in ("val", "test") for lv in levels]
    for r in rows:
        assert r["n"] == (4 if r["split"] == "val" else 16)
        assert r["seeds"] == CFG_A.seeds and r["seed_min"] <= r["accuracy"] <= r["seed_max"]
        assert 0 <= r["ci_low"] <= r["accuracy"] <= r["ci_high"] <= 1
        assert all(0 <= r[f"recall_{c}"] <= 1 for c in data.ISIC_CLASSES)
        assert r["quality"] == (100 if r["level"] == "original" else int(r["level"][1:]))
    original = rows[0]
    assert original["ratio"] == 1.0 and original["bpp"] == 24.0 and original["psnr"] == float("inf")
    by_level = {r["level"]: r for r in rows if r["split"] == "test"}
    assert by_level["q1"]["ratio"] > by_level["q50"]["ratio"] > 1
    assert by_level["q1"]["psnr"] < by_level["q50"]["psnr"]
    # accuracy is what the key memory says about the stored outputs
    memory = study_a.key_memory(CFG_A)
    pred = run_a["pred"]
    hits = [memory.predict(study_a.predictions(c, run_a["root"])["test_q5_outputs"], CFG_A.distance)
            == pred["test_labels"] for c in study_a.seed_configs(CFG_A)]
    assert by_level["q5"]["accuracy"] == pytest.approx(np.mean(hits))  # the mean over the seeds


def test_study_a_tsne_and_claims(run_a):
    tsne = run_a["tsne"]
    for level in study_a.levels(CFG_A):
        assert tsne[f"{level}_points"].shape == (4, 2)
        assert tsne[f"{level}_keys"].shape == (4, 2)
        assert np.all(np.isfinite(tsne[f"{level}_points"]))
    assert [c.claim.id for c in run_a["claims"]] == ["A1", "A2", "A3"]
    for c in run_a["claims"]:
        assert c.outcome in verdicts.OUTCOMES and c.seeds == CFG_A.seeds
        assert len(c.seed_outcomes) == CFG_A.seeds and set(c.seed_outcomes) <= set(verdicts.DECIDED)


# ------------------------------------------------------------------------ study B, tiny run
CFG_B = study_b_config("smoke", conv_filters=(4, 4, 4), dense_units=(8, 4), n_folds=2, workers=1, max_films=None,
                       bootstrap_samples=50,
                       films=dict(input_size=32, max_epochs=1, patience=1, compression_ratios=(15, 5000),
                                  matrix_ratios=(15,), resnet_ratios=(), saliency_ratios=(15,), batch_size=8,
                                  inner_validation_fraction=0.5, survey_films=None))  # every film, as max_films


@pytest.fixture(scope="module")
def run_b(mias_root, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HDMANN_CACHE", str(tmp_path_factory.mktemp("study_b_cache")))
        mias = study_b.films(CFG_B, mias_root)
        return {"mias": mias, "fold": study_b.folds(CFG_B, mias),
                "exp_a": study_b.experiment_a(CFG_B, "cnn", mias_root),
                "scores": study_b.scores(CFG_B, "cnn", None, mias_root),
                "folder": study_b.run(CFG_B, "cnn", None, mias_root),
                "ratios": study_b.ratio_table(CFG_B, mias_root),
                "original": study_b.compressed_films(CFG_B, None, mias_root),
                "cr15": study_b.compressed_films(CFG_B, 15, mias_root)}


def test_the_film_survey_covers_a_seeded_sample_of_films_when_the_profile_asks(mias_root, tmp_path, monkeypatch):
    """survey_films: a seeded sample, the same on every call, in film order; its table counts it."""
    monkeypatch.setenv("HDMANN_CACHE", str(tmp_path / "cache"))
    cfg = CFG_B.replace(films=CFG_B.films.replace(survey_films=7, compression_ratios=(15,), matrix_ratios=(15,),
                                                  saliency_ratios=(15,)))
    mias = study_b.films(cfg, mias_root)
    names = study_b.survey_names(cfg, mias)
    assert len(names) == 7 and names == study_b.survey_names(cfg, mias)
    assert names != study_b.survey_names(cfg.replace(fold_seed=cfg.fold_seed + 1), mias)  # seeded by fold_seed
    # the sample size is in the stage's key: another size is another entry, never a stale table
    assert study_b.film_survey.on(cfg).key(mias_root) != study_b.film_survey.on(cfg.replace(films=cfg.films.replace(survey_films=5))).key(mias_root)
    assert names == [n for n in mias.names if n in names]  # film order
    assert study_b.survey_names(cfg.replace(films=cfg.films.replace(survey_films=None)), mias) == list(mias.names)
    assert study_b.survey_names(cfg.replace(films=cfg.films.replace(survey_films=10_000)), mias) == list(mias.names)
    (row,) = study_b.ratio_table(cfg, mias_root)
    assert row["films"] == 7 and study_b.survey_size(cfg, mias_root) == (7, len(mias.names))
    achieved = [coding.compress(data.read_image(mias.path(n), "L"), "jpeg2000", 15).ratio for n in names]
    assert row["achieved_median"] == pytest.approx(np.median(achieved))
    with pytest.raises(ValueError, match="survey_films"):
        study_b_config("quick", films=dict(survey_films=0))


def _check_folds(mias, fold, n_folds):
    assert set(fold.tolist()) == set(range(n_folds))
    for p in np.unique(mias.patient):
        assert len(set(fold[mias.patient == p].tolist())) == 1, f"patient {p} is in two folds"
    for k in range(n_folds):
        assert mias.malignant[fold == k].sum() > 0, f"fold {k} has no malignant film"


def test_study_b_folds_group_patients(run_b):
    assert len(run_b["mias"]) == 24
    _check_folds(run_b["mias"], run_b["fold"], 2)
    np.testing.assert_array_equal(study_b.folds(CFG_B, run_b["mias"]), run_b["fold"])  # seeded


def test_study_b_folds_on_real_mias(data_root):
    cfg = study_b_config("quick")
    mias = study_b.films(cfg, data_root)
    assert len(mias) == 322
    fold = study_b.folds(cfg, mias)
    _check_folds(mias, fold, cfg.n_folds)
    # stratified: every fold holds roughly its share of the 52 malignant films
    per_fold = [int(mias.malignant[fold == k].sum()) for k in range(cfg.n_folds)]
    assert sum(per_fold) == 52 and min(per_fold) >= 6


def test_study_b_experiment_a(run_b):
    rows = run_b["exp_a"]
    assert [r["test_level"] for r in rows] == ["original", "cr15", "cr5000"] == study_b.levels(CFG_B)
    for r in rows:
        assert r["architecture"] == "cnn" and r["train_level"] == "original"
        assert np.isnan(r["auroc"]) or 0 <= r["auroc"] <= 1
        assert np.isnan(r["auprc"]) or 0 <= r["auprc"] <= 1
        assert len(r["auroc_folds"]) == 2
        assert r["prevalence"] == pytest.approx(4 / 24)


def test_study_b_scores_cover_every_film_once(run_b, mias_root):
    s = run_b["scores"]
    np.testing.assert_array_equal(s["labels"], run_b["mias"].malignant)
    np.testing.assert_array_equal(s["fold"], run_b["fold"])
    for level in study_b.levels(CFG_B):
        assert s[level].shape == (24,)
        assert np.all(np.isfinite(s[level])) and np.all((s[level] >= 0) & (s[level] <= 1))
    folder = run_b["folder"]
    assert (folder / "fold0.npz").is_file() and (folder / "fold1.npz").is_file()
    # the stored weights rebuild the fold's model: it reproduces the stored held-out scores
    held_out = run_b["fold"] == 0
    x = run_b["original"]["pixels"][held_out][..., None]
    model = study_b.fold_model(CFG_B, "cnn", None, 0, mias_root)
    np.testing.assert_allclose(train.predict(model, x, CFG_B.films.batch_size).ravel(), s["original"][held_out], rtol=1e-6)
    folds_info = json.loads((folder / "meta.json").read_text())["values"]["folds"]
    assert [f["n_test"] for f in folds_info] == [int(np.sum(run_b["fold"] == k)) for k in range(2)]
    assert all(f["n_fit"] + f["n_val"] + f["n_test"] == 24 for f in folds_info)


def test_study_b_compressed_films(run_b, mias_root):
    original, cr15 = run_b["original"], run_b["cr15"]
    assert original["pixels"].shape == (24, 32, 32) and original["pixels"].dtype == np.uint8
    assert np.all(original["ratio"] == 1.0) and np.all(original["raw_bytes"] == 256 * 256)
    assert cr15["pixels"].shape == (24, 32, 32)
    assert not np.array_equal(cr15["pixels"], original["pixels"])
    # statistics are taken on the stored 256x256 film, not the 32x32 model input
    film = data.read_image(run_b["mias"].path("mdb001"), "L")
    c = coding.compress(film, "jpeg2000", 15)
    assert cr15["encoded_bytes"][0] == c.encoded_bytes and cr15["ratio"][0] == c.ratio


def test_study_b_ratio_table_reports_achieved_ratios(run_b):
    rows = run_b["ratios"]
    assert [r["target_ratio"] for r in rows] == [15, 5000]
    mias = run_b["mias"]
    achieved = {t: [coding.compress(data.read_image(mias.path(n), "L"), "jpeg2000", t).ratio
                    for n in mias.names] for t in (15, 5000)}
    for r in rows:
        a = np.array(achieved[r["target_ratio"]])
        assert r["achieved_median"] == pytest.approx(np.median(a))
        assert r["achieved_min"] == pytest.approx(a.min()) and r["achieved_max"] == pytest.approx(a.max())
        assert r["achieved_median"] != r["target_ratio"]
        assert r["films"] == 24
    low, high = rows
    assert low["reached_share"] > 0.5
    assert high["achieved_max"] < 5000 / 10  # a 256x256 film cannot shrink to 13 bytes
    assert high["reached_share"] == 0.0
    assert high["psnr"] < low["psnr"] and high["bpp"] < low["bpp"]


def test_study_b_run_rejects_unknown_train_ratio(mias_root):
    with pytest.raises(ValueError, match="train_ratio=100 is not among compression_ratios"):
        study_b.run(CFG_B, "cnn", 100, mias_root)
    with pytest.raises(ValueError, match="architecture='vgg'"):
        study_b._build(CFG_B, "vgg")


def test_study_b_max_films_keeps_whole_patients(mias_root):
    cfg = CFG_B.replace(max_films=8)
    sub = study_b.films(cfg, mias_root)
    assert len(sub) == 8
    assert all(np.sum(sub.patient == p) == 2 for p in np.unique(sub.patient))
    assert len(set(np.unique(sub.patient)) & {1, 2, 3, 4}) >= cfg.n_folds  # enough malignant patients
    np.testing.assert_array_equal(study_b.films(cfg, mias_root).names, sub.names)  # seeded


def test_study_b_max_films_below_n_folds_does_not_take_everyone(mias_root):
    cfg = CFG_B.replace(max_films=4, n_folds=3)  # 2 patients asked, 3 malignant patients needed
    sub = study_b.films(cfg, mias_root)
    patients = set(np.unique(sub.patient).tolist())
    assert len(patients) == 3  # the n_folds malignant patients, no more
    assert patients <= {1, 2, 3, 4}


def test_stopping_and_reporting_halves_share_no_group_of_identical_images():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 15)
    groups = np.arange(60)
    for a, b in ((0, 1), (2, 3), (20, 21), (22, 23), (40, 41), (58, 59)):  # pixel-identical pairs
        groups[b] = groups[a]
    stop, report = study_a.stopping_halves(labels, groups, 0.5, seed=int(rng.integers(100)))
    assert len(stop) + len(report) == 60 and not set(stop) & set(report)
    assert not set(groups[stop]) & set(groups[report])
    assert np.bincount(labels[stop]).min() >= 6 and np.bincount(labels[report]).min() >= 6  # stratified
    with pytest.raises(ValueError, match="too small"):
        study_a.stopping_halves(np.array([0, 0]), np.array([0, 0]), 0.5, 0)


def test_study_a_trains_on_the_stopping_half_and_reports_on_the_other(run_a):
    s = run_a["split"]
    groups = s["train_groups"]
    assert not set(groups[s["source_val"]]) & set(groups[s["source_stop"]])
    # the reported outputs are of the reporting half, in its order
    assert len(run_a["pred"]["val_labels"]) == len(s["y_val"])
    np.testing.assert_array_equal(run_a["pred"]["val_labels"], s["y_val"])


_VERDICTS_IN_A_CHILD = """
import json, os, sys
os.sched_setaffinity(0, {int(c) for c in sys.argv[2].split(",")})  # before JAX starts its threads
from hdmann.methods.verdicts import held_out_check
from hdmann.studies.study_a import claims, pipeline as study_a
from hdmann.studies.study_a.config import study_a_config
cfg = study_a_config("smoke", image_size=16, source_size=32, per_class_target=20, max_epochs=3, patience=1,
                     hypervector_dim=64, dense_units=32, conv_filters=(4, 8), batch_size=8, bootstrap_samples=200,
                     max_images_per_class=None, max_test_images_per_class=None)
root = sys.argv[1]
weights = []
for c in study_a.seed_configs(cfg):
    model, info = study_a.load_model(c, root)
    weights.append(float(sum(abs(w).sum() for w in model.get_weights())))
out = {"cpus": len(os.sched_getaffinity(0)), "weights": weights,
       "verdicts": [[c.outcome, list(c.seed_outcomes), held_out_check(c.outcome, t.outcome)]
                    for c, t in zip(claims.decide(cfg, root, "val"), claims.decide(cfg, root, "test"))]}
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_the_verdicts_agree_when_the_same_graph_is_built_on_one_cpu_and_on_two(tmp_path):
    """XLA splits its sums by thread count, so a model trained on one CPU is not the two-CPU model to
    the bit; the verdicts, stated across seeds with margins, must not move. Each build runs in its own
    process and cache, one pinned to a single CPU (as ``taskset -c 0``)."""
    import os
    import subprocess
    import sys

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs to compare a one-CPU build with a two-CPU build")
    root = tmp_path / "data"
    write_isic(root, train_per_class=16, test_per_class=6, size=32)
    results = {}
    for n in (1, 2):
        env = {**os.environ, "HDMANN_CACHE": str(tmp_path / f"cache{n}")}
        pin = ",".join(str(c) for c in cpus[:n])
        done = subprocess.run([sys.executable, "-c", _VERDICTS_IN_A_CHILD, str(root), pin], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        results[n] = json.loads(line[len("RESULT "):])
    assert results[1]["cpus"] == 1 and results[2]["cpus"] == 2
    assert results[1]["verdicts"] == results[2]["verdicts"]


def test_the_leak_sentence_reads_as_english_for_every_sign():
    words = study_a_report.leak_wording
    assert words(-0.024, 0.0) == ("The paper's order lowers accuracy on the reporting half (-0.024) and leaves it "
                                  "unchanged on the test folder (+0.000)")
    assert words(0.0, 0.031) == ("The paper's order leaves accuracy unchanged on the reporting half (+0.000) and "
                                 "raises it on the test folder (+0.031)")


# ------------------------------------------------------------- fixed budgets on augmented batches
def _tiny_set(n: int = 12, size: int = 8, margin: int = 2, seed: int = 0) -> train.ShiftedSet:
    rng = np.random.default_rng(seed)
    cuts = rng.integers(0, 256, (n, size + 2 * margin, size + 2 * margin)).astype(np.uint8)
    return train.ShiftedSet(cuts, np.arange(n) % 2, size, 5, lambda x: x[..., None] / 255.0)


def test_augmented_batches_are_full_seeded_and_redrawn_each_epoch():
    data = _tiny_set()
    a, b = data.batches(3), data.batches(3)
    assert len(a) == train.steps_per_epoch(12, 5) == 3  # 12 patches, batches of 5: the last one topped up
    xa, ya = a[0]
    assert xa.shape == (5, 8, 8, 1) and ya.dtype == np.float32
    assert np.array_equal(b[0][0], xa) and np.array_equal(b[0][1], ya)  # one seed, one stream of batches
    seen = np.concatenate([a.order[:12]])
    assert sorted(seen) == list(range(12))  # every patch once per epoch, before the top-up
    first = a.order.copy()
    a.on_epoch_end()
    assert not np.array_equal(first, a.order)
    assert not np.array_equal(data.batches(4)[0][0], data.batches(3)[0][0])
    assert data.centred().shape == (12, 8, 8, 1)


def _unlearnable():
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros", trainable=False)(
        keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


def test_fit_healthy_retries_a_model_that_cannot_learn_from_the_next_seed_then_keeps_it():
    from hdmann.methods import seeds

    data = _tiny_set()
    starts = train.Starts(_unlearnable, lambda: train.adam(1e-3, 0.01, "cosine", 6),
                          lambda retry: seeds.derive(1, "init", retry=retry))
    derived = [seeds.derive(1, "train", fold=0, retry=r) for r in range(3)]
    model, record, tries = train.fit_healthy(starts, data, epochs=2, seeds=lambda r: derived[r], retries=2,
                                             min_train_auroc=0.6, label="unlearnable")
    assert [t["seed"] for t in tries] == derived and not any(t["healthy"] for t in tries)
    assert record["healthy"] is False and record["retries"] == 2 and len(record["loss"]) == 2
    assert "undefined" in tries[0]["why"] or "collapsed" in tries[0]["why"]  # a constant output ranks nothing
    assert set(starts._models) == {0, 1, 2}  # one compiled start per retry
    with pytest.raises(ValueError, match="schedule"):
        train.adam(1e-3, schedule="step")


def test_a_stage_reading_an_unhashed_nested_field_is_caught(synthetic_root):
    """Strict reads see through sections: a stage's key hashes ``patches.size`` by that name, and a
    body that read a section field its params did not declare would fail (HDMANN_STRICT=1 in tests)."""
    from hdmann.engine import reads

    cfg = study_b_config("smoke")
    recorder = reads.Recorder()
    view = reads.view(cfg, recorder)
    study_b.film_params(view, ("patches.size", "films.input_size", "fold_seed"), study_b.films(cfg, synthetic_root))
    assert {("StudyBPatches", "size"), ("StudyBFilms", "input_size"), ("StudyBConfig", "fold_seed")} <= set(recorder.fields)
    guard = reads.Guard("toy", {("StudyBPatches", "size", reads.canon(cfg.patches.size))}, set())
    checked = reads.view(cfg, guard)
    assert checked.patches.size == cfg.patches.size
    with pytest.raises(reads.UndeclaredRead, match=r"StudyBPatches\.epochs"):
        checked.patches.epochs
    replaced = checked.replace(patches=cfg.patches.replace(epochs=3))
    assert replaced.patches.size == cfg.patches.size
