"""The paper's 1-D CNN baseline for ECG beats: a vote over independently seeded 1-D CNNs trained together.

Architecture (paper section 3): Conv1D 64x16, max-pool 4, Conv1D 128x16, max-pool 4, Conv1D 256x16,
max-pool 2, dense, output, over the 187-sample beats. Convolutions keep the length ("same" padding, as
in Keras, where the architecture comes from: unpadded 16-wide kernels would not fit 187 samples three
times) and use ReLU; the dense layer has `dense_units` ReLU units (128). Adam lr 1e-3, batch 64.
"""
from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from scd_plugins.estimators._torch_ensemble import TorchEnsembleClassifier

__all__ = ["CNN1DEnsembleClassifier", "CNN1D"]

KERNEL = 16


def CNN1D(length: int, n_outputs: int, dense_units: int = 128):
    """One 1-D CNN as a torch module on (N, 1, length) inputs."""
    from torch import nn

    if length < 32:
        raise ValueError(f"the 1-D CNN pools by 4, 4 and 2: signals need at least 32 samples, got {length}")
    flat = 256 * (length // 4 // 4 // 2)
    return nn.Sequential(
        nn.Conv1d(1, 64, KERNEL, padding="same"), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(64, 128, KERNEL, padding="same"), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(128, 256, KERNEL, padding="same"), nn.ReLU(), nn.MaxPool1d(2),
        nn.Flatten(),
        nn.Linear(flat, dense_units), nn.ReLU(),
        nn.Linear(dense_units, n_outputs))


class CNN1DEnsembleClassifier(TorchEnsembleClassifier):
    """Soft (or majority) vote over `n_estimators` 1-D CNNs (paper: 10 for ECG) on (n, L) signal rows."""

    def __init__(self, *, n_estimators=10, dense_units=128, max_iter=30, batch_size=64, learning_rate=1e-3,
                 validation_fraction=0.0, voting="soft", random_state=None, device="auto", verbose=False):
        self.n_estimators = n_estimators
        self.dense_units = dense_units
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.voting = voting
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _inputs(self, X, reset):
        from scd_plugins._compat import validate_data

        if reset:
            if not isinstance(self.dense_units, (int, np.integer)) or self.dense_units < 1:
                raise ValueError(f"dense_units must be a positive integer, got {self.dense_units!r}")
            X = validate_data(self, X, dtype=np.float32)
            self._net_spec_ = {"length": int(X.shape[1])}
        else:
            check_is_fitted(self, "params_")
            X = validate_data(self, X, reset=False, dtype=np.float32)
        return np.ascontiguousarray(X[:, None, :])

    def _make_member(self, n_outputs):
        return CNN1D(self._net_spec_["length"], n_outputs, int(self.dense_units))

    def _stacked_forward(self):
        """All members at once: grouped convolutions (1-D kernels as 1 x 16, channels-last) and batched
        dense products."""
        import torch.nn.functional as F

        from scd_plugins.estimators._torch_ensemble import (channels_to_members, grouped_conv,
                                                            members_to_channels, stacked_linear)

        def forward(p, b, x, masks=None, train=True):
            r = x.shape[0]
            h = members_to_channels(x)                                   # (B, R, 1, L)
            for conv, pool in (("0", 4), ("3", 4), ("6", 2)):
                h = F.max_pool2d(F.relu(grouped_conv(h, p[f"{conv}.weight"], p[f"{conv}.bias"], "same")),
                                 (1, pool))
            h = channels_to_members(h, r)
            h = F.relu(stacked_linear(h, p["10.weight"], p["10.bias"]))
            return stacked_linear(h, p["12.weight"], p["12.bias"])

        return forward
