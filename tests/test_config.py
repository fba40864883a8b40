from pathlib import Path

from helpdesk import config


def test_layers_defaults_then_toml_then_environment_then_overrides(tmp_path: Path) -> None:
    (tmp_path / "helpdesk.toml").write_text('base_url = "http://toml"\npage_size = 10\nsmtp_url = "smtp://toml"\n')
    env = {"HELPDESK_BASE_URL": "http://env", "HELPDESK_PAGE_SIZE": "30"}
    settings = config.load(tmp_path, {"BASE_URL": "http://override"}, environ=env)
    assert settings["BASE_URL"] == "http://override"
    assert settings["PAGE_SIZE"] == 30  # env beats toml, and arrives as a number
    assert settings["SMTP_URL"] == "smtp://toml"
    assert settings["JOB_MAX_ATTEMPTS"] == config.DEFAULTS["JOB_MAX_ATTEMPTS"]


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path: Path) -> None:
    settings = config.load(tmp_path, environ={})
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'helpdesk.sqlite'}"


def test_secret_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    first = config.load(tmp_path, environ={})["SECRET_KEY"]
    second = config.load(tmp_path, environ={})["SECRET_KEY"]
    assert first == second and len(first) >= 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by the owner only


def test_secret_key_from_environment_is_not_written(tmp_path: Path) -> None:
    settings = config.load(tmp_path, environ={"HELPDESK_SECRET_KEY": "from-env"})
    assert settings["SECRET_KEY"] == "from-env"
    assert not (tmp_path / "secret_key").exists()
