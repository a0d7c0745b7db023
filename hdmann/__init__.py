"""hdmann: what lossy compression does to what CNNs learn from medical images.

The package pins Keras to the JAX backend before anything can import Keras, so every
entry point (notebooks, tests, the command line) trains and predicts the same way.
"""
import os

os.environ["KERAS_BACKEND"] = "jax"

__version__ = "0.1.0"
