"""RayS (Chen & Gu 2020) with the reference's rules: exactness on a linear model, the block schedule and order,
the first ray, strict updates, clipped-distance early stopping, interface checks, and a real SCD01 victim."""
import numpy as np
import pytest

from scd_plugins.art import as_label_only, to_art
from scd_plugins.attacks import RayS
from scd_plugins.attacks._rays import block_order, block_schedule


def test_rays_finds_the_linf_minimum_of_a_linear_model(linear_case):
    model, x, linf_true, _ = linear_case
    victim = as_label_only(model, clip_values=(0.0, 1.0))
    attack = RayS(victim, max_queries=2000, verbose=False)              # the reference's tol
    x_adv = attack.generate(x)
    assert attack.success_.all()
    assert np.all(model.predict(x_adv) != model.predict(x))                 # re-checked on the model
    np.testing.assert_allclose(attack.linf_, np.abs(x_adv - x).max(axis=1), rtol=1e-6)
    ratio = attack.linf_ / linf_true
    assert np.all(ratio >= 1 - 1e-3) and np.all(ratio <= 1.005), ratio      # within 0.5% of |w.x+b| / ||w||_1
    np.testing.assert_allclose(attack.l2_, np.linalg.norm(x_adv - x, axis=1), rtol=1e-5)
    assert np.all(attack.queries_ <= 2000)


def test_rays_spends_at_most_its_budget_and_is_seeded(scd01_small, digits38):
    X, _ = digits38
    x = X[260:263].reshape(-1, 8, 8, 1)
    victim = as_label_only(scd01_small, input_shape=(8, 8, 1), clip_values=(0.0, 1.0))
    runs = []
    for _ in range(2):
        victim.scores.reset_counts()
        attack = RayS(victim, max_queries=300, random_init=True, random_state=7, verbose=False)
        runs.append(attack.generate(x))
        assert victim.scores.n_queries <= 3 + 3 * 300      # labels of x, then the budget per sample
        assert np.all(attack.queries_ <= 300)
    np.testing.assert_array_equal(runs[0], runs[1])
    fooled = scd01_small.predict(runs[0].reshape(3, -1)) != scd01_small.predict(x.reshape(3, -1))
    np.testing.assert_array_equal(fooled, attack.success_)
    assert fooled.mean() >= 2 / 3
    assert runs[0].min() >= 0 and runs[0].max() <= 1


def test_rays_early_stop_at_epsilon(linear_case):
    model, x, linf_true, _ = linear_case
    attack = RayS(as_label_only(model, clip_values=(0.0, 1.0)), max_queries=5000, epsilon=1.0, verbose=False)
    attack.generate(x[:1])
    assert attack.success_[0] and attack.queries_[0] < 100                # the first ray already beats 1.0


@pytest.mark.parametrize("kwargs, match", [({"max_queries": 0}, "max_queries"), ({"max_queries": 1.5}, "max_queries"),
                                           ({"epsilon": -1.0}, "epsilon"), ({"tol": 0.0}, "tol"),
                                           ({"random_init": "yes"}, "random_init"), ({"verbose": 1}, "verbose"),
                                           ({"norm": 1}, "norm"), ({"block_order": "hwc"}, "block_order"),
                                           ({"restart_blocks": 0}, "restart_blocks")])
def test_rays_rejects_bad_parameters(linear_case, kwargs, match):
    model = linear_case[0]
    with pytest.raises(ValueError, match=match):
        RayS(to_art(model, clip_values=(0.0, 1.0)), **kwargs)


def test_rays_set_params_checks_again(linear_case):
    attack = RayS(to_art(linear_case[0], clip_values=(0.0, 1.0)), verbose=False)
    with pytest.raises(ValueError, match="max_queries"):
        attack.set_params(max_queries=-3)


def test_block_schedule_halves_then_keeps_single_coordinates():
    def first(k, **kw):
        gen = block_schedule(5, **kw)
        return [next(gen) for _ in range(k)]

    levels = [(0, 5), (0, 3), (3, 5), (0, 2), (2, 4), (4, 5)]
    singles = [(i, i + 1) for i in range(5)]
    assert first(16) == levels + singles + singles                    # the reference: no return to one block
    assert first(17, restart=True) == levels + singles + levels       # the option: start over
    gen = block_schedule(3072)
    blocks = [next(gen) for _ in range(4095 + 3072)]
    sizes = {end - start for start, end in blocks[4095:]}
    assert sizes == {1}                                               # 1 + 2 + ... + 2048 blocks, then singles
    assert all(e - s > 1 for s, e in blocks[:4095 - 2048]) and blocks[4095 - 2048] == (0, 2)


