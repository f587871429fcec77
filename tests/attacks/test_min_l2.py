"""The min-L2 protocol: HopSkipJump reaches the known L2 minimum of a linear model; per-point results on a
real SCD01 are verified, reproducible and bookkept; sweeps reuse the protocol."""
import numpy as np
import pytest

from scd_plugins.attacks import draw_initial, ensemble_size_curve, min_l2, min_l2_point, sweep

HSJ = {"max_iter": 100, "max_eval": 10000, "init_eval": 100}


def test_hsj_finds_the_l2_minimum_of_a_linear_model(linear_case):
    model, x, _, l2_true = linear_case
    results = min_l2(model, x, attack="hsj", settings=HSJ, restarts=1, clip_values=(0.0, 1.0), verbose=False)
    got = np.array([r.min_l2 for r in results])
    ratio = got / l2_true
    assert np.all(ratio >= 1 - 1e-3) and np.all(ratio <= 1.03), ratio       # within 3% of |w.x+b| / ||w||_2
    for r in results:
        assert r.success and model.predict(r.x_adv[None])[0] != model.predict(x[r.index][None])[0]


def test_rays_in_the_protocol_reports_l2(linear_case):
    model, x, linf_true, l2_true = linear_case
    res = min_l2_point(model, x[0], attack="rays", settings={"max_queries": 1500, "tol": 1e-4}, restarts=1,
                       init="fixed", clip_values=(0.0, 1.0))
    linf = np.abs(res.x_adv - x[0]).max()
    assert linf <= linf_true[0] * 1.02
    np.testing.assert_allclose(res.min_l2, np.linalg.norm(res.x_adv - x[0]), rtol=1e-6)
    assert res.min_l2 >= l2_true[0] * (1 - 1e-3)            # L2 of an L-inf attack cannot beat the L2 minimum


def test_min_l2_on_scd01_is_verified_and_reproducible(scd01_small, digits38):
    X, _ = digits38
    kw = dict(attack="hsj", settings=[{"max_iter": 5, "max_eval": 300}, {"max_iter": 8, "max_eval": 200}],
              restarts=2, init="random", init_size=200, seed=3, input_shape=(8, 8, 1), clip_values=(0.0, 1.0))
    a = min_l2_point(scd01_small, X[270], index=270, **kw)
    b = min_l2_point(scd01_small, X[270], index=270, **kw)
    assert len(a.runs) == 4                                             # 2 settings x 2 restarts
    assert [r["seed"] for r in a.runs] == [r["seed"] for r in b.runs] and len({r["seed"] for r in a.runs}) == 4
    assert a.min_l2 == b.min_l2 and np.array_equal(a.x_adv, b.x_adv)
    assert a.success and a.x_adv.shape == (8, 8, 1)
    assert 0 <= a.x_adv.min() and a.x_adv.max() <= 1
    assert scd01_small.predict(a.x_adv.reshape(1, -1))[0] != scd01_small.predict(X[270:271])[0]
    assert a.min_l2 == min(r["l2"] for r in a.runs if r["success"])
    np.testing.assert_allclose(a.min_l2, np.linalg.norm(a.x_adv.ravel() - X[270]), rtol=1e-6)
    assert a.queries == sum(r["queries"] for r in a.runs) > 0
    assert a.seconds >= sum(r["seconds"] for r in a.runs) * 0.99
    c = min_l2_point(scd01_small, X[270], index=270, **{**kw, "seed": 4})
    assert c.min_l2 != a.min_l2                                        # another seed, another measurement


def test_fixed_init_is_shared_by_restarts(scd01_small, digits38):
    X, _ = digits38
    calls = []
    import scd_plugins.attacks._protocols as proto

    real = proto.draw_initial

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out[0])
        return out

    mp = pytest.MonkeyPatch()
    mp.setattr(proto, "draw_initial", spy)
    try:
        min_l2_point(scd01_small, X[271], attack="hsj", settings={"max_iter": 2, "max_eval": 100}, restarts=3,
                     init="fixed", clip_values=(0.0, 1.0))
        assert len(calls) == 1
        calls.clear()
        min_l2_point(scd01_small, X[271], attack="hsj", settings={"max_iter": 2, "max_eval": 100}, restarts=3,
                     init="random", clip_values=(0.0, 1.0))
        assert len(calls) == 3 and not np.array_equal(calls[0], calls[1])
    finally:
        mp.undo()


