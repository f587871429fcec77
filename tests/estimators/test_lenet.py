"""LeNet ensemble: learns real images, members batched == members alone, vote modes, shapes, HSJ via ART."""
import numpy as np
import pytest
import torch

from scd_plugins.estimators import LeNetEnsembleClassifier

SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def lenet(digits38):
    X, y = digits38
    return LeNetEnsembleClassifier(n_estimators=3, max_iter=10, batch_size=32, input_shape=SHAPE, device="cpu",
                                   random_state=0).fit(X[:250], y[:250])


def test_learns_digits_and_holds_out_the_skorch_split(lenet, digits38):
    X, y = digits38
    assert lenet.score(X[250:], y[250:]) > 0.85
    assert lenet.validation_accuracy_.shape == (3,) and lenet.validation_accuracy_.min() > 0.8   # 50 held-out rows
    assert np.all(lenet.loss_curve_[:, -1] < 0.5 * lenet.loss_curve_[:, 0])


def test_batched_members_equal_members_trained_alone(digits38):
    X, y = digits38
    model = LeNetEnsembleClassifier(n_estimators=3, max_iter=1, batch_size=16, input_shape=SHAPE, device="cpu",
                                    validation_fraction=0.0, random_state=1).fit(X[:96], y[:96])
    inputs, labels = model._inputs(X[:96], reset=False), np.searchsorted(model.classes_, y[:96])
    for j in (0, 2):
        alone, _, curve = model._train(inputs, labels, [int(model.member_seeds_[j])], torch.device("cpu"))
        for key, value in alone.items():
            np.testing.assert_allclose(value[0].numpy(), model.params_[key][j].numpy(), atol=1e-5, err_msg=key)
        np.testing.assert_allclose(curve[0], model.loss_curve_[j], rtol=1e-5)
    assert not np.allclose(model.params_["0.weight"][0].numpy(), model.params_["0.weight"][1].numpy())


def test_hard_vote_is_the_fraction_of_member_labels(lenet, digits38):
    X, _ = digits38
    hard = lenet.sub_ensemble(range(3))
    hard.voting = "hard"
    labels = lenet.member_labels(X[250:])
    np.testing.assert_allclose(hard.predict_proba(X[250:])[:, 1], (labels == lenet.classes_[1]).mean(axis=0))


def test_image_shapes_are_checked(digits38):
    X, y = digits38
    with pytest.raises(ValueError, match="input_shape"):
        LeNetEnsembleClassifier(input_shape=(7, 7, 1), n_estimators=1, max_iter=1).fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="square"):
        LeNetEnsembleClassifier(n_estimators=1, max_iter=1).fit(X[:40, :60], y[:40])
    with pytest.raises(ValueError, match="4x4"):
        LeNetEnsembleClassifier(input_shape=(2, 32, 1), n_estimators=1, max_iter=1).fit(X[:40], y[:40])


def test_fashion_mnist_28x28(fashion_pullover_coat):
    Xtr, ytr, Xte, yte = fashion_pullover_coat
    model = LeNetEnsembleClassifier(n_estimators=2, max_iter=2, input_shape=(28, 28, 1), device="cpu",
                                    validation_fraction=0.0, random_state=0).fit(Xtr[:800], ytr[:800])
    assert model.score(Xte[:400], yte[:400]) > 0.7           # Pullover vs Coat; chance is 0.5


def test_hop_skip_jump_through_art_changes_labels(lenet, digits38):
    from art.attacks.evasion import HopSkipJump

    from scd_plugins.art import as_label_only

    X, _ = digits38
    x = X[260:263].reshape(-1, *SHAPE)
    victim = as_label_only(lenet, input_shape=SHAPE, clip_values=(0.0, 1.0))
    np.random.seed(0)
    x_adv = HopSkipJump(victim, targeted=False, max_iter=2, max_eval=50, init_eval=10, verbose=False).generate(x)
    assert x_adv.shape == x.shape and x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert np.mean(lenet.predict(x_adv.reshape(len(x), -1)) != lenet.predict(x.reshape(len(x), -1))) >= 2 / 3
