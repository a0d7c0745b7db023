"""Every figure of the book, drawn from synthetic rows as its chapter passes them, checked for what a
reader stumbles on: a figure wider than the text column (shrunk on the page), text under the smallest
legible size, tick labels that run into each other, fractional epochs, legend entries for series that
were never drawn, heatmaps without a labelled colour bar, and class names cut short."""
from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hdmann.engine import codecs as codec_lib, data  # noqa: E402
from hdmann.methods import plotting  # noqa: E402
from hdmann.studies.codecs import figures as codec_figures, report as codec_report  # noqa: E402
from hdmann.studies.foundations import figures as foundation_figures  # noqa: E402
from hdmann.studies.seeds import figures as seed_figures  # noqa: E402
from hdmann.studies.study_a import figures as a_figures  # noqa: E402
from hdmann.studies.study_a_beyond import figures as beyond_figures  # noqa: E402
from hdmann.studies.study_b import control_report, figures as b_figures  # noqa: E402

RNG = np.random.default_rng(0)
LEVELS = ["original", "q50", "q20", "q10", "q5", "q3", "q1"]
CODECS = ["jpeg420", "jpeg444", "jpeg2000", "webp", "avif", "jxl"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- synthetic inputs, shaped as the chapters pass them -------------------------------------------------

def _curve(lo: float, hi: float, settings: int = 5, codecs=CODECS) -> dict:
    """A codec chapter curve: per codec points over [lo, hi] bpp with an interval, and originals."""
    curve = {"original": {"value": 0.7, "low": 0.62, "high": 0.78, "n": 100}}
    for k, codec in enumerate(codecs):
        bpp = np.geomspace(lo * (1 + 0.03 * k), hi * (1 - 0.02 * k), settings)
        value = 0.7 - 0.3 * np.exp(-bpp / lo) + 0.01 * k
        curve[codec] = [{"bpp": b, "bytes": b * 180 * 180 / 8, "value": v, "low": v - 0.08, "high": v + 0.06,
                         "psnr": 25 + 3 * np.log(b), "ssim": min(0.99, 0.6 + 0.1 * b)} for b, v in zip(bpp, value)]
    return curve


def _accuracy_rows():
    return [{"split": split, "level": lv, "quality": None if lv == "original" else int(lv[1:]),
             "accuracy": a, "ci_low": a - 0.05, "ci_high": a + 0.05}
            for split in ("val", "test") for lv, a in zip(LEVELS, np.linspace(0.75, 0.3, len(LEVELS)))]


def _performance(levels, values):
    return [{"level": lv, "pooled_auroc": v, "auroc_low": v - 0.05, "auroc_high": v + 0.05, "auprc": v - 0.3,
             "auprc_sd": 0.05} for lv, v in zip(levels, values)]


B_LEVELS = ["original", "cr15", "cr100", "cr1000", "cr5000", "cr11000"]
MANY_B = ["original"] + [f"cr{r}" for r in (15, 20, 25, 50, 100, 500, 1000, 5000, 10000, 11000)]
B_RATIOS = {"original": 1.0, "cr15": 15.2, "cr100": 99.0, "cr1000": 980.0, "cr5000": 3900.0, "cr11000": 4100.0}


def _catalogue():
    """(name, function, args) for every figure function the chapters call."""
    isic = [RNG.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
    films = [RNG.integers(0, 255, (128, 128), dtype=np.uint8) for _ in range(4)]
    lesion = data.Lesion(x=500, y=400, radius=60, severity="malignant", abnormality="CIRC")
    confusion = {lv: RNG.integers(0, 40, (4, 4)) for lv in LEVELS}
    labels = np.repeat(np.arange(4), 10)
    drift = [{"level": lv, "rms_distance": 0.1 * i, "rms_low": 0.1 * i - 0.02, "rms_high": 0.1 * i + 0.02,
              "key_changed": 0.05 * i, "changed_low": 0.05 * i - 0.01, "changed_high": 0.05 * i + 0.01}
             for i, lv in enumerate(["flipped"] + LEVELS)]
    saliency = [{"method": m, "level": lv, "rank_corr": 1 - 0.1 * i, "rank_low": 0.9 - 0.1 * i, "rank_high": 1.0 - 0.1 * i,
                 "top_overlap": 1 - 0.1 * i, "top_low": 0.9 - 0.1 * i, "top_high": 1.0 - 0.1 * i}
                for m in ("grad_cam", "input_gradients") for i, lv in enumerate(["flipped"] + LEVELS)]
    addition = [{"source": src, "class": cls, "method": m, "level": lv, "k": k, "new_accuracy": 0.5, "old_accuracy": 0.7}
                for src, cls in (("isic-other", "dermatofibroma"), ("isic-other", "vascular_lesion"),
                                 ("leave-one-out", "melanoma"))
                for m in ("mean-l2", "majority-hamming", "probe") for lv in ("original", "q5")
                for k in ("1", "5", "all (40)")]
    selective = [{"model": m, "level": lv, "coverage": c, "accuracy": 0.6 + 0.3 * (1 - c)}
                 for m in ("HD-MANN (distance to the nearest key)", "softmax CNN (one minus max probability)")
                 for lv in LEVELS for c in np.linspace(1, 0.1, 10)]
    dims = [{"dim": d, "level": lv, "accuracy": 0.6, "ci_low": 0.55, "ci_high": 0.65, "cpu_seconds_per_epoch": d / 100,
             "key_margin_scaled": 0.1} for d in (100, 500, 2000, 10000) for lv in LEVELS]
    colour = [{"level": lv, "colour": 0.5, "colour_low": 0.45, "colour_high": 0.55, "hdmann_study_a": 0.6,
               "hdmann_study_a_low": 0.55, "hdmann_study_a_high": 0.65} for lv in LEVELS]
    series = {"patch CNN": ("cnn", _performance(B_LEVELS, np.linspace(0.8, 0.55, 6))),
              "texture features": ("features", _performance(B_LEVELS, np.linspace(0.75, 0.6, 6))),
              "brightness shortcut": ("shortcut", _performance(B_LEVELS, np.full(6, 0.52)))}
    grid = np.arange(32, 1024, 64)
    sliding_levels = ["original", "cr1000", "cr5000", "cr11000"]
    summaries = [{"kind": "real labels", "seed": 1, "auroc": 0.45, "auroc_low": 0.4, "auroc_high": 0.49},
                 {"kind": "permuted labels", "seed": 2, "auroc": 0.5, "auroc_low": 0.44, "auroc_high": 0.56}]
    features = [{"feature": f, "auroc": 0.5, "auroc_low": 0.45, "auroc_high": 0.55}
                for f in ("mean intensity", "breast area", "side (left)", "tissue density (F<G<D)")]
    pixels = [{"size": s, "auroc": 0.5, "auroc_low": 0.45, "auroc_high": 0.55} for s in (16, 32, 64)]
    rankings = {title: {"reference": "jpeg420", "rows": [
        {"name": c, "codec": codec_lib.CODECS[c].label, "bd_vs_reference": 0.01 * k, "bd_low": 0.01 * k - 0.02, "bd_high": 0.01 * k + 0.02}
        for k, c in enumerate(CODECS)]} for title in codec_report.METRIC_LABELS.values()}
    seeds = [{"chapter": ch, "values": list(RNG.normal(0.6, 0.02, 3)), "glued": i % 2 == 0}
             for ch in ("study_a_model", "study_a_representations", "study_a_beyond", "study_b_patches")
             for i in range(8)]
    titles = {"study_a_model": "Study A: HD-MANN on skin lesions", "study_a_representations": "Study A: the hypervector space",
              "study_a_beyond": "Study A beyond the paper", "study_b_patches": "Study B: lesion patches"}
    ladder_titles = ["original (ISIC_0000)\n24 bpp (PNG pixels)"] + [
        f"target {q:,}:1\n0.{q}3 bpp, 11,234:1\nPSNR 27.3 dB\nSSIM 0.912" for q in (50, 20, 10, 5, 3, 1, 10000, 11000)]
    return [
        ("class_examples", foundation_figures.class_examples,
         (isic, ["Basal cell carcinoma", "Melanoma", "Nevus", "Pigmented benign keratosis"])),
        ("films_with_circles", foundation_figures.films_with_circles, (films, [[lesion]] * 4, ["mdb001", "mdb002", "mdb003", "mdb004"])),
        ("ladder", foundation_figures.ladder, (isic[:1] * 9, ladder_titles), {"per_row": 6, "size": 2.2}),
        ("training_curves", a_figures.training_curves, ({"loss": [0.5, 0.4, 0.35], "val_loss": [0.6, 0.5, 0.52]}, 2)),
        ("accuracy_vs_quality", a_figures.accuracy_vs_quality, (_accuracy_rows(),), {"chance": 0.25}),
        ("tsne_panels", a_figures.tsne_panels, ({lv: RNG.normal(size=(40, 2)) for lv in LEVELS}, labels,
                                                {lv: RNG.normal(size=(4, 2)) for lv in LEVELS}, data.ISIC_LABELS)),
        ("confusion_grid", a_figures.confusion_grid, (confusion, data.ISIC_LABELS)),
        ("train_test_matrix", beyond_figures.train_test_matrix, (LEVELS[:4] + ["mixed"], LEVELS, RNG.uniform(0.2, 0.8, (5, 7)))),
        ("drift_and_saliency", beyond_figures.drift_and_saliency, (drift, saliency)),
        ("map_grid", beyond_figures.map_grid, (RNG.uniform(0, 1, (7, 2, 32, 32, 3)),
                                               {m: {lv: RNG.uniform(0, 1, (2, 32, 32)) for lv in LEVELS}
                                                for m in ("grad_cam", "input_gradients")}, LEVELS)),
        ("addition_curves", beyond_figures.addition_curves, (addition,)),
        ("selective_curves", beyond_figures.selective_curves, (selective,)),
        ("dimension_panels", beyond_figures.dimension_panels, (dims,)),
        ("colour_versus_hdmann", beyond_figures.colour_versus_hdmann, (colour,)),
        ("auroc_vs_level", b_figures.auroc_vs_level, (series, B_RATIOS, "(a) trained on originals, tested at each level")),
        ("auprc_vs_level", b_figures.auroc_vs_level, (series, B_RATIOS, "(b) AUPRC", "auprc")),
        ("sliding_grid", b_figures.sliding_grid, ({lv: [f for f in films] for lv in sliding_levels},
                                                  {lv: RNG.uniform(0, 1, (4, len(grid), len(grid))) for lv in sliding_levels},
                                                  grid, [[lesion]] * 4, {lv: [(500, 400)] * 4 for lv in sliding_levels},
                                                  ["mdb001", "mdb002", "mdb003", "mdb004"])),
        ("matrix_heatmap", b_figures.matrix_heatmap, (B_LEVELS, np.vstack([RNG.uniform(0.4, 0.9, (2, 6)), np.full((4, 6), np.nan)]),
                                                      "(c) CNN AUROC, train x test")),
        ("control", control_report.figure, (summaries, features, pixels, RNG.uniform(0.4, 0.6, 50))),
        ("rate_accuracy", codec_figures.rate_accuracy,
         ({"validation part": _curve(0.2, 0.45), "test folder": _curve(0.2, 0.45)},
          {"validation part": "accuracy", "test folder": "accuracy"},
          {"validation part": (0.22, 0.4), "test folder": (0.22, 0.4)},
          {"validation part": 4050.0, "test folder": 4050.0})),
        ("rate_accuracy_films", codec_figures.rate_accuracy,
         ({"patch CNN": _curve(0.002, 0.8), "texture features": _curve(0.002, 0.8)},
          {"patch CNN": "AUROC (malignant vs not)", "texture features": "AUROC (malignant vs not)"},
          None, {"patch CNN": 131072.0, "texture features": 131072.0}, "film")),
        ("rate_quality", codec_figures.rate_quality, (_curve(0.3, 12), "PSNR (dB), validation images", "SSIM, validation images")),
        ("ranking_bars", codec_figures.ranking_bars, (rankings,)),
        ("seed_deviations", seed_figures.seed_deviations, (seeds, titles)),
        # the quick and paper profiles: more levels, classes, models and settings on the same width
        ("matrix_heatmap_many_levels", b_figures.matrix_heatmap, (MANY_B, RNG.uniform(0.4, 0.9, (11, 11)), "(c)")),
        ("auroc_vs_level_many_levels", b_figures.auroc_vs_level, (
            {name: (model, _performance(MANY_B, RNG.uniform(0.5, 0.9, 11))) for name, model in (
                ("patch CNN", "cnn"), ("patch CNN, ensemble", "cnn_ensemble"), ("ResNet18", "resnet18"),
                ("texture features", "features"), ("brightness shortcut", "shortcut"))},
            dict(zip(MANY_B, [1.0, 15.1, 20.3, 25.2, 50.5, 101.0, 497.0, 987.0, 5323.0, 6679.0, 6679.0])), "(a)")),
        ("addition_curves_many_classes", beyond_figures.addition_curves, ([
            {**r, "source": src, "class": cls} for r in addition[:9] for src, cls in (
                ("isic-other", "dermatofibroma"), ("isic-other", "squamous_cell_carcinoma"), ("isic-other", "vascular_lesion"),
                ("leave-one-out", "melanoma"), ("leave-one-out", "nevus"), ("leave-one-out", "basal_cell_carcinoma"),
                ("leave-one-out", "pigmented_benign_keratosis"))],)),
        ("rate_accuracy_many_settings", codec_figures.rate_accuracy,
         ({"validation part": _curve(0.05, 6, settings=9), "test folder": _curve(0.05, 6, settings=9)},
          {"validation part": "accuracy", "test folder": "accuracy"}, None,
          {"validation part": 4050.0, "test folder": 4050.0})),
    ]


CATALOGUE = _catalogue()


def _draw(entry):
    name, function, args, *kwargs = entry
    fig = function(*args, **(kwargs[0] if kwargs else {}))
    fig.canvas.draw()
    return fig


def _shown(texts):
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _collide(a, b) -> bool:
    """Whether two texts' glyph boxes overlap. Upright (or vertical) text: its window box. Two labels
    slanted by one angle: their axis-aligned boxes always overlap, so compare the gap between their
    parallel baselines, the offset of their centres across the slant, with a line of text."""
    box_a, box_b = a.get_window_extent(), b.get_window_extent()
    angle = a.get_rotation() % 180
    if angle % 90 == 0 or angle != b.get_rotation() % 180:
        return box_a.overlaps(box_b)
    theta = np.radians(angle)
    centre = [np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]) for box in (box_a, box_b)]
    across = abs(np.array([-np.sin(theta), np.cos(theta)]) @ (centre[0] - centre[1]))
    line = 1.2 * a.get_fontsize() * a.figure.dpi / 72 * (1 + a.get_text().count("\n"))
    return bool(across < line) and box_a.overlaps(box_b)


