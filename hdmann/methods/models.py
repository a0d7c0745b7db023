"""Keras functional models: HD-MANN (study A, Table I), the 3-conv/3-FC CNN and ResNet18 (study B)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import hdmann  # noqa: F401  (pins KERAS_BACKEND=jax before keras is imported)
import keras
from keras import layers

from hdmann.engine import compute

if TYPE_CHECKING:  # the studies' configs name the fields a model reads; methods never import a study
    from hdmann.studies.study_a.config import StudyAConfig
    from hdmann.studies.study_b.config import StudyBConfig

LAST_CONV = "last_conv"


@keras.saving.register_keras_serializable(package="hdmann")
class MaxPooling2D(layers.MaxPooling2D):
    """Keras's ``MaxPooling2D``, the same layer and output, with the common 2x2 / stride 2 / valid
    case computed as a reshape and a max over the two window axes.

    Why: on the CPU, XLA differentiates ``reduce_window`` max pooling with a select-and-scatter that
    took ~40 % of a training step of the patch CNN (5.1 s against 3.5 s an epoch, measured); the
    reduction's gradient is an elementwise mask. The forward pass is identical; only an exact tie
    inside a window shares its gradient among the tied inputs instead of giving it to one (after a
    ReLU the common tie is at 0, whose gradient the ReLU zeroes anyway)."""

    def call(self, inputs):
        shape = inputs.shape
        simple = (tuple(self.pool_size) == (2, 2) and tuple(self.strides) == (2, 2) and self.padding == "valid"
                  and self.data_format == "channels_last" and len(shape) == 4
                  and shape[1] is not None and shape[2] is not None and shape[1] % 2 == 0 and shape[2] % 2 == 0)
        if not simple:
            return super().call(inputs)
        h, w, c = shape[1], shape[2], shape[3]
        return keras.ops.max(keras.ops.reshape(inputs, (-1, h // 2, 2, w // 2, 2, c)), axis=(2, 4))


def _check_backend() -> None:
    """JAX under Keras, started on one XLA thread (:mod:`hdmann.engine.compute`) before any model exists."""
    if keras.backend.backend() != "jax":
        raise RuntimeError(f"Keras runs on {keras.backend.backend()!r}, but hdmann needs the JAX backend: "
                           "import hdmann before keras, or set KERAS_BACKEND=jax.")
    compute.start_jax()


def load(path: str | Path) -> keras.Model:
    """A saved model. Saved models name hdmann's own layers (``hdmann>MaxPooling2D``), which Keras
    finds only once this module is imported: every load goes through here, so a fresh process that
    only reads a cached model (a stage's worker, a notebook kernel) finds them."""
    _check_backend()
    return keras.saving.load_model(Path(path))


def hdmann_cnn(cfg: StudyAConfig) -> keras.Model:
    """Table I of Barros Everett: a plain CNN whose output is a D-dimensional hypervector."""
    _check_backend()
    s = cfg.image_size
    inputs = keras.Input((s, s, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    x = layers.Conv2D(cfg.conv_filters[0], 3, padding="same", activation="relu", name="conv1")(x)
    x = MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(cfg.conv_filters[1], 3, padding="same", activation="relu", name=LAST_CONV)(x)
    x = MaxPooling2D(name="pool2")(x)
    x = layers.Dropout(cfg.dropout_rate, name="dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(cfg.dense_units, activation="relu", name="dense")(x)
    outputs = layers.Dense(cfg.hypervector_dim, activation=cfg.output_activation, name="hypervector")(x)
    return keras.Model(inputs, outputs, name="hd_mann")


def mammo_cnn(cfg: StudyBConfig, head: str = "flatten", batchnorm: bool = False, size: int | None = None) -> keras.Model:
    """Three conv blocks and three fully connected layers, sigmoid output (Jo et al. 2021).

    ``head="gap"`` averages the last feature maps over space before the dense layers instead of
    flattening them: far fewer weights (64 x 128 instead of 12 x 12 x 64 x 128 at 96 px), for
    training sets of a few hundred patches. ``batchnorm`` puts a BatchNormalization between each
    convolution and its ReLU (same shape, a few hundred more weights): it recentres the inputs of
    every block, so a small network trains in few steps. The layer named ``last_conv`` is always the
    last block's ReLU output, the map Grad-CAM reads. ``size``: the input side (None: the films' input
    size; the patch design passes its patch size)."""
    _check_backend()
    if head not in ("flatten", "gap"):
        raise ValueError(f"head={head!r}: use flatten or gap")
    s = size or cfg.films.input_size
    inputs = keras.Input((s, s, 1), name="film")
    x = layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    for i, filters in enumerate(cfg.conv_filters):
        name = LAST_CONV if i == len(cfg.conv_filters) - 1 else f"conv{i + 1}"
        if batchnorm:
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i + 1}_linear")(x)
            x = layers.BatchNormalization(momentum=cfg.batchnorm_momentum, name=f"bn{i + 1}")(x)
            x = layers.ReLU(name=name)(x)
        else:
            x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)
        x = MaxPooling2D(name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x) if head == "flatten" else layers.GlobalAveragePooling2D(name="gap")(x)
    for i, units in enumerate(cfg.dense_units):
        x = layers.Dense(units, activation="relu", name=f"fc{i + 1}")(x)
        x = layers.Dropout(cfg.dropout_rate, name=f"dropout{i + 1}")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="malignant")(x)
    return keras.Model(inputs, outputs, name="mammo_cnn")


def _basic_block(x, filters: int, stride: int, name: str, momentum: float):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn2")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_down")(shortcut)
        shortcut = layers.BatchNormalization(momentum=momentum, name=f"{name}_down_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def resnet18(cfg: StudyBConfig, weights: str | None = None, size: int | None = None) -> keras.Model:
    """ResNet18 (He et al. 2016) with a sigmoid head; grey films are repeated to three channels
    so that ImageNet-style weights, when a user supplies them, fit the first convolution. ``size``:
    the input side (None: the films' input size)."""
    _check_backend()
    s = size or cfg.films.input_size
    inputs = keras.Input((s, s, 1), name="film")
    x = layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    x = layers.Concatenate(name="to_rgb")([x, x, x])
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(momentum=cfg.batchnorm_momentum, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, stride, f"stage{stage + 1}_block{block + 1}", cfg.batchnorm_momentum)
    x = layers.Identity(name=LAST_CONV)(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="malignant")(x)
    model = keras.Model(inputs, outputs, name="resnet18")
    if weights:
        try:
            model.load_weights(weights, skip_mismatch=True)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load ResNet18 weights from {weights!r} ({exc}); give a .weights.h5 "
                             "saved from hdmann.methods.models.resnet18 or leave resnet_weights unset to train "
                             "from scratch.") from exc
    return model


def layer_table(model: keras.Model) -> list[dict]:
    """The rows of ``model.summary()`` as data, for a table rendered from the real model."""
    rows = []
    for layer in model.layers:
        shape = layer.output.shape
        rows.append({"layer": type(layer).__name__, "name": layer.name,
                     "output_shape": "(None, " + ", ".join(str(d) for d in shape[1:]) + ")",
                     "params": int(layer.count_params())})
    return rows
