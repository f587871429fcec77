"""Shared set-up for the recipe tests: an offline environment, a data home shared by the session (prepared
data sets are cached once), and `tiny()`: a packaged recipe with its structure kept and its sizes shrunk."""
from __future__ import annotations

import copy
import io
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def data_home(tmp_path_factory):
    return tmp_path_factory.mktemp("data_home")


@pytest.fixture(autouse=True)
def _offline(monkeypatch, data_home, tmp_path):
    monkeypatch.setenv("SCD_DATA_HOME", str(data_home))
    monkeypatch.setenv("SCD_MODEL_HOME", str(tmp_path / "models"))
    for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(v, "1")


def shrink(raw: dict, *, votes=3, points=2, train_size=300) -> dict:
    """The recipe with every ensemble at `votes` members, short training, one cheap attack run per point."""
    r = copy.deepcopy(raw)
    for d in (r["data"] if isinstance(r["data"], list) else [r["data"]]):
        d["train_size"] = train_size
    for m in r["models"]:
        p = m.setdefault("params", {})
        if m["name"].startswith("scd"):
            p.update(n_votes=votes, iterations=20, n_jobs=1)
        elif m["name"] == "mlp":
            p.update(n_estimators=votes, max_iter=20)
        elif m["name"] == "rf":
            p.update(n_estimators=votes)
        elif m["name"] in ("bnn", "lenet", "cnn1d", "wordcnn"):
            p.update(n_estimators=votes, max_iter=1)
    # ResNet-50 trains for minutes even on tiny data on a CPU: its own tests (tests/estimators/test_resnet.py)
    # cover it, the recipe tests leave it out.
    r["models"] = [m for m in r["models"] if m["name"] != "resnet50"]
    for a in r.get("attacks", []):
        a["restarts"] = 1
        a["init_size"] = 100
        for s in (a["params"] if isinstance(a["params"], list) else [a["params"]]):
            for k, v in (("max_iter", 3), ("max_eval", 100), ("init_eval", 10), ("max_queries", 300)):
                if k in s:
                    s[k] = v
    pts = r.get("points", {})
    if "n" in pts:
        pts["n"] = min(pts["n"], points)
    if "indices" in pts:
        pts["indices"] = pts["indices"][:points]
    if "ensemble_size" in r:
        r["ensemble_size"]["sizes"] = [1, votes]
    if "transfer" in r:
        r["transfer"]["votes"] = votes
    r.setdefault("run", {})["n_jobs"] = 1          # in-process: no worker start-up (loky is tested in test_runner)
    return r


@pytest.fixture
def tiny():
    from scd_plugins.repro.recipe import find_recipe, read_toml, validate_recipe

    def make(name, **kw):
        return validate_recipe(shrink(read_toml(find_recipe(name)), **kw), source=f"{name} (tiny)")

    return make


def _wheel_member(dist, version, member):
    import importlib.metadata as md
    import zipfile

    try:
        if md.version(dist) == version:
            return Path(md.distribution(dist).locate_file(member)).read_bytes()
    except (md.PackageNotFoundError, FileNotFoundError):
        pass
    folder = os.environ.get("SCD_TEST_WHEELS")
    for wheel in sorted(Path(folder).glob(f"{dist}-{version}-*.whl")) if folder else []:
        with zipfile.ZipFile(wheel) as z:
            if member in z.namelist():
                return z.read(member)
    return None


@pytest.fixture(scope="session")
def mitdb_home(data_home):
    """Real MIT-BIH beats for T8/F3: record 208 (scipy 1.13.1's ecg.dat, 5 minutes, MLII) written as a wfdb
    record under <data_home>/mitdb, with beat labels DERIVED by an RR rule (premature beat -> abnormal), as
    tests/pipelines/test_ecg.py does: the excerpt comes without the expert .atr file. None when absent."""
    raw = _wheel_member("scipy", "1.13.1", "scipy/misc/ecg.dat")
    try:
        import wfdb
        from scipy.signal import butter, filtfilt, find_peaks
    except ImportError:
        return None
    if raw is None:
        return None
    root = data_home / "mitdb"
    if not (root / "208.hea").is_file():
        root.mkdir(parents=True, exist_ok=True)
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            adc = z["ecg"]
        fs = 360
        sig = (adc.astype(np.int64) - 1024) / 200.0
        wfdb.wrsamp("208", fs=fs, units=["mV"], sig_name=["MLII"], p_signal=sig[:, None], fmt=["212"],
                    adc_gain=[200.0], baseline=[1024], write_dir=str(root))
        b, a = butter(2, [5 / (fs / 2), 20 / (fs / 2)], "band")
        peaks, _ = find_peaks(np.abs(filtfilt(b, a, sig)), distance=int(0.2 * fs), prominence=0.3)
        rr = np.diff(peaks)
        premature = np.r_[False, rr[:-1] < 0.9 * rr[1:], False]
        wfdb.wrann("208", "atr", peaks, list(np.where(premature, "V", "N")), fs=fs, write_dir=str(root))
    return root
