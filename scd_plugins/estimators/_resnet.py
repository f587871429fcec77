"""The paper's ResNet50 baseline: a vote over independently seeded ResNet-50s, written in plain torch.

The standard bottleneck ResNet-50 (stages [3, 4, 6, 3] of widths 64-512, expansion 4, stride on the 3x3
convolution as in torchvision's v1.5) with the small-image stem: one 3x3 stride-1 convolution and no
max-pool. With a 1000-class head that is torchvision's 25,557,032 parameters minus the 7x7 stem's 9,408
plus the 3x3 stem's 1,728 (three channels). BatchNorm's running statistics cannot be updated under vmap,
so members (default 10) train one after the other; on a CPU, paper-scale training takes days: this is
the model to train on a GPU (`device="auto"` takes CUDA when present).
"""
from __future__ import annotations

import functools

from scd_plugins.estimators._torch_ensemble import ImageInputs, TorchEnsembleClassifier

__all__ = ["ResNet50EnsembleClassifier", "ResNet50"]

STAGES = (3, 4, 6, 3)
EXPANSION = 4


@functools.lru_cache(maxsize=None)
def _classes():
    """The module classes, made once (torch is imported only when a network is built)."""
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, in_ch, width, stride):
            super().__init__()
            out = width * EXPANSION
            self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or in_ch != out:
                self.downsample = nn.Sequential(nn.Conv2d(in_ch, out, 1, stride=stride, bias=False),
                                                nn.BatchNorm2d(out))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            h = self.relu(self.bn1(self.conv1(x)))
            h = self.relu(self.bn2(self.conv2(h)))
            return self.relu(self.bn3(self.conv3(h)) + identity)

    class Net(nn.Module):
        def __init__(self, channels, n_outputs):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, 64, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            in_ch = 64
            for i, (blocks, width) in enumerate(zip(STAGES, (64, 128, 256, 512))):
                layer = []
                for j in range(blocks):
                    layer.append(Bottleneck(in_ch, width, 2 if (j == 0 and i > 0) else 1))
                    in_ch = width * EXPANSION
                setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(in_ch, n_outputs)
            for m in self.modules():                 # torchvision's initialisation
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def forward(self, x):
            h = self.relu(self.bn1(self.conv1(x)))
            h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
            return self.fc(self.avgpool(h).flatten(1))

    return Bottleneck, Net


def ResNet50(channels: int, n_outputs: int):
    """One ResNet-50 (3x3 stride-1 stem) on NCHW inputs; state-dict keys as torchvision's
    (conv1, bn1, layer1-4, fc)."""
    return _classes()[1](channels, n_outputs)


class ResNet50EnsembleClassifier(ImageInputs, TorchEnsembleClassifier):
    """Soft (or majority) vote over `n_estimators` ResNet-50s (paper: 10), trained one after the other.

    Inputs are flattened HWC rows of `input_shape` (None: square, one channel). Adam lr 1e-3, batch 64.
    validation_fraction=0.2 (default) is the authors' skorch default split (members see 80% of the
    training set); 0.0 trains on all of it. bn_recalibration=True recomputes each member's BatchNorm
    running statistics after training as exact averages over the training data ("precise BN"); off by
    default (the paper's training), useful after very short training, whose running averages still
    reflect the first batches.
    """

    batched_members = False

    def __init__(self, *, n_estimators=10, input_shape=None, max_iter=100, batch_size=64, learning_rate=1e-3,
                 validation_fraction=0.2, voting="soft", bn_recalibration=False, random_state=None, device="auto",
                 verbose=False):
        self.n_estimators = n_estimators
        self.input_shape = input_shape
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.voting = voting
        self.bn_recalibration = bn_recalibration
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _make_member(self, n_outputs):
        return ResNet50(self._net_spec_["channels"], n_outputs)
