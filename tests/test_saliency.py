"""hdmann.methods.saliency: Grad-CAM / input gradients on JAX, lesion masks, localisation scores, bootstrap."""
from __future__ import annotations

import math

import numpy as np
import pytest

import hdmann  # noqa: F401  (KERAS_BACKEND=jax)
import keras
from keras import layers

from hdmann.engine.data import Lesion
from hdmann.methods.models import hdmann_cnn, LAST_CONV, mammo_cnn, resnet18
from hdmann.studies.study_a.config import study_a_config
from hdmann.studies.study_b.config import study_b_config
from hdmann.methods.saliency import (bootstrap_mean_ci, circle_mask, energy_inside, grad_cam, input_gradients,
                             lesion_mask, pointing_hit)


def _films(n=3, size=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 1), dtype=np.uint8)


def _check_maps(maps, n=3, size=64):
    assert maps.shape == (n, size, size)
    assert maps.dtype == np.float32
    assert np.all(np.isfinite(maps))
    assert maps.min() >= 0.0 and maps.max() <= 1.0


# ------------------------------------------------------------------ shapes on the study models
@pytest.fixture(scope="module")
def mammo():
    keras.utils.set_random_seed(0)
    return mammo_cnn(study_b_config("smoke"))


def test_shapes_mammo_cnn(mammo):
    model = mammo
    x = _films()
    cams = grad_cam(model, x)
    _check_maps(cams)
    grads = input_gradients(model, x, batch_size=2)  # 3 films in batches of 2: padding path
    _check_maps(grads)
    assert np.allclose(grads.reshape(3, -1).max(axis=1), 1.0)  # normalised per image
    # batching does not change the result
    np.testing.assert_allclose(grad_cam(model, x, batch_size=2), cams, atol=1e-5)
    # (N, H, W) grey films are accepted as (N, H, W, 1)
    np.testing.assert_allclose(input_gradients(model, x[..., 0], batch_size=2), grads, atol=1e-5)


def test_shapes_resnet18():
    keras.utils.set_random_seed(0)
    model = resnet18(study_b_config("smoke"))
    assert model.get_layer(LAST_CONV) is not None
    dense = model.get_layer("malignant")
    kernel, bias = dense.get_weights()
    # a positive head on non-negative (post-ReLU) features: every map is non-degenerate
    dense.set_weights([np.abs(kernel), bias])
    x = _films()
    cams = grad_cam(model, x)
    _check_maps(cams)
    assert np.allclose(cams.reshape(3, -1).max(axis=1), 1.0)
    # input_gradients takes the same code path as on mammo_cnn; left out here to keep the test fast


def test_rejects_what_it_cannot_explain(mammo):
    with pytest.raises(ValueError, match="output shape"):
        grad_cam(hdmann_cnn(study_a_config("smoke")), np.zeros((1, 32, 32, 3), np.uint8))
    model = mammo
    with pytest.raises(ValueError, match="no layer named"):
        grad_cam(model, _films(1), layer_name="nope")
    with pytest.raises(ValueError, match="takes"):
        grad_cam(model, np.zeros((1, 32, 32, 1), np.uint8))
    assert grad_cam(model, np.zeros((0, 64, 64, 1), np.uint8)).shape == (0, 64, 64)