def _overlapping(labels) -> list[tuple[str, str]]:
    shown = _shown(labels)
    return [(a.get_text(), b.get_text()) for a, b in itertools.combinations(shown, 2) if _collide(a, b)]


def _colour_bars(fig):
    return [ax for ax in fig.axes if hasattr(ax, "_colorbar")]


# --- every figure ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", CATALOGUE, ids=[e[0] for e in CATALOGUE])
def test_figure_fits_the_text_column(entry):
    """At most the column's width as the notebook saves it (a tight box around what is drawn, padded), so
    it is never scaled down on the page."""
    fig = _draw(entry)
    width = fig.get_tightbbox(fig.canvas.get_renderer()).width + 2 * matplotlib.rcParams["savefig.pad_inches"]
    assert width <= plotting.MAX_WIDTH + 0.02, f"{entry[0]}: {width:.2f} in wide as saved"


@pytest.mark.parametrize("entry", CATALOGUE, ids=[e[0] for e in CATALOGUE])
def test_figure_text_is_legible(entry):
    fig = _draw(entry)
    small = {(t.get_text()[:30], t.get_fontsize()) for t in _shown(fig.findobj(matplotlib.text.Text))
             if t.get_fontsize() < plotting.MIN_FONT - 1e-6}
    assert not small, f"{entry[0]}: text under {plotting.MIN_FONT} pt: {sorted(small)[:5]}"


