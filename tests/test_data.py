"""hdmann.engine.data: where the data root comes from, both ISIC layouts, MIAS tables, and clear errors.

The synthetic trees (tests/synthetic.py) drive the unit tests; the real-data tests at the end run
only when HDMANN_DATA points at the fetched data.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from hdmann.engine import data
from hdmann.engine.data import DataError, ISIC_CLASSES
from synthetic import ISIC_COLOURS, SKIN, drop_column, read_csv, write_csv, write_isic, write_mias


# ---------------------------------------------------------------------------------- data root
def test_data_error_is_a_file_not_found_error():
    assert issubclass(DataError, FileNotFoundError)


def test_resolve_order_argument_env_default(tmp_path, monkeypatch):
    arg, env, cwd = tmp_path / "arg", tmp_path / "env", tmp_path / "cwd"
    for d in (arg, env, cwd / "data"):
        d.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HDMANN_DATA", str(env))
    assert data.resolve_data_root(arg) == arg.resolve()  # argument beats the environment
    assert data.resolve_data_root(str(arg)) == arg.resolve()
    assert data.resolve_data_root() == env.resolve()  # environment beats ./data
    assert data.resolve_data_root("") == env.resolve()  # an empty argument counts as none
    monkeypatch.delenv("HDMANN_DATA")
    assert data.resolve_data_root() == (cwd / "data").resolve()  # ./data last
    monkeypatch.setenv("HDMANN_DATA", "")  # empty env counts as unset
    assert data.resolve_data_root() == (cwd / "data").resolve()


def test_resolve_returns_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "rel").mkdir()
    monkeypatch.chdir(tmp_path)
    root = data.resolve_data_root("rel")
    assert root.is_absolute() and root == (tmp_path / "rel").resolve()


@pytest.mark.parametrize("source, said", [("argument", "data-root argument"), ("HDMANN_DATA", "$HDMANN_DATA"),
                                          ("default ./data", "the default, ./data")])
def test_missing_root_says_where_it_came_from_and_how_to_fetch(tmp_path, monkeypatch, source, said):
    monkeypatch.chdir(tmp_path)  # no ./data here
    monkeypatch.delenv("HDMANN_DATA", raising=False)
    missing = tmp_path / "nowhere"
    if source == "HDMANN_DATA":
        monkeypatch.setenv("HDMANN_DATA", str(missing))
    with pytest.raises(DataError) as info:
        data.resolve_data_root(missing if source == "argument" else None)
    message = str(info.value)
    assert said in message
    assert "hdmann fetch" in message
    assert "HDMANN_DATA" in message
    if source != "default ./data":
        assert str(missing) in message


def test_missing_isic4_names_folder_and_fetch(tmp_path):
    write_mias(tmp_path)  # a root that holds only mias/
    with pytest.raises(DataError) as info:
        data.load_isic("train", 16, tmp_path)
    message = str(info.value)
    assert "isic4/" in message and str(tmp_path) in message
    assert "hdmann fetch isic4" in message


def test_missing_mias_names_folder_and_fetch(tmp_path):
    write_isic(tmp_path, train_per_class=1, test_per_class=1)
    with pytest.raises(DataError, match=r"mias/ is missing.*hdmann fetch mias"):
        data.load_mias(tmp_path)


def test_missing_class_folder_is_named(tmp_path):
    isic = write_isic(tmp_path, train_per_class=2, test_per_class=1)
    shutil.rmtree(isic / "train" / "nevus")
    with pytest.raises(DataError) as info:
        data.load_isic("train", 16, tmp_path)
    message = str(info.value)
    assert "nevus" in message and str(isic / "train") in message
    assert "hdmann fetch isic4" in message
    # the other split still loads
    assert len(data.load_isic("test", 16, tmp_path)) == 4


def test_empty_class_folder_is_named(tmp_path):
    isic = write_isic(tmp_path, train_per_class=2, test_per_class=1)
    for f in (isic / "test" / "melanoma").iterdir():
        f.unlink()
    (isic / "test" / "melanoma" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="melanoma.*holds no images"):
        data.list_isic("test", tmp_path)


def test_neither_layout(tmp_path):
    (tmp_path / "isic4" / "elsewhere").mkdir(parents=True)
    with pytest.raises(DataError, match=r"neither train/<class>/\*\.png nor Train/<diagnosis>"):
        data.list_isic("train", tmp_path)


def test_bad_split_is_a_value_error(synthetic_root):
    with pytest.raises(ValueError, match="split='val'"):
        data.list_isic("val", synthetic_root)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_png_names_the_file(tmp_path, damage):
    isic = write_isic(tmp_path, train_per_class=2, test_per_class=1)
    bad = sorted((isic / "train" / "basal_cell_carcinoma").iterdir())[1]
    if damage == "garbage":
        bad.write_bytes(b"this is not a PNG at all" * 10)
    else:
        bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(DataError) as info:
        data.load_isic("train", 16, tmp_path)
    message = str(info.value)
    assert str(bad) in message
    assert "corrupt" in message and "hdmann fetch" in message


# ------------------------------------------------------------------------------------- ISIC
def test_list_isic_order_and_labels(synthetic_root):
    items = data.list_isic("train", synthetic_root)
    labels = [label for _, label in items]
    assert labels == sorted(labels)  # class by class, in ISIC_CLASSES order
    assert np.bincount(labels).tolist() == [10, 10, 10, 10]
    for path, label in items:
        assert path.parent.name == ISIC_CLASSES[label]
    for c in range(4):  # by name within a class
        names = [p.name for p, label in items if label == c]
        assert names == sorted(names)


def test_isic_counts_on_synthetic(tmp_path):
    write_isic(tmp_path, train_per_class=(3, 1, 2, 4), test_per_class=(1, 2, 1, 1))
    counts = data.isic_counts(tmp_path)
    assert counts == {"train": dict(zip(ISIC_CLASSES, (3, 1, 2, 4))),
                      "test": dict(zip(ISIC_CLASSES, (1, 2, 1, 1)))}


def test_load_isic_resizes_and_types(synthetic_root):
    s = data.load_isic("test", 24, synthetic_root)
    assert s.images.shape == (16, 24, 24, 3)
    assert s.images.dtype == np.uint8
    assert s.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert s.class_names == ISIC_CLASSES
    assert len(s.names) == 16 and all(n.startswith("ISIC_") for n in s.names)
    # stored size: no resize, the exact pixels of the file
    full = data.load_isic("test", 32, synthetic_root)
    first = sorted((synthetic_root / "isic4" / "test" / "melanoma").iterdir())[0]
    np.testing.assert_array_equal(full.images[0], np.asarray(Image.open(first).convert("RGB")))
    # resizing is PIL bilinear of the stored image
    expected = np.asarray(Image.open(first).convert("RGB").resize((24, 24), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(s.images[0], expected)


def test_synthetic_images_carry_their_class(synthetic_root):
    """The synthetic blobs are class-coloured, so a tiny model has something to learn."""
    s = data.load_isic("train", 32, synthetic_root)
    centre = s.images[:, 12:20, 12:20].reshape(len(s), -1, 3).mean(axis=1)
    colours = np.array(ISIC_COLOURS + (SKIN,), dtype=float)
    nearest = np.argmin(((centre[:, None] - colours[None]) ** 2).sum(-1), axis=1)
    assert np.mean(nearest == s.labels) >= 0.9


def test_kaggle_layout_gives_the_same_classes_in_the_same_order(tmp_path):
    ours, kaggle = tmp_path / "ours", tmp_path / "kaggle"
    write_isic(ours, train_per_class=(3, 2, 4, 1), test_per_class=2, layout="ours")
    write_isic(kaggle, train_per_class=(3, 2, 4, 1), test_per_class=2, layout="kaggle")
    assert (kaggle / "isic4" / "Train" / "basal cell carcinoma").is_dir()
    assert not (kaggle / "isic4" / "train").exists()
    for split in ("train", "test"):
        a = data.load_isic(split, 32, ours)
        b = data.load_isic(split, 32, kaggle)
        assert b.class_names == ISIC_CLASSES
        np.testing.assert_array_equal(a.labels, b.labels)
        assert a.names == b.names
        # each image is the decoded file of its own diagnosis folder
        jpgs = [p for p, _ in data.list_isic(split, kaggle)]
        assert [p.stem for p in jpgs] == b.names
        for path, image in zip(jpgs, b.images):
            np.testing.assert_array_equal(image, np.asarray(Image.open(path).convert("RGB")))
        # and the same pictures as the PNGs, up to JPEG noise
        assert np.abs(a.images.astype(int) - b.images.astype(int)).mean() < 12
    assert data.isic_counts(kaggle) == data.isic_counts(ours)
    paths = [p for p, _ in data.list_isic("train", kaggle)]
    assert all(p.suffix == ".jpg" for p in paths)


def test_kaggle_layout_missing_diagnosis_is_named(tmp_path):
    isic = write_isic(tmp_path, train_per_class=1, test_per_class=1, layout="kaggle")
    shutil.rmtree(isic / "Test" / "pigmented benign keratosis")
    with pytest.raises(DataError, match="pigmented benign keratosis"):
        data.load_isic("test", 16, tmp_path)


def test_max_per_class_is_seeded_and_per_class(synthetic_root):
    full = data.load_isic("train", 16, synthetic_root)
    a = data.load_isic("train", 16, synthetic_root, max_per_class=3, seed=7)
    b = data.load_isic("train", 16, synthetic_root, max_per_class=3, seed=7)
    c = data.load_isic("train", 16, synthetic_root, max_per_class=3, seed=8)
    assert np.bincount(a.labels).tolist() == [3, 3, 3, 3]
    assert a.names == b.names
    np.testing.assert_array_equal(a.images, b.images)
    assert a.names != c.names  # another seed, another draw
    # each kept image is its class's own file, with the same pixels as in the full load
    index = {n: i for i, n in enumerate(full.names)}
    for name, label, image in zip(a.names, a.labels, a.images):
        assert full.labels[index[name]] == label
        np.testing.assert_array_equal(full.images[index[name]], image)
    # a limit above the class size keeps everything
    assert len(data.load_isic("train", 16, synthetic_root, max_per_class=50)) == 40


def test_max_per_class_is_a_random_draw_not_a_prefix(synthetic_root):
    a = data.load_isic("train", 16, synthetic_root, max_per_class=3, seed=0)
    items = data.list_isic("train", synthetic_root)
    prefix = [p.stem for c in range(4) for p in [p for p, label in items if label == c][:3]]
    assert a.names != prefix


def test_image_set_subset(synthetic_root):
    s = data.load_isic("test", 16, synthetic_root)
    sub = s.subset([5, 0, 9])
    assert sub.names == [s.names[5], s.names[0], s.names[9]]
    np.testing.assert_array_equal(sub.images, s.images[[5, 0, 9]])
    np.testing.assert_array_equal(sub.labels, s.labels[[5, 0, 9]])


def test_fingerprint_files_notices_a_changed_file(synthetic_root):
    files = [p for p, _ in data.list_isic("test", synthetic_root)]
    before = data.fingerprint_files(files)
    assert data.fingerprint_files(list(reversed(files))) == before  # order does not matter
    with open(files[0], "ab") as f:
        f.write(b"\0")
    assert data.fingerprint_files(files) != before


# ------------------------------------------------------------------------------------- MIAS
def test_load_mias_tables(tmp_path):
    written = write_mias(tmp_path)
    m = data.load_mias(tmp_path)
    assert len(m) == 24
    assert m.names == written.names
    assert m.severity.tolist() == written.severity
    assert m.patient.tolist() == written.patient
    assert m.tissue.tolist() == written.tissue
    assert m.malignant.tolist() == [int(s == "malignant") for s in written.severity]
    assert m.path("mdb001") == (tmp_path / "mias" / "images" / "mdb001.png").resolve()
    # both films of a patient share the id
    assert len(np.unique(m.patient)) == 12
    assert all(np.sum(m.patient == p) == 2 for p in np.unique(m.patient))


def test_load_mias_lesions_use_top_left_coordinates(tmp_path):
    written = write_mias(tmp_path)
    m = data.load_mias(tmp_path)
    labels, _ = read_csv(tmp_path / "mias" / "labels.csv")
    assert m.lesions == {n: [data.Lesion(*les) for les in written.lesions[n]] for n in written.names}
    first = m.lesions["mdb001"]  # the first malignant film has two lesions
    assert len(first) == 2 and all(les.severity == "malignant" for les in first)
    row = next(r for r in labels if r["image"] == "mdb001")
    les = first[0]
    assert les.x == float(row["x"]) and les.radius == float(row["radius"])
    assert les.y == float(row["y_top"]) == written.size - float(row["y"])  # not MIAS's bottom-up y
    # in the pixel array, row y_top and column x are inside the bright lesion
    pixels = m.load_images()
    i = m.names.index("mdb001")
    for les in first:
        assert pixels[i, int(les.y), int(les.x)] >= 200
    # normal films have no lesion, and neither does a malignant film without coordinates
    for name, sev in zip(m.names, m.severity):
        if sev == "normal":
            assert m.lesions[name] == []
    unlocated = [n for n, s in zip(m.names, m.severity) if s == "malignant" and not m.lesions[n]]
    assert len(unlocated) == 1


def test_mias_counts_on_synthetic(tmp_path):
    write_mias(tmp_path, n_patients=10, n_malignant=3, n_benign=2)
    assert data.mias_counts(tmp_path) == {"normal": 15, "benign": 2, "malignant": 3, "films": 20,
                                          "patients": 10, "malignant_located": 2}


def test_mias_subset_and_images(tmp_path):
    write_mias(tmp_path, size=64)
    m = data.load_mias(tmp_path)
    sub = m.subset([0, 1, 5])
    assert sub.names == ["mdb001", "mdb002", "mdb006"]
    assert sub.lesions["mdb001"] == m.lesions["mdb001"]
    assert set(sub.lesions) == set(sub.names)
    assert sub.load_images().shape == (3, 64, 64)
    assert sub.load_images(32).shape == (3, 32, 32) and sub.load_images().dtype == np.uint8


@pytest.mark.parametrize("csv_name, column", [("labels.csv", "y_top"), ("labels.csv", "radius"),
                                              ("labels.csv", "abnormality"), ("images.csv", "patient"),
                                              ("images.csv", "severity")])
def test_mias_csv_missing_column(tmp_path, csv_name, column):
    write_mias(tmp_path, n_patients=3, n_malignant=1, n_benign=1, size=32)
    drop_column(tmp_path / "mias" / csv_name, column)
    with pytest.raises(DataError) as info:
        data.load_mias(tmp_path)
    message = str(info.value)
    assert csv_name in message and column in message
    assert "hdmann fetch mias" in message


def test_mias_csv_missing_file(tmp_path):
    write_mias(tmp_path, n_patients=2, n_malignant=1, n_benign=0, size=32)
    (tmp_path / "mias" / "labels.csv").unlink()
    with pytest.raises(DataError, match="labels.csv.*is missing"):
        data.load_mias(tmp_path)


def test_mias_missing_image(tmp_path):
    write_mias(tmp_path, n_patients=3, n_malignant=1, n_benign=1, size=32)
    (tmp_path / "mias" / "images" / "mdb004.png").unlink()
    with pytest.raises(DataError, match="mdb004"):
        data.load_mias(tmp_path)


def test_mias_unknown_severity(tmp_path):
    write_mias(tmp_path, n_patients=2, n_malignant=1, n_benign=0, size=32)
    path = tmp_path / "mias" / "images.csv"
    rows, columns = read_csv(path)
    rows[1]["severity"] = "suspicious"
    write_csv(path, rows, columns)
    with pytest.raises(DataError, match="suspicious"):
        data.load_mias(tmp_path)


def test_mias_label_for_unknown_film(tmp_path):
    write_mias(tmp_path, n_patients=2, n_malignant=1, n_benign=0, size=32)
    path = tmp_path / "mias" / "labels.csv"
    rows, columns = read_csv(path)
    rows.append({**rows[0], "image": "mdb999"})
    write_csv(path, rows, columns)
    with pytest.raises(DataError, match="mdb999"):
        data.load_mias(tmp_path)


def test_corrupt_film_names_the_file(tmp_path):
    write_mias(tmp_path, n_patients=2, n_malignant=1, n_benign=0, size=32)
    bad = tmp_path / "mias" / "images" / "mdb003.png"
    bad.write_bytes(b"\x89PNG garbage")
    m = data.load_mias(tmp_path)  # the tables load; pixels are read on demand
    with pytest.raises(DataError, match="mdb003.png"):
        m.load_images()


# -------------------------------------------------------------------------------- real data
def test_real_isic_counts(data_root):
    counts = data.isic_counts(data_root)
    assert counts["train"] == dict(zip(ISIC_CLASSES, (438, 357, 376, 462)))
    assert counts["test"] == dict.fromkeys(ISIC_CLASSES, 16)


def test_real_isic_decodes(data_root):
    s = data.load_isic("test", 32, data_root, max_per_class=2, seed=0)
    assert s.images.shape == (8, 32, 32, 3) and s.images.dtype == np.uint8
    assert s.labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert s.images.std() > 10  # real pictures, not blank


def test_real_mias(data_root):
    counts = data.mias_counts(data_root)
    assert counts == {"normal": 207, "benign": 63, "malignant": 52, "films": 322, "patients": 161,
                      "malignant_located": 49}
    m = data.load_mias(data_root)
    assert all(np.sum(m.patient == p) == 2 for p in np.unique(m.patient))
    # mdb001: MIAS gives (535, 425) from the bottom-left; hdmann keeps y from the top
    assert m.lesions["mdb001"] == [data.Lesion(535.0, 1024 - 425.0, 197.0, "benign", "CIRC")]
    for name, lesions in m.lesions.items():
        for les in lesions:
            assert 0 <= les.x < data.MIAS_SIZE and 0 <= les.y < data.MIAS_SIZE and les.radius > 0