# ------------------------------------------------------------------ Grad-CAM against its definition
def _linear_head_model(bias: float):
    """conv (named last_conv, relu, no pooling) -> flatten -> Dense(1, sigmoid): the logit is linear
    in the feature maps A, so d logit / d A is the Dense kernel and Grad-CAM has a closed form."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((8, 8, 2))
    x = layers.Rescaling(1.0 / 255)(inp)
    a = layers.Conv2D(3, 3, padding="same", activation="relu", name=LAST_CONV)(x)
    out = layers.Dense(1, activation="sigmoid", name="out")(layers.Flatten()(a))
    model = keras.Model(inp, out)
    dense = model.get_layer("out")
    dense.set_weights([dense.get_weights()[0], np.array([bias], np.float32)])
    return model


def _expected_cam(model, x):
    feats = keras.Model(model.inputs, model.get_layer(LAST_CONV).output).predict(x, verbose=0)
    kernel = model.get_layer("out").get_weights()[0].reshape(feats.shape[1:])
    weights = kernel.mean(axis=(0, 1))  # spatial mean of the gradient, per channel
    cam = np.maximum((feats * weights).sum(axis=-1), 0.0)
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0.0)


@pytest.mark.parametrize("bias", [0.0, 200.0])
def test_grad_cam_matches_closed_form(bias):
    model = _linear_head_model(bias)
    x = np.random.default_rng(2).integers(0, 256, (4, 8, 8, 2), dtype=np.uint8)
    if bias:
        # the sigmoid is saturated: d p / d A is exactly 0, only the logit still has a gradient
        assert np.all(model.predict(x, verbose=0) == 1.0)
    expected = _expected_cam(model, x)
    assert expected.max() == 1.0  # a non-trivial map
    np.testing.assert_allclose(grad_cam(model, x), expected, atol=1e-5)
    # weights changed after the first (jitted, cached) call are used
    conv = model.get_layer(LAST_CONV)
    kernel, cbias = conv.get_weights()
    conv.set_weights([kernel[..., ::-1], cbias[::-1]])
    dense = model.get_layer("out")
    dense.set_weights([-dense.get_weights()[0], dense.get_weights()[1]])
    expected2 = _expected_cam(model, x)
    assert not np.allclose(expected2, expected)
    np.testing.assert_allclose(grad_cam(model, x), expected2, atol=1e-5)


def test_input_gradients_match_closed_form():
    """Rescaling -> flatten -> Dense(1, sigmoid): d logit / d pixel = kernel / 255."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((6, 5, 2))
    out = layers.Dense(1, activation="sigmoid", name="out")(layers.Flatten()(layers.Rescaling(1.0 / 255)(inp)))
    model = keras.Model(inp, out)
    x = np.random.default_rng(4).integers(0, 256, (2, 6, 5, 2), dtype=np.uint8)
    grad = np.abs(model.get_layer("out").get_weights()[0].reshape(6, 5, 2) / 255.0).max(axis=-1)
    expected = grad / grad.max()
    maps = input_gradients(model, x)
    np.testing.assert_allclose(maps, np.stack([expected, expected]), atol=1e-5)


# ------------------------------------------------------------------ Grad-CAM follows the evidence
SIZE = 16


