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
from scd_plugins.io import ModelFileError, decode_classes, encode_classes, expect_array, json_params

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
        """Rebuild the trees from `_to_arrays` output. scikit-learn's Cython `Tree` walks these arrays
        unchecked, so each tree is verified first (`_check_tree`): a crafted file is refused here
        instead of reading out of bounds or looping forever at predict."""
        params = state["params"]
        classes = decode_classes(state["classes"])
        n_features = state["n_features_in"]
        n_trees, k = cls(**params).n_estimators, len(classes)
        n_classes = np.array([k], dtype=np.intp)
        node_dtype = Tree(n_features, n_classes, 1).__getstate__()["nodes"].dtype
        counts = expect_array(arrays, "node_count", dtype=np.int64, shape=(n_trees,), low=1)
        depths = expect_array(arrays, "max_depth", dtype=np.int64, shape=(n_trees,), low=0)
        seeds = expect_array(arrays, "tree_seed", dtype=np.int64, shape=(n_trees,), low=0,
                             high=np.iinfo(np.uint32).max)
        total = sum(int(c) for c in counts)     # Python ints: huge counts cannot wrap around to the real total
        fields = {f: expect_array(arrays, f"node_{f}", dtype=node_dtype[f], shape=(total,),
                                  **({"low": 0, "high": 1} if f == "missing_go_to_left" else {}))
                  for f in _NODE_FIELDS}
        values = expect_array(arrays, "values", dtype=np.float64, shape=(total, 1, k), low=0)
        trees, end = [], 0
        for t, count in enumerate(counts):
            sl = slice(end, end + int(count))
            end += int(count)
            nodes = np.zeros(int(count), dtype=node_dtype)
            for f in _NODE_FIELDS:
                nodes[f] = fields[f][sl]
            try:
                _check_tree(nodes, values[sl], int(depths[t]), n_features)
            except ModelFileError as err:
                raise ModelFileError(f"tree {t}: {err}") from None
            tree = Tree(n_features, n_classes, 1)
            tree.__setstate__({"max_depth": int(depths[t]), "node_count": int(count),
                               "nodes": nodes, "values": np.ascontiguousarray(values[sl])})
            dt = DecisionTreeClassifier(min_samples_leaf=params["min_samples_leaf"],
                                        max_features=params["max_features"], random_state=int(seeds[t]))
            dt.tree_ = tree
            dt.classes_ = classes
            dt.n_classes_ = k
            dt.n_outputs_ = 1
            dt.n_features_in_ = n_features
            trees.append(dt)
        return cls._assemble(trees, classes, n_features, params)


def _check_tree(nodes, values, max_depth: int, n_features: int) -> None:
    """A binary tree as scikit-learn builds it, or a `ModelFileError`.

    Leaves have both children -1 and feature -2; an internal node's children come after it (the builder
    adds nodes depth-first), and every node but the root is the child of exactly one node: together
    this is a tree rooted at node 0 with no cycle, so every walk ends at a leaf. Internal nodes split
    on a feature in [0, n_features) at a finite threshold; class fractions are >= 0 and sum to 1.
    """
    n = len(nodes)
    left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        raise ModelFileError("a node has exactly one child -1 (leaves have both children -1)")
    inner = np.flatnonzero(~leaf)
    if ((left[inner] <= inner) | (right[inner] <= inner) | (left[inner] >= n) | (right[inner] >= n)).any():
        raise ModelFileError(f"child indices must lie after their node and below the node count {n} "
                             "(out of range, or a cycle)")
    children = np.sort(np.concatenate([left[inner], right[inner]]))
    if not np.array_equal(children, np.arange(1, n)):
        raise ModelFileError("the nodes do not form a tree (a node has two parents, or none)")
    if ((feature[inner] < 0) | (feature[inner] >= n_features)).any():
        raise ModelFileError(f"split features must lie in [0, {n_features})")
    if (feature[leaf] != -2).any():
        raise ModelFileError("leaves must have feature -2")
    if (nodes["n_node_samples"] < 0).any() or (nodes["weighted_n_node_samples"] < 0).any():
        raise ModelFileError("negative sample counts")
    if not np.allclose(values.sum(axis=2), 1.0, rtol=0, atol=1e-6):
        raise ModelFileError("class fractions of a node do not sum to 1")
    parent = np.zeros(n, dtype=np.intp)
    parent[left[inner]] = inner
    parent[right[inner]] = inner
    depth = np.zeros(n, dtype=np.intp)
    for _ in range(n):                       # parents come first: at most depth-many rounds change it
        new = np.where(np.arange(n) > 0, depth[parent] + 1, 0)
        if np.array_equal(new, depth):
            break
        depth = new
    if int(depth.max()) != max_depth:
        raise ModelFileError(f"max_depth is {max_depth}, but the tree is {int(depth.max())} deep")
