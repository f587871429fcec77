"""The paper's random-forest baseline: scikit-learn's forest with the paper's settings
(100 trees, min_samples_leaf 10, max_features None), saved as plain tree arrays (never pickle)."""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from scd_plugins._compat import Interval, StrOptions, validate_data
from scd_plugins.estimators._ensemble import EnsembleClassifier
from scd_plugins.io import decode_classes, encode_classes, json_params

__all__ = ["RandomForestBaseline"]


_NODE_FIELDS = ("left_child", "right_child", "feature", "threshold", "impurity", "n_node_samples",
                "weighted_n_node_samples", "missing_go_to_left")


class RandomForestBaseline(EnsembleClassifier):
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
    def n_members_(self):
        check_is_fitted(self)
        return len(self.forest_.estimators_)

    n_estimators_ = n_members_

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

    def _select_members(self, idx):
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
