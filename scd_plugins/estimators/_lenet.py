"""The paper's LeNet baseline: a vote over independently seeded LeNets, all members trained as one batched
torch program (`_torch_ensemble`).

Architecture (the authors' CIFAR variant): conv 6@5x5 (pad 2), ReLU, max-pool 2, conv 16@5x5 (pad 2), ReLU,
max-pool 2, dense 120, ReLU, dense 84, ReLU, output; Adam lr 1e-3, batch 64, 100 epochs. Any HWC image of
at least 4x4 pixels (28x28x1, 32x32x3, 96x96x3, digits' 8x8x1, ...); rows are flattened HWC.
"""
from __future__ import annotations

from scd_plugins.estimators._torch_ensemble import ImageInputs, TorchEnsembleClassifier

__all__ = ["LeNetEnsembleClassifier", "LeNet"]


def LeNet(height: int, width: int, channels: int, n_outputs: int):
    """One LeNet as a torch module on NCHW inputs."""
    from torch import nn

    if height < 4 or width < 4:
        raise ValueError(f"LeNet pools twice by 2: images need at least 4x4 pixels, got {height}x{width}")
    return nn.Sequential(
        nn.Conv2d(channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * (height // 4) * (width // 4), 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, n_outputs))


class LeNetEnsembleClassifier(ImageInputs, TorchEnsembleClassifier):
    """Soft (or majority) vote over `n_estimators` LeNets (paper: 100), trained together in one vmapped
    program. `input_shape`: the (H, W, C) of a flattened row (None: square, one channel).

    validation_fraction=0.2 (default) reproduces the authors' skorch training, whose default validation
    split keeps 20% of the training set out of every member's training (here one seeded stratified
    split shared by all members; `validation_accuracy_` holds each member's accuracy on it); 0.0 trains
    on all of it.
    """

    def __init__(self, *, n_estimators=100, input_shape=None, max_iter=100, batch_size=64, learning_rate=1e-3,
                 validation_fraction=0.2, voting="soft", random_state=None, device="auto", verbose=False):
        self.n_estimators = n_estimators
        self.input_shape = input_shape
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.voting = voting
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _make_member(self, n_outputs):
        s = self._net_spec_
        return LeNet(s["height"], s["width"], s["channels"], n_outputs)

    def _stacked_forward(self):
        """All members at once: grouped channels-last convolutions and batched dense products (1.5x a
        member loop on two CPU cores, where vmap's own grouped-convolution rule was slower than the loop)."""
        import torch.nn.functional as F

        from scd_plugins.estimators._torch_ensemble import (channels_to_members, grouped_conv,
                                                            members_to_channels, stacked_linear)

        def forward(p, b, x, masks=None, train=True):
            r = x.shape[0]
            h = members_to_channels(x)
            h = F.max_pool2d(F.relu(grouped_conv(h, p["0.weight"], p["0.bias"], 2)), 2)
            h = F.max_pool2d(F.relu(grouped_conv(h, p["3.weight"], p["3.bias"], 2)), 2)
            h = channels_to_members(h, r)
            h = F.relu(stacked_linear(h, p["7.weight"], p["7.bias"]))
            h = F.relu(stacked_linear(h, p["9.weight"], p["9.bias"]))
            return stacked_linear(h, p["11.weight"], p["11.bias"])

        return forward