@pytest.mark.parametrize("entry", CATALOGUE, ids=[e[0] for e in CATALOGUE])
def test_tick_labels_and_titles_do_not_overlap(entry):
    fig = _draw(entry)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = axis.get_ticklabels(which="both")
            assert not _overlapping(labels), f"{entry[0]}: {_overlapping(labels)[:3]}"
            assert not [t.get_text() for t in _shown(labels) if "times" in t.get_text()], "scientific notation on a tick"
    titles = [ax.title for ax in fig.axes]
    assert not _overlapping(titles), f"{entry[0]}: panel titles run together: {_overlapping(titles)[:3]}"


# --- the reviewer's findings, one by one -------------------------------------------------------------------

@pytest.mark.parametrize("lo, hi, width", [(0.2, 0.45, 2.6), (0.21, 0.24, 2.6), (0.05, 5, 2.6), (0.3, 12, 6),
                                           (0.0007, 8, 6), (1, 11000, 6), (0.8, 1.3, 1.5)])
def test_log_axis_labels_are_plain_round_and_apart(lo, hi, width):
    """A narrow log range gets plain labels that keep apart (matplotlib's own labels its minor ticks
    "2×10⁻¹3×10⁻¹4×10⁻¹" there), a wide one still at least two."""
    fig, ax = plt.subplots(figsize=(width + 0.8, 2))
    ax.plot([lo, hi], [0, 1])
    ax.set_xscale("log")
    plotting.log_axis(ax.xaxis)
    fig.tight_layout()
    fig.canvas.draw()
    shown = _shown(ax.get_xticklabels(which="both"))
    assert len(shown) >= 2, [t.get_text() for t in shown]
    assert not _overlapping(shown)
    assert all("$" not in t.get_text() for t in shown)
    values = [float(t.get_text().replace(",", "")) for t in shown]
    low, high = ax.get_xlim()
    assert all(low <= v <= high for v in values), values


