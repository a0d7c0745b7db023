"""Every seed a training run draws, derived by name from one base seed.

A seed says what it is for (``purpose``) and where it is used (``fold``, ``repeat``, ``retry``); two
different uses never share a seed, and no module adds its own offsets to a base seed. The
derivation hashes its arguments, so adding a purpose or a fold changes no other seed.
"""
from __future__ import annotations

import hashlib

PURPOSES = (
    "fold_split",     # which patients land in which cross-validation fold
    "inner_split",    # the inner validation split of a training fold
    "selection",      # the inner-split model selection's training runs
    "train",          # a fold model's weights, shuffling and augmentation
    "features",       # the hand-made-feature baseline's fit
    # a run's initial weights: its folds start from one compiled model (one per retry), so the
    # start is drawn once per run, apart from each fold's shuffling and augmentation ("train")
    "init",
    "selection_init",  # the same for the inner-split selection's runs
)


def derive(base: int, purpose: str, *, fold: int = 0, repeat: int = 0, retry: int = 0) -> int:
    """The seed for ``purpose`` in fold ``fold`` of repeat ``repeat`` after ``retry`` retries."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown seed purpose {purpose!r}: add it to hdmann.methods.seeds.PURPOSES "
                         f"(known: {', '.join(PURPOSES)})")
    for name, value in (("base", base), ("fold", fold), ("repeat", repeat), ("retry", retry)):
        if int(value) != value or value < 0:
            raise ValueError(f"seed {name} must be a whole number >= 0, got {value!r}")
    text = f"{int(base)}/{purpose}/{int(fold)}/{int(repeat)}/{int(retry)}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big") % (2 ** 31 - 1)