def test_blocks_are_cut_channels_first(recording_linear):
    order = block_order((2, 2, 3), channels_first=False)             # an HWC sample
    hwc = np.arange(12).reshape(2, 2, 3)
    expected = [hwc[h, w, c] for c in range(3) for h in range(2) for w in range(2)]
    assert order.tolist() == expected
    assert block_order((3, 2, 2), channels_first=True).tolist() == list(range(12))
    assert block_order((12,), channels_first=False).tolist() == list(range(12))
    # the attack's second ray flips the first half in NCHW order: channel 0 and half of channel 1
    d = 12
    model = recording_linear(np.ones(d), -0.5 * d)
    x = np.full((1, 2, 2, 3), 0.6, dtype=np.float32)
    RayS(as_label_only(model, input_shape=(2, 2, 3), clip_values=(0.0, 1.0)), max_queries=40,
         verbose=False).generate(x)
    queries = np.concatenate(model.seen_[1:])                          # after the labels of x
    signs = np.sign(queries - x.reshape(1, -1))
    first_half = np.zeros((2, 2, 3), dtype=bool)
    first_half[:, :, 0] = True
    first_half[0, :, 1] = True
    trial = np.where(first_half.ravel(), 1.0, -1.0)                   # the all -1 ray with its first half flipped
    assert any(np.array_equal(row, trial) for row in signs)


def test_first_ray_is_the_flipped_all_ones_and_updates_are_strict(recording_linear):
    d = 16
    w = np.zeros(d)
    w[0] = 1.0
    model = recording_linear(w, -0.3)                             # only x0 matters: label 1 iff x0 > 0.3
    x = np.full((1, d), 0.5, dtype=np.float32)
    attack = RayS(as_label_only(model, clip_values=(0.0, 1.0)), max_queries=3000, verbose=False)
    x_adv = attack.generate(x)
    np.testing.assert_array_equal(model.seen_[1], np.zeros((1, d)))   # first query: the -1 ray at radius 1
    # every later ray that keeps x0's sign passes the fast check at the same length, but none is shorter:
    # the first adopted direction (all -1) is the only one
    assert len(attack.history_[0]) == 1
    np.testing.assert_array_equal(np.sign(x_adv - x), -np.ones((1, d)))
    assert attack.queries_[0] == 3000
    np.testing.assert_allclose(attack.linf_[0], 0.2, atol=1e-3 / np.sqrt(d) * 1.01)
    lengths = [r for _, r in attack.history_[0]]
    assert lengths == sorted(lengths, reverse=True)


def test_early_stop_uses_the_clipped_distance_in_its_norm(recording_linear):
    m = 50
    w = np.concatenate([np.zeros(m), np.ones(m)])
    model = recording_linear(w, -m * 0.4)                            # label 1 iff mean of the 2nd half > 0.4
    x = np.concatenate([np.zeros(m), np.full(m, 0.5)])[None].astype(np.float32)
    # the -1 ray leaves the first half at 0 (clipped): clipped L2 = 0.1 sqrt(m), the ray's length 0.1 sqrt(2m)
    eps = 0.1 * np.sqrt(m) * 1.2
    attack = RayS(as_label_only(model, clip_values=(0.0, 1.0)), max_queries=5000, epsilon=float(eps), norm=2,
                  verbose=False)
    x_adv = attack.generate(x)
    assert attack.success_[0] and attack.queries_[0] < 40                  # stopped after the first ray
    assert attack.history_[0][0][1] > eps                                  # its unclipped length was not below
    np.testing.assert_allclose(attack.l2_[0], np.linalg.norm(x_adv - x), rtol=1e-6)
    strict = RayS(as_label_only(model, clip_values=(0.0, 1.0)), max_queries=300, epsilon=0.01, norm=2,
                  verbose=False)
    out = strict.generate(x)
    assert not strict.success_[0] and strict.queries_[0] == 300            # eps not reached: budget spent
    assert model.predict(out)[0] != model.predict(x)[0]                    # the adversarial example is returned


def test_binary_search_precision_is_on_the_rays_l2_length(linear_case):
    # a CIFAR-sized linear model whose best sign direction is the first ray (all -1): after one binary search
    # the L-inf radius is within tol / sqrt(d) of |w.x+b| / ||w||_1 (the old rule, tol on the radius, allowed
    # 1e-3, i.e. 7% of this radius at the paper's min-L2 scale of 0.8 at d = 3072)
    d = 3072
    rng = np.random.default_rng(4)
    w = rng.uniform(0.5, 1.5, size=d)
    x = rng.uniform(0.3, 0.7, size=(1, d))
    linf_true = 0.8 / np.sqrt(d)
    model = type(linear_case[0])(w, -(x @ w)[0] + linf_true * w.sum()).fit()   # label 1 iff w.x + b > 0
    assert model.predict(x)[0] == 1
    attack = RayS(as_label_only(model, clip_values=(0.0, 1.0)), max_queries=100, verbose=False)
    attack.generate(x.astype(np.float32))
    err = attack.linf_[0] - linf_true
    assert -1e-6 <= err <= 1e-3 / np.sqrt(d) * 1.01 + 1e-6, err
    assert attack.linf_[0] / linf_true <= 1.005
    assert attack.history_[0][0][0] <= 30                            # one linear-search query, then bisection