def test_codec_intervals_are_error_bars_in_each_codecs_colour():
    """Six translucent bands blend to grey: each codec's interval is an error bar in its own colour,
    and the only filled area left is the originals' band."""
    fig = codec_figures.rate_accuracy({"validation part": _curve(0.2, 0.45)}, {"validation part": "accuracy"},
                                      {"validation part": (0.22, 0.4)}, {"validation part": 4050.0})
    ax = fig.axes[0]
    fills = [c for c in ax.collections if type(c).__name__ in ("PolyCollection", "FillBetweenPolyCollection")]
    assert not fills
    bars = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(bars) == len(CODECS)
    assert len({tuple(np.round(b.lines[0].get_color() if not isinstance(b.lines[0].get_color(), str)
                                else matplotlib.colors.to_rgb(b.lines[0].get_color()), 3)) for b in bars}) == len(CODECS)


def _whole(labels) -> list[float]:
    return [float(t.get_text().replace("\u2212", "-")) for t in _shown(labels)]


def test_counts_get_whole_number_ticks():
    """Three epochs are 1, 2, 3, not 1.00, 1.25, ...; a confusion matrix's colour bar counts images."""
    fig = a_figures.training_curves({"loss": [0.5, 0.4, 0.35], "val_loss": [0.6, 0.5, 0.52]}, 2)
    fig.canvas.draw()
    ticks = _whole(fig.axes[0].get_xticklabels())
    assert ticks and all(t == int(t) for t in ticks), ticks
    fig = a_figures.confusion_grid({lv: RNG.integers(0, 5, (4, 4)) for lv in LEVELS}, data.ISIC_LABELS)
    fig.canvas.draw()
    ticks = _whole(_colour_bars(fig)[0].get_yticklabels())
    assert ticks and all(t == int(t) for t in ticks), ticks


