"""Training, the one loop every study uses: seeded ``fit()`` with early stopping, offline augmentation and
leak-free splits (Study A, the whole films); fixed budgets on augmented batches with learning-rate schedules,
class weights, a health check and retries from the next derived seed (the patches)."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import hdmann  # noqa: F401  (pins KERAS_BACKEND=jax)
import keras
import numpy as np
from sklearn.model_selection import train_test_split

from hdmann.engine import compute, progress
from hdmann.methods import evaluation


@contextlib.contextmanager
def seeded(seed: int):
    """``keras.utils.set_random_seed(seed)``, and inside the block a private generator for Keras's
    default layer seeds.

    Keras draws the seed of every initializer and layer built without one from Python's
    process-wide ``random``. In a Dask worker other threads draw from it too, between the seeding
    and the model's construction, so the same stage trained on a worker and locally started from
    different weights. Inside the block those seeds come from ``random.Random(seed)`` alone; after
    it Keras draws from Python's ``random`` again, so code that seeds Keras itself is unaffected.
    """
    import random

    from keras.src.random import seed_generator

    compute.start_jax()  # before the seeding makes JAX's first array
    keras.utils.set_random_seed(seed)
    previous = seed_generator.python_random
    seed_generator.python_random = random.Random(seed)
    try:
        yield
    finally:
        seed_generator.python_random = previous


@dataclass
class Split:
    """Train and validation parts; ``*_source`` is the index of the original image each sample came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    source_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    source_val: np.ndarray


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int,
                     groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation indices; with ``groups`` (e.g. identical images), every group
    lands on one side: the split is drawn over one representative per group, stratified by its label."""
    if groups is None:
        index = np.arange(len(labels))
        train, val = train_test_split(index, test_size=val_fraction, stratify=labels, random_state=seed)
        return np.sort(train), np.sort(val)
    groups = np.asarray(groups)
    if len(groups) != len(labels):
        raise ValueError(f"groups has {len(groups)} entries for {len(labels)} labels")
    _, first = np.unique(groups, return_index=True)
    first = np.sort(first)
    rep_train, _ = stratified_split(labels[first], val_fraction, seed)
    in_train = np.isin(groups, groups[first[rep_train]])
    return np.flatnonzero(in_train), np.flatnonzero(~in_train)


def augmenter(rotation: float, zoom: float, flip: str, seed: int) -> keras.Sequential:
    """Random rotation, zoom and flip, as Keras preprocessing layers (the paper's Keras recipe)."""
    steps = []
    if flip != "none":
        steps.append(keras.layers.RandomFlip(flip, seed=seed))
    if rotation > 0:
        steps.append(keras.layers.RandomRotation(rotation, fill_mode="reflect", seed=seed + 1))
    if zoom > 0:
        steps.append(keras.layers.RandomZoom((-zoom, zoom), fill_mode="reflect", seed=seed + 2))
    return keras.Sequential(steps, name="augment")


def augment_to(images: np.ndarray, labels: np.ndarray, per_class: int, *, rotation: float, zoom: float,
               flip: str, seed: int, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top each class up to ``per_class`` samples with augmented copies of its own images.

    Originals are all kept (a class that already has ``per_class`` images gets no copies).
    Returns images, labels and, for each sample, the index of its original in ``images``.
    """
    rng = np.random.default_rng(seed)
    compute.start_jax()
    keras.utils.set_random_seed(seed)
    aug = augmenter(rotation, zoom, flip, seed)
    sources = [np.arange(len(labels))]
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        extra = per_class - len(members)
        if extra > 0:
            cycles = -(-extra // len(members))
            order = np.concatenate([rng.permutation(members) for _ in range(cycles)])[:extra]
            sources.append(order)
    source = np.concatenate(sources)
    copies = source[len(labels):]
    out = [images]
    for start in range(0, len(copies), batch_size):
        batch = images[copies[start:start + batch_size]].astype("float32")
        moved = keras.ops.convert_to_numpy(aug(batch, training=True))
        out.append(np.clip(np.rint(moved), 0, 255).astype(np.uint8))
    return np.concatenate(out), labels[source], source


def augmented_split(images: np.ndarray, labels: np.ndarray, *, per_class: int, val_fraction: float,
                    paper_order: bool, split_seed: int, augment_seed: int, rotation: float, zoom: float,
                    flip: str, groups: np.ndarray | None = None) -> Split:
    """Split, then augment the training part only; or, with ``paper_order``, the paper's literal
    order (augment to ``per_class``, then split), which lets copies of one image sit on both sides.
    ``groups`` (identical images share one) keeps each group on one side of the default split."""
    kw = dict(rotation=rotation, zoom=zoom, flip=flip, seed=augment_seed)
    if paper_order:
        x, y, src = augment_to(images, labels, per_class, **kw)
        tr, va = stratified_split(y, val_fraction, split_seed)
        return Split(x[tr], y[tr], src[tr], x[va], y[va], src[va])
    tr, va = stratified_split(labels, val_fraction, split_seed, groups)
    train_per_class = int(round(per_class * (1 - val_fraction)))
    x, y, src = augment_to(images[tr], labels[tr], train_per_class, **kw)
    return Split(x, y, tr[src], images[va], labels[va], va)


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """``model.predict`` on batches of one shape (zero rows pad the last), so it compiles once."""
    return model.predict(_pad_rows(x, batch_size), batch_size=batch_size, verbose=0)[: len(x)]


class EpochTimer(keras.callbacks.Callback):
    """Wall and CPU seconds of each epoch. CPU seconds (every thread of this process) say what an
    epoch costs even when other work shares the machine, as stages built side by side do."""

    def on_train_begin(self, logs=None):
        self.seconds, self.cpu_seconds = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._cpu = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        self.cpu_seconds.append(time.process_time() - self._cpu)


class EpochLog(keras.callbacks.Callback):
    """Epoch progress (``label: epoch 3/20 · loss 0.712 · val_loss 0.803 · 4.1 s``) through
    :func:`hdmann.engine.progress.emit`: the book runner shows it in its log, never in the page. One line
    per epoch, except that epochs shorter than ``every_s`` are summed up by the next line (a run of
    many sub-second epochs gives a few lines, always its last)."""

    def __init__(self, label: str, epochs: int, every_s: float = 5.0):
        super().__init__()
        self.label, self.epochs, self.every_s = label, epochs, every_s

    def on_train_begin(self, logs=None):
        self._since = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        last = epoch + 1 >= self.epochs or bool(getattr(self.model, "stop_training", False))
        if not last and now - self._since < self.every_s:
            return
        self._since = now
        metrics = " · ".join(f"{k} {float(v):.4g}" for k, v in (logs or {}).items() if k in ("loss", "val_loss"))
        stopped = " (early stop)" if last and epoch + 1 < self.epochs else ""
        progress.emit(f"{self.label}: epoch {epoch + 1}/{self.epochs}{stopped} · {metrics} · {now - self._start:.1f} s")


def _pad_rows(x: np.ndarray, multiple: int) -> np.ndarray:
    extra = (-len(x)) % multiple
    return np.concatenate([x, np.zeros((extra, *x.shape[1:]), x.dtype)]) if extra else x


def fit(model: keras.Model, x_train, y_train, x_val, y_val, *, batch_size: int, max_epochs: int,
        patience: int, seed: int, class_weight: dict | None = None, fixed_shapes: bool = False,
        label: str | None = None) -> dict:
    """Seeded ``fit()`` with early stopping on validation loss (best weights restored).

    ``fixed_shapes`` makes every batch full so JAX compiles the train and validation steps once,
    whatever the set sizes (many folds): the training set is topped up with a seeded draw of its
    own samples, the validation set with zero-weight rows that add nothing to the loss ranking.
    ``label`` names the run in the progress lines (default: the model's name).
    """
    with seeded(seed):
        validation = (x_val, y_val)
        if fixed_shapes:
            rng = np.random.default_rng(seed)
            extra = (-len(x_train)) % batch_size
            top_up = np.concatenate([np.arange(len(x_train)), rng.choice(len(x_train), extra, replace=extra > len(x_train))])
            x_train, y_train = x_train[top_up], y_train[top_up]
            weight = _pad_rows(np.ones(len(x_val), np.float32), batch_size)
            validation = (_pad_rows(x_val, batch_size), _pad_rows(y_val, batch_size), weight)
        timer = EpochTimer()
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        history = model.fit(x_train, y_train, validation_data=validation, batch_size=batch_size,
                            epochs=max_epochs, callbacks=[stop, timer, EpochLog(label or model.name, max_epochs)], class_weight=class_weight,
                            shuffle=True, verbose=0)
        hist = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        best = int(np.argmin(hist["val_loss"])) if hist.get("val_loss") else len(hist["loss"]) - 1
        return {"history": hist, "epochs_run": len(hist["loss"]), "best_epoch": best + 1,
                "epoch_seconds": timer.seconds, "epoch_cpu_seconds": timer.cpu_seconds}


class ReusableModel:
    """One compiled model reset to the same initial state before each training run.

    Many small runs (folds x compression ratios) then share one compiled train step instead of
    tracing a new one each, and every run starts from identical weights, optimizer state and
    random-generator state whatever order the runs happen in (so a resumed run matches).
    """

    def __init__(self, build, loss: str, optimizer: keras.optimizers.Optimizer, seed: int,
                 metrics=None) -> None:
        with seeded(seed):
            self.model = build()
            self.model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
            self.model.optimizer.build(self.model.trainable_variables)
            # Keras builds its compiled loss on the first fit() from one batch of the shuffled data,
            # which draws one extra permutation; building it here keeps every run's shuffling the same.
            self.model.evaluate(np.zeros((1, *self.model.input_shape[1:]), "float32"),
                                np.zeros((1, *self.model.output_shape[1:]), "float32"), verbose=0)
            self._initial = [v.numpy().copy() for v in self.model.variables]
            self._opt_initial = [v.numpy().copy() for v in self.model.optimizer.variables]

    def reset(self) -> keras.Model:
        for v, value in zip(self.model.variables, self._initial):
            v.assign(value)
        for v, value in zip(self.model.optimizer.variables, self._opt_initial):
            v.assign(value)
        return self.model


def class_weights(y: np.ndarray) -> dict[int, float]:
    """Inverse-frequency weights (sklearn's 'balanced'), so the rare class counts as much in the loss."""
    y = np.asarray(y).astype(int).ravel()
    counts = np.bincount(y, minlength=2)
    return {c: float(len(y) / (len(counts) * max(n, 1))) for c, n in enumerate(counts)}


# ------------------------------------------------------------------------------------------------
# fixed-budget training on augmented batches, with a health check and retries
# ------------------------------------------------------------------------------------------------
class AugmentedBatches(keras.utils.PyDataset):
    """Training batches of ``size`` x ``size`` views of ``cuts`` (N, C, C; C - size is the shift
    margin): a random shift inside the margin, a 90-degree turn and a left-right flip, drawn anew each
    epoch from ``seed``; ``transform`` turns a batch into model input. Every batch is full (the order
    is topped up with a seeded draw), so JAX compiles the train step once."""

    def __init__(self, cuts: np.ndarray, y: np.ndarray, size: int, batch_size: int, seed: int, transform):
        super().__init__()
        self.cuts, self.y, self.size, self.batch_size, self.transform = cuts, y, size, batch_size, transform
        self.rng = np.random.default_rng(seed)
        self.order = self._order()

    def _order(self) -> np.ndarray:
        n = len(self.y)
        extra = (-n) % self.batch_size
        return np.concatenate([self.rng.permutation(n), self.rng.choice(n, extra, replace=extra > n)])

    def __len__(self) -> int:
        return len(self.order) // self.batch_size

    def on_epoch_end(self) -> None:
        self.order = self._order()

    def __getitem__(self, b: int):
        idx = self.order[b * self.batch_size:(b + 1) * self.batch_size]
        margin, s = self.cuts.shape[-1] - self.size, self.size
        out = np.empty((len(idx), s, s), np.float32)
        for j, i in enumerate(idx):
            dy, dx = self.rng.integers(0, margin + 1, 2)
            view = np.rot90(self.cuts[i, dy:dy + s, dx:dx + s], int(self.rng.integers(4)))
            out[j] = view[:, ::-1] if self.rng.random() < 0.5 else view
        return self.transform(out), self.y[idx].astype(np.float32)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Batches of :class:`AugmentedBatches` per epoch (the last one topped up to a full batch)."""
    return -(-n_train // batch_size)


def adam(rate: float, weight_decay: float = 0.0, schedule: str = "constant", steps: int = 1):
    """Adam with decoupled weight decay (0: none); under ``schedule="cosine"`` the rate falls from
    ``rate`` to 0 along a cosine over ``steps`` optimizer steps."""
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=max(1, steps), alpha=0.0)
    elif schedule != "constant":
        raise ValueError(f"schedule={schedule!r}: use constant or cosine")
    return keras.optimizers.Adam(rate, weight_decay=weight_decay or None)


@dataclass(frozen=True)
class ShiftedSet:
    """A training set of patches cut with a shift margin, and how they become model input: what
    :func:`fit_healthy` trains on (augmented batches) and checks a model against (the centred views)."""

    cuts: np.ndarray
    y: np.ndarray
    size: int
    batch_size: int
    transform: object  # (N, size, size) float32 -> model input

    def batches(self, seed: int) -> AugmentedBatches:
        return AugmentedBatches(self.cuts, self.y, self.size, self.batch_size, seed, self.transform)

    def centred(self) -> np.ndarray:
        m = (self.cuts.shape[-1] - self.size) // 2
        return self.transform(self.cuts[..., m:m + self.size, m:m + self.size])


class Starts:
    """The starting point of each attempt of a run's fold models: one compiled
    :class:`ReusableModel` per retry (made when first needed), from ``seeds(retry)``, so that every
    fold's attempt ``retry`` starts from the same weights and shares one compiled train step."""

    def __init__(self, build, optimizer, seeds, loss: str = "binary_crossentropy"):
        self.build, self.optimizer, self.seeds, self.loss = build, optimizer, seeds, loss
        self._models: dict[int, ReusableModel] = {}

    def reset(self, retry: int = 0) -> keras.Model:
        if retry not in self._models:
            self._models[retry] = ReusableModel(self.build, self.loss, self.optimizer(), self.seeds(retry))
        return self._models[retry].reset()

    def count_params(self) -> int:
        return self.reset(0).count_params()


def fit_fixed(model: keras.Model, batches, *, epochs: int, seed: int, class_weight: dict | None = None,
              label: str = "model") -> dict:
    """Seeded ``fit()`` of ``model`` on ``batches`` for a fixed budget of ``epochs`` (no early stopping):
    the seed, the training loss of each epoch and each epoch's seconds."""
    with seeded(seed):
        timer = EpochTimer()
        history = model.fit(batches, epochs=epochs, class_weight=class_weight, verbose=0,
                            callbacks=[timer, EpochLog(label, epochs)])
    return {"seed": seed, "loss": [float(v) for v in history.history["loss"]], "epoch_seconds": timer.seconds}


def fold_health(train_auroc: float, losses, min_train_auroc: float) -> tuple[bool, str]:
    """Did a fold model learn? Not when its training loss is not finite (diverged), nor when it
    cannot rank its own training patches (seen as a test patch is): an AUROC below
    ``min_train_auroc``, or undefined, is a collapsed or constant output. (True, "learned") or
    (False, why)."""
    losses = np.asarray(losses, dtype=float)
    if losses.size == 0 or not np.all(np.isfinite(losses)):
        return False, "its training loss is not finite (diverged)"
    if not np.isfinite(train_auroc):
        return False, "its training AUROC is undefined"
    if train_auroc < min_train_auroc:
        return False, (f"it ranks its own training patches at AUROC {train_auroc:.2f}, below {min_train_auroc:g} "
                       f"(final training loss {losses[-1]:.2f}): a collapsed or constant output")
    return True, "learned"


def fit_until_healthy(attempt, retries: int, min_train_auroc: float, label: str = "fold"):
    """``attempt(retry)`` -> (model, record) trains a fold model from retry ``retry``'s seed; it is
    called again, up to ``retries`` times, while :func:`fold_health` says the model did not learn.
    Returns the first healthy model (or the last one, when none learned) with its record, marked
    ``healthy`` and ``retries``, and every attempt's record. Each retry is logged."""
    tries = []
    for retry in range(retries + 1):
        model, record = attempt(retry)
        healthy, why = fold_health(record["train_auroc"], record["loss"], min_train_auroc)
        tries.append({"retry": retry, "seed": record.get("seed"), "train_auroc": record["train_auroc"],
                      "final_loss": record["loss"][-1] if record["loss"] else float("nan"),
                      "healthy": healthy, "why": why})
        if healthy:
            break
        progress.emit(f"{label}: did not learn ({why}); "
                      + ("retraining from the next seed" if retry < retries else
                         f"kept after {retries} retr{'y' if retries == 1 else 'ies'}, and named in the chapter"))
    return model, {**record, "healthy": healthy, "retries": len(tries) - 1}, tries


def fit_healthy(starts: Starts, data: ShiftedSet, *, epochs: int, seeds, retries: int, min_train_auroc: float,
                label: str, batch_size: int = 64):
    """Trains a fold model on ``data`` for ``epochs`` (class-weighted, augmented batches) from
    ``starts``; a model that did not learn (:func:`fold_health` on its own training patches) is
    trained again from the next retry's seed (``seeds(retry)``), up to ``retries`` times. Returns
    :func:`fit_until_healthy`'s (model, record, tries); the record adds ``train_auroc``."""
    weights = class_weights(data.y)

    def attempt(retry: int):
        model = starts.reset(retry)
        seed = seeds(retry)
        record = fit_fixed(model, data.batches(seed), epochs=epochs, seed=seed, class_weight=weights,
                           label=label + (f", retry {retry}" if retry else ""))
        seen = predict(model, data.centred(), batch_size).ravel()
        return model, {**record, "train_auroc": evaluation.auroc(data.y, seen)}

    return fit_until_healthy(attempt, retries, min_train_auroc, label)
