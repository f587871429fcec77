"""Shared scikit-learn behaviour of the four SCD families: fit, vote-fraction prediction, sub-ensembles,
persistence. The families differ only by two class attributes passed to the one training loop."""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.multiclass import OneVsRestClassifier
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from scd_plugins._compat import Interval, StrOptions, validate_data
from scd_plugins.engine.ensemble import PackedVotes, fit_votes
from scd_plugins.engine.config import VoteConfig
from scd_plugins.estimators._ensemble import EnsembleClassifier

_VOTE_ARRAYS = ("W1", "b1", "w2", "b2", "train_score", "seconds")


class SCDClassifierBase(EnsembleClassifier):
    """Majority vote of R sign-activation networks (one hidden layer of h sign units) trained by SCD.

    Parameters follow the spec (`../shared/docs/scd-algorithm.md`, section 2): n_votes (R),
    hidden_nodes (h), iterations (None: the family's paper default, 1000 or 10000 for BNN), nrows,
    n_features (|F|, clamped to d), w_inc1, w_inc2, interval (I), b_ratio, random_state, n_jobs
    (processes training votes in parallel), device ("auto", "cpu", "cuda"), verbose (progress bar).
    Two classes train one ensemble; more classes train one ensemble per class (one-vs-rest).
    """

    _loss = "01"
    _binary_weights = False
    _default_iterations = 1000

    _parameter_constraints: dict = {
        "n_votes": [Interval(Integral, 1, None, closed="left")],
        "hidden_nodes": [Interval(Integral, 1, None, closed="left")],
        "iterations": [Interval(Integral, 0, None, closed="left"), None],
        "nrows": [Interval(Real, 0, 1, closed="right")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "w_inc1": [Interval(Real, 0, None, closed="neither")],
        "w_inc2": [Interval(Real, 0, None, closed="neither")],
        "interval": [Interval(Integral, 1, None, closed="left")],
        "b_ratio": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str],
        "verbose": ["boolean"],
    }

    def __init__(self, *, n_votes=100, hidden_nodes=20, iterations=None, nrows=0.75, n_features=128,
                 w_inc1=0.17, w_inc2=0.2, interval=20, b_ratio=0.2, random_state=None, n_jobs=None,
                 device="auto", verbose=False):
        self.n_votes = n_votes
        self.hidden_nodes = hidden_nodes
        self.iterations = iterations
        self.nrows = nrows
        self.n_features = n_features
        self.w_inc1 = w_inc1
        self.w_inc2 = w_inc2
        self.interval = interval
        self.b_ratio = b_ratio
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device
        self.verbose = verbose

    # ----- training ---------------------------------------------------------------------------------
    def vote_config(self) -> VoteConfig:
        iterations = self._default_iterations if self.iterations is None else self.iterations
        return VoteConfig(hidden_nodes=self.hidden_nodes, iterations=iterations, nrows=self.nrows,
                          n_features=self.n_features, w_inc1=self.w_inc1, w_inc2=self.w_inc2,
                          interval=self.interval, b_ratio=self.b_ratio, loss=self._loss,
                          binary_weights=self._binary_weights)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the ensemble on X (n_samples, n_features) and labels y (at least two classes)."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"y holds one class only ({classes[0]!r}); a classifier needs samples "
                             "of at least 2 classes")
        self.classes_ = classes
        if len(classes) > 2:
            # One binary ensemble per class, each trained by scikit-learn's one-vs-rest.
            self.estimators_ = OneVsRestClassifier(clone(self)).fit(X, y).estimators_
            return self
        from scd_plugins.engine.vote import resolve_device, vote_seeds

        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        votes = fit_votes(X, (y == classes[1]).astype(np.int64), self.vote_config(),
                          vote_seeds(seed, self.n_votes), n_jobs=self.n_jobs,
                          device=resolve_device(self.device), progress=self.verbose)
        self._set_votes(votes)
        return self

    def _vote_arrays(self) -> dict:
        """The per-vote arrays, keyed as `fit_votes` returns them (inverse of `_set_votes`)."""
        return dict(zip(_VOTE_ARRAYS, (self.W1_, self.b1_, self.w2_, self.b2_, self.vote_train_scores_,
                                       self.vote_seconds_)))

    def _set_votes(self, votes: dict):
        self.W1_, self.b1_, self.w2_, self.b2_ = (votes[k] for k in ("W1", "b1", "w2", "b2"))
        self.vote_train_scores_ = votes["train_score"]
        self.vote_seconds_ = votes["seconds"]
        self.n_votes_ = len(self.W1_)
        self._packed = PackedVotes(self.W1_, self.b1_, self.w2_, self.b2_)

    # ----- prediction -------------------------------------------------------------------------------
    def _validated(self, X):
        check_is_fitted(self)
        # float32 stays float32 (attacks send it; the float32 values are exact in float64, where signs
        # near zero are settled), anything else becomes float64.
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _vote_fraction(self, X):
        """Vote fraction for classes_[1] (binary), or per class from the one-vs-rest members."""
        if hasattr(self, "estimators_"):
            return np.column_stack([m._packed.vote_fraction(X) for m in self.estimators_])
        return self._packed.vote_fraction(X)

    def vote_labels(self, X):
        """Each vote's label (n_samples, n_votes) as class indices (binary ensembles)."""
        self._require_binary("vote_labels")
        return (self._packed.logits(self._validated(X)) > 0).astype(np.intp)

    def decision_function(self, X):
        """Vote fraction for classes_[1] minus 1/2: > 0 exactly where predict says classes_[1]."""
        return self._vote_fraction(self._validated(X)) - 0.5

    def predict_proba(self, X):
        """Fraction of votes for each class (binary), or the normalised one-vs-rest fractions."""
        p = self._vote_fraction(self._validated(X))
        if p.ndim == 2:
            # Normalised one-vs-rest vote fractions; uniform where no member votes for its class.
            total = p.sum(axis=1, keepdims=True)
            return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / p.shape[1])
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        """Majority vote; a tie goes to classes_[0] (multi-class: the first class of highest fraction)."""
        p = self._vote_fraction(self._validated(X))
        return self.classes_[np.argmax(p, axis=1) if p.ndim == 2 else (p > 0.5).astype(np.intp)]

    # ----- analysis ---------------------------------------------------------------------------------
    def _require_binary(self, what):
        check_is_fitted(self)
        if hasattr(self, "estimators_"):
            raise ValueError(f"{what} needs a binary ensemble; this one has {len(self.classes_)} classes "
                             "(use estimators_ for the one-vs-rest members)")

    @property
    def n_members_(self) -> int:
        """Votes per ensemble (each one-vs-rest member has as many)."""
        check_is_fitted(self)
        return self.estimators_[0].n_votes_ if hasattr(self, "estimators_") else self.n_votes_

    def member_labels(self, X):
        """(n_votes, n) labels of every single vote, from one batched product (binary ensembles)."""
        return self.classes_[self.vote_labels(X).T]

    def sub_ensemble(self, indices):
        """A fitted estimator made of the given votes (single votes, prefixes for ensemble-size curves)."""
        self._require_binary("sub_ensemble")
        return super().sub_ensemble(indices)

    def _select_members(self, idx):
        self._require_binary("sub_ensemble")
        sub = clone(self).set_params(n_votes=len(idx))
        sub.classes_, sub.n_features_in_ = self.classes_, self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            sub.feature_names_in_ = self.feature_names_in_
        sub._set_votes({name: value[idx] for name, value in self._vote_arrays().items()})
        return sub

    # ----- persistence (see scd_plugins.io) ---------------------------------------------------------
    def _to_arrays(self):
        check_is_fitted(self)
        members = getattr(self, "estimators_", [self])
        arrays = {}
        for m, member in enumerate(members):
            for name, value in member._vote_arrays().items():
                arrays[f"member{m}.{name}"] = value
        from scd_plugins.io import encode_classes, json_params

        return arrays, {"members": len(members), "n_features_in": int(self.n_features_in_),
                        "params": json_params(self), "classes": encode_classes(self.classes_)}

    @classmethod
    def _from_arrays(cls, arrays, state):
        from scd_plugins.io import decode_classes

        params, classes = state["params"], decode_classes(state["classes"])

        def member(m, member_classes):
            est = cls(**params)
            est.classes_, est.n_features_in_ = member_classes, state["n_features_in"]
            est._set_votes({name: arrays[f"member{m}.{name}"] for name in _VOTE_ARRAYS})
            return est

        if state["members"] == 1:
            return member(0, classes)
        est = cls(**params)
        est.classes_, est.n_features_in_ = classes, state["n_features_in"]
        est.estimators_ = [member(m, np.array([0, 1])) for m in range(state["members"])]
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

