import pytest

from embtune_core.config import load_config
from embtune_core.errors import ConfigError


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
