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

from scd_plugins._compat import Interval, validate_data
from scd_plugins.engine.ensemble import PackedVotes, fit_votes
from scd_plugins.engine.config import VoteConfig
from scd_plugins.estimators._ensemble import DEVICE_CONSTRAINT, EnsembleClassifier

_VOTE_ARRAYS = ("W1", "b1", "w2", "b2", "train_score", "seconds")
_F32_MAX = float(np.finfo(np.float32).max)


def check_float32_range(X, weight_max: float = 1.0, bias_max: float = 0.0):
    """Refuse X whose products with the weights could overflow float32 (inf - inf = NaN there, and a NaN
    pre-activation escapes the float64 re-check): the hidden signs would not be the float64 signs.

    |x . w + b| <= sum|x| max|w| + max|b|, kept four times below the float32 maximum. Trained weights are
    at most 1 in magnitude (unit-norm columns or +/-1), so the bound at fit uses weight_max = 1.
    """
    if X.size == 0:
        return
    row = float(np.abs(X).sum(axis=1, dtype=np.float64).max())
    if not row * weight_max + bias_max <= _F32_MAX / 4:
        raise ValueError(f"X holds values too large for SCD's float32 products: a row's sum of |x| is "
                         f"{row:.3g} (with weights up to {weight_max:.3g} the limit is "
                         f"{(_F32_MAX / 4 - bias_max) / max(weight_max, 1e-300):.3g}); signs computed there "
                         "would not be the float64 signs. Rescale the features (e.g. to [0, 1])")


class SCDClassifierBase(EnsembleClassifier):
    """Majority vote of R sign-activation networks (one hidden layer of h sign units) trained by SCD.

    Parameters follow the spec (`../shared/docs/scd-algorithm.md`, section 2): n_votes (R),
    hidden_nodes (h), iterations (None: the family's paper default, 1000 or 10000 for BNN), nrows,
    n_features (|F|, clamped to d), w_inc1, w_inc2, interval (I), b_ratio, random_state, n_jobs
    (processes training votes in parallel), device ("auto", "cpu", "cuda"), verbose (progress bar),
    votes_per_group (votes trained together as one batched program; None: up to 8 on the CPU, cut
    evenly over the n_jobs processes, up to 128 on a GPU; a vote's result does not depend on it).
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
        "device": DEVICE_CONSTRAINT,
        "verbose": ["boolean"],
        "votes_per_group": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, *, n_votes=100, hidden_nodes=20, iterations=None, nrows=0.75, n_features=128,
                 w_inc1=0.17, w_inc2=0.2, interval=20, b_ratio=0.2, random_state=None, n_jobs=None,
                 device="auto", verbose=False, votes_per_group=None):
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
        self.votes_per_group = votes_per_group

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
        check_float32_range(X)
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
                          device=resolve_device(self.device), progress=self.verbose,
                          votes_per_group=self.votes_per_group)
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
        self._bounds = (float(np.abs(self.W1_).max(initial=0.0)), float(np.abs(self.b1_).max(initial=0.0)))

    # ----- prediction -------------------------------------------------------------------------------
    def _validated(self, X):
        check_is_fitted(self)
        # float32 stays float32 (attacks send it; the float32 values are exact in float64, where signs
        # near zero are settled), anything else becomes float64.
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        check_float32_range(X, *self._weight_bounds())
        return X

    def _weight_bounds(self):
        """(max |W1|, max |b1|) over every vote (kept by `_set_votes`: prediction needs it on every call)."""
        members = getattr(self, "estimators_", [self])
        return max(m._bounds[0] for m in members), max(m._bounds[1] for m in members)

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
        """Rebuild from `_to_arrays` output, every array checked against the parameters and classes."""
        from scd_plugins.io import ModelFileError, decode_classes, expect_array

        params, classes, d = state["params"], decode_classes(state["classes"]), state["n_features_in"]
        est = cls(**params)
        votes, h = est.n_votes, est.hidden_nodes
        members = 1 if len(classes) == 2 else len(classes)
        if state["members"] != members or isinstance(state["members"], bool):
            raise ModelFileError(f"field 'state.members' is {state['members']!r:.50}, but {len(classes)} classes "
                                 f"take {members} ensemble(s)")
        shapes = {"W1": (votes, d, h), "b1": (votes, h), "w2": (votes, h), "b2": (votes,),
                  "train_score": (votes,), "seconds": (votes,)}

        def member(m, member_classes):
            values = {name: expect_array(arrays, f"member{m}.{name}", dtype=np.float64, shape=shape,
                                         low=0 if name == "seconds" else None)
                      for name, shape in shapes.items()}
            if cls._binary_weights and not all(np.isin(values[w], (-1.0, 1.0)).all() for w in ("W1", "w2")):
                raise ModelFileError(f"arrays member{m}.W1 / member{m}.w2 of the binary-weight family "
                                     f"{cls.__name__} hold weights other than +1 and -1")
            sub = cls(**params)
            sub.classes_, sub.n_features_in_ = member_classes, d
            sub._set_votes(values)
            return sub

        if members == 1:
            return member(0, classes)
        est.classes_, est.n_features_in_ = classes, d
        est.estimators_ = [member(m, np.array([0, 1])) for m in range(members)]
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

