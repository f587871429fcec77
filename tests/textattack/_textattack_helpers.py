"""Helpers for the TextAttack integration tests (imported by conftest.py and the test modules)."""
from __future__ import annotations

import gzip
import os
import shutil
import site
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PTH = REPO / "scd_plugins" / "textattack" / "scd_plugins_textattack.pth"


def shared_text_dir() -> Path | None:
    base = Path(os.environ["SCD_SHARED"]) if os.environ.get("SCD_SHARED") else REPO.parent / "shared"
    text = base / "data" / "text"
    return text if (text / "mr_polarity.tsv.gz").is_file() else None


def gensim_mr_sentences() -> Path | None:
    try:
        from gensim.test.utils import datapath
    except ImportError:
        return None
    path = Path(datapath("pang_lee_polarity.cor"))
    return path if path.is_file() else None


def write_mr_from_gensim(src: Path, text_dir: Path) -> None:
    """The gensim file is MR in fastText form ('__label__pos text'), in MR's original cp1252 bytes; write it
    in our TSV layout (UTF-8), as ../shared/data/text/mr_polarity.tsv.gz is."""
    rows = []
    for line in src.read_bytes().decode("cp1252").splitlines():
        label, _, text = line.partition(" ")
        rows.append(f"{1 if label == '__label__pos' else 0}\t{text}\n")
    text_dir.mkdir(parents=True, exist_ok=True)
    with gzip.open(text_dir / "mr_polarity.tsv.gz", "wt", encoding="utf-8") as f:
        f.writelines(rows)


def pth_installed() -> bool:
    dirs = list(site.getsitepackages()) + [site.getusersitepackages()]
    return any((Path(d) / PTH.name).is_file() for d in dirs)


def subprocess_env(tmp_path: Path) -> dict:
    """Environment in which the verbatim `textattack` command sees our `.pth` line: the installed one, or,
    when the package is not installed from a wheel, the same file added by a sitecustomize shim (which runs
    `site.addsitedir`, i.e. the start-up machinery that reads .pth files)."""
    env = dict(os.environ)
    paths = [str(REPO)]
    if not pth_installed():
        site_dir = tmp_path / "site"
        site_dir.mkdir(exist_ok=True)
        shutil.copy(PTH, site_dir / PTH.name)
        shim = tmp_path / "shim"
        shim.mkdir(exist_ok=True)
        (shim / "sitecustomize.py").write_text(f"import site\nsite.addsitedir({str(site_dir)!r})\n")
        paths.insert(0, str(shim))
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def textattack_exe() -> str:
    exe = Path(sys.executable).parent / "textattack"
    found = str(exe) if exe.is_file() else shutil.which("textattack")
    if not found:
        pytest.skip("the `textattack` console script is not installed")
    return found
