"""The raw-text TextAttack wrapper over a WordCNN: strings straight through, and a real (offline) attack."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def wordcnn(ta_env):
    from pipelines.text import load_mr
    from scd_plugins.estimators import WordCNNClassifier

    ds = load_mr(max_train=1500, max_test=100, cache=False)
    model = WordCNNClassifier(n_estimators=2, max_iter=3, device="cpu", random_state=0)
    return model.fit(ds.texts_train, ds.y_train), ds


def test_wrapper_passes_strings_through(wordcnn):
    from scd_plugins.textattack.wordcnn import WordCNNModelWrapper

    model, ds = wordcnn
    wrapper = WordCNNModelWrapper(model)
    texts = ds.texts_test[:5]
    np.testing.assert_allclose(wrapper(texts), model.predict_proba(texts))
    assert wrapper([]).shape == (0, 2)
    assert wrapper._tokenize(texts[:1]) == [model.tokens(texts[0])]
    with pytest.raises(TypeError, match="list of strings"):
        wrapper("one string")
    with pytest.raises(TypeError, match="raw-text model"):
        WordCNNModelWrapper(object())


def test_textattack_attack_changes_the_label(wordcnn):
    from textattack import Attack
    from textattack.attack_results import SuccessfulAttackResult
    from textattack.constraints.pre_transformation import RepeatModification
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedySearch
    from textattack.transformations import WordSwapRandomCharacterDeletion

    from scd_plugins.textattack.wordcnn import WordCNNModelWrapper

    model, ds = wordcnn
    wrapper = WordCNNModelWrapper(model)
    attack = Attack(UntargetedClassification(wrapper), [RepeatModification()],
                    WordSwapRandomCharacterDeletion(random_one=True), GreedySearch())
    right = [i for i in range(len(ds.texts_test)) if model.predict([ds.texts_test[i]])[0] == ds.y_test[i]][:3]
    results = [attack.attack(ds.texts_test[i], int(ds.y_test[i])) for i in right]
    won = [r for r in results if isinstance(r, SuccessfulAttackResult)]
    assert won, "deleting characters (words become out-of-vocabulary) should flip at least one sentence"
    for r in won:
        assert model.predict([r.perturbed_result.attacked_text.text])[0] != r.original_result.ground_truth_output
