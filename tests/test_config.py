"""hdmann.engine.config: named profiles, the papers' settings, and helpful errors for bad values."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hdmann.engine.config import PROFILES
from hdmann.studies.foundations.config import compression_config, CompressionConfig
from hdmann.studies.study_a.config import study_a_config, STUDY_A_QUALITIES, StudyAConfig
from hdmann.studies.study_b.config import study_b_config, STUDY_B_RATIOS, StudyBConfig

BUILDERS = {"a": (study_a_config, StudyAConfig), "b": (study_b_config, StudyBConfig),
            "compression": (compression_config, CompressionConfig)}


def test_profile_names():
    assert PROFILES == ("smoke", "quick", "paper")


@pytest.mark.parametrize("study", sorted(BUILDERS))
@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_every_profile_builds(study, profile):
    build, cls = BUILDERS[study]
    cfg = build(profile)
    assert isinstance(cfg, cls)
    assert cfg.profile == profile
    # frozen: a config cannot drift after it keyed a cache entry
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.profile = "paper"
    # to_dict round-trips through the constructor
    assert cls(**cfg.to_dict()) == cfg


def test_default_profile_is_quick():
    assert study_a_config() == study_a_config("quick")
    assert study_b_config() == study_b_config("quick")
    assert compression_config() == compression_config("quick")


def test_study_a_paper_profile_is_the_papers_settings():
    cfg = study_a_config("paper")
    assert cfg.image_size == 180
    assert cfg.source_size == 180
    assert cfg.hypervector_dim == 500
    assert cfg.conv_filters == (64, 128)
    assert cfg.dense_units == 1000
    assert cfg.per_class_target == 600
    assert cfg.validation_fraction == 0.2
    assert cfg.batch_size == 32
    assert cfg.max_epochs == 200
    assert cfg.jpeg_qualities == (50, 20, 10, 5, 3, 1) == STUDY_A_QUALITIES
    assert cfg.max_images_per_class is None and cfg.max_test_images_per_class is None
    assert cfg.distance == "hamming"


def test_study_b_paper_ratios():
    expected = (15, 20, 25, 50, 100, 500, 1000, 5000, 10000, 11000)
    assert STUDY_B_RATIOS == expected
    cfg = study_b_config("paper")
    assert cfg.films.compression_ratios == expected
    assert cfg.films.matrix_ratios == expected
    assert cfg.films.resnet_ratios == expected
    assert cfg.n_folds == 5
    assert cfg.codec == "jpeg2000"
    assert cfg.max_films is None


def test_smaller_profiles_are_smaller():
    smoke, quick, paper = (study_a_config(p) for p in PROFILES)
    assert smoke.image_size < quick.image_size < paper.image_size
    assert smoke.max_epochs < quick.max_epochs < paper.max_epochs
    assert set(study_b_config("smoke").films.compression_ratios) <= set(STUDY_B_RATIOS)
    assert study_b_config("smoke").max_films is not None
    assert compression_config("smoke") != compression_config("quick")


def test_override_and_lists_become_tuples():
    cfg = study_a_config("smoke", jpeg_qualities=[50, 10], image_size=64)
    assert cfg.jpeg_qualities == (50, 10)
    assert isinstance(cfg.jpeg_qualities, tuple)
    assert cfg.image_size == 64
    assert cfg.max_epochs == study_a_config("smoke").max_epochs  # the rest of the profile stays
    hash(cfg)  # usable as a key
    cfg_b = study_b_config("quick", films=dict(compression_ratios=[15, 100], matrix_ratios=[15], saliency_ratios=[]))
    assert cfg_b.films.compression_ratios == (15, 100) and cfg_b.films.matrix_ratios == (15,)
    assert cfg_b.films.input_size == study_b_config("quick").films.input_size  # the rest of the section stays


def test_replace_validates():
    cfg = study_a_config("quick")
    assert cfg.replace(image_size=64).image_size == 64
    with pytest.raises(ValueError, match="image_size"):
        cfg.replace(image_size=66)


@pytest.mark.parametrize("build, overrides, words", [
    (study_a_config, dict(dropout_rate=1.5), ["dropout_rate=1.5", "out of range", "[0.0, 0.95]"]),
    (study_a_config, dict(jpeg_qualities=(50, 0)), ["jpeg quality=0", "out of range"]),
    (study_a_config, dict(jpeg_qualities=(96,)), ["jpeg quality=96"]),
    (study_a_config, dict(image_size=30), ["image_size=30", "multiple of 4"]),
    (study_a_config, dict(image_size=12), ["image_size=12", "out of range"]),
    (study_a_config, dict(validation_fraction=0.9), ["validation_fraction"]),
    (study_a_config, dict(hypervector_dim=4), ["hypervector_dim"]),
    (study_a_config, dict(distance="manhattan"), ["distance='manhattan'", "hamming"]),
    (study_a_config, dict(output_activation="relu"), ["output_activation"]),
    (study_a_config, dict(flip="diagonal"), ["flip"]),
    (study_a_config, dict(jpeg_subsampling="4:1:1"), ["jpeg_subsampling"]),
    (study_a_config, dict(imagesize=64), ["unknown StudyAConfig field", "imagesize", "image_size"]),
    (study_b_config, {"films.input_size": 100}, ["input_size=100", "multiple of 8"]),
    (study_b_config, dict(n_folds=1), ["n_folds=1", "out of range"]),
    (study_b_config, dict(codec="png"), ["codec='png'", "jpeg2000"]),
    (study_b_config, {"films.compression_ratios": (15, 0)}, ["compression ratio=0"]),
    (study_b_config, {"films.matrix_ratios": (15, 7)}, ["matrix_ratios", "[7]", "not among compression_ratios"]),
    (study_b_config, {"films.resnet_ratios": (12,)}, ["resnet_ratios", "[12]"]),
    (study_b_config, dict(workers=0), ["workers=0"]),
    (study_b_config, dict(folds=3), ["unknown StudyBConfig field", "folds", "n_folds"]),
    (study_b_config, {"patches.nope": 3}, ["unknown StudyBPatches field", "nope", "epochs"]),
    (study_b_config, {"patches.size": 100}, ["patches.size=100", "multiple of 8"]),
    (compression_config, dict(ratio_tolerance=2.0), ["ratio_tolerance=2.0"]),
    (compression_config, dict(jpeg_qualities=(0,)), ["jpeg quality=0"]),
    (compression_config, dict(jp2_ratios=(0.5,)), ["jp2_ratios=(0.5,)", "wrong type", "tuple[int, ...]"]),
    (compression_config, dict(jp2_ratios=(0,)), ["compression ratio=0"]),
    (compression_config, dict(jpg_qualities=(1,)), ["unknown CompressionConfig field", "jpg_qualities"]),
])
def test_bad_values_raise_helpful_errors(build, overrides, words):
    with pytest.raises(ValueError) as info:
        build("quick", **overrides)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("build", [study_a_config, study_b_config, compression_config])
def test_unknown_profile(build):
    with pytest.raises(ValueError, match=r"unknown profile 'fast'.*smoke, quick, paper"):
        build("fast")


@pytest.mark.parametrize("cls", [StudyAConfig, StudyBConfig, CompressionConfig])
def test_unknown_profile_in_constructor(cls):
    with pytest.raises(ValueError, match="unknown profile"):
        cls(profile="gpu")


def test_every_profile_override_is_a_field():
    """The profile tables may only name real fields (a typo there would raise at import of a notebook)."""
    from hdmann.studies.codecs import config as codecs
    from hdmann.studies.foundations import config as foundations
    from hdmann.studies.study_a import config as study_a
    from hdmann.studies.study_a_beyond import config as beyond
    from hdmann.studies.study_b import config as study_b

    for table, cls in ((study_a._STUDY_A_PROFILES, StudyAConfig), (study_b._STUDY_B_PROFILES, StudyBConfig),
                       (study_b._STUDY_B_CONTROL_PROFILES, study_b.StudyBControlConfig),
                       (foundations._COMPRESSION_PROFILES, CompressionConfig),
                       (beyond._STUDY_A_BEYOND_PROFILES, beyond.StudyABeyondConfig),
                       (codecs._CODEC_PROFILES, codecs.CodecConfig)):
        assert set(table) == set(PROFILES)
        names = {f.name for f in dataclasses.fields(cls)}
        for overrides in table.values():
            assert set(overrides) <= names
    for section, cls in (("films", study_b.StudyBFilms), ("patches", study_b.StudyBPatches)):
        for overrides in study_b._STUDY_B_PROFILES.values():
            assert set(overrides.get(section, {})) <= {f.name for f in dataclasses.fields(cls)}


# --- overrides (`overrides` notebook parameter, `hdmann book --set`) and unstated-field metadata ---

from hdmann.book import report  # noqa: E402
from hdmann.engine.config import flat_overrides, parse_assignments, unstated_fields
from hdmann.studies import builders, check_overrides, from_overrides  # noqa: E402
from hdmann.studies.study_a_beyond.config import study_a_beyond_config, StudyABeyondConfig


def test_overrides_apply_by_section_and_reach_study_a_beyond():
    overrides = {"study_a": {"hypervector_dim": 2000, "jpeg_qualities": [50, 5]}, "study_b": {"max_films": None}}
    cfg = study_a_config("smoke", overrides=overrides)
    assert cfg.hypervector_dim == 2000 and cfg.jpeg_qualities == (50, 5)
    assert cfg.image_size == study_a_config("smoke").image_size
    assert study_b_config("smoke", overrides=overrides).max_films is None
    assert compression_config("smoke", overrides=overrides) == compression_config("smoke")
    beyond = study_a_beyond_config("smoke", overrides=overrides)
    assert beyond.study_a.hypervector_dim == 2000, "the model the chapter probes follows --set study_a.*"
    assert from_overrides("study_a", "smoke", overrides) == cfg
    assert study_a_config("smoke", overrides={}) == study_a_config("smoke")


@pytest.mark.parametrize("overrides, words", [
    ({"study_a": {"hypervector_dims": 2000}}, ["unknown StudyAConfig field", "hypervector_dims", "hypervector_dim"]),
    ({"study_a": {"hypervector_dim": "big"}}, ["StudyAConfig.hypervector_dim='big'", "wrong type", "takes int"]),
    ({"study_a": {"hypervector_dim": 2.5}}, ["hypervector_dim", "takes int"]),
    ({"study_a": {"paper_order": 1}}, ["paper_order", "takes bool"]),
    ({"study_a": {"jpeg_qualities": 5}}, ["jpeg_qualities", "tuple[int, ...]"]),
    ({"study_b": {"conv_filters": [16, 32]}}, ["conv_filters", "tuple[int, int, int]", "3 values"]),
    ({"study_b": {"max_films": "all"}}, ["max_films", "int | None"]),
    ({"study_b": {"profile": "paper"}}, ["profile cannot be overridden"]),
    ({"study_a_beyond": {"study_a": {}}}, ["study_a", "--set study_a.FIELD=VALUE"]),
    ({"studya": {"image_size": 64}}, ["unknown config section", "studya", "study_a"]),
    ({"study_a": 64}, ["overrides['study_a'] must be a dict"]),
    ({"study_a": {"image_size": 66}}, ["image_size=66", "multiple of 4"]),  # values still validated
])
def test_bad_overrides_raise_naming_the_field(overrides, words):
    with pytest.raises(ValueError) as info:
        check_overrides("smoke", overrides)
    for word in words:
        assert word in str(info.value)


def test_parse_assignments():
    parsed = parse_assignments(["study_a.hypervector_dim=2000", "study_b.codec=jpeg", "study_b.max_films=null",
                                "study_b.films.matrix_ratios=[15, 11000]", "study_a.learning_rate=1e-4"])
    assert parsed == {"study_a": {"hypervector_dim": 2000, "learning_rate": 1e-4},
                      "study_b": {"codec": "jpeg", "max_films": None, "films.matrix_ratios": [15, 11000]}}
    check_overrides("smoke", parsed)
    assert flat_overrides(parsed) == {"study_a.hypervector_dim": 2000, "study_a.learning_rate": 1e-4,
                                      "study_b.codec": "jpeg", "study_b.films.matrix_ratios": [15, 11000],
                                      "study_b.max_films": None}
    for bad in ("hypervector_dim=2000", "study_a.hypervector_dim", "=3", ".x=1"):
        with pytest.raises(ValueError, match="SECTION.FIELD=VALUE"):
            parse_assignments([bad])


@pytest.mark.parametrize("cls", [StudyAConfig, StudyABeyondConfig, StudyBConfig, CompressionConfig])
def test_choices_table_lists_exactly_the_unstated_fields(cls):
    cfg = builders()[{StudyAConfig: "study_a", StudyABeyondConfig: "study_a_beyond", StudyBConfig: "study_b",
                    CompressionConfig: "compression"}[cls]]("smoke")
    marked = [f for f in dataclasses.fields(cls) if "unstated" in f.metadata]
    sections = [f.name for f in dataclasses.fields(cls) if dataclasses.is_dataclass(getattr(cfg, f.name))
                and "profile" not in {g.name for g in dataclasses.fields(getattr(cfg, f.name))}]
    for scope in {f.metadata.get("scope") for f in marked} | {None} | set(sections):
        part = getattr(cfg, scope) if scope in sections else cfg
        table = report.choices(cfg, scope)
        expected = [f.name for f in dataclasses.fields(part) if "unstated" in f.metadata
                    and (scope in sections or f.metadata.get("scope") == scope)]
        shown = [f"{scope}.{n}" if scope in sections else n for n in expected]  # a section's field as --set names it
        assert list(table["setting"]) == shown and expected == list(unstated_fields(cls, scope))
        assert list(table["value"]) == [report._shown(getattr(part, n)) for n in expected]
        assert all(isinstance(w, str) and w.strip() for w in table["why"]), "every choice says why"
    both = report.choices(cfg, (None, *sections))  # a chapter's table of several sections lists each one's
    assert len(both) == sum(len(unstated_fields(cls, s)) for s in (None, *sections))
    extra = report.choices(cfg, extra={"runs": 3})
    assert list(extra["setting"])[-1] == "runs" and len(extra) == len(unstated_fields(cls)) + 1


def test_unstated_choices_are_data_not_comments():
    import hdmann.studies

    for path in Path(hdmann.studies.__file__).parent.glob("*/config.py"):
        source = path.read_text()
        assert "# unstated" not in source.replace("``# unstated``", ""), f"{path.parent.name}: mark an unstated field with unstated(...)"
    assert len(unstated_fields(StudyAConfig)) >= 10 and len(unstated_fields(StudyBConfig, "patches")) >= 10


def test_overrides_given_as_json_text_as_papermill_p_passes_them():
    from hdmann.studies.study_a.config import study_a_config

    assert study_a_config("smoke", overrides='{"study_a": {"hypervector_dim": 256}}').hypervector_dim == 256
    assert study_a_config("smoke", overrides="") == study_a_config("smoke")
    with pytest.raises(ValueError, match="not JSON"):
        study_a_config("smoke", overrides="{study_a: 1}")
    with pytest.raises(ValueError, match="JSON object"):
        study_a_config("smoke", overrides="[1, 2]")


def test_nested_study_b_fields_are_set_by_their_new_names_and_old_names_say_the_new_one():
    cfg = study_b_config("smoke", parse_assignments(["study_b.patches.epochs=3", "study_b.films.max_epochs=4"]))
    assert (cfg.patches.epochs, cfg.films.max_epochs) == (3, 4)
    smoke = study_b_config("smoke")
    assert cfg.patches.replace(epochs=smoke.patches.epochs) == smoke.patches  # the rest of the profile stays
    assert study_b_config("smoke", {"study_b": {"patches": {"epochs": 5}}}).patches.epochs == 5
    with pytest.raises(ValueError, match=r"study_b.patch_epochs is now study_b.patches.epochs: write --set "
                                         r"study_b.patches.epochs=VALUE"):
        study_b_config("smoke", parse_assignments(["study_b.patch_epochs=3"]))
    with pytest.raises(ValueError, match="study_b.input_size is now study_b.films.input_size"):
        study_b_config("smoke", {"study_b": {"input_size": 64}})
    with pytest.raises(ValueError, match="wrong type"):
        study_b_config("smoke", {"study_b": {"patches.epochs": "many"}})
    from hdmann.studies.study_b.config import RENAMED, StudyBConfig

    for old, new in RENAMED.items():  # every old name is gone, and its new name exists
        section, name = new.split(".")
        assert old not in {f.name for f in dataclasses.fields(StudyBConfig)}
        assert hasattr(getattr(smoke, section), name), new