def _half_model(side: str):
    """A bright-detector and a dark-detector channel (fixed 3x3 conv named last_conv); the score reads
    only ``side`` of the feature maps (a fixed mask), squared so that the gradient depends on A."""
    keras.utils.set_random_seed(5)
    mask = np.zeros((1, SIZE, SIZE, 1), np.float32)
    if side == "left":
        mask[:, :, : SIZE // 2] = 1.0
    else:
        mask[:, :, SIZE // 2:] = 1.0
    inp = keras.Input((SIZE, SIZE, 1))
    x = layers.Rescaling(1.0 / 255)(inp)
    conv = layers.Conv2D(2, 3, padding="same", activation="relu", name=LAST_CONV)
    a = conv(x)
    h = layers.Lambda(lambda t: t * t * mask, name="half_mask")(a)
    h = layers.GlobalAveragePooling2D()(h)
    dense = layers.Dense(1, activation="sigmoid")
    model = keras.Model(inp, dense(h))
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    kernel[..., 0], kernel[..., 1] = 1.0 / 9, -1.0 / 9
    conv.set_weights([kernel, np.array([-0.5, 0.5], np.float32)])
    dense.set_weights([np.ones((2, 1), np.float32), np.zeros(1, np.float32)])
    return model


def _bright_left_films(n=4):
    rng = np.random.default_rng(6)
    films = np.empty((n, SIZE, SIZE, 1), np.uint8)
    films[:, :, : SIZE // 2] = rng.integers(170, 256, (n, SIZE, SIZE // 2, 1))
    films[:, :, SIZE // 2:] = rng.integers(0, 86, (n, SIZE, SIZE // 2, 1))
    return films


@pytest.mark.parametrize("side", ["left", "right"])
def test_grad_cam_follows_the_half_the_score_reads(side):
    model = _half_model(side)
    films = _bright_left_films()
    half = np.zeros((SIZE, SIZE), bool)
    half[:, : SIZE // 2] = True
    if side == "right":
        half = ~half
    cams = grad_cam(model, films)
    _check_maps(cams, n=4, size=SIZE)
    for cam in cams:
        assert cam.max() == pytest.approx(1.0)
        assert energy_inside(cam, half) > 0.95
        assert pointing_hit(cam, half)


def test_input_gradients_vanish_where_the_score_does_not_look():
    model = _half_model("left")
    maps = input_gradients(model, _bright_left_films())
    _check_maps(maps, n=4, size=SIZE)
    # the 3x3 conv reaches one column past the mask: nothing to the right of that
    assert np.all(maps[:, :, SIZE // 2 + 1:] == 0.0)
    assert np.allclose(maps.reshape(4, -1).max(axis=1), 1.0)


# ------------------------------------------------------------------ masks
def test_circle_mask_scaling():
    mask = circle_mask((64, 64), 512, 512, 256)
    assert mask.shape == (64, 64) and mask.dtype == bool
    assert mask.mean() == pytest.approx(math.pi / 16, rel=0.03)
    rows, cols = np.nonzero(mask)
    assert rows.mean() == pytest.approx(31.5, abs=0.5)
    assert cols.mean() == pytest.approx(31.5, abs=0.5)
    assert not mask[0, 0] and mask[31, 31]
    # a non-square grid: the same share of the film
    assert circle_mask((32, 64), 512, 512, 256).mean() == pytest.approx(math.pi / 16, rel=0.05)


def test_circle_mask_orientation_and_small_lesions():
    # x is the column, y the row from the top
    mask = circle_mask((64, 64), lesion_x=100, lesion_y=900, radius=40)
    rows, cols = np.nonzero(mask)
    assert rows.mean() == pytest.approx(900 / 16, abs=1.0)
    assert cols.mean() == pytest.approx(100 / 16, abs=1.0)
    # same grid as the film: exactly the pixels within the radius
    exact = circle_mask((16, 16), 5, 3, 0, original_size=16)
    assert exact.sum() == 1 and exact[3, 5]
    assert circle_mask((16, 16), 5, 3, 1, original_size=16).sum() == 5
    # a lesion smaller than a map pixel still marks the pixel holding its centre
    tiny = circle_mask((8, 8), 700, 300, 2)
    assert tiny.sum() == 1 and tiny[300 * 8 // 1024, 700 * 8 // 1024]


def test_lesion_mask_union_and_severity():
    lesions = [Lesion(256, 256, 100, "malignant", "CIRC"), Lesion(768, 768, 100, "malignant", "MISC"),
               Lesion(768, 256, 100, "benign", "CALC")]
    mask = lesion_mask(lesions, (32, 32))
    assert np.array_equal(mask, circle_mask((32, 32), 256, 256, 100) | circle_mask((32, 32), 768, 768, 100))
    assert not mask[8, 24]  # the benign lesion (row 8, column 24) is left out
    assert lesion_mask(lesions, (32, 32), severity="benign")[8, 24]
    assert lesion_mask(lesions, (32, 32), severity=None).sum() > mask.sum()
    assert not lesion_mask([], (32, 32)).any()


# ------------------------------------------------------------------ scores
def test_energy_and_pointing():
    mask = circle_mask((64, 64), 512, 512, 256)
    rng = np.random.default_rng(7)
    noise = rng.random((64, 64)) + 0.1
    inside = np.where(mask, noise, 0.0)
    outside = np.where(mask, 0.0, noise)
    assert energy_inside(inside, mask) == 1.0 and pointing_hit(inside, mask)
    assert energy_inside(outside, mask) == 0.0 and not pointing_hit(outside, mask)
    half = 0.5 * inside / inside.sum() + 0.5 * outside / outside.sum()
    assert energy_inside(half, mask) == pytest.approx(0.5)
    assert 0.0 < energy_inside(np.ones((64, 64)), mask) < 1.0
    # ties: a maximal pixel inside is a hit
    tie = np.zeros((64, 64))
    tie[0, 0] = tie[32, 32] = 1.0
    assert pointing_hit(tie, mask)
    # a map with no mass: energy 0.0, no hit
    assert energy_inside(np.zeros((64, 64)), mask) == 0.0
    assert not pointing_hit(np.zeros((64, 64)), mask)
    with pytest.raises(ValueError):
        energy_inside(np.ones((32, 32)), mask)


# ------------------------------------------------------------------ bootstrap
def test_bootstrap_mean_ci():
    assert all(math.isnan(v) for v in bootstrap_mean_ci([]))
    assert bootstrap_mean_ci([0.4, 0.4, 0.4]) == (pytest.approx(0.4),) * 3
    values = np.random.default_rng(8).normal(1.0, 2.0, 400)
    mean, low, high = bootstrap_mean_ci(values, n_boot=2000, seed=3)
    assert mean == pytest.approx(values.mean())
    assert low < mean < high
    half_width = 1.96 * values.std(ddof=1) / math.sqrt(values.size)
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.15)
    assert bootstrap_mean_ci(values, n_boot=2000, seed=3) == (mean, low, high)  # seeded
    narrow = bootstrap_mean_ci(values, n_boot=2000, seed=3, level=0.5)
    assert low < narrow[1] < narrow[2] < high
    with pytest.raises(ValueError):
        bootstrap_mean_ci([1.0, float("nan")])
