"""Data integrity: the decoding policy, the catalogue of bad inputs, duplicates and `hdmann check`.

The catalogue runs every bad-input case through every loader (our ISIC layout, the Kaggle layout,
MIAS). Each asserts that loading refuses with a message that names the file and says what to do,
that `hdmann check` lists the file, and that nothing already in the cache changed.
"""
from __future__ import annotations

import csv
import io
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hdmann.book import cli, runner as book
from hdmann.engine import cache, data, datacheck
from hdmann.engine.data import DataError, DataNotice, ImageRejected
from synthetic import read_csv, write_csv, write_isic, write_mias


# ------------------------------------------------------------------------------- bad files
def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, "PNG") if mode else Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def _cmyk() -> bytes:
    buf = io.BytesIO()
    Image.new("CMYK", (32, 32), (10, 20, 30, 0)).save(buf, "JPEG")
    return buf.getvalue()


def _transparent() -> bytes:
    rgba = np.full((32, 32, 4), 200, np.uint8)
    rgba[:4, :4, 3] = 0
    return _png(rgba)


def _twelve_bits_in_sixteen() -> bytes:
    return _png((np.arange(32 * 32).reshape(32, 32) * 3).astype(np.uint16))  # largest value 3069


# case -> (bytes of the bad file given the good file's bytes, words of the reason, words of the remedy)
CASES = {
    "empty": (lambda good: b"", "is empty", "hdmann fetch"),
    "truncated": (lambda good: good[: len(good) // 2], "corrupt or truncated", "hdmann fetch"),
    "undecodable": (lambda good: b"not an image at all " * 50, "cannot be decoded", "hdmann fetch"),
    "tiny": (lambda good: _png(np.zeros((1, 1, 3), np.uint8)), "only 1x1 pixels", "hdmann fetch"),
    "transparent": (lambda good: _transparent(), "transparent", "save it without alpha"),
    "cmyk": (lambda good: _cmyk(), "colour mode CMYK", "Convert it to 8-bit sRGB"),
    "12 of 16 bits": (lambda good: _twelve_bits_in_sixteen(), "uses at most 12 of its 16", "Re-export it"),
}
LOADERS = ("isic", "kaggle", "mias")


def _tree(root: Path, loader: str) -> Path:
    """A small data root and the file of it that the test damages."""
    isic = write_isic(root, train_per_class=3, test_per_class=1, layout="kaggle" if loader == "kaggle" else "ours")
    write_mias(root, n_patients=3, n_malignant=1, n_benign=1, size=32)
    if loader == "mias":
        return root / "mias" / "images" / "mdb003.png"
    folder = isic / ("Train/nevus" if loader == "kaggle" else "train/nevus")
    return sorted(folder.iterdir())[1]


def _load(root: Path, loader: str):
    if loader == "mias":
        return data.load_mias(root).load_images()
    return data.load_isic("train", 16, root)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _unchanged(before: dict[str, bytes], after: dict[str, bytes]) -> bool:
    """Every file that was in the cache is still there with the same bytes (new verdicts may be added)."""
    return all(after.get(k) == v for k, v in before.items())


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_naming_file_and_remedy(tmp_path, isolated_cache, capsys, case, loader):
    root = tmp_path / "data"
    bad = _tree(root, loader)
    # what a user has already computed: a cache entry and the verdicts of a clean check
    cache.cached("unit/earlier", {"a": 1}, lambda: {"x": np.arange(3)}, code=())
    assert datacheck.check(root).ok
    before = _snapshot(isolated_cache)

    damage, reason, remedy = CASES[case]
    bad.write_bytes(damage(bad.read_bytes()))
    with pytest.raises(ImageRejected) as info:
        _load(root, loader)
    message = str(info.value)
    assert str(bad) in message and reason in message and remedy in message, message
    assert isinstance(info.value, DataError)
    assert info.value.path == bad

    assert cli.main(["check", "--data-root", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: " in out and reason in out and remedy in out, out
    assert "1 bad file(s)" in out
    assert _unchanged(before, _snapshot(isolated_cache)), "a failed load or check changed the cache"
    # and the earlier entry still loads as it was
    assert cache.cached("unit/earlier", {"a": 1}, lambda: {"x": np.zeros(1)}, code=())["x"].tolist() == [0, 1, 2]


# ------------------------------------------------------------------------ decoding policy
def test_sixteen_bit_real_film_decodes_like_the_eight_bit_film(data_root, tmp_path):
    """A 16-bit export of a mini-MIAS film gives the 8-bit film's pixels: exactly for v * 257 (full
    range), within 1 for v * 256 (a left shift); the old reader made every tissue pixel white."""
    source = data_root / "mias" / "images" / "mdb001.png"
    film = data.read_image(source, "L")
    for scale, tolerance in ((257, 0), (256, 1)):
        path = tmp_path / f"mdb001_x{scale}.png"
        path.write_bytes(_png(film.astype(np.uint16) * scale))
        assert Image.open(path).mode == "I;16"
        pixels, note = data.decode_image(path, "L")
        assert np.abs(pixels.astype(int) - film.astype(int)).max() <= tolerance
        assert "16-bit image scaled to 8 bits" in note
        # what Pillow's own convert gives: every non-black pixel white, a silhouette
        assert set(np.unique(np.asarray(Image.open(path).convert("L"))).tolist()) == {0, 255}
    np.testing.assert_array_equal(data.read_image(tmp_path / "mdb001_x257.png", "L", 64), data.read_image(source, "L", 64))


def test_valid_eight_bit_inputs_decode_exactly_as_before(data_root):
    """ISIC RGB PNGs and MIAS greyscale PNGs: the very pixels of Pillow's convert and bilinear resize."""
    isic = sorted((data_root / "isic4" / "train" / "nevus").iterdir())[:3]
    films = [data_root / "mias" / "images" / f"mdb00{i}.png" for i in (1, 2)]
    for paths, mode, size in ((isic, "RGB", 48), (films, "L", 64)):
        for path in paths:
            with Image.open(path) as img:
                assert img.mode == mode
                old = np.asarray(img.convert(mode), dtype=np.uint8)
                old_small = np.asarray(img.convert(mode).resize((size, size), Image.Resampling.BILINEAR))
            pixels, note = data.decode_image(path, mode)
            assert note is None
            np.testing.assert_array_equal(pixels, old)
            np.testing.assert_array_equal(data.read_image(path, mode, size), old_small)


@pytest.mark.parametrize("kind", ["opaque alpha", "palette", "1-bit", "32-bit float", "32-bit int"])
def test_conversions_are_stated_and_reported(tmp_path, kind):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (24, 24)).astype(np.uint8)
    rgb = rng.integers(0, 256, (24, 24, 3)).astype(np.uint8)
    path = tmp_path / "image.png"
    if kind == "opaque alpha":
        path.write_bytes(_png(np.dstack([rgb, np.full((24, 24), 255, np.uint8)])))
        expected, mode, words = rgb, "RGB", "fully opaque alpha channel dropped"
    elif kind == "palette":
        Image.fromarray(rgb).quantize(16).save(path)
        expected, mode, words = np.asarray(Image.open(path).convert("RGB")), "RGB", "palette image expanded"
    elif kind == "1-bit":
        Image.fromarray(grey > 127).save(path)
        expected, mode, words = np.where(grey > 127, 255, 0).astype(np.uint8), "L", "1-bit image expanded"
    elif kind == "32-bit float":
        path = tmp_path / "image.tif"
        values = grey.astype(np.float32) / 255 * 3 - 1  # values in [-1, 2]
        Image.fromarray(values).save(path)
        v = values.astype(np.float64)
        expected = np.rint((v - v.min()) * (255 / (v.max() - v.min()))).astype(np.uint8)
        mode, words = "L", "scaled to 8 bits by its real range"
    else:
        path = tmp_path / "image.tif"
        Image.fromarray(grey.astype(np.int32) * 100_000).save(path)
        expected = np.rint((grey.astype(float) - grey.min()) * 255 / (int(grey.max()) - int(grey.min()))).astype(np.uint8)
        mode, words = "L", "scaled to 8 bits by its real range"
    pixels, note = data.decode_image(path, mode)
    assert words in note
    np.testing.assert_array_equal(pixels, expected)


def test_loaders_report_conversions_once(tmp_path):
    write_isic(tmp_path, train_per_class=1, test_per_class=1)
    write_mias(tmp_path, n_patients=2, n_malignant=1, n_benign=0, size=32)
    film = tmp_path / "mias" / "images" / "mdb002.png"
    film.write_bytes(_png(np.asarray(Image.open(film)).astype(np.uint16) * 257))
    with pytest.warns(DataNotice, match=r"mias: 1 image\(s\) converted .*16-bit image scaled"):
        images = data.load_mias(tmp_path).load_images()
    assert images.dtype == np.uint8 and images.shape == (4, 32, 32)
    report = datacheck.check(tmp_path)
    assert report.ok and len(report.converted) == 1


def test_decode_refuses_an_unknown_target_mode(tmp_path):
    with pytest.raises(ValueError, match="mode='RGBA'"):
        data.decode_bytes(b"x", tmp_path / "a.png", "RGBA")


# ----------------------------------------------------------------------------- duplicates
def test_kaggle_copies_are_dropped_and_other_diagnoses_named(tmp_path):
    isic = write_isic(tmp_path, train_per_class=3, test_per_class=1, layout="kaggle")
    write_mias(tmp_path, n_patients=1, n_malignant=0, n_benign=0, size=32)
    folder = isic / "Train" / "basal cell carcinoma"
    original = sorted(folder.iterdir())[0]
    copy = folder / f"{original.stem}(1).jpg"
    shutil.copyfile(original, copy)
    not_a_copy = folder / "ISIC_9999999(1).jpg"  # a "(1)" name without an original: kept
    shutil.copyfile(sorted(folder.iterdir())[-1], not_a_copy)
    (isic / "Train" / "actinic keratosis").mkdir()
    shutil.copyfile(original, isic / "Train" / "actinic keratosis" / "ISIC_0000001.jpg")
    with pytest.warns(DataNotice) as notices:
        items = data.list_isic("train", tmp_path)
    text = " | ".join(str(w.message) for w in notices)
    assert f"dropped 1 byte-identical copy file(s): basal cell carcinoma/{copy.name} (= {original.name})" in text
    assert "skipped 1 diagnosis folder(s) outside the four classes: actinic keratosis" in text
    paths = [p for p, _ in items]
    assert copy not in paths and original in paths and not_a_copy in paths
    assert np.bincount([label for _, label in items]).tolist() == [3, 3, 4, 3]
    report = datacheck.check(tmp_path)
    assert report.ok
    summary = "\n".join(report.lines())
    assert "skipped on purpose: 1 isic4 diagnosis folder(s) outside the four classes (train: actinic keratosis)" in summary
    assert f"1 byte-identical download copies (Train/basal cell carcinoma/{copy.name} = " in summary
    # the kept "(1)" file is pixel-identical to its source, so the check groups them
    assert report.identical_images("isic4") == 2


def test_identical_images_are_grouped_for_every_split(tmp_path):
    isic = write_isic(tmp_path, train_per_class=4, test_per_class=1)
    folder = isic / "train" / "melanoma"
    first, second = sorted(folder.iterdir())[:2]
    shutil.copyfile(first, second)  # two ids, one picture (as isic4's ISIC_0000279 and ISIC_0000280)
    s = data.load_isic("train", 16, tmp_path)
    groups = s.duplicate_groups()
    i, j = s.names.index(first.stem), s.names.index(second.stem)
    assert groups[i] == groups[j] and len(np.unique(groups)) == len(s) - 1
    sub = s.subset([j, i])
    assert sub.digests == [s.digests[j], s.digests[i]]
    # MIAS: patients and identical films group together
    write_mias(tmp_path, n_patients=3, n_malignant=1, n_benign=1, size=32)
    films = tmp_path / "mias" / "images"
    shutil.copyfile(films / "mdb001.png", films / "mdb005.png")
    m = data.load_mias(tmp_path)
    assert datacheck.film_groups(m).tolist() == [0, 0, 1, 1, 0, 0]
    assert datacheck.check(tmp_path).identical["mias"] == [["mdb001", "mdb005"]]


def test_duplicate_groups_merges_digests_and_base_groups():
    assert data.duplicate_groups(["a", "b", "a", "c"]).tolist() == [0, 1, 0, 2]
    assert data.duplicate_groups(["a", "b", "c", "d"], [1, 1, 2, 3]).tolist() == [0, 0, 1, 2]
    assert data.duplicate_groups(["a", "b", "c", "a"], [1, 2, 2, 3]).tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match="base_groups has 1 entries for 2"):
        data.duplicate_groups(["a", "b"], [1])


# ------------------------------------------------------------------------------ the check
def test_check_on_the_real_data_decodes_once_then_reuses(data_root):
    first = datacheck.check(data_root)
    assert first.ok, first.lines()
    assert first.images == {"isic4": 1697, "mias": 322}
    assert first.decoded + first.reused == 2019 and first.decoded >= 2000
    second = datacheck.check(data_root)
    assert second.decoded == 0 and second.reused == 2019
    assert second.seconds < max(3.0, first.seconds / 3)
    # the check finds exactly the same-class pixel-identical pairs the isic4 README lists
    listed = set()
    with open(data_root / "isic4" / "source_duplicates.csv", newline="") as f:
        for row in csv.DictReader(f):
            split, diagnosis, name = row["identical_source_file"].split("/")
            twin = f"{split.lower()}/{diagnosis.replace(' ', '_')}/{Path(name).stem}.png"
            if (data_root / "isic4" / twin).is_file():  # kept in isic4 (not another class or a dropped copy)
                listed.add(frozenset((row["file"], twin)))
    found = {frozenset(group) for group in first.identical["isic4"]}
    assert found == listed and len(found) == 2
    assert first.identical["mias"] == [] and first.across_splits == 0


def test_check_of_a_broken_copy_lists_every_bad_file_within_seconds(tmp_path, capsys):
    root = tmp_path / "data"
    isic = write_isic(root, train_per_class=5, test_per_class=2)
    write_mias(root, n_patients=4, n_malignant=1, n_benign=1, size=64)
    damaged = {
        sorted((isic / "train" / "melanoma").iterdir())[0]: b"",
        sorted((isic / "train" / "nevus").iterdir())[1]: b"garbage" * 30,
        sorted((isic / "test" / "basal_cell_carcinoma").iterdir())[0]: _png(np.zeros((2, 2, 3), np.uint8)),
        root / "mias" / "images" / "mdb002.png": _transparent(),
    }
    for path, blob in damaged.items():
        path.write_bytes(blob)
    (root / "mias" / "images" / "mdb007.png").unlink()
    start = time.perf_counter()
    assert cli.main(["check", "--data-root", str(root)]) == 1
    seconds = time.perf_counter() - start
    out = capsys.readouterr().out
    assert "5 bad file(s) or folder(s):" in out
    for path in [*damaged, root / "mias" / "images" / "mdb007.png"]:
        assert f"{path}: " in out, path
    assert "listed in images.csv but missing" in out
    assert seconds < 10
    # the book refuses to start, listing the same files, before any notebook runs
    assert cli.main(["book", "--profile", "smoke", "--data-root", str(root), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "5 problem(s) in the data" in err and all(str(p) in err for p in damaged)
    assert not (tmp_path / "_build" / "executed").exists()
    with pytest.raises(DataError, match="hdmann check"):
        book.check_data(root, log=None)


def test_info_exits_non_zero_on_broken_data(tmp_path, capsys):
    root = tmp_path / "data"
    isic = write_isic(root, train_per_class=2, test_per_class=1)
    write_mias(root, n_patients=2, n_malignant=1, n_benign=0, size=32)
    assert cli.main(["info", "--data-root", str(root)]) == 0
    assert "all images usable" in capsys.readouterr().out
    bad = sorted((isic / "test" / "nevus").iterdir())[0]
    bad.write_bytes(bad.read_bytes()[:40])
    assert cli.main(["info", "--data-root", str(root)]) == 1
    assert f"{bad}: " in capsys.readouterr().out


def test_check_reports_table_problems_and_missing_datasets(tmp_path, capsys):
    write_isic(tmp_path, train_per_class=1, test_per_class=1)
    assert cli.main(["check", "--data-root", str(tmp_path)]) == 1
    assert "mias/: mias/ is missing" in capsys.readouterr().out
    write_mias(tmp_path, n_patients=2, n_malignant=1, n_benign=0, size=32)
    path = tmp_path / "mias" / "images.csv"
    rows, columns = read_csv(path)
    rows[0]["severity"] = "unsure"
    write_csv(path, rows, columns)
    assert cli.main(["check", "--data-root", str(tmp_path)]) == 1
    assert "mias tables: images.csv has unknown severity value(s) ['unsure']" in capsys.readouterr().out


def test_verdict_store_survives_a_full_disk(tmp_path, monkeypatch):
    write_isic(tmp_path, train_per_class=1, test_per_class=1)
    write_mias(tmp_path, n_patients=1, n_malignant=0, n_benign=0, size=32)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(cache, "atomic_write_bytes", full)
        report = datacheck.check(tmp_path)
    assert report.ok and "No space left on device" in report.cache_note
    assert "verdicts could not be stored" in "\n".join(report.lines())
    assert datacheck.check(tmp_path).decoded == 10  # nothing was stored, so all are decoded again


# ------------------------------------------------------ the catalogue, continued: what issue 33 found
def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` (8-bit greyscale) and holds no pixels: what a
    decoder reads before it allocates anything."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def _jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _oriented_png(pixels: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", exif=exif)
    return buf.getvalue()


def _isic_file(root: Path, name: str | None = None) -> Path:
    folder = root / "isic4" / "train" / "nevus"
    return folder / name if name else sorted(folder.iterdir())[1]


def _labels_edit(root: Path, change) -> Path:
    path = root / "mias" / "labels.csv"
    rows, columns = read_csv(path)
    change(rows)
    write_csv(path, rows, columns)
    return path


def _first_circle(rows) -> dict:
    return next(r for r in rows if r["x"])


def _film(root: Path, name: str, shape) -> Path:
    path = root / "mias" / "images" / f"{name}.png"
    path.write_bytes(_png(np.full(shape, 90, np.uint8)))
    return path


def _dangling(root: Path) -> Path:
    link = _isic_file(root, "ISIC_9999998.png")
    link.symlink_to(root / "gone" / "ISIC_9999998.png")
    return link


# case -> (damage(root) -> the path named, words the check prints, check passes?)
ISSUE_CASES = {
    "dangling symlink in a class folder": (_dangling, ["is a symbolic link to", "which does not exist"], False),
    "coordinate '343px' in labels.csv": (
        lambda root: _labels_edit(root, lambda rows: _first_circle(rows).update(x="343px")),
        ["labels.csv line", "column 'x': '343px' is not a number"], False),
    "circle outside the film (x = 2000)": (
        lambda root: _labels_edit(root, lambda rows: _first_circle(rows).update(x="2000")),
        ["lies outside the 32x32 film"], False),
    "radius of 0": (
        lambda root: _labels_edit(root, lambda rows: _first_circle(rows).update(radius="0")),
        ["column 'radius': 0 is not a positive radius"], False),
    "duplicated row": (
        lambda root: _labels_edit(root, lambda rows: rows.append(dict(_first_circle(rows)))),
        ["repeats line"], False),
    "film of 2048x2048 among 1024 px films": (lambda root: _film(root, "mdb002", (64, 64)),
                                              ["is 64x64 pixels, but the films are 32x32"], False),
    "film of 1024x700": (lambda root: _film(root, "mdb002", (22, 32)), ["is 32x22 pixels, but the films are 32x32"], False),
    "EXIF orientation 6": (lambda root: _isic_file(root).write_bytes(_oriented_png(np.zeros((20, 30, 3), np.uint8), 6)) and root,
                           ["EXIF orientation 6 applied (rotated 90° clockwise"], True),
    "non-square image": (lambda root: _isic_file(root).write_bytes(_png(np.zeros((20, 30, 3), np.uint8))),
                         ["non-square image stretched to a square by the loaders: 1"], True),
    "a .png whose bytes are JPEG": (lambda root: _isic_file(root).write_bytes(_jpeg_bytes()),
                                    ["is named .png but holds JPEG data"], False),
    "13,000x13,000 PNG": (lambda root: _isic_file(root).write_bytes(_png_header(13_000, 13_000)),
                          ["is too large: 13000x13000 pixels (169 megapixels)", "not decoded"], False),
    "900-megapixel bomb": (lambda root: _isic_file(root).write_bytes(_png_header(30_000, 30_000)),
                           ["is too large", "decompression bomb"], False),
}


def _issue_tree(root: Path) -> None:
    write_isic(root, train_per_class=3, test_per_class=1)
    write_mias(root, n_patients=3, n_malignant=1, n_benign=1, size=32)


@pytest.mark.parametrize("case", list(ISSUE_CASES))
def test_issue_33_inputs_give_the_right_result_or_one_sentence(tmp_path, isolated_cache, capsys, case):
    root = tmp_path / "data"
    _issue_tree(root)
    cache.cached("unit/earlier", {"a": 1}, lambda: {"x": np.arange(3)}, code=())
    assert datacheck.check(root).ok
    before = _snapshot(isolated_cache)

    damage, words, passes = ISSUE_CASES[case]
    named = damage(root)
    assert cli.main(["check", "--data-root", str(root)]) == (0 if passes else 1)
    out = capsys.readouterr().out
    assert all(w in out for w in words), out
    assert "corrupt" not in out and "Traceback" not in out
    if not passes:  # `hdmann run` checks the data as `hdmann book` does: one sentence per problem, exit 2
        chapter = "study_b_patches" if "mias" in str(named) else "study_a_model"  # a chapter that reads it
        assert cli.main(["run", chapter, "--profile", "smoke", "--data-root", str(root)]) == 2
        err = capsys.readouterr().err
        assert "problem(s) in the data" in err and "Traceback" not in err
    assert _unchanged(before, _snapshot(isolated_cache)), "a check or a refused run changed the cache"
    assert cache.cached("unit/earlier", {"a": 1}, lambda: {"x": np.zeros(1)}, code=())["x"].tolist() == [0, 1, 2]


def test_exif_orientation_is_applied_and_said(tmp_path):
    stored = np.random.default_rng(0).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    path = tmp_path / "a.png"
    path.write_bytes(_oriented_png(stored, 6))
    pixels, note = data.decode_image(path, "RGB")
    np.testing.assert_array_equal(pixels, np.rot90(stored, k=-1))  # 6: rotate 90° clockwise to show it
    assert pixels.shape == (30, 20, 3) and "EXIF orientation 6 applied" in note
    path.write_bytes(_oriented_png(stored, 9))
    with pytest.raises(ImageRejected, match="EXIF orientation of 9, which is none of the eight"):
        data.decode_image(path, "RGB")


def test_a_non_square_image_is_stretched_with_a_word(tmp_path):
    write_isic(tmp_path, train_per_class=2, test_per_class=1)
    _isic_file(tmp_path).write_bytes(_png(np.zeros((20, 30, 3), np.uint8)))
    with pytest.warns(DataNotice, match="non-square image stretched to a square"):
        images = data.load_isic("train", 16, tmp_path)
    assert images.images.shape[1:] == (16, 16, 3)


def test_too_large_is_refused_before_decoding(tmp_path):
    import resource

    path = tmp_path / "big.png"
    path.write_bytes(_png_header(13_000, 13_000))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageRejected, match="is too large") as info:
        data.decode_image(path, "L")
    assert "corrupt" not in str(info.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing near 169 MB was allocated


def test_names_are_printed_escaped(tmp_path, capsys):
    """A newline in a file name cannot forge a line of the report (e.g. "all images usable")."""
    _issue_tree(tmp_path)
    forged = _isic_file(tmp_path, "ISIC_0000001\n  all images usable\n.png")
    forged.write_bytes(b"")
    assert cli.main(["check", "--data-root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "  all images usable" not in out.splitlines()
    assert "ISIC_0000001\\n  all images usable\\n.png" in out


def _deny(monkeypatch, target: Path) -> None:
    """Make ``target`` unreadable as a folder or a file would be to another user (the tests run as
    root, whom chmod does not stop)."""
    real_iterdir, real_open = Path.iterdir, open

    def iterdir(self):
        if Path(self) == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    def guarded_open(file, *args, **kwargs):
        if Path(file) == target:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    monkeypatch.setattr(data, "open", guarded_open, raising=False)


@pytest.mark.parametrize("what", ["class folder", "labels.csv"])
def test_an_unreadable_folder_or_table_is_one_sentence(tmp_path, isolated_cache, capsys, monkeypatch, what):
    _issue_tree(tmp_path)
    cache.cached("unit/earlier", {"a": 1}, lambda: {"x": np.arange(3)}, code=())
    before = _snapshot(isolated_cache)
    target = tmp_path / ("isic4/train/nevus" if what == "class folder" else "mias/labels.csv")
    _deny(monkeypatch, target)
    assert cli.main(["check", "--data-root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{str(target)!r} cannot be read (permission denied)" in out and "chmod" in out, out
    chapter = "study_b_patches" if what == "labels.csv" else "study_a_model"
    for command in (["run", chapter], ["status", chapter]):
        assert cli.main([*command, "--profile", "smoke", "--data-root", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert str(target) in err and "permission denied" in err and "Traceback" not in err, err
    assert _unchanged(before, _snapshot(isolated_cache))


def test_a_dangling_link_is_one_sentence_for_status(tmp_path, capsys):
    _issue_tree(tmp_path)
    link = _dangling(tmp_path)
    assert cli.main(["status", "study_a_model", "--profile", "smoke", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(link) in err and "is a symbolic link to" in err and "remove the link" in err


def test_a_number_where_a_number_belongs(tmp_path):
    _issue_tree(tmp_path)
    _labels_edit(tmp_path, lambda rows: _first_circle(rows).update(y_top="12.5.1"))
    with pytest.raises(DataError, match=r"labels\.csv line \d+ \(mdb\d+\), column 'y_top': '12\.5\.1' is not a number"):
        data.load_mias(tmp_path)
    rows, columns = read_csv(tmp_path / "mias" / "images.csv")
    rows[1]["patient"] = "one"
    write_csv(tmp_path / "mias" / "images.csv", rows, columns)
    with pytest.raises(DataError, match=r"images\.csv line 3 \(mdb002\), column 'patient': 'one' is not a whole number"):
        data.load_mias(tmp_path)
