from pathlib import Path

import pytest
from proctorbot.config.catalogue import Catalogue, MissingText
from proctorbot.config.settings import SettingsError, load_settings


def test_toml_file_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "p.toml"
    config.write_text('language = "en"\n[server]\nport = 9999\n[telegram]\ntoken = "abc"\n')
    monkeypatch.setenv("PROCTORBOT_SERVER__PORT", "7000")
    settings = load_settings(config)
    assert settings.language == "en"
    assert settings.server.port == 7000  # environment beats the file
    assert settings.telegram.token.get_secret_value() == "abc"


def test_typo_in_settings_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text("[server]\nprot = 1\n")
    with pytest.raises(SettingsError, match="server.prot"):
        load_settings(config)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_broken_toml_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text("[server\n")
    with pytest.raises(SettingsError):
        load_settings(config)


def test_catalogues_have_the_same_keys_in_every_language() -> None:
    ru, en = Catalogue.load("ru"), Catalogue.load("en")
    assert ru.texts.keys() == en.texts.keys()
    assert ru.text("common.error") == "Ошибка"
    with pytest.raises(MissingText):
        en.text("common.nothing_here")
