"""The accelerator's code path of the group loop, run on CPU tensors (`engine.host.accelerator_path`).

CI has no GPU, so this is where that path is tested: it must make the host path's models, and no
operation inside an iteration may read a value back to the host (on CUDA each would be a device
synchronisation): caught here as the aten operations that need one, and as NumPy or list conversions.
"""
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from scd_plugins.engine import ce_moves, search
from scd_plugins.engine.config import VoteConfig
from scd_plugins.engine.group import GroupTrainer
from scd_plugins.engine.host import accelerator_path, host_path

FAMILIES = [("01", False), ("ce", False), ("01", True), ("ce", True)]
aten = torch.ops.aten
# Operations whose output (its size or a Python value) a GPU must send back to the host.
SYNCING = {aten._local_scalar_dense.default, aten.nonzero.default, aten.masked_select.default, aten.equal.default,
           aten.is_nonzero.default, aten._unique2.default, aten.unique_dim.default, aten.unique_consecutive.default,
           aten.repeat_interleave.Tensor}


class HostReads(TorchDispatchMode):
    """Within the block, records every operation that would synchronise a GPU with the host: the aten
    operations that need one, and conversions to NumPy, lists and Python numbers."""

    CONVERSIONS = ("numpy", "tolist", "item")

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        masks = func in (aten.index.Tensor, aten.index_put.default, aten.index_put_.default) and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in (args[1] or ()))
        if func in SYNCING or masks:
            self.seen.append(str(func))
        return func(*args, **kwargs)

    def __enter__(self):
        self._original = {name: getattr(torch.Tensor, name) for name in self.CONVERSIONS}
        for name, method in self._original.items():
            setattr(torch.Tensor, name, self._recording(name, method))
        return super().__enter__()

    def __exit__(self, *exc):
        for name, method in self._original.items():
            setattr(torch.Tensor, name, method)
        return super().__exit__(*exc)

    def _recording(self, name, method):
        def call(tensor, *args, **kwargs):
            self.seen.append(name)
            return method(tensor, *args, **kwargs)
        return call


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = (y == 3) | (y == 8)
    return torch.from_numpy(np.ascontiguousarray(X[keep].T / 16.0)), torch.from_numpy((y[keep] == 8).astype(np.int64))


def trained(XT, y, cfg, seeds, iterations, check=None):
    trainer = GroupTrainer(XT, y, cfg, seeds)
    trainer.start()
    for it in range(iterations):
        if check is None:
            trainer.iterate(it)
        else:
            with check:
                trainer.iterate(it)
    return trainer.result()


def test_the_switch_is_scoped():
    x = torch.zeros(2)
    assert host_path(x)
    with accelerator_path():
        assert not host_path(x) and not host_path(torch.device("cpu"))
    assert host_path(x)


@pytest.mark.parametrize("loss,binary", FAMILIES)
def test_the_accelerator_path_makes_the_host_paths_models_without_reading_back(loss, binary, monkeypatch):
    XT, y = digits()
    cfg = VoteConfig(iterations=40, loss=loss, binary_weights=binary, n_features=16, refresh_every=15)
    seeds = [21, 22, 23]
    monkeypatch.setattr(search, "SCREEN_MIN", 0)  # the host path screens every hidden search in float32
    monkeypatch.setattr(ce_moves, "BOUND_FROM", 0)  # and skips the CE output moves its bounds rule out
    host = trained(XT, y, cfg, seeds, cfg.iterations)
    reads = HostReads()
    with accelerator_path():
        device = trained(XT, y, cfg, seeds, cfg.iterations, check=reads)
    assert reads.seen == [], sorted(set(reads.seen))
    for key in ("W1", "b1", "w2", "b2", "train_score"):
        assert np.array_equal(host[key], device[key]), key
    assert float(host["train_score"].min()) > 1.6  # trained: acc + balanced acc well above chance (1.0)


def test_the_checker_sees_host_reads():
    """The check above can fail: the host path's iterations do read values back."""
    XT, y = digits()
    reads = HostReads()
    trained(XT, y, VoteConfig(iterations=3, n_features=16), [1, 2], 3, check=reads)
    assert reads.seen


def test_off_the_host_path_the_next_draws_are_made_in_a_thread_meanwhile():
    XT, y = digits()
    with accelerator_path():
        trainer = GroupTrainer(XT, y, VoteConfig(iterations=3, n_features=16), [1, 2])
        trainer.start()
        trainer.iterate(0)
        assert trainer._ahead is not None  # iteration 1's draws, made while iteration 0 ran
        trainer.result()
        assert trainer._drawer is None
