"""Settings: defaults < file < command line; unknown keys and wrong types refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from campplanet.cli import main
from campplanet.config import Settings, load_settings
from campplanet.exceptions import ConfigError

EXAMPLE = Path(__file__).parents[1] / "campplanet.example.toml"


def test_example_file_documents_the_defaults():
    settings = load_settings(EXAMPLE)
    defaults = Settings()
    for section in ("planet", "fetch", "render", "filter"):
        assert getattr(settings, section) == getattr(defaults, section), section


def test_example_file_names_every_key():
    text = EXAMPLE.read_text()
    for section in ("planet", "fetch", "render", "filter"):
        for key in vars(getattr(Settings(), section)):
            assert f"\n{key} = " in text, f"[{section}] {key} is not documented"


def test_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "campplanet.toml").write_text('[planet]\nitems = 10\nname = "From file"\n')
    s = load_settings(None, {"planet": {"items": 5, "name": None}})
    assert s.planet.items == 5  # command line beats the file
    assert s.planet.name == "From file"  # file beats the default
    assert s.fetch.concurrency == 20  # default


def test_relative_paths_follow_the_config_file(tmp_path):
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "planet.toml"
    config.write_text('[planet]\ndb = "data/p.db"\n')
    s = load_settings(config)
    assert s.path(s.planet.db) == tmp_path / "conf" / "data" / "p.db"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[planet]\nitems = '60'\n", "[planet] items must be a whole number, not '60'"),
        ("[planet]\nitemz = 60\n", "unknown key [planet] itemz"),
        ("[plant]\nitems = 60\n", "unknown section or key plant"),
        ("[fetch]\ntimeout = true\n", "[fetch] timeout must be a number"),
        ("[fetch]\nallow_private_networks = 1\n", "must be true or false"),
        ("[planet]\nitems = 0\n", "items must be at least 1"),
        ("[planet]\ntimezone = 'Mars/Olympus'\n", "not a known time zone"),
        ("[planet]\nurl = 'planet.example.org'\n", "absolute http(s) URL"),
        ("[render]\ncontent = 'everything'\n", '"full" or "summary"'),
        ("[render]\niframe_hosts = 'youtube.com'\n", "a list of strings"),
        ("[filter]\ninclude = '(unclosed'\n", "[filter] include is not a valid regular expression"),
        ("[planet\n", "not valid TOML"),
        ("planet = 3\n", "[planet] must be a table"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path, toml, message):
    config = tmp_path / "c.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_settings(config)
    assert message in str(e.value)
    assert str(config) in str(e.value)


def test_bad_config_exits_2_with_the_message(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[fetch]\nconcurrency = 'lots'\n")
    result = CliRunner().invoke(main, ["render", "--config", str(config)])
    assert result.exit_code == 2
    assert "[fetch] concurrency must be a whole number, not 'lots'" in result.output
    assert "Traceback" not in result.output


def test_missing_config_file_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["render", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "config file not found" in result.output
