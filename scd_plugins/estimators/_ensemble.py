"""The ensemble contract: what every model the recipes compare offers, written down once.

Every model of the paper is an ensemble of independently seeded members (SCD votes, MLP or BNN
networks, CNNs, trees). Attacks, protocols, the CLI and the model files rely on this, and only on this:

- scikit-learn's classifier API: `fit(X, y)`, `predict_proba(X)` (n, n_classes) in `classes_` order,
  `decision_function(X)`, `predict(X)`, `score(X, y)`; a constructor that only stores its parameters.
- `n_members_`: the number of members (one name for votes, networks and trees).
- `member_labels(X)`: (n_members, n) class labels of every single member, for transfer studies.
- `sub_ensemble(indices)`: a fitted ensemble of the given members, indices validated (integers only).
- member seeds drawn up front from `random_state` (`member_seeds`), so `n_jobs` and batching cannot
  change a member.
- `save(path)` / `scd_plugins.load(path)`: safetensors + JSON through `scd_plugins.io`, never pickle;
  a family implements `_to_arrays()` and the classmethod `_from_arrays(arrays, state)`.
- An ART victim by `scd_plugins.art.to_art(model, ...)` / `as_label_only(model, ...)`, which need no more
  than the above.

A new family subclasses `EnsembleClassifier`, implements `fit`, `predict_proba`, `n_members_`,
`_select_members`, `_to_arrays` and `_from_arrays`, and adds one line to `scd_plugins.registry.MODELS`.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from scd_plugins._compat import Hidden, StrOptions, validate_data
from scd_plugins.io import encode_classes, json_params
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from scd_plugins._compat import InvalidParameterError


#: The `device` parameter of every family: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N"; any
#: other string is refused when fit starts, not deep inside torch.
DEVICE_CONSTRAINT = [StrOptions({"auto", "cpu", "cuda"}), Hidden(StrOptions({f"cuda:{i}" for i in range(64)}))]


def member_seeds(random_state, n_members: int) -> list[int]:
    """One independent 32-bit seed per member, drawn before any work starts (scikit-learn's bagging
    rule): member i's seed depends on `random_state` and i only, not on n_members, n_jobs or batching."""
    master = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(master).spawn(n_members)]


def member_indices(indices, n_members: int) -> np.ndarray:
    """`indices` as a validated 1-D integer array within range(n_members).

    Integers only: a boolean mask, floats or strings are refused instead of being truncated or parsed
    (a mask [True, False] would otherwise select members [1, 0]). Repeats are allowed (resampling).
    """
    if isinstance(indices, (bool, np.bool_)) or (isinstance(indices, Integral)):
        raise TypeError(f"member indices must be a sequence of integers, got the scalar {indices!r}; "
                        f"use [{indices!r}] for one member")
    if isinstance(indices, (str, bytes)):
        raise TypeError(f"member indices must be integers, got the string {indices!r}")
    idx = np.asarray(list(indices) if isinstance(indices, range) else indices)
    if idx.dtype == bool:
        raise TypeError("member indices must be integers, got a boolean mask; use np.flatnonzero(mask)")
    if idx.size == 0:
        raise ValueError(f"member indices must be non-empty (the ensemble has {n_members} members)")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"member indices must be integers, got dtype {idx.dtype} ({indices!r})")
    if idx.ndim != 1:
        raise ValueError(f"member indices must be one-dimensional, got shape {idx.shape}")
    if idx.min() < 0 or idx.max() >= n_members:
        raise ValueError(f"member indices must lie in range({n_members}); got min {idx.min()}, max {idx.max()}")
    return idx.astype(np.intp)


class EnsembleClassifier(ClassifierMixin, BaseEstimator):
    """Base class of every ensemble in the package (see the module docstring for the contract)."""

    # ----- what a family implements ------------------------------------------------------------------
    @property
    def n_members_(self) -> int:
        raise NotImplementedError

    def _select_members(self, idx: np.ndarray) -> "EnsembleClassifier":
        """A fitted ensemble made of members `idx` (already validated)."""
        raise NotImplementedError

    # ----- shared behaviour --------------------------------------------------------------------------
    def _validate_params(self):
        """scikit-learn's check of `_parameter_constraints`, and no bool where a number is asked for:
        Interval(Integral) accepts True (an int subclass), so `n_votes=True` would train one vote.
        `scd_plugins.io.load` runs this on every model file's parameters too."""
        super()._validate_params()
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name, None)
            if isinstance(value, (bool, np.bool_)) and not any(
                    c in ("boolean", "verbose") or c is bool for c in constraints if isinstance(c, (str, type))):
                raise InvalidParameterError(f"The {name!r} parameter of {type(self).__name__} must not be a "
                                            f"bool; got {value!r}")

    def decision_function(self, X):
        """Binary: predict_proba[:, 1] - 1/2 (> 0 exactly where predict says classes_[1]);
        multi-class: predict_proba."""
        p = self.predict_proba(X)
        return p[:, 1] - 0.5 if p.shape[1] == 2 else p

    def predict(self, X):
        """The class of highest ensemble probability; ties go to the first class."""
        proba = self.predict_proba(X)            # first: it checks that the model is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def sub_ensemble(self, indices) -> "EnsembleClassifier":
        """A fitted ensemble of the given members (single members for transfer studies, prefixes for
        ensemble-size curves)."""
        check_is_fitted(self)
        sub = self._select_members(member_indices(indices, self.n_members_))
        if hasattr(self, "feature_names_in_"):         # checked at predict, as on the full ensemble
            sub.feature_names_in_ = self.feature_names_in_
        return sub

    def member_labels(self, X) -> np.ndarray:
        """(n_members, n) labels of every single member (families override this with a batched one)."""
        check_is_fitted(self)
        return np.stack([self._select_members(np.array([j])).predict(X) for j in range(self.n_members_)])

    def save(self, path, extra: dict | None = None):
        """Write model.safetensors + model.json into the directory `path` (never a pickle)."""
        from scd_plugins.io import save

        return save(self, path, extra=extra)


class StackedMembers:
    """Mixin for families whose fitted state is a few arrays with the member on axis 0 (MLP, BNN):
    sub-ensembles slice them, model files store them as they are. `_member_arrays` names them, and
    `_member_proba(X)` gives every member's (R, n, n_classes) probabilities in one batched product."""

    _member_arrays: tuple = ()

    def predict_proba(self, X):
        """Soft vote: the mean of the members' class probabilities."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._member_proba(X).mean(axis=0)

    def member_labels(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.classes_[np.argmax(self._member_proba(X), axis=2)]

    def _select_members(self, idx):
        new = type(self)(**{**self.get_params(), "n_estimators": int(idx.size)})
        new.classes_ = self.classes_
        new.n_features_in_ = self.n_features_in_
        for name in self._member_arrays:
            setattr(new, name, getattr(self, name)[idx].copy())
        return new

    def _to_arrays(self):
        check_is_fitted(self)
        arrays = {name: np.ascontiguousarray(getattr(self, name)) for name in self._member_arrays}
        state = {"params": json_params(self), "classes": encode_classes(self.classes_),
                 "n_features_in": int(self.n_features_in_)}
        return arrays, state