def test_legends_list_only_drawn_series():
    """A model absent from a profile (no rows) or with nothing finite gets no legend entry."""
    series = {"patch CNN": ("cnn", _performance(B_LEVELS, np.linspace(0.8, 0.55, 6))),
              "ResNet18": ("resnet18", []),
              "texture features": ("features", _performance(B_LEVELS, np.full(6, np.nan)))}
    fig = b_figures.auroc_vs_level(series, B_RATIOS, "(b)")
    assert [t.get_text() for legend in fig.legends for t in legend.get_texts()] == ["patch CNN"]
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2], label="drawn")
    ax.plot([1, 2], [np.nan, np.nan], label="all missing")
    ax.plot([], [], label="empty")
    ax.errorbar([1, 2], [np.nan, np.nan], yerr=[0.1, 0.1], label="missing with bars")
    assert [t.get_text() for t in plotting.legend(ax).get_texts()] == ["drawn"]
    fig, ax = plt.subplots()
    ax.plot([], [], label="empty")
    assert plotting.legend(ax) is None and ax.get_legend() is None


def test_codec_legend_leaves_out_a_codec_without_points():
    curve = _curve(0.2, 0.45, codecs=["jpeg420", "webp"])
    curve["jxl"] = []
    fig = codec_figures.rate_accuracy({"v": curve}, {"v": "accuracy"})
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "JPEG XL" not in texts and "JPEG 4:2:0" in texts and "WebP" in texts


