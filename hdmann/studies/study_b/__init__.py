"""Study B (Jo et al.): mammograms under JPEG 2000, on lesion patches (the headline) and whole films (a control)."""
from hdmann.studies import Chapter

PART = "Study B: mammograms under JPEG 2000"
CLAIMS = "claims"  # its claims module: the verdicts every table and the landing page show
CONFIG = ("study_b", "study_b_config")


def patch_stages(profile: str, overrides: dict | None = None) -> list:
    """The pipeline's stages, and the first repeat of every selection variant: strictly nested,
    outer fold k is scored by the variant its own inner split chose, which is known only once the
    selection has run, so the graph trains each (the configured variant's is the CNN's repeat 0)."""
    from hdmann.studies.study_b import maps, pipeline
    from hdmann.studies.study_b.config import study_b_config

    cfg = study_b_config(profile, overrides)
    nested = [pipeline.run.on(pipeline.variant_config(cfg, variant), "cnn", None, 0, "malignant")
              for variant in cfg.patches.select_variants]
    return pipeline.stage_calls(cfg) + maps.stage_calls(cfg) + nested


def control_stages(profile: str, overrides: dict | None = None) -> list:
    from hdmann.studies.study_b import negative_control
    from hdmann.studies.study_b.config import study_b_config

    return negative_control.control_stages(study_b_config(profile, overrides))


CHAPTERS = (
    Chapter("study_b_patches", PART, ("mias",), ("study_b",), patch_stages),
    Chapter("study_b_control", PART, ("mias",), ("study_b",), control_stages),
)
