"""ECG heartbeats: the Kaggle "heartbeat" PTB CSVs, and PhysioNet records read with wfdb.

Beat extraction follows the recipe behind the Kaggle set (Kachuee et al., 2018): resample to 125 Hz,
scale each 10 s window to [0, 1], cut 1.2 x the window's median RR interval starting at each R peak,
zero-pad (or truncate) to 187 samples.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import _paths
from ._dataset import Dataset, cached_dataset

BEAT_LENGTH = 187
TARGET_FS = 125
KAGGLE_FILES = ("ptbdb_normal.csv", "ptbdb_abnormal.csv")
KAGGLE_HELP = ("The Kaggle 'ECG Heartbeat Categorization Dataset' (shayanfazeli/heartbeat) holds them: "
               "`kaggle datasets download -d shayanfazeli/heartbeat` and unzip into {dir} (or pass data_dir=).")

# MIT-BIH beat symbols grouped as in the AAMI EC57 classes the Kaggle MIT-BIH set uses.
AAMI_CLASSES = ("N", "S", "V", "F", "Q")
AAMI = {"N": 0, "L": 0, "R": 0, "e": 0, "j": 0, "A": 1, "a": 1, "J": 1, "S": 1,
        "V": 2, "E": 2, "F": 3, "/": 4, "f": 4, "Q": 4}


# ----------------------------------------------------------------------------------------------- Kaggle CSVs
def load_ptbdb(data_dir=None, *, test_size: float = 0.1, seed: int = 0, cache: bool = True,
               cache_dir=None) -> Dataset:
    """PTB Diagnostic beats from the Kaggle CSVs: normal = 0, abnormal = 1; seeded stratified split.

    Each CSV row is 187 samples in [0, 1] then the label. With the full files (4046 + 10506 rows) the
    default 90:10 split gives 13096 train / 1456 test, as in the paper.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    root = Path(data_dir).expanduser() if data_dir is not None else _paths.data_home() / "ptbdb"
    files = [root / f for f in KAGGLE_FILES]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"PTB heartbeat file {f.name} expected at {f}. " + KAGGLE_HELP.format(dir=root))
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    params = {"test_size": test_size, "seed": seed, "files": {f.name: _paths.file_md5(f) for f in files}}

    def build() -> Dataset:
        xs, ys = [], []
        for want, f in enumerate(files):
            try:
                with _paths.reading(f):
                    table = pd.read_csv(f, header=None).to_numpy(dtype=np.float64)
            except ValueError as err:    # empty file, ragged rows, a non-numeric cell
                raise ValueError(f"{f} is not a numeric Kaggle heartbeat CSV ({' '.join(str(err).split())})") from None
            if table.shape[1] != BEAT_LENGTH + 1:
                raise ValueError(f"{f} has {table.shape[1]} columns; the Kaggle layout has {BEAT_LENGTH} + label")
            if not np.all(table[:, -1] == want):
                raise ValueError(f"{f} should hold label {want} in its last column only")
            xs.append(table[:, :-1])
            ys.append(np.full(len(table), want, dtype=np.int64))
        x, y = np.concatenate(xs).astype(np.float32), np.concatenate(ys)
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
        return Dataset("ptbdb", x_tr, y_tr, x_te, y_te, sample_shape=(BEAT_LENGTH,), clip_values=(0.0, 1.0),
                       class_names=("normal", "abnormal"),
                       provenance={"source": "kaggle shayanfazeli/heartbeat",
                                   "files": {str(f): params["files"][f.name] for f in files},
                                   "split": {"test_size": test_size, "seed": seed, "stratified": True}})

    return cached_dataset("ptbdb", params, build, cache=cache, cache_dir=cache_dir)


def write_kaggle_csv(path, beats: np.ndarray, label: int) -> None:
    """Write beats in the Kaggle heartbeat layout: 187 values then the label, '%.18e', comma separated."""
    beats = np.asarray(beats, dtype=np.float64)
    if beats.ndim != 2 or beats.shape[1] != BEAT_LENGTH:
        raise ValueError(f"beats must have shape (n, {BEAT_LENGTH}), got {beats.shape}")
    table = np.column_stack([beats, np.full(len(beats), float(label))])
    np.savetxt(path, table, fmt="%.18e", delimiter=",")


# ----------------------------------------------------------------------------------------------- beats from signals
def detect_r_peaks(signal: np.ndarray, fs: float, detector: str = "gqrs") -> np.ndarray:
    """R-peak sample indices from wfdb's detectors ("gqrs" or "xqrs"), sorted and unique."""
    from wfdb import processing

    signal = np.asarray(signal, dtype=np.float64)
    if detector == "gqrs":
        peaks = processing.gqrs_detect(sig=signal, fs=fs)
    elif detector == "xqrs":
        peaks = processing.xqrs_detect(sig=signal, fs=fs, verbose=False)
    else:
        raise ValueError(f"detector must be 'gqrs' or 'xqrs', got {detector!r}")
    return np.unique(np.asarray(peaks, dtype=np.int64))


