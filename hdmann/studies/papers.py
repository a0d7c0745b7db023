"""What the two papers published, as data: the book sets our measurements beside these values.

Study A: T. Barros Everett, "Effects of Compression on Visual Representations Learned from
Medical Images" (UTFSM). Study B: Y.-Y. Jo et al., Sci Rep 11:7924 (2021),
doi:10.1038/s41598-021-86726-w (values from the abstract).
"""

STUDY_A_TABLE_I = (  # layer, output shape, parameters (Table I)
    ("Rescaling", "(None, 180, 180, 3)", 0),
    ("Conv2D", "(None, 180, 180, 64)", 1_792),
    ("MaxPooling2D", "(None, 90, 90, 64)", 0),
    ("Conv2D", "(None, 90, 90, 128)", 73_856),
    ("MaxPooling2D", "(None, 45, 45, 128)", 0),
    ("Dropout", "(None, 45, 45, 128)", 0),
    ("Flatten", "(None, 259200)", 0),
    ("Dense", "(None, 1000)", 259_201_000),
    ("Dense", "(None, 500)", 500_500),
)
STUDY_A = {
    "images_total": 2357,  # the Kaggle ISIC set, 9 diagnoses (the paper says 10)
    "original_per_class": 400,
    "augmented_per_class": 600,
    "max_epochs": 200,
    "effective_epochs": 90,
    "qualities": (50, 20, 10, 5, 3, 1),
}
STUDY_B = {
    "mammograms": 9111, "normal": 5672, "benign": 1686, "malignant": 1754,
    "auroc_upto_5k": 0.87, "auprc_upto_5k": 0.75,
    "auroc_10k_11k": 0.79, "auprc_10k_11k": 0.49,
    "resnet_auroc_low": 0.77, "resnet_auroc_high": 0.87,
    "resnet_auprc_low": 0.52, "resnet_auprc_high": 0.71,
}
