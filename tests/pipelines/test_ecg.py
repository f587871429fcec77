"""ECG pipelines on real MIT-BIH signal excerpts (scipy 1.13.1's ecg.dat: record 208, and sktime 1.2.0's
mitdb.csv), written as wfdb records and read back through the pipeline.

The beat labels used here are DERIVED, not expert annotations: the excerpts come without the .atr files,
so the tests make annotations themselves (premature beats by an RR rule for ecg.dat, the csv's own 0/1
column for mitdb.csv, invented diagnoses for the PTB header test). They check the plumbing (annotation
matching, label transfer, splits), not clinical labels.
"""
from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

wfdb = pytest.importorskip("wfdb", reason="ECG pipelines need wfdb")
# wfdb 4.3 calls pandas methods with inplace=, which pandas 3 deprecates; not ours to fix here.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

from scipy.signal import butter, filtfilt, find_peaks  # noqa: E402

from pipelines import load_dataset  # noqa: E402
from pipelines.ecg import (BEAT_LENGTH, extract_beats, label_from_annotations, label_from_diagnosis,  # noqa: E402
                           load_ptbdb, write_kaggle_csv)

FS = 360
# MIT-BIH record 208: 2955 annotated beats in 30:06 (PhysioNet mitdbdir); the excerpt is 5 minutes.
EXPECTED_208_BEATS = 2955 / (30 * 60 + 6) * 300


def _reference_peaks(sig, fs, prominence):
    """R peaks by plain scipy (band-pass, |x|, find_peaks): independent of wfdb's detectors."""
    b, a = butter(2, [5 / (fs / 2), 20 / (fs / 2)], "band")
    peaks, _ = find_peaks(np.abs(filtfilt(b, a, sig)), distance=int(0.2 * fs), prominence=prominence)
    return peaks


@pytest.fixture
def record_208(tmp_path, ecg_dat):
    with np.load(io.BytesIO(ecg_dat), allow_pickle=False) as z:
        adc = z["ecg"]
    sig = (adc.astype(np.int64) - 1024) / 200.0          # scipy's own conversion to mV
    wfdb.wrsamp("208", fs=FS, units=["mV"], sig_name=["MLII"], p_signal=sig[:, None], fmt=["212"],
                adc_gain=[200.0], baseline=[1024], write_dir=str(tmp_path))
    # derived labels: a beat whose preceding RR is < 0.9 x the following RR (premature + pause) -> 'V'
    peaks = _reference_peaks(sig, FS, 0.3)
    rr = np.diff(peaks)
    premature = np.r_[False, rr[:-1] < 0.9 * rr[1:], False]
    symbols = np.where(premature, "V", "N")
    wfdb.wrann("208", "atr", peaks, list(symbols), fs=FS, write_dir=str(tmp_path))
    return tmp_path, adc, sig, peaks, symbols


def test_wfdb_record_round_trip(record_208):
    root, adc, sig, _, _ = record_208
    rec = wfdb.rdrecord(str(root / "208"), physical=False)
    np.testing.assert_array_equal(rec.d_signal[:, 0], adc)   # format 212 keeps the ADC values exactly
    assert rec.fs == FS and rec.sig_name == ["MLII"]


