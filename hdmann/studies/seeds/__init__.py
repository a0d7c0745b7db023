"""Across studies: how far a training seed moves each seed-dependent number of the book."""
from hdmann.studies import Chapter
from hdmann.studies.codecs import PART


def stages(profile: str, overrides: dict | None = None) -> list:
    """Everything the seeded chapters read (the page reads their seeds' results), so that it runs
    once they are built."""
    from hdmann.studies import study_a, study_a_beyond, study_b

    return (study_a.model_stages(profile, overrides) + study_a_beyond.stages(profile, overrides)
            + study_b.patch_stages(profile, overrides))


CHAPTERS = (Chapter("seeds", PART, ("isic4", "isic-other", "mias", "breastmnist"),
                    ("study_a", "study_a_beyond", "study_b"), stages),)