def test_draw_initial_lands_just_past_the_boundary(linear_case):
    model, x, _, _ = linear_case
    label = model.predict(x[:1])[0]
    start, queries = draw_initial(model.predict, x[0], label, np.random.default_rng(0), (0.0, 1.0), init_size=500)
    assert model.predict(start[None])[0] != label
    assert abs(model.decision_function(start[None])[0]) < 0.05 * abs(model.decision_function(x[:1])[0]) + 1e-2
    assert queries > 0


def test_sweeps(scd01_small, digits38):
    X, _ = digits38
    kw = dict(attack="hsj", settings={"max_iter": 3, "max_eval": 100}, restarts=1, clip_values=(0.0, 1.0),
              verbose=False)
    curve = ensemble_size_curve(scd01_small, X[280:282], [1, 4], **kw)
    assert sorted(curve) == [1, 4] and all(len(v) == 2 for v in curve.values())
    by_model = sweep({"all": scd01_small, "one": scd01_small.sub_ensemble([0])}, X[280:281], **kw)
    assert set(by_model) == {"all", "one"}
    with pytest.raises(ValueError, match="ensemble sizes"):
        ensemble_size_curve(scd01_small, X[:1], [5], **kw)


@pytest.mark.parametrize("kwargs, match", [({"attack": "fgsm"}, "unknown attack"), ({"restarts": 0}, "restarts"),
                                           ({"init": "zero"}, "init"), ({"clip_values": None}, "clip_values"),
                                           ({"settings": [1]}, "settings"),
                                           ({"settings": {"targeted": True}}, "untargeted")])
def test_bad_protocol_arguments(linear_case, kwargs, match):
    model, x, _, _ = linear_case
    args = {"attack": "hsj", "settings": {"max_iter": 1}, "clip_values": (0.0, 1.0), **kwargs}
    with pytest.raises(ValueError, match=match):
        min_l2_point(model, x[0], **args)


def test_init_pool_when_noise_is_never_adversarial(linear_case):
    model, x, _, _ = linear_case
    # a model that labels all uniform noise like x: only the pool can start the attack
    far = np.full(x.shape[1], 0.5, dtype=np.float32) - 0.4 * np.sign(model.w).astype(np.float32)
    label = model.predict(x[:1])[0]
    pool = np.stack([x[0], far])                         # x itself is useless, `far` lies across the boundary
    assert model.predict(far[None])[0] != label
    start, _ = draw_initial(lambda b: np.full(len(b), label) if len(b) > 2 else model.predict(b), x[0], label,
                            np.random.default_rng(0), (0.0, 1.0), init_size=100, pool=pool)
    assert start is not None and model.predict(start[None])[0] != label
    none, queries = draw_initial(lambda b: np.full(len(b), label), x[0], label, np.random.default_rng(0), (0.0, 1.0),
                                 init_size=100)
    assert none is None and queries == 100


@pytest.mark.parametrize("attack, settings", [("hsj", {"max_iter": 3, "max_eval": 100}),
                                              ("boundary", {"max_iter": 30, "num_trial": 5, "sample_size": 5}),
                                              ("rays", {"max_queries": 300})])
def test_every_attack_runs_through_the_protocol(attack, settings, scd01_small, digits38):
    X, _ = digits38
    res = min_l2_point(scd01_small, X[265], attack=attack, settings=settings, restarts=1, input_shape=(8, 8, 1),
                       clip_values=(0.0, 1.0))
    assert res.success and res.queries > 0 and np.isfinite(res.min_l2)
    assert scd01_small.predict(res.x_adv.reshape(1, -1))[0] != scd01_small.predict(X[265:266])[0]
