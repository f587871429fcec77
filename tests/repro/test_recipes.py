"""Every packaged recipe is valid; bad recipes fail before any work with a message naming the problem."""
import pytest

from scd_plugins.repro import available_recipes, find_recipe, load_recipe

EXPECTED = {"quickstart", "t2_min_l2", "t3_min_l2_cheap", "t5_hidden_nodes", "t6_transferability",
            "f1_ensemble_size"}


def test_packaged_recipes_load():
    found = available_recipes()
    assert EXPECTED <= set(found)
    for name in EXPECTED:
        r = load_recipe(name)
        assert r["hash"] and r["models"] and r["attacks"]
        assert find_recipe(name) == found[name]


def test_paper_protocol_settings_are_encoded():
    t2 = load_recipe("t2_min_l2")
    hsj = next(a for a in t2["attacks"] if a["name"] == "hsj")
    assert (hsj["restarts"], hsj["params"]["max_iter"], hsj["init_size"]) == (10, 100, 1000)
    rays = next(a for a in t2["attacks"] if a["name"] == "rays")
    assert rays["params"]["max_queries"] == 40000
    assert t2["points"] == {"select": "random", "n": 10}
    assert t2["data"]["spec"] == "cifar10:0,1" and t2["data"]["fallback"] == "fmnist:2,4"
    t3 = load_recipe("t3_min_l2_cheap")
    assert t3["attacks"][0]["init"] == "fixed" and t3["attacks"][0]["params"]["max_iter"] == 10
    assert t3["points"] == {"select": "first", "n": 100}
    t6 = load_recipe("t6_transferability")
    assert t6["protocol"] == "transfer" and t6["points"]["indices"] == list(range(8))


def _write(tmp_path, text):
    p = tmp_path / "r.toml"
    p.write_text(text)
    return p


BASE = """
id = "X"
[data]
spec = "digits:3,8"
[points]
n = 2
[[models]]
label = "A"
name = "{model}"
[[attacks]]
label = "H"
name = "{attack}"
"""


@pytest.mark.parametrize("model, attack, match", [("nope", "hsj", "known models"), ("mlp", "fgsm", "names 'fgsm'")])
def test_bad_names(tmp_path, model, attack, match):
    with pytest.raises(ValueError, match=match):
        load_recipe(_write(tmp_path, BASE.format(model=model, attack=attack)))


def test_bad_structure(tmp_path):
    with pytest.raises(ValueError, match="unknown top-level"):
        load_recipe(_write(tmp_path, "extra = 1\n" + BASE.format(model="mlp", attack="hsj")))
    with pytest.raises(ValueError, match=r"unknown keys \['restart'\] in \[\[attacks\]\]"):
        load_recipe(_write(tmp_path, BASE.format(model="mlp", attack="hsj") + "restart = 3\n"))
    with pytest.raises(ValueError, match="run by scd_plugins.textattack"):
        load_recipe(_write(tmp_path, BASE.format(model="mlp", attack="hsj").replace('id = "X"', 'id = "X"\nprotocol = "textfooler"')))
    with pytest.raises(ValueError, match="not valid TOML"):
        load_recipe(_write(tmp_path, "id = "))
    with pytest.raises(FileNotFoundError, match="packaged"):
        find_recipe("no_such_recipe")
