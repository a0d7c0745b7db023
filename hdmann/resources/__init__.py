"""Data files the package ships (book style, checksums, the isic4 id list)."""