def extract_beats(signal: np.ndarray, fs: float, *, peaks: np.ndarray | None = None, detector: str = "gqrs",
                  target_fs: int = TARGET_FS, length: int = BEAT_LENGTH, window_s: float = 10.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Cut one beat per R peak: returns (beats (n, length) float32 in [0, 1], R peaks at `fs` (n,)).

    `peaks` (at `fs`) skips detection. Windows with fewer than two peaks give no beats (no RR interval).
    """
    from wfdb import processing

    signal = np.asarray(signal, dtype=np.float64).ravel()
    if signal.size < 2 or not np.isfinite(signal).all():
        raise ValueError("signal must be a finite 1-D array with at least two samples")
    if peaks is None:
        peaks = detect_r_peaks(signal, fs, detector)
    peaks = np.asarray(peaks, dtype=np.int64)
    resampled, _ = processing.resample_sig(signal, fs, target_fs)
    at_target = np.round(peaks * (target_fs / fs)).astype(np.int64)
    win = int(round(window_s * target_fs))
    beats, kept = [], []
    for start in range(0, len(resampled), win):
        seg = resampled[start:start + win]
        inside = np.flatnonzero((at_target >= start) & (at_target < start + len(seg)))
        if len(inside) < 2:
            continue
        lo, hi = seg.min(), seg.max()
        scaled = (seg - lo) / (hi - lo) if hi > lo else np.zeros_like(seg)
        span = int(round(1.2 * np.median(np.diff(at_target[inside]))))
        for i in inside:
            r = at_target[i] - start
            piece = scaled[r:r + min(span, length)]
            beat = np.zeros(length, dtype=np.float32)
            beat[:len(piece)] = piece
            beats.append(beat)
            kept.append(peaks[i])
    if not beats:
        return np.zeros((0, length), np.float32), np.zeros(0, np.int64)
    return np.stack(beats), np.asarray(kept, dtype=np.int64)


def label_from_annotations(r_peaks: np.ndarray, ann_samples: np.ndarray, ann_symbols, fs: float, *,
                           scheme: str = "binary", tolerance_s: float = 0.15) -> np.ndarray:
    """Label each detected R peak by the nearest beat annotation within `tolerance_s`; -1 when none.

    scheme "binary": normal (AAMI N) = 0, any other beat = 1; "aami": indices into AAMI_CLASSES.
    Non-beat annotations (rhythm changes, noise marks) are ignored.
    """
    if scheme not in ("binary", "aami"):
        raise ValueError(f"scheme must be 'binary' or 'aami', got {scheme!r}")
    sym = np.asarray(ann_symbols)
    is_beat = np.isin(sym, list(AAMI))
    samples, sym = np.asarray(ann_samples)[is_beat], sym[is_beat]
    classes = np.array([AAMI[s] for s in sym], dtype=np.int64)
    if scheme == "binary":
        classes = (classes != 0).astype(np.int64)
    out = np.full(len(r_peaks), -1, dtype=np.int64)
    if len(samples) == 0:
        return out
    order = np.argsort(samples)
    samples, classes = samples[order], classes[order]
    pos = np.clip(np.searchsorted(samples, r_peaks), 1, len(samples)) - 1
    nxt = np.minimum(pos + 1, len(samples) - 1)
    best = np.where(np.abs(samples[nxt] - r_peaks) < np.abs(samples[pos] - r_peaks), nxt, pos)
    ok = np.abs(samples[best] - r_peaks) <= tolerance_s * fs
    out[ok] = classes[best[ok]]
    return out


def label_from_diagnosis(comments) -> int | None:
    """PTB header: 'Reason for admission: Healthy control' -> 0 (normal), a stated diagnosis -> 1, 'n/a' -> None."""
    for c in comments or []:
        if c.lower().startswith("reason for admission"):
            reason = c.split(":", 1)[-1].strip().lower()
            if reason in ("", "n/a"):
                return None
            return 0 if reason == "healthy control" else 1
    raise ValueError("record header has no 'Reason for admission' comment to take the diagnosis from")


# ----------------------------------------------------------------------------------------------- wfdb records
def _channel_index(record, channel) -> int:
    if isinstance(channel, (int, np.integer)):
        if not 0 <= channel < record.n_sig:
            raise ValueError(f"record {record.record_name} has {record.n_sig} channels; channel {channel} is out of range")
        return int(channel)
    names = [s.lower() for s in record.sig_name]
    if str(channel).lower() not in names:
        raise ValueError(f"record {record.record_name} has no channel {channel!r}; it has {record.sig_name}")
    return names.index(str(channel).lower())


def _find_records(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.hea"))


def load_wfdb_beats(data_dir=None, *, records=None, database: str = "mitdb", channel=0,
                    label: str = "annotations", annotator: str = "atr", scheme: str = "binary",
                    detector: str = "gqrs", download: bool = False, test_size: float = 0.2, seed: int = 0,
                    cache: bool = True, cache_dir=None) -> Dataset:
    """Beats from PhysioNet records in `data_dir` (default <data_home>/<database>), labelled per beat.

    label="annotations": nearest beat annotation of `annotator` (MIT-BIH); label="diagnosis": the
    record's PTB header diagnosis for every beat. download=True fetches missing records with
    wfdb.dl_database(database, data_dir). Beats are split by a seeded stratified `test_size` split.
    """
    import wfdb
    from sklearn.model_selection import train_test_split

    if label not in ("annotations", "diagnosis"):
        raise ValueError(f"label must be 'annotations' or 'diagnosis', got {label!r}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    root = Path(data_dir).expanduser() if data_dir is not None else _paths.data_home() / database
    records = [str(r) for r in records] if records is not None else None
    missing = [r for r in (records or []) if not (root / f"{r}.hea").is_file()]
    if download and (missing or (records is None and not _find_records(root))):
        root.mkdir(parents=True, exist_ok=True)
        wfdb.dl_database(database, str(root), records=missing or "all")
    if records is None:
        records = _find_records(root)
        if not records:
            raise FileNotFoundError(
                f"no wfdb records (*.hea) found in {root}. Download them with "
                f"`python -c \"import wfdb; wfdb.dl_database('{database}', '{root}')\"` (or pass download=True), "
                f"or from https://physionet.org/content/{database}/")
    for r in records:
        for ext in ([".hea"] + ([f".{annotator}"] if label == "annotations" else [])):
            f = root / f"{r}{ext}"
            if not f.is_file():
                raise FileNotFoundError(
                    f"wfdb file {f.name} of record {r} expected at {f}. Get it with "
                    f"`python -c \"import wfdb; wfdb.dl_database('{database}', '{root}', records=['{r}'])\"` "
                    f"(or pass download=True).")
    params = {"database": database, "records": records, "channel": channel, "label": label, "annotator": annotator,
              "scheme": scheme, "detector": detector, "test_size": test_size, "seed": seed,
              "files": {r: _paths.file_md5(root / f"{r}.hea") for r in records}, "root": str(root.resolve())}

    def build() -> Dataset:
        xs, ys, per_record = [], [], {}
        for r in records:
            rec = wfdb.rdrecord(str(root / r))
            ch = _channel_index(rec, channel)
            sig = rec.p_signal[:, ch]
            sig = np.nan_to_num(sig, nan=float(np.nanmedian(sig)))
            beats, peaks = extract_beats(sig, rec.fs, detector=detector)
            if label == "annotations":
                ann = wfdb.rdann(str(root / r), annotator)
                y = label_from_annotations(peaks, ann.sample, ann.symbol, rec.fs, scheme=scheme)
            else:                     # records without a stated diagnosis ('n/a') give no labelled beats
                diagnosis = label_from_diagnosis(rec.comments)
                y = np.full(len(beats), -1 if diagnosis is None else diagnosis, dtype=np.int64)
            keep = y >= 0
            per_record[r] = {"fs": rec.fs, "channel": rec.sig_name[ch], "beats": int(len(beats)),
                             "labelled": int(keep.sum())}
            xs.append(beats[keep])
            ys.append(y[keep])
        x, y = np.concatenate(xs), np.concatenate(ys)
        if len(y) < 2:
            raise ValueError(f"only {len(y)} labelled beats in records {records} of {root}; nothing to split")
        counts = np.bincount(y)
        strat = y if len(counts) > 1 and counts[counts > 0].min() >= 2 else None
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=strat)
        names = AAMI_CLASSES if scheme == "aami" and label == "annotations" else ("normal", "abnormal")
        prov = {"source": f"physionet:{database} via wfdb", "root": str(root), "records": per_record,
                "files": params["files"], "detector": detector, "label": label,
                "split": {"test_size": test_size, "seed": seed, "stratified": strat is not None},
                "beat": {"fs": TARGET_FS, "length": BEAT_LENGTH, "window_s": 10.0, "span": "1.2 x median RR"}}
        return Dataset(f"{database}-beats", x_tr, y_tr, x_te, y_te, sample_shape=(BEAT_LENGTH,),
                       clip_values=(0.0, 1.0), class_names=names, provenance=prov)

    return cached_dataset(f"{database}-beats", params, build, cache=cache, cache_dir=cache_dir)


def load_mitdb(data_dir=None, **kw) -> Dataset:
    """MIT-BIH Arrhythmia records, lead MLII (channel 0), labels from the expert beat annotations (.atr)."""
    kw.setdefault("database", "mitdb")
    return load_wfdb_beats(data_dir, **kw)


def load_ptb_records(data_dir=None, **kw) -> Dataset:
    """Raw PTB Diagnostic records (PhysioNet 'ptbdb'), lead II, labels from each header's diagnosis."""
    kw.setdefault("database", "ptbdb")
    kw.setdefault("label", "diagnosis")
    kw.setdefault("channel", "ii")
    return load_wfdb_beats(data_dir, **kw)