def test_mitdb_beats_from_record_208(record_208):
    root, _, sig, peaks, symbols = record_208
    ds = load_dataset("mitdb:208", data_dir=root)
    x = np.concatenate([ds.x_train, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    assert x.shape[1] == BEAT_LENGTH == 187 and ds.sample_shape == (187,)
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.dtype == np.float32
    assert abs(len(x) - EXPECTED_208_BEATS) < 0.1 * EXPECTED_208_BEATS
    assert abs(len(x) - len(peaks)) < 0.1 * len(peaks)
    # 1.2 x RR at 125 Hz is < 130 samples for this record (RR < 0.84 s): the rest is zero padding
    assert np.all(x[:, 130:] == 0) and np.all(x[:, :20].max(axis=1) > 0)
    assert len(ds.y_test) == math.ceil(0.2 * len(x))
    info = ds.provenance["records"]["208"]
    assert info["labelled"] >= 0.95 * info["beats"]           # detected peaks meet the derived annotations
    n_v = int((symbols == "V").sum())
    assert abs(int(y.sum()) - n_v) <= 0.2 * n_v + 2
    again = load_dataset("mitdb:208", data_dir=root)          # cached, same split
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    assert again.provenance["cache_file"] == ds.provenance["cache_file"]


def test_sktime_mitdb_excerpt_aami_labels(tmp_path, mitdb_csv):
    df = pd.read_csv(io.BytesIO(mitdb_csv))
    sig = df["data"].to_numpy(float)
    assert len(sig) == 7500
    wfdb.wrsamp("sk", fs=FS, units=["mV"], sig_name=["MLII"], p_signal=sig[:, None], fmt=["16"],
                adc_gain=[200.0], baseline=[0], write_dir=str(tmp_path))
    peaks = _reference_peaks(sig, FS, 0.5)
    symbols = np.where(df["label"].to_numpy()[peaks] == 1, "V", "N")   # derived from the csv's 0/1 column
    wfdb.wrann("sk", "atr", peaks, list(symbols), fs=FS, write_dir=str(tmp_path))
    ds = load_dataset("wfdb:sk", data_dir=tmp_path, scheme="aami", test_size=0.25, cache=False)
    assert ds.class_names == ("N", "S", "V", "F", "Q")
    n = len(ds.y_train) + len(ds.y_test)
    assert abs(n - len(peaks)) <= 2                           # ~73 bpm over 20.8 s
    assert set(np.unique(np.r_[ds.y_train, ds.y_test])) <= {0, 2}
    assert int((np.r_[ds.y_train, ds.y_test] == 2).sum()) == pytest.approx(int((symbols == "V").sum()), abs=1)
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1


def test_ptb_diagnosis_labels_from_headers(tmp_path, ecg_dat):
    with np.load(io.BytesIO(ecg_dat), allow_pickle=False) as z:
        sig = (z["ecg"].astype(np.int64) - 1024) / 200.0
    (tmp_path / "patient001").mkdir()
    for name, part, reason in (("s0001", sig[:36000], "Healthy control"), ("s0002", sig[36000:72000], "Myocardial infarction"),
                               ("s0003", sig[72000:], "n/a")):
        wfdb.wrsamp(name, fs=FS, units=["mV"], sig_name=["ii"], p_signal=part[:, None], fmt=["16"], adc_gain=[200.0],
                    baseline=[0], comments=["age: 60", "sex: male", f"Reason for admission: {reason}"],
                    write_dir=str(tmp_path / "patient001"))
    ds = load_dataset("ptbdb-wfdb", data_dir=tmp_path, cache=False)
    per = ds.provenance["records"]
    assert set(per) == {"patient001/s0001", "patient001/s0002", "patient001/s0003"}
    assert per["patient001/s0003"]["beats"] > 100 and per["patient001/s0003"]["labelled"] == 0   # no diagnosis
    counts = np.bincount(np.r_[ds.y_train, ds.y_test], minlength=2)
    assert counts.tolist() == [per["patient001/s0001"]["beats"], per["patient001/s0002"]["beats"]]
    with pytest.raises(ValueError, match="Reason for admission"):
        label_from_diagnosis(["age: 60"])
    assert label_from_diagnosis(["Reason for admission: n/a"]) is None
    assert label_from_diagnosis(["Reason for admission: Bundle branch block"]) == 1


def test_kaggle_csv_layout_round_trip(tmp_path, record_208):
    root, _, sig, peaks, symbols = record_208
    beats, kept = extract_beats(sig, FS, peaks=peaks)
    lab = label_from_annotations(kept, peaks, symbols, FS)
    normal, abnormal = beats[lab == 0], beats[lab == 1]
    write_kaggle_csv(tmp_path / "ptbdb_normal.csv", normal, 0)
    write_kaggle_csv(tmp_path / "ptbdb_abnormal.csv", abnormal, 1)
    first = (tmp_path / "ptbdb_normal.csv").read_text().splitlines()[0].split(",")
    assert len(first) == 188 and first[-1] == "0.000000000000000000e+00"
    ds = load_ptbdb(tmp_path)
    n = len(beats)
    assert len(ds.y_test) == math.ceil(0.1 * n) and len(ds.y_train) == n - math.ceil(0.1 * n)
    assert ds.class_names == ("normal", "abnormal") and ds.clip_values == (0.0, 1.0)
    got = np.concatenate([ds.x_train, ds.x_test])
    want = np.concatenate([normal, abnormal])
    np.testing.assert_allclose(np.sort(got, axis=0), np.sort(want, axis=0), atol=1e-7)
    assert int(np.r_[ds.y_train, ds.y_test].sum()) == len(abnormal)
    other = load_ptbdb(tmp_path, seed=1, cache=False)
    assert not np.array_equal(other.y_test, ds.y_test) or not np.array_equal(other.x_test, ds.x_test)


def test_label_matching_rules():
    r = np.array([100, 400, 700, 1000])
    lab = label_from_annotations(r, np.array([95, 410, 460, 1200]), ["N", "V", "+", "A"], FS)
    assert lab.tolist() == [0, 1, -1, -1]      # '+' is a rhythm mark; 1200 is 200 samples (> 0.15 s) away


def test_missing_ecg_data_messages(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"ptbdb_normal\.csv expected at .*kaggle datasets download"):
        load_dataset("ptbdb", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"dl_database\('mitdb'"):
        load_dataset("mitdb", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"100\.hea of record 100"):
        load_dataset("mitdb:100", data_dir=tmp_path)
    with pytest.raises(ValueError, match="detector"):
        extract_beats(np.sin(np.arange(3600) / 50.0), FS, detector="pan-tompkins")