@pytest.mark.parametrize("name", ["confusion_grid", "train_test_matrix", "map_grid", "sliding_grid", "matrix_heatmap"])
def test_every_heatmap_has_a_labelled_colour_bar(name):
    fig = _draw(next(e for e in CATALOGUE if e[0] == name))
    bars = _colour_bars(fig)
    assert len(bars) == 1, name
    label = bars[0]._colorbar.ax.get_ylabel() or bars[0]._colorbar.ax.get_xlabel()
    assert label.strip(), f"{name}: colour bar without a label"


def test_confusion_grid_shows_whole_class_names_on_one_scale():
    fig = _draw(next(e for e in CATALOGUE if e[0] == "confusion_grid"))
    panels = [ax for ax in fig.axes if ax not in _colour_bars(fig) and ax.images]
    names = set(data.ISIC_LABELS)
    for axis in ("x", "y"):
        shown = {" ".join(t.get_text().split()) for ax in panels
                 for t in _shown(getattr(ax, f"get_{axis}ticklabels")())}
        assert shown == names, (axis, shown)
    assert len({ax.images[0].get_clim() for ax in panels}) == 1  # one colour bar means one scale


def test_class_names_are_whole_wherever_they_are_written():
    """No "Pig"/"Bas": the t-SNE legend and the class examples carry every class name in full."""
    for name in ("tsne_panels", "class_examples"):
        fig = _draw(next(e for e in CATALOGUE if e[0] == name))
        texts = {" ".join(t.get_text().split()) for t in _shown(fig.findobj(matplotlib.text.Text))}
        assert set(data.ISIC_LABELS) <= texts, (name, texts)


def test_wrap_keeps_every_word():
    assert plotting.wrap("Pigmented benign keratosis", 11) == "Pigmented\nbenign\nkeratosis"
    assert plotting.wrap("Nevus", 11) == "Nevus"
