"""ResNet-50: the standard parameter count, a forward/backward pass, and one tiny fit on real digits with a
HopSkipJump attack through ART (paper-scale training is for a GPU)."""
import numpy as np
import pytest
import torch

from scd_plugins.estimators import ResNet50EnsembleClassifier
from scd_plugins.estimators._resnet import ResNet50

TORCHVISION_RESNET50 = 25_557_032          # torchvision.models.resnet50(): 7x7 stem, 1000-class head


def _count(net):
    return sum(p.numel() for p in net.parameters())


def test_standard_parameter_count():
    stem_7x7, stem_3x3 = 64 * 3 * 7 * 7, 64 * 3 * 3 * 3
    assert _count(ResNet50(3, 1000)) == TORCHVISION_RESNET50 - stem_7x7 + stem_3x3
    head_1000, head_2 = 2048 * 1000 + 1000, 2048 * 2 + 2
    assert _count(ResNet50(3, 2)) == TORCHVISION_RESNET50 - stem_7x7 + stem_3x3 - head_1000 + head_2
    keys = set(ResNet50(3, 2).state_dict())
    assert {"conv1.weight", "layer1.0.downsample.0.weight", "layer4.2.bn3.running_var", "fc.weight"} <= keys
    assert sum(k.endswith("conv3.weight") for k in keys) == 3 + 4 + 6 + 3


def test_forward_backward_on_a_tiny_batch(digits38):
    X, _ = digits38
    net = ResNet50(1, 2)
    out = net(torch.as_tensor(X[:4]).reshape(4, 1, 8, 8))
    assert out.shape == (4, 2)
    out.logsumexp(dim=1).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(int(g.abs().sum() > 0) for g in grads) == len(grads)


def test_tiny_fit_and_hop_skip_jump(digits38):
    from art.attacks.evasion import HopSkipJump

    from scd_plugins.art import as_label_only

    X, y = digits38
    # Two epochs leave BatchNorm's running averages at their first batches (every digit labelled alike in
    # eval mode); bn_recalibration recomputes them exactly from the training data with the final weights.
    model = ResNet50EnsembleClassifier(n_estimators=1, max_iter=2, batch_size=16, input_shape=(8, 8, 1),
                                       validation_fraction=0.25, bn_recalibration=True, device="cpu",
                                       random_state=0).fit(X[:64], y[:64])
    assert model.n_members_ == 1 and model.validation_accuracy_.shape == (1,)
    assert int(model.buffers_["bn1.num_batches_tracked"][0]) == 3          # the recalibration pass: 48 / 16
    assert model.buffers_["bn1.running_mean"].abs().sum() > 0
    assert model.loss_curve_[0, 1] < model.loss_curve_[0, 0]
    pool = X[250:330]
    labels = model.predict(pool)
    assert len(set(labels)) == 2, "after two epochs the network should not label every digit alike"
    x = pool[:1].reshape(1, 8, 8, 1)
    init = pool[labels != labels[0]][:1].reshape(1, 8, 8, 1)       # a real digit it labels otherwise
    victim = as_label_only(model, input_shape=(8, 8, 1), clip_values=(0.0, 1.0))
    np.random.seed(0)
    x_adv = HopSkipJump(victim, targeted=False, max_iter=2, max_eval=20, init_eval=10,
                        verbose=False).generate(x, x_adv_init=init)
    assert x_adv.shape == x.shape and x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert model.predict(x_adv.reshape(1, -1))[0] != labels[0]
    assert np.linalg.norm(x_adv - x) < np.linalg.norm(init - x)          # moved from the start towards x
