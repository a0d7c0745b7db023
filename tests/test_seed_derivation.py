"""Seeds derived by name: stable, distinct for every use, and refused for an unknown purpose."""
from __future__ import annotations

import pytest

from hdmann.methods import seeds


def test_derived_seeds_differ_by_every_argument_and_are_stable():
    base = seeds.derive(1, "train")
    assert base == seeds.derive(1, "train", fold=0, repeat=0, retry=0) == 785_793_556  # a change re-seeds every model
    others = {seeds.derive(1, "train", fold=1), seeds.derive(1, "train", repeat=1), seeds.derive(1, "train", retry=1),
              seeds.derive(2, "train"), seeds.derive(1, "fold_split")}
    assert base not in others and len(others) == 5
    assert all(0 <= s < 2 ** 31 - 1 for s in others | {base})


def test_an_unknown_seed_purpose_names_the_known_ones():
    with pytest.raises(ValueError, match="known: fold_split"):
        seeds.derive(1, "trian")
    with pytest.raises(ValueError, match="whole number"):
        seeds.derive(1, "train", fold=-1)
