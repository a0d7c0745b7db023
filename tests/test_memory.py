"""hdmann.methods.memory.KeyMemory: random binary class keys and nearest-key inference."""
from __future__ import annotations

import numpy as np
import pytest

from hdmann.methods.memory import DISTANCES, KeyMemory

CLASSES = ("melanoma", "nevus", "basal_cell_carcinoma", "pigmented_benign_keratosis")


def test_keys_are_binary_with_shape_k_by_d():
    m = KeyMemory.for_classes(CLASSES, 500, seed=2)
    assert m.keys.shape == (4, 500)
    assert m.keys.dtype == np.float32
    assert set(np.unique(m.keys)) == {0.0, 1.0}
    assert m.labels == list(CLASSES)
    # U{0,1}: about half the bits set, and keys far apart (nearly orthogonal in high dimension)
    assert 0.4 < m.keys.mean() < 0.6
    d = m.distances(m.keys, "hamming")
    off = d[~np.eye(4, dtype=bool)]
    assert off.min() > 0.35 * 500


def test_keys_are_deterministic_for_a_seed():
    a = KeyMemory.for_classes(CLASSES, 64, seed=7)
    b = KeyMemory.for_classes(CLASSES, 64, seed=7)
    c = KeyMemory.for_classes(CLASSES, 64, seed=8)
    np.testing.assert_array_equal(a.keys, b.keys)
    assert not np.array_equal(a.keys, c.keys)


def test_targets_are_the_class_keys():
    m = KeyMemory.for_classes(CLASSES, 32, seed=0)
    y = np.array([2, 0, 2, 3])
    np.testing.assert_array_equal(m.targets(y), m.keys[y])


@pytest.mark.parametrize("metric", DISTANCES)
def test_predict_exact_keys(metric):
    m = KeyMemory.for_classes(CLASSES, 256, seed=3)
    assert m.predict(m.keys, metric).tolist() == [0, 1, 2, 3]
    d = m.distances(m.keys, metric)
    assert d.shape == (4, 4)
    np.testing.assert_allclose(np.diag(d), 0, atol=1e-5)


@pytest.mark.parametrize("metric", DISTANCES)
def test_predict_noisy_keys(metric):
    m = KeyMemory.for_classes(CLASSES, 256, seed=3)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    outputs = m.keys[y] + rng.normal(0, 0.3, (200, 256)).astype(np.float32)
    assert np.mean(m.predict(outputs, metric) == y) == 1.0


def test_hamming_thresholds_at_half():
    m = KeyMemory.from_keys(np.array([[0, 0, 0, 0], [1, 1, 1, 1]], np.float32), ["a", "b"])  # fixed keys for a hand check
    out = np.array([[0.49, 0.5, 0.7, 0.1]], np.float32)  # bits 0 1 1 0
    np.testing.assert_array_equal(m.distances(out, "hamming"), [[2, 2]])
    assert m.predict(out, "hamming").tolist() == [0]  # a tie goes to the earliest key
    np.testing.assert_allclose(m.distances(np.array([[1, 1, 1, 1]], np.float32), "l2"), [[2.0, 0.0]], atol=1e-6)


def test_from_keys_holds_written_keys_and_keeps_the_caller_s_array():
    keys = np.array([[0, 1, 0], [1, 0, 1]], np.float64)
    m = KeyMemory.from_keys(keys)
    assert m.labels == ["0", "1"] and m.dim == 3 and m.keys.dtype == np.float32
    m.add_class_from_outputs("new", np.array([[0.2, 0.2, 0.9]], np.float32))
    assert m.predict(np.array([[0.2, 0.2, 0.9]], np.float32), "l2").tolist() == [2]
    assert keys.shape == (2, 3)  # the caller's keys are untouched
    with pytest.raises(ValueError, match="name each"):
        KeyMemory.from_keys(keys, ["a"])
    with pytest.raises(ValueError, match="keys must be"):
        KeyMemory.from_keys(np.zeros(3))


def test_adding_a_class_leaves_existing_keys_unchanged():
    m = KeyMemory.for_classes(CLASSES, 128, seed=5)
    before = m.keys.copy()
    key = m.add_class("dermatofibroma")
    assert m.keys.shape == (5, 128)
    np.testing.assert_array_equal(m.keys[:4], before)
    np.testing.assert_array_equal(m.keys[4], key)
    assert m.labels[-1] == "dermatofibroma"
    # the new class is recognised, the old ones still are
    assert m.predict(m.keys).tolist() == [0, 1, 2, 3, 4]
    rng = np.random.default_rng(1)
    noisy = key[None] + rng.normal(0, 0.2, (10, 128)).astype(np.float32)
    assert m.predict(noisy).tolist() == [4] * 10
    # the same seed drawing five classes at once gives the same keys (one random stream)
    np.testing.assert_array_equal(KeyMemory.for_classes((*CLASSES, "dermatofibroma"), 128, seed=5).keys, m.keys)


def test_duplicate_class_raises():
    m = KeyMemory.for_classes(CLASSES, 16, seed=0)
    with pytest.raises(ValueError, match="'nevus' already has a key"):
        m.add_class("nevus")
    assert m.keys.shape == (4, 16)


def test_wrong_output_dim_raises():
    m = KeyMemory.for_classes(CLASSES, 16, seed=0)
    with pytest.raises(ValueError, match=r"outputs must be \(N, 16\)"):
        m.predict(np.zeros((3, 15), np.float32))
    with pytest.raises(ValueError, match=r"outputs must be \(N, 16\)"):
        m.predict(np.zeros(16, np.float32))


def test_unknown_metric_and_bad_dim():
    m = KeyMemory.for_classes(CLASSES, 16, seed=0)
    with pytest.raises(ValueError, match="metric='manhattan'"):
        m.predict(m.keys, "manhattan")
    with pytest.raises(ValueError, match="dim=0"):
        KeyMemory(0, seed=0)
