"""RayS (Chen & Gu 2020): exactness on a linear model, interface checks, and a real SCD01 victim."""
import numpy as np
import pytest

from scd_plugins.art import as_label_only, to_art
from scd_plugins.attacks import RayS


def test_rays_finds_the_linf_minimum_of_a_linear_model(linear_case):
    model, x, linf_true, _ = linear_case
    victim = as_label_only(model, clip_values=(0.0, 1.0))
    attack = RayS(victim, max_queries=2000, tol=1e-4, verbose=False)
    x_adv = attack.generate(x)
    assert attack.success_.all()
    assert np.all(model.predict(x_adv) != model.predict(x))                 # re-checked on the model
    np.testing.assert_allclose(attack.linf_, np.abs(x_adv - x).max(axis=1), rtol=1e-6)
    ratio = attack.linf_ / linf_true
    assert np.all(ratio >= 1 - 1e-3) and np.all(ratio <= 1.02), ratio       # within 2% of |w.x+b| / ||w||_1
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
                                           ({"random_init": "yes"}, "random_init"), ({"verbose": 1}, "verbose")])
def test_rays_rejects_bad_parameters(linear_case, kwargs, match):
    model = linear_case[0]
    with pytest.raises(ValueError, match=match):
        RayS(to_art(model, clip_values=(0.0, 1.0)), **kwargs)


def test_rays_set_params_checks_again(linear_case):
    attack = RayS(to_art(linear_case[0], clip_values=(0.0, 1.0)), verbose=False)
    with pytest.raises(ValueError, match="max_queries"):
        attack.set_params(max_queries=-3)
