"""Saliency maps for the study-B classifiers, computed with JAX, and how to score them against lesions.

* :func:`grad_cam` and :func:`input_gradients` explain the single-output classifiers of
  :mod:`hdmann.methods.models` (``mammo_cnn``, ``resnet18``).
* :func:`circle_mask` / :func:`lesion_mask` turn the mini-MIAS circles (top-left pixel
  coordinates of the 1024x1024 film) into boolean masks on a map's grid.
* :func:`energy_inside` and :func:`pointing_hit` score a map against such a mask, and
  :func:`bootstrap_mean_ci` summarises the per-film scores.

The score that is explained is the **pre-sigmoid logit** whenever the model's last layer is a
``Dense`` with a sigmoid activation (true of every study-B model): the logit is computed from that
layer's input and its kernel and bias, so the gradient does not vanish when the sigmoid saturates
(a probability of exactly 1.0 in float32 has a zero derivative). For any other single-output model
the score is the model output itself.

Gradients come from ``jax.vjp`` over pure functions built on Keras 3's
``Model.stateless_call(trainable_variables, non_trainable_variables, x, training=False)``. JAX
cannot differentiate with respect to an intermediate value of one call, so the functional graph
is split at ``layer_name`` into a *body* (input -> feature maps A) and a *head* (A -> score), and
the vjp is taken over the head. The split needs every path from the input to the score to pass
through ``layer_name`` (true of ``last_conv`` in all our models); otherwise a ``ValueError`` says so.
"""
from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence

import hdmann  # noqa: F401  (pins KERAS_BACKEND=jax before keras is imported)
import jax
import jax.numpy as jnp
import keras
import numpy as np

from hdmann.methods.evaluation import bootstrap_ci
from hdmann.methods.models import LAST_CONV

__all__ = ["grad_cam", "input_gradients", "circle_mask", "lesion_mask", "energy_inside",
           "pointing_hit", "bootstrap_mean_ci", "KeyScore", "hypervector_scorer", "hypervector_maps",
           "rank_agreement", "top_overlap"]

# per model: {key: (jitted batch function, callable returning its variable arguments)}
_CACHE: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _check_model(model: keras.Model) -> None:
    if keras.backend.backend() != "jax":
        raise RuntimeError(f"Keras runs on {keras.backend.backend()!r}; hdmann.methods.saliency needs JAX: "
                           "import hdmann before keras, or set KERAS_BACKEND=jax.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} "
                         "outputs; saliency needs one image input and one output")
    out_shape = tuple(model.outputs[0].shape[1:])
    if out_shape != (1,):
        raise ValueError(f"model {model.name!r} has output shape {out_shape}; saliency explains a single "
                         "sigmoid score of shape (1,) (mammo_cnn, resnet18), not e.g. a hypervector")


def _sigmoid_dense(model: keras.Model):
    """The last layer if it is a Dense with a sigmoid activation (its logit can be rebuilt)."""
    final = model.layers[-1]
    if (isinstance(final, keras.layers.Dense) and final.activation is keras.activations.sigmoid
            and final.output is model.outputs[0]):
        return final
    return None


def _score_spec(model: keras.Model):
    """(score tensor the sub-model should end at, how to turn it into the score, its variables)."""
    final = _sigmoid_dense(model)
    if final is None:
        return model.outputs[0], None
    return final.input, final


def _to_score(z, final_vars):
    """Map the sub-model output to a (B,) score: the logit z @ W + b, or the output itself."""
    if final_vars is None:
        return z.reshape(z.shape[0])
    kernel, bias = final_vars
    logit = jnp.dot(z, kernel)
    if bias is not None:
        logit = logit + bias
    return logit.reshape(logit.shape[0])


def _final_values(final) -> tuple | None:
    if final is None:
        return None
    return (final.kernel.value, final.bias.value if final.use_bias else None)


def _values(m: keras.Model) -> tuple[list, list]:
    return [v.value for v in m.trainable_variables], [v.value for v in m.non_trainable_variables]


def _sub_model(inputs, outputs, what: str, model: keras.Model) -> keras.Model:
    try:
        return keras.Model(inputs, outputs)
    except Exception as exc:  # keras raises ValueError/KeyError/AttributeError depending on the graph
        raise ValueError(f"cannot split model {model.name!r} at {what}: every path from the input to the "
                         f"score must pass through it ({exc})") from exc


def _prepare_images(model: keras.Model, images) -> np.ndarray:
    x = np.asarray(images)
    expected = tuple(model.inputs[0].shape[1:])
    if x.ndim == len(expected) and expected[-1] == 1:  # (N, H, W) grey films
        x = x[..., None]
    if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"images have shape {x.shape}; model {model.name!r} takes (N, "
                         + ", ".join(str(d) for d in expected) + ")")
    return x.astype(np.float32)  # uint8 as the models take them; they rescale inside


