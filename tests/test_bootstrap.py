"""The shared bootstrap statistics of :mod:`hdmann.methods.bootstrap` that every report's intervals use."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hdmann.methods import bootstrap


def test_interval_is_the_central_percentiles_and_skips_undefined_replicates():
    values = np.r_[np.arange(1, 1001, dtype=float), np.nan]
    low, high = bootstrap.interval(values)
    assert low == pytest.approx(np.percentile(values[:-1], 2.5)) and high == pytest.approx(np.percentile(values[:-1], 97.5))
    assert bootstrap.interval(values, 0.5) == pytest.approx((np.percentile(values[:-1], 25), np.percentile(values[:-1], 75)))


def test_paired_interval_cancels_the_shared_resample_and_refuses_unpaired_replicates():
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 1, 500)  # what the resample moves on both sides
    low, high = bootstrap.paired_interval(shared + 0.1, shared)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)
    with pytest.raises(ValueError, match="same resamples"):
        bootstrap.paired_interval(shared, shared[:-1])


def test_mean_auroc_averages_runs_and_pairs_models_on_one_weight_matrix():
    rng = np.random.default_rng(1)
    y = np.tile([0, 1], 30)
    runs = [(np.arange(60), y, rng.normal(y, 1.0)) for _ in range(3)]
    weights = bootstrap.group_weights(np.arange(60) // 3, 40, seed=2)  # patients of three rows each
    point, boot = bootstrap.mean_auroc(runs, weights)
    assert point == pytest.approx(np.mean([roc_auc_score(y, s) for _, _, s in runs]))
    assert boot.shape == (40,)
    idx = np.repeat(np.arange(60), weights[0].astype(int))
    assert boot[0] == pytest.approx(np.mean([roc_auc_score(y[idx], s[idx]) for _, _, s in runs]))
    # a run that scored a subset of the rows reads only those rows' weights
    part = np.arange(0, 60, 2)
    point_part, boot_part = bootstrap.mean_auroc([(np.r_[part, part + 1], np.r_[y[part], y[part + 1]],
                                                  np.r_[runs[0][2][part], runs[0][2][part + 1]])], weights)
    assert point_part == pytest.approx(roc_auc_score(y, runs[0][2]))
