"""The paper's MLP baseline: a soft vote over independently seeded scikit-learn MLPs.

Members are MLPClassifier((20,), activation="logistic", solver="sgd", learning_rate_init=0.01,
momentum=0.9), each from its own seed; prediction runs every member as one batched product over
stacked weights. Saved as plain arrays through `scd_plugins.io`: never pickle.
"""
from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from scd_plugins._compat import Interval, validate_data
from scd_plugins.estimators._ensemble import EnsembleClassifier, member_seeds
from scd_plugins.io import decode_classes, encode_classes, json_params

__all__ = ["MLPEnsembleClassifier"]


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


class MLPEnsembleClassifier(EnsembleClassifier):
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
        seeds = member_seeds(self.random_state, self.n_estimators)
        parts = Parallel(n_jobs=self.n_jobs)(delayed(_fit_one_mlp)(X, y, s, self.max_iter) for s in seeds)
        self.member_seeds_ = np.asarray(seeds, dtype=np.int64)     # MLPClassifier(random_state=...) of each member
        self.coef_hidden_ = np.stack([p[0] for p in parts])        # (R, d, 20)
        self.intercept_hidden_ = np.stack([p[1] for p in parts])   # (R, 20)
        self.coef_out_ = np.stack([p[2] for p in parts])           # (R, 20, o); o = 1 for two classes
        self.intercept_out_ = np.stack([p[3] for p in parts])      # (R, o)
        self.n_iter_ = np.array([p[4] for p in parts], dtype=np.int64)   # SGD epochs run by each member
        return self

    @property
    def n_members_(self):
        check_is_fitted(self)
        return self.coef_hidden_.shape[0]

    n_estimators_ = n_members_

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

    def _select_members(self, idx):
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