def _normalise(maps):
    """Per image: divide by the maximum so it lies in [0, 1]; an all-zero map stays zero."""
    peak = jnp.max(maps, axis=(1, 2), keepdims=True)
    safe = jnp.where(peak > 0, peak, 1.0)
    return jnp.clip(jnp.where(peak > 0, maps / safe, 0.0), 0.0, 1.0)


def _run_batched(fn, args_fn, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Apply the jitted ``fn(*args, batch)`` over ``x``; the last batch is zero-padded to
    ``batch_size`` so that the function is traced once (inference mode: images are independent)."""
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    if n == 0:
        return np.zeros((0, h, w), np.float32)
    batch_size = min(batch_size, n)
    args = args_fn()  # the variables' current values: weights trained after the first call count
    out = []
    for start in range(0, n, batch_size):
        chunk = x[start:start + batch_size]
        pad = batch_size - chunk.shape[0]
        if pad:
            chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
        maps = np.asarray(fn(*args, jnp.asarray(chunk)))
        out.append(maps[:batch_size - pad])
    return np.concatenate(out).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Grad-CAM and input gradients
# --------------------------------------------------------------------------------------------
def _grad_cam_fn(model: keras.Model, layer_name: str):
    per_model = _CACHE.setdefault(model, {})
    key = ("grad_cam", layer_name)
    if key in per_model:
        return per_model[key]
    try:
        layer = model.get_layer(layer_name)
    except ValueError as exc:
        raise ValueError(f"model {model.name!r} has no layer named {layer_name!r}") from exc
    feature_out = layer.output
    if len(feature_out.shape) != 4:
        raise ValueError(f"layer {layer_name!r} outputs shape {tuple(feature_out.shape)}; Grad-CAM needs "
                         "(batch, h, w, channels) feature maps")
    score_tensor, final = _score_spec(model)
    body = _sub_model(model.inputs, feature_out, "its input", model)
    head = _sub_model(feature_out, score_tensor, f"layer {layer_name!r}", model)
    out_hw = tuple(int(d) for d in model.inputs[0].shape[1:3])

    def batch_fn(body_vars, head_vars, final_vars, x):
        feats, _ = body.stateless_call(body_vars[0], body_vars[1], x, training=False)

        def score_of(a):
            z, _ = head.stateless_call(head_vars[0], head_vars[1], a, training=False)
            return _to_score(z, final_vars)

        scores, vjp = jax.vjp(score_of, feats)
        (grads,) = vjp(jnp.ones_like(scores))  # images are independent: row b holds d score_b / d A_b
        weights = jnp.mean(grads, axis=(1, 2), keepdims=True)  # (B, 1, 1, C)
        cam = jax.nn.relu(jnp.sum(weights * feats, axis=-1))  # (B, h, w)
        cam = jax.image.resize(cam, (cam.shape[0], *out_hw), method="bilinear")
        return _normalise(cam)

    def args_fn():
        return _values(body), _values(head), _final_values(final)

    entry = (jax.jit(batch_fn), args_fn)
    per_model[key] = entry
    return entry


def grad_cam(model: keras.Model, images, layer_name: str = LAST_CONV, batch_size: int = 16) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) of a single-output sigmoid classifier.

    ``images``: uint8 (N, H, W, C) as the model takes them ((N, H, W) is accepted for C=1).
    The score is the pre-sigmoid logit (see the module docstring). For the feature maps A of
    ``layer_name``: channel weights w_c = spatial mean of d score / d A_c, map = relu(sum_c w_c A_c),
    upsampled bilinearly to (H, W) with ``jax.image.resize`` and divided by its maximum per image,
    so it lies in [0, 1]; an all-zero map stays all zero. Returns float32 (N, H, W).
    """
    _check_model(model)
    x = _prepare_images(model, images)
    fn, args_fn = _grad_cam_fn(model, layer_name)
    return _run_batched(fn, args_fn, x, batch_size)


def _input_grad_fn(model: keras.Model):
    per_model = _CACHE.setdefault(model, {})
    key = ("input_gradients",)
    if key in per_model:
        return per_model[key]
    score_tensor, final = _score_spec(model)
    scorer = model if score_tensor is model.outputs[0] else _sub_model(model.inputs, score_tensor,
                                                                        "its last layer", model)

    def batch_fn(scorer_vars, final_vars, x):
        def score_of(inp):
            z, _ = scorer.stateless_call(scorer_vars[0], scorer_vars[1], inp, training=False)
            return _to_score(z, final_vars)

        scores, vjp = jax.vjp(score_of, x)
        (grads,) = vjp(jnp.ones_like(scores))
        return _normalise(jnp.max(jnp.abs(grads), axis=-1))

    def args_fn():
        return _values(scorer), _final_values(final)

    entry = (jax.jit(batch_fn), args_fn)
    per_model[key] = entry
    return entry


def input_gradients(model: keras.Model, images, batch_size: int = 16) -> np.ndarray:
    """Vanilla gradient saliency (Simonyan et al. 2014): |d score / d input|, max over channels,
    divided by its maximum per image (all-zero stays zero). The score is the pre-sigmoid logit
    (module docstring); the gradient is taken with respect to the float32 cast of the uint8 pixels,
    i.e. before the model's own rescaling. Returns float32 (N, H, W) in [0, 1]."""
    _check_model(model)
    x = _prepare_images(model, images)
    fn, args_fn = _input_grad_fn(model)
    return _run_batched(fn, args_fn, x, batch_size)


# --------------------------------------------------------------------------------------------
# masks and scores
# --------------------------------------------------------------------------------------------
def circle_mask(shape: Sequence[int], lesion_x: float, lesion_y: float, radius: float,
                original_size: int = 1024) -> np.ndarray:
    """Boolean (H, W) mask of a circle given in pixel coordinates of the ``original_size`` film.

    The film's pixel (x, y) (column, row from the top-left) is mapped onto the (H, W) grid; a map
    pixel is inside when its centre, expressed in film pixel coordinates
    (``(j + 0.5) * original_size / W - 0.5`` for column j, likewise for rows), lies within ``radius``
    film pixels of (``lesion_x``, ``lesion_y``). On a non-square grid the circle becomes an ellipse.
    So that a small lesion on a coarse grid is never lost, the map pixel that contains the circle's
    centre is always inside (when the centre lies on the film).
    """
    h, w = (int(s) for s in shape[:2])
    if h < 1 or w < 1:
        raise ValueError(f"shape {tuple(shape)} must be at least 1x1")
    if radius < 0:
        raise ValueError(f"radius={radius} must be >= 0")
    sx, sy = original_size / w, original_size / h
    cols = (np.arange(w) + 0.5) * sx - 0.5
    rows = (np.arange(h) + 0.5) * sy - 0.5
    mask = (rows[:, None] - lesion_y) ** 2 + (cols[None, :] - lesion_x) ** 2 <= float(radius) ** 2
    # the map pixel whose footprint holds the film pixel (lesion_x, lesion_y)
    ci, cj = int(np.floor((lesion_y + 0.5) / sy)), int(np.floor((lesion_x + 0.5) / sx))
    if 0 <= ci < h and 0 <= cj < w:
        mask[ci, cj] = True
    return mask


def lesion_mask(lesions: Iterable, shape: Sequence[int], original_size: int = 1024,
                severity: str | None = "malignant") -> np.ndarray:
    """Union of the :func:`circle_mask` of each ``hdmann.engine.data.Lesion`` whose ``severity`` matches
    (``severity=None`` takes every lesion). All False when none matches."""
    h, w = (int(s) for s in shape[:2])
    mask = np.zeros((h, w), bool)
    for les in lesions:
        if severity is None or les.severity == severity:
            mask |= circle_mask((h, w), les.x, les.y, les.radius, original_size)
    return mask


def _check_pair(saliency_map, mask) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(saliency_map, dtype=np.float64)
    k = np.asarray(mask, dtype=bool)
    if m.shape != k.shape or m.ndim != 2:
        raise ValueError(f"saliency map {m.shape} and mask {k.shape} must be the same 2-D shape")
    if not np.all(np.isfinite(m)):
        raise ValueError("saliency map has non-finite values")
    return m, k


def energy_inside(saliency_map, mask) -> float:
    """Share of the map's mass inside ``mask``: sum(map[mask]) / sum(map), negative values clipped
    to 0 first. Defined as 0.0 when the map sums to 0 (a map with no mass puts none on the lesion)."""
    m, k = _check_pair(saliency_map, mask)
    m = np.clip(m, 0.0, None)
    inside, outside = m[k].sum(), m[~k].sum()  # so that all-inside is exactly 1.0
    if inside + outside <= 0:
        return 0.0
    return float(min(1.0, inside / (inside + outside)))


def pointing_hit(saliency_map, mask) -> bool:
    """Pointing game: is the map's arg-max inside ``mask``? Ties: a hit when any maximal pixel is
    inside. A map whose maximum is <= 0 (e.g. all zero) points nowhere and counts as a miss."""
    m, k = _check_pair(saliency_map, mask)
    peak = m.max()
    if peak <= 0:
        return False
    return bool(np.any(k & (m == peak)))


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------
def bootstrap_mean_ci(values, n_boot: int = 1000, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-film ``values`` and its percentile-bootstrap interval at ``level``.

    A thin wrapper over :func:`hdmann.methods.evaluation.bootstrap_ci` (``np.mean``, ``n_boot`` resamples
    with replacement from ``numpy.random.default_rng(seed)``, the (1-level)/2 and (1+level)/2
    percentiles), so saliency scores and classifier metrics share one bootstrap. Empty input gives
    (nan, nan, nan); non-finite values raise ``ValueError`` rather than being silently averaged.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return (float("nan"),) * 3
    if not np.all(np.isfinite(v)):
        raise ValueError("bootstrap_mean_ci got non-finite values")
    if n_boot < 1:
        raise ValueError(f"n_boot={n_boot} must be >= 1")
    if not 0 < level < 1:
        raise ValueError(f"level={level} must lie in (0, 1)")
    return bootstrap_ci(np.mean, v, n_boot=n_boot, seed=seed, level=level)


# --------------------------------------------------------------------------------------------
# HD-MANN: a single score from a hypervector output, and agreement between two maps
# --------------------------------------------------------------------------------------------
class KeyScore(keras.layers.Layer):
    """Negative squared Euclidean distance from the hypervector to one fixed class key, shape (B, 1).

    HD-MANN has no class logit; it decides by the nearest key, so "evidence for class c" is how
    close the output comes to key c. The score is differentiable everywhere (unlike a Hamming
    distance of thresholded bits), so Grad-CAM and input gradients explain it directly.
    """

    def __init__(self, key, **kwargs):
        super().__init__(**kwargs)
        self.key = np.asarray(key, np.float32).reshape(-1)

    def call(self, h):
        return -keras.ops.sum(keras.ops.square(h - self.key), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)


def hypervector_scorer(model: keras.Model, key) -> keras.Model:
    """``model`` (image -> hypervector) followed by :class:`KeyScore` for ``key``: a single-output
    model that :func:`grad_cam` and :func:`input_gradients` accept, sharing ``model``'s weights."""
    out_dim = int(model.outputs[0].shape[-1])
    if np.asarray(key).size != out_dim:
        raise ValueError(f"key has {np.asarray(key).size} entries; model {model.name!r} outputs {out_dim}")
    return keras.Model(model.inputs, KeyScore(key, name="key_score")(model.outputs[0]),
                       name=f"{model.name}_key_score")


def hypervector_maps(model: keras.Model, images, keys, classes, method: str = "grad_cam",
                     batch_size: int = 16) -> np.ndarray:
    """Saliency of an HD-MANN for each image toward the key ``keys[classes[i]]`` (e.g. the class it
    predicts on the uncompressed image, so that a compressed copy is explained toward the same key)."""
    if method not in ("grad_cam", "input_gradients"):
        raise ValueError(f"method={method!r}: use grad_cam or input_gradients")
    x = np.asarray(images)
    classes = np.asarray(classes)
    if len(classes) != len(x):
        raise ValueError(f"{len(x)} images but {len(classes)} classes")
    out = np.zeros(x.shape[:3], np.float32)
    scorers = _CACHE.setdefault(model, {}).setdefault("key_scorers", {})
    for c in np.unique(classes):
        key = np.asarray(keys[int(c)], np.float32)
        tag = (int(c), key.tobytes())
        if tag not in scorers:
            scorers[tag] = hypervector_scorer(model, key)
        fn = grad_cam if method == "grad_cam" else input_gradients
        out[classes == c] = fn(scorers[tag], x[classes == c], batch_size=batch_size)
    return out


def _check_maps(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"two maps of one (H, W) shape are needed, got {a.shape} and {b.shape}")
    return a.ravel(), b.ravel()


def rank_agreement(a, b) -> float:
    """Spearman rank correlation of two maps' pixels; NaN when either map is constant (no ranking)."""
    from scipy.stats import rankdata

    a, b = _check_maps(a, b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    ra, rb = rankdata(a), rankdata(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def top_overlap(a, b, share: float = 0.10) -> float:
    """Share of the top ``share`` pixels of ``a`` that are also among the top ``share`` of ``b``
    (ties broken by position, the same way in both maps); 1 for identical maps."""
    if not 0 < share <= 1:
        raise ValueError(f"share={share} must lie in (0, 1]")
    a, b = _check_maps(a, b)
    n = max(1, int(round(share * a.size)))
    top_a = np.argsort(-a, kind="stable")[:n]
    top_b = np.argsort(-b, kind="stable")[:n]
    return float(len(np.intersect1d(top_a, top_b)) / n)
