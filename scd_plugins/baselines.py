"""The paper's two non-SCD baselines behind the same estimator, ART and persistence interface.

`MLPEnsembleClassifier`: soft vote over `n_estimators` scikit-learn MLPs (20 logistic units, SGD,
lr 0.01, momentum 0.9), each trained from its own seed. `RandomForestBaseline`: scikit-learn's random
forest with the paper's settings (100 trees, min_samples_leaf 10, max_features None).

Both save as plain arrays (`_to_arrays` / `_from_arrays`, read by `scd_plugins.io`): never pickle.
"""
from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from scd_plugins._compat import Interval, StrOptions, validate_data
from scd_plugins.io import decode_classes, encode_classes, json_params

__all__ = ["MLPEnsembleClassifier", "RandomForestBaseline"]


_MLP_ARRAYS = ("member_seeds_", "n_iter_", "coef_hidden_", "intercept_hidden_", "coef_out_", "intercept_out_")


def _fit_one_mlp(X, y, seed, max_iter):
    mlp = MLPClassifier(hidden_layer_sizes=(20,), activation="logistic", solver="sgd",
                        learning_rate_init=0.01, momentum=0.9, max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # the paper trains a fixed budget, converged or not
        mlp.fit(X, y)
    return mlp.coefs_[0], mlp.intercepts_[0], mlp.coefs_[1], mlp.intercepts_[1], mlp.n_iter_


def _expit(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))     # logistic without overflow warnings


class _SoftVote:
    """What both baselines share: labels and margins from the soft vote, member selection."""

    def decision_function(self, X):
        p = self.predict_proba(X)
        return p[:, 1] - 0.5 if p.shape[1] == 2 else p

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def _member_indices(self, indices):
        check_is_fitted(self)
        idx = np.asarray(indices, dtype=np.intp).ravel()
        if idx.size == 0 or idx.min() < 0 or idx.max() >= self.n_estimators_:
            raise ValueError(f"indices must be a non-empty subset of range({self.n_estimators_}), got {indices!r}")
        return idx


class MLPEnsembleClassifier(_SoftVote, ClassifierMixin, BaseEstimator):
    """Soft vote over `n_estimators` MLPs of 20 logistic hidden units (the paper's MLP baseline, R = 100).

    Members are trained by scikit-learn; prediction runs all members as one batched product over stacked
    weights, so an attack's batch of B queries costs one matrix product, not a loop over members.
    """

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, *, n_estimators=100, max_iter=200, random_state=None, n_jobs=None):
        self.n_estimators = n_estimators
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least two classes to fit, got {len(self.classes_)} class")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(self.n_estimators)]
        parts = Parallel(n_jobs=self.n_jobs)(delayed(_fit_one_mlp)(X, y, s, self.max_iter) for s in seeds)
        self.member_seeds_ = np.asarray(seeds, dtype=np.int64)     # MLPClassifier(random_state=...) of each member
        self.coef_hidden_ = np.stack([p[0] for p in parts])        # (R, d, 20)
        self.intercept_hidden_ = np.stack([p[1] for p in parts])   # (R, 20)
        self.coef_out_ = np.stack([p[2] for p in parts])           # (R, 20, o); o = 1 for two classes
        self.intercept_out_ = np.stack([p[3] for p in parts])      # (R, o)
        self.n_iter_ = np.array([p[4] for p in parts], dtype=np.int64)   # SGD epochs run by each member
        return self

    @property
    def n_estimators_(self):
        check_is_fitted(self)
        return self.coef_hidden_.shape[0]

    def _member_proba(self, X):
        """(R, n, n_classes) class probabilities of every member, one batched product."""
        r, d, h = self.coef_hidden_.shape
        hidden = _expit(X @ self.coef_hidden_.transpose(1, 0, 2).reshape(d, r * h)
                        + self.intercept_hidden_.reshape(r * h)).reshape(len(X), r, h)
        out = np.einsum("nrh,rho->rno", hidden, self.coef_out_) + self.intercept_out_[:, None, :]
        if out.shape[2] == 1:
            p1 = _expit(out[:, :, 0])
            return np.stack([1.0 - p1, p1], axis=2)
        out = out - out.max(axis=2, keepdims=True)
        e = np.exp(out)
        return e / e.sum(axis=2, keepdims=True)

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._member_proba(X).mean(axis=0)

    def sub_ensemble(self, indices):
        """A fitted ensemble made of the members `indices` (single members for transferability, F1 curves)."""
        idx = self._member_indices(indices)
        new = type(self)(**{**self.get_params(), "n_estimators": int(idx.size)})
        new.classes_ = self.classes_
        new.n_features_in_ = self.n_features_in_
        for name in _MLP_ARRAYS:
            setattr(new, name, getattr(self, name)[idx].copy())
        return new

    def _to_arrays(self):
        check_is_fitted(self)
        arrays = {name: np.ascontiguousarray(getattr(self, name))
                  for name in _MLP_ARRAYS}
        state = {"params": json_params(self), "classes": encode_classes(self.classes_),
                 "n_features_in": int(self.n_features_in_)}
        return arrays, state

    @classmethod
    def _from_arrays(cls, arrays, state):
        est = cls(**state["params"])
        est.classes_ = decode_classes(state["classes"])
        est.n_features_in_ = int(state["n_features_in"])
        for name in _MLP_ARRAYS:
            setattr(est, name, np.asarray(arrays[name], dtype=np.int64 if name in ("member_seeds_", "n_iter_") else np.float64))
        return est


