"""Shared fixtures: real data (skipped without it), synthetic data, and an isolated cache per test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import hdmann  # noqa: F401  (KERAS_BACKEND=jax before anything imports keras)
from hdmann.engine import compute
from synthetic import write_isic, write_isic_other, write_mias

compute.start_jax()  # before any test touches JAX: every test computes as a build does, on one XLA thread


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty HDMANN_CACHE, so no test reads or writes the user's _cache/;
    and every stage a test builds is checked to read only what its key hashes (HDMANN_STRICT=1)."""
    from hdmann.engine import data

    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("HDMANN_CACHE", str(folder))
    monkeypatch.setenv("HDMANN_STRICT", os.environ.get("HDMANN_STRICT") or "1")
    monkeypatch.setattr(data, "_MEMO", None)  # a read-only stage keeps a data memo for its process: not across tests
    return folder


def _no_data(reason: str):
    """Skip, or fail where CI sets HDMANN_REQUIRE_DATA (the real-data tests must run there)."""
    if os.environ.get("HDMANN_REQUIRE_DATA", "").strip() not in ("", "0"):
        pytest.fail(f"HDMANN_REQUIRE_DATA is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real data root from $HDMANN_DATA (absolute), or a skip that says why."""
    value = os.environ.get("HDMANN_DATA")
    if not value:
        _no_data("HDMANN_DATA is unset: point it at the folder that holds isic4/ and mias/ "
                 "(e.g. HDMANN_DATA=../shared/data) to run the real-data tests")
    root = Path(value).expanduser().resolve()
    if not root.is_dir():
        _no_data(f"HDMANN_DATA={value!r} is not a folder")
    missing = [name for name in ("isic4", "mias") if not (root / name).is_dir()]
    if missing:
        _no_data(f"HDMANN_DATA={value!r} lacks {missing}: run `hdmann fetch isic4` and `hdmann fetch mias`")
    return root


@pytest.fixture(scope="session")
def smoke_book(data_root, tmp_path_factory) -> Path:
    """The whole book built once per session in the smoke profile from an empty cache (as CI and a new
    user see it); the book-build and browser tiers both read it. Returns the build's out folder."""
    from hdmann.book import runner as book

    out = tmp_path_factory.mktemp("smoke_book")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HDMANN_CACHE", str(out / "_cache"))
        book.build("smoke", data_root, out=out)
    return out


@pytest.fixture
def synthetic_root(tmp_path) -> Path:
    """A data root with a small synthetic isic4/ (10 train + 4 test per class, 32x32) and mias/
    (12 patients, 24 films of 256x256)."""
    root = tmp_path / "data"
    write_isic(root)
    write_isic_other(root)  # the chapter beyond Study A fingerprints it
    write_mias(root)
    return root


@pytest.fixture(scope="session")
def mias_root(tmp_path_factory) -> Path:
    """A tiny synthetic mias/ (12 patients, 4 malignant and 3 benign, 256x256 films) shared by the
    seeded study B runs; read-only, so one copy serves every module."""
    root = tmp_path_factory.mktemp("mias_tiny")
    write_mias(root, n_patients=12, n_malignant=4, n_benign=3, size=256)
    return root
