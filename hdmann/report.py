"""Gluing run results into the book's prose (MyST-NB ``glue``), in a form it can format."""
from __future__ import annotations

import numpy as np


def plain(value):
    """NumPy scalars become Python numbers: MyST-NB formats ``{glue:text}`x:.3f``` from the text repr."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue(name: str, value) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}``/``{glue:figure}``, without displaying it here."""
    import matplotlib.pyplot as plt
    from myst_nb import glue as myst_glue

    myst_glue(name, plain(value), display=False)
    if isinstance(value, plt.Figure):
        plt.close(value)  # the glued copy is kept; the live figure would pile up in memory
