"""Study A: HD-MANN (Barros Everett) on four ISIC classes under JPEG: the model and its representations."""
from hdmann.studies import Chapter

PART = "Study A: HD-MANN on skin lesions under JPEG"
CLAIMS = "claims"  # its claims module: the verdicts every table and the landing page show
CONFIG = ("study_a", "study_a_config")


def model_stages(profile: str, overrides: dict | None = None) -> list:
    from hdmann.studies.study_a import pipeline
    from hdmann.studies.study_a.config import study_a_config

    cfg = study_a_config(profile, overrides)
    calls = []
    # every training seed, and the paper's literal order (one seed) that the chapter sets beside ours
    for c in pipeline.seed_configs(cfg) + [cfg.replace(paper_order=True, seeds=1)]:
        calls += [pipeline.split_data.on(c), pipeline.train_model.on(c), pipeline.predictions.on(c)]
    return calls + claim_stages(profile, overrides)


def claim_stages(profile: str, overrides: dict | None = None) -> list:
    """What Study A's verdicts read: each seed's outputs on both ladders and the colour baseline."""
    from hdmann.studies.study_a import claims

    return claims.stage_calls(profile, overrides)


def representation_stages(profile: str, overrides: dict | None = None) -> list:
    from hdmann.studies.study_a import pipeline
    from hdmann.studies.study_a.config import study_a_config

    cfg = study_a_config(profile, overrides)
    return ([pipeline.predictions.on(c) for c in pipeline.seed_configs(cfg)] + [pipeline.tsne_maps.on(cfg, "val")]
            + claim_stages(profile, overrides))


CHAPTERS = (
    Chapter("study_a_model", PART, ("isic4",), ("study_a",), model_stages),
    Chapter("study_a_representations", PART, ("isic4",), ("study_a",), representation_stages),
)
