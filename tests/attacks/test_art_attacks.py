"""ART's attacks inside the protocol: HopSkipJump's NaN fallback counts as a failure, Boundary runs untargeted,
and the threading backend (shared global NumPy state) is refused."""
import warnings

import numpy as np
import pytest
from art.attacks.evasion import BoundaryAttack, HopSkipJump

from scd_plugins.art import as_label_only
from scd_plugins.attacks import check_backend, make_attack, min_l2_point


@pytest.mark.parametrize("fallback", ["original", "nan"])
def test_hsj_fallback_output_is_a_failed_run(linear_case, fallback):
    model, x, _, _ = linear_case
    mp = pytest.MonkeyPatch()

    def generate(self, x, y=None, **kwargs):          # what ART returns once its gradient estimate is NaN
        return x.copy() if fallback == "original" else np.full_like(x, np.nan)

    mp.setattr(HopSkipJump, "generate", generate)
    try:
        res = min_l2_point(model, x[0], attack="hsj", settings={"max_iter": 2}, restarts=2, clip_values=(0.0, 1.0))
    finally:
        mp.undo()
    assert not res.success and res.min_l2 == float("inf") and res.x_adv is None
    assert all(not r["success"] and r["l2"] == float("inf") for r in res.runs)
    # the real attack on the same point succeeds, at a positive distance
    ok = min_l2_point(model, x[0], attack="hsj", settings={"max_iter": 5, "max_eval": 500}, restarts=1,
                      clip_values=(0.0, 1.0))
    assert ok.success and ok.min_l2 > 0


def test_boundary_is_untargeted_in_the_protocols(linear_case):
    victim = as_label_only(linear_case[0], clip_values=(0.0, 1.0))
    assert BoundaryAttack(victim, verbose=False).targeted is True          # ART's default
    assert make_attack("boundary", victim).targeted is False               # what every protocol runs
    assert make_attack("hsj", victim).targeted is False
    with pytest.raises(ValueError, match="untargeted"):
        make_attack("boundary", victim, {"targeted": True})


def test_threading_backend_is_refused_or_warned():
    assert check_backend("loky") == "loky" and check_backend(None) is None
    with pytest.raises(ValueError, match="threading"):
        check_backend("threading")
    with pytest.warns(RuntimeWarning, match="random state"):
        assert check_backend("threading", allow_threads=True) == "threading"
    with pytest.warns(RuntimeWarning, match="process backends"):
        check_backend("dask")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_backend("multiprocessing")
    with pytest.raises(TypeError, match="backend"):
        check_backend(3)
