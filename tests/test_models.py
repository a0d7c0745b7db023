"""hdmann.methods.models: Table I of study A, the study-B CNN and ResNet18, all on Keras 3 with JAX."""
from __future__ import annotations

import gc
import os

import pytest

import hdmann  # noqa: F401
import keras

from hdmann.methods import models
from hdmann.studies.study_a.config import study_a_config
from hdmann.studies.study_b.config import study_b_config

# Table I of Barros Everett (180x180 RGB input, D = 500)
TABLE_I = [
    ("Rescaling", "(None, 180, 180, 3)", 0),
    ("Conv2D", "(None, 180, 180, 64)", 1_792),
    ("MaxPooling2D", "(None, 90, 90, 64)", 0),
    ("Conv2D", "(None, 90, 90, 128)", 73_856),
    ("MaxPooling2D", "(None, 45, 45, 128)", 0),
    ("Dropout", "(None, 45, 45, 128)", 0),
    ("Flatten", "(None, 259200)", 0),
    ("Dense", "(None, 1000)", 259_201_000),
    ("Dense", "(None, 500)", 500_500),
]
TABLE_I_TOTAL = 259_777_148


@pytest.fixture(scope="module")
def paper_table():
    """Build the 259M-parameter paper model once (about 1 GB of weights), keep its table, free it."""
    model = models.hdmann_cnn(study_a_config("paper"))
    out = {"table": models.layer_table(model), "total": int(model.count_params()),
           "input": tuple(model.input.shape), "output": tuple(model.output.shape),
           "activation": model.get_layer("hypervector").activation.__name__,
           "has_last_conv": model.get_layer(models.LAST_CONV) is not None}
    del model
    keras.backend.clear_session()
    gc.collect()
    return out


def test_backend_is_jax():
    assert keras.backend.backend() == "jax"
    assert os.environ["KERAS_BACKEND"] == "jax"


def test_wrong_backend_is_refused(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    with pytest.raises(RuntimeError, match="JAX backend"):
        models.mammo_cnn(study_b_config("smoke"))


def test_table_i_parameter_counts(paper_table):
    rows = [r for r in paper_table["table"] if r["layer"] != "InputLayer"]
    assert [r["params"] for r in rows] == [p for _, _, p in TABLE_I]
    assert paper_table["total"] == TABLE_I_TOTAL
    assert sum(r["params"] for r in paper_table["table"]) == TABLE_I_TOTAL


def test_table_i_layer_order_and_shapes(paper_table):
    table = paper_table["table"]
    assert table[0]["layer"] == "InputLayer" and table[0]["output_shape"] == "(None, 180, 180, 3)"
    rows = table[1:]
    assert [r["layer"] for r in rows] == [t for t, _, _ in TABLE_I]
    assert [r["output_shape"] for r in rows] == [s for _, s, _ in TABLE_I]
    assert paper_table["input"] == (None, 180, 180, 3)
    assert paper_table["output"] == (None, 500)
    assert paper_table["activation"] == "linear"
    assert paper_table["has_last_conv"]


def test_hdmann_cnn_follows_the_config():
    cfg = study_a_config("smoke", image_size=16, conv_filters=(4, 8), dense_units=32, hypervector_dim=64,
                         output_activation="sigmoid", dropout_rate=0.25)
    model = models.hdmann_cnn(cfg)
    table = models.layer_table(model)
    assert [r["output_shape"] for r in table][-4:] == ["(None, 4, 4, 8)", "(None, 128)", "(None, 32)", "(None, 64)"]
    assert model.get_layer("conv1").filters == 4 and model.get_layer(models.LAST_CONV).filters == 8
    assert model.get_layer("dropout").rate == 0.25
    assert model.get_layer("hypervector").activation.__name__ == "sigmoid"


def test_mammo_cnn():
    cfg = study_b_config("smoke", films={"input_size": 32})
    model = models.mammo_cnn(cfg)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 3
    assert kinds.count("Dense") == 3
    assert kinds.count("MaxPooling2D") == 3
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [*cfg.dense_units, 1]
    assert dense[-1].activation.__name__ == "sigmoid"
    assert [d.activation.__name__ for d in dense[:-1]] == ["relu", "relu"]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == list(cfg.conv_filters)
    assert convs[-1].name == models.LAST_CONV
    assert tuple(model.input.shape) == (None, 32, 32, 1)
    assert tuple(model.output.shape) == (None, 1)


def test_resnet18():
    cfg = study_b_config("smoke", films={"input_size": 32})
    model = models.resnet18(cfg)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    # stem + 8 basic blocks x 2 + three 1x1 downsampling shortcuts (stages 2-4)
    assert len(convs) == 1 + 16 + 3 == 20
    assert convs[0].name == "stem_conv" and convs[0].kernel_size == (7, 7)
    downs = [c for c in convs if c.name.endswith("_down")]
    assert [c.kernel_size for c in downs] == [(1, 1)] * 3
    assert [c.filters for c in downs] == [128, 256, 512]
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == 8
    assert tuple(model.input.shape) == (None, 32, 32, 1)
    assert tuple(model.output.shape) == (None, 1)
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert model.get_layer(models.LAST_CONV).output.shape[-1] == 512
    # about 11.2 M parameters, as ResNet18 without its 1000-way head
    assert 11_100_000 < model.count_params() < 11_300_000


def test_resnet18_bad_weights_file(tmp_path):
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"not an HDF5 file")
    with pytest.raises(ValueError, match="cannot load ResNet18 weights"):
        models.resnet18(study_b_config("smoke", films={"input_size": 32}), str(bad))


def test_layer_table_rows():
    model = models.mammo_cnn(study_b_config("smoke", films={"input_size": 32}))
    table = models.layer_table(model)
    assert [r["name"] for r in table] == [layer.name for layer in model.layers]
    assert sum(r["params"] for r in table) == model.count_params()
    assert all(r["output_shape"].startswith("(None, ") for r in table)


def test_max_pooling_is_keras_max_pooling_with_a_cheaper_gradient(tmp_path):
    """The 2x2 reshape-and-max path gives Keras's output, and on inputs without ties its gradient;
    other shapes fall back to Keras; a saved model loads back with the layer."""
    import jax
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 8, 6, 4)).astype("float32")  # continuous values: no ties in a window
    ours, theirs = models.MaxPooling2D(), keras.layers.MaxPooling2D()
    assert np.array_equal(np.asarray(ours(x)), np.asarray(theirs(x)))
    grad = [np.asarray(jax.grad(lambda v, layer=layer: (layer(v) ** 2).sum())(x)) for layer in (ours, theirs)]
    assert np.array_equal(grad[0], grad[1])
    odd = rng.normal(size=(2, 7, 5, 3)).astype("float32")
    assert np.array_equal(np.asarray(ours(odd)), np.asarray(theirs(odd)))
    wide = models.MaxPooling2D(3, strides=2, padding="same")
    assert np.array_equal(np.asarray(wide(x)), np.asarray(keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)))
    model = models.hdmann_cnn(study_a_config("smoke"))
    assert isinstance(model.get_layer("pool1"), models.MaxPooling2D)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    image = rng.uniform(0, 255, (2, *model.input_shape[1:])).astype("float32")
    assert isinstance(again.get_layer("pool2"), models.MaxPooling2D)
    assert np.allclose(model.predict(image, verbose=0), again.predict(image, verbose=0))