_NODE_FIELDS = ("left_child", "right_child", "feature", "threshold", "impurity", "n_node_samples",
                "weighted_n_node_samples", "missing_go_to_left")


class RandomForestBaseline(_SoftVote, ClassifierMixin, BaseEstimator):
    """scikit-learn random forest with the paper's settings (100 trees, min_samples_leaf 10, max_features None).

    `predict_proba` is the forest's soft vote: the mean over trees of the leaf class fractions.
    """

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="right"),
                         StrOptions({"sqrt", "log2"}), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, *, n_estimators=100, min_samples_leaf=10, max_features=None, random_state=None,
                 n_jobs=None):
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _forest(self):
        return RandomForestClassifier(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                                      max_features=self.max_features, random_state=self.random_state,
                                      n_jobs=self.n_jobs)

    def fit(self, X, y):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        if len(np.unique(y)) < 2:
            raise ValueError("need at least two classes to fit, got 1 class")
        self.forest_ = self._forest().fit(X, y)
        self.classes_ = self.forest_.classes_
        return self

    @property
    def n_estimators_(self):
        check_is_fitted(self)
        return len(self.forest_.estimators_)

    def predict_proba(self, X):
        """Mean over trees of the leaf class fractions (what RandomForestClassifier.predict_proba computes),
        summed tree by tree in one thread: attacks send many tiny batches, and the forest's per-call
        thread pool costs more than the trees themselves there."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        k = len(self.classes_)
        total = np.zeros((len(X), k))
        for tree in self.forest_.estimators_:
            total += tree.tree_.predict(X)[:, :k]
        return total / len(self.forest_.estimators_)

    def sub_ensemble(self, indices):
        """A fitted forest made of the trees `indices`."""
        idx = self._member_indices(indices)
        trees = [self.forest_.estimators_[i] for i in idx]
        return self._assemble(trees, self.classes_, self.n_features_in_,
                              {**self.get_params(), "n_estimators": int(idx.size)})

    @classmethod
    def _assemble(cls, trees, classes, n_features, params):
        est = cls(**params)
        forest = est._forest()
        forest.estimators_ = list(trees)
        forest.estimator_ = DecisionTreeClassifier(min_samples_leaf=est.min_samples_leaf,
                                                   max_features=est.max_features)
        forest.classes_ = np.asarray(classes)
        forest.n_classes_ = len(classes)
        forest.n_outputs_ = 1
        forest.n_features_in_ = n_features
        forest.n_estimators = len(trees)
        est.forest_ = forest
        est.classes_ = forest.classes_
        est.n_features_in_ = n_features
        return est

    def _to_arrays(self):
        check_is_fitted(self)
        states = [t.tree_.__getstate__() for t in self.forest_.estimators_]
        arrays = {f"node_{f}": np.concatenate([s["nodes"][f] for s in states]) for f in _NODE_FIELDS}
        arrays["values"] = np.concatenate([s["values"] for s in states])
        arrays["node_count"] = np.array([s["node_count"] for s in states], dtype=np.int64)
        arrays["max_depth"] = np.array([s["max_depth"] for s in states], dtype=np.int64)
        arrays["tree_seed"] = np.array([t.random_state for t in self.forest_.estimators_], dtype=np.int64)
        state = {"params": json_params(self), "classes": encode_classes(self.classes_),
                 "n_features_in": int(self.n_features_in_)}
        return arrays, state

    @classmethod
    def _from_arrays(cls, arrays, state):
        classes = decode_classes(state["classes"])
        n_features = int(state["n_features_in"])
        n_classes = np.array([len(classes)], dtype=np.intp)
        node_dtype = Tree(n_features, n_classes, 1).__getstate__()["nodes"].dtype
        ends = np.cumsum(arrays["node_count"])
        trees = []
        for k, (end, count) in enumerate(zip(ends, arrays["node_count"])):
            sl = slice(int(end - count), int(end))
            nodes = np.zeros(int(count), dtype=node_dtype)
            for f in _NODE_FIELDS:
                nodes[f] = arrays[f"node_{f}"][sl]
            tree = Tree(n_features, n_classes, 1)
            tree.__setstate__({"max_depth": int(arrays["max_depth"][k]), "node_count": int(count),
                               "nodes": nodes, "values": np.ascontiguousarray(arrays["values"][sl],
                                                                              dtype=np.float64)})
            dt = DecisionTreeClassifier(min_samples_leaf=state["params"]["min_samples_leaf"],
                                        max_features=state["params"]["max_features"],
                                        random_state=int(arrays["tree_seed"][k]))
            dt.tree_ = tree
            dt.classes_ = classes
            dt.n_classes_ = len(classes)
            dt.n_outputs_ = 1
            dt.n_features_in_ = n_features
            trees.append(dt)
        return cls._assemble(trees, classes, n_features, state["params"])
