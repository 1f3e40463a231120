import pytest

from embtune_core.core.config import load_config
from embtune_core.core.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "embtune.toml"
    p.write_text(text)
    return p


def test_sample_config_loads_and_resolves_paths():
    from conftest import SAMPLE

    cfg = load_config(SAMPLE / "embtune.toml")
    assert cfg.search_log.fields.query == "q"
    assert cfg.resolve(cfg.docs.path) == (SAMPLE / "docs").resolve()
    assert cfg.model.base == "all-MiniLM-L6-v2"
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "x"  # frozen


def test_defaults_when_empty(tmp_path):
    cfg = load_config(write(tmp_path, ""))
    assert cfg.docs.split_min_words == 400 and cfg.eval.kind == "human"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[search_log.fields]\nqeury = 'q'\n", "unknown key 'search_log.fields.qeury'; did you mean 'query'?"),
        ("[doc]\npath = 'x'\n", "unknown key 'doc'; did you mean 'docs'?"),
        ("[docs]\nsplit_min_words = '400'\n", "'docs.split_min_words' must be int, got str '400'"),
        ("[docs]\nsplit_sections = 1\n", "'docs.split_sections' must be bool, got int 1"),
        ("docs = 3\n", "'docs' must be a table, got int"),
        ("[docs]\nformat = 'markdwon'\n", "did you mean 'markdown'?"),
        ("[search_log]\nmax_bad_share = 2\n", "'search_log.max_bad_share' must be between 0 and 1"),
        ("name = \n", "invalid TOML"),
        ("root = '/'\n", "'root' is set by embtune"),
        ("[hybrid]\ndepth = 0\n", "'hybrid.depth' must be > 0"),
        ("[hybrid]\ndepth = 5000\n", "'hybrid.depth' must be <= 1000"),
        ("[hybrid]\ndeepth = 50\n", "did you mean 'depth'?"),
    ],
)
def test_bad_config_names_the_key_path(tmp_path, text, expected):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    assert expected in str(e.value)
    assert str(tmp_path / "embtune.toml") in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="project file not found"):
        load_config(tmp_path / "nope.toml")


def test_config_hash_changes_with_content(tmp_path):
    a = load_config(write(tmp_path, "[model]\nbatch_size = 32\n"))
    b = load_config(write(tmp_path, "[model]\nbatch_size = 16\n"))
    assert a.hash() != b.hash() and a.hash("docs") == b.hash("docs")


def test_train_table_sets_only_what_it_names(tmp_path):
    from embtune_core.core.config import TrainConfig

    cfg = load_config(write(tmp_path, "[train]\nepochs = 3\nhard_negative_range = [3, 20]\ngeneral_share = 0.2\n"))
    assert cfg.train.as_dict() == {"epochs": 3.0, "general_share": 0.2, "hard_negative_range": (3, 20)}
    d = TrainConfig.defaults(2000, gpu=False, table=cfg.train)
    assert d.epochs == 3.0 and d.hard_negative_range == (3, 20) and d.general_share == 0.2
    assert d.batch_size == 32 and d.learning_rate == 5e-5  # left out: chosen from data size and device
    assert TrainConfig.defaults(2000, gpu=False, table=cfg.train, epochs=1.0).epochs == 1.0  # overrides win


def test_general_share_follows_the_general_pairs(tmp_path):
    from embtune_core.core.config import TrainConfig

    assert TrainConfig.defaults(2000, gpu=False).general_share == 0.0
    assert TrainConfig.defaults(2000, gpu=False, general_pairs="g.jsonl").general_share == 0.1


@pytest.mark.parametrize("text, message", [
    ("[train]\nepoch = 2\n", "unknown key 'train.epoch'; did you mean 'epochs'?"),
    ("[train]\nloss = 'triplet'\n", "train.loss must be one of mnrl, cached_mnrl"),
    ("[train]\nbatch_size = 'big'\n", "'train.batch_size' must be int, got str"),
    ("[train]\nhard_negative_range = [1]\n", "'train.hard_negative_range' must be an array of 2 values"),
    ("[train]\nbase_model = 'x'\n", "'train.base_model' is not a training setting: set the base model in [model]"),
    ("[train]\nprecision = 'fp16'\n", "needs a CUDA GPU"),
])
def test_train_table_errors_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    assert message in str(e.value)
