from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

import tillbook
from tillbook.core.config import database_settings, email_settings
from tillbook.core.env import Env

REPO = Path(__file__).resolve().parents[2]


def run_tillbook(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the real `tillbook` command in a clean environment (settings load from scratch)."""
    base = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        # The package under test, wherever it was imported from (not another installed copy).
        "PYTHONPATH": str(Path(tillbook.__file__).resolve().parents[1]),
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tillbook", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def production_env(tmp_path: Path) -> dict[str, str]:
    return {
        "TILLBOOK_DEBUG": "0",
        "TILLBOOK_SECRET_KEY": secrets.token_urlsafe(50),
        "TILLBOOK_ALLOWED_HOSTS": "shop.example.com",
        "TILLBOOK_DATA_DIR": str(tmp_path),
        "TILLBOOK_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }


def test_check_deploy_is_clean_on_production_settings(tmp_path: Path) -> None:
    result = run_tillbook(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_without_secret_key_stops_with_its_name(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["TILLBOOK_SECRET_KEY"]
    result = run_tillbook("check", env=env)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "tillbook: configuration problem: TILLBOOK_SECRET_KEY must be set."
    )


def test_production_without_allowed_hosts_stops_with_its_name(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["TILLBOOK_ALLOWED_HOSTS"]
    result = run_tillbook("check", env=env)
    assert result.returncode == 2
    assert "TILLBOOK_ALLOWED_HOSTS must list the host names" in result.stderr


def test_production_without_encryption_key_stops_with_its_name(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["TILLBOOK_ENCRYPTION_KEY"]
    result = run_tillbook("check", env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "tillbook: configuration problem: TILLBOOK_ENCRYPTION_KEY must be set; generate one "
        "with: python3 -c"
    )


def test_malformed_encryption_key_is_refused(tmp_path: Path) -> None:
    env = {**production_env(tmp_path), "TILLBOOK_ENCRYPTION_KEY": "not-a-fernet-key"}
    result = run_tillbook("check", env=env)
    assert result.returncode == 2
    assert "TILLBOOK_ENCRYPTION_KEY must be Fernet keys" in result.stderr


def test_development_generates_an_encryption_key_once(tmp_path: Path) -> None:
    from tillbook.core.config import encryption_keys

    first = encryption_keys(Env({}), data_dir=tmp_path, debug=True)
    assert first == encryption_keys(Env({}), data_dir=tmp_path, debug=True)
    assert (tmp_path / "encryption_key").stat().st_mode & 0o777 == 0o600
    rotated = encryption_keys(
        Env({"TILLBOOK_ENCRYPTION_KEY": f"{first[0]}, {Fernet.generate_key().decode()}"}),
        data_dir=tmp_path,
        debug=False,
    )
    assert len(rotated) == 2 and rotated[0] == first[0]


def test_malformed_variable_stops_start_up_with_its_name(tmp_path: Path) -> None:
    result = run_tillbook(
        "check", env={"TILLBOOK_DATA_DIR": str(tmp_path), "TILLBOOK_DEBUG": "maybe"}
    )
    assert result.returncode == 2
    assert "TILLBOOK_DEBUG must be 1 or 0 (or true/false), not 'maybe'." in result.stderr


def test_short_secret_key_is_refused(tmp_path: Path) -> None:
    env = {**production_env(tmp_path), "TILLBOOK_SECRET_KEY": "too-short"}
    result = run_tillbook("check", env=env)
    assert result.returncode == 2
    assert "TILLBOOK_SECRET_KEY must be at least 50 random characters" in result.stderr


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TILLBOOK_X": "abc"}, "TILLBOOK_X must be a whole number, not 'abc'."),
        ({"TILLBOOK_X": "0"}, "TILLBOOK_X must be at least 1, not 0."),
    ],
)
def test_integer_variables_are_checked(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as error:
        Env(environ).integer("TILLBOOK_X", 5, minimum=1)
    assert str(error.value) == message


def test_database_url_switches_to_postgresql(tmp_path: Path) -> None:
    config = database_settings(
        Env({"DATABASE_URL": "postgres://shop:pw@db.internal:5433/tillbook"}), data_dir=tmp_path
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.internal",
        5433,
        "tillbook",
        "shop",
    )


def test_unsupported_database_url_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must start with postgres://"):
        database_settings(Env({"DATABASE_URL": "mysql://x@y/z"}), data_dir=tmp_path)


def test_embedded_sqlite_defaults(tmp_path: Path) -> None:
    config = database_settings(Env({}), data_dir=tmp_path)
    assert config["NAME"] == str(tmp_path / "tillbook.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] == 20
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]


@pytest.mark.django_db
def test_sqlite_connection_runs_in_wal_mode_with_busy_timeout(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite-only: checks the embedded database's pragmas")
    # The test database is in memory (no WAL possible); open a file database the same way.
    from django.db.backends.sqlite3.base import DatabaseWrapper

    config = database_settings(Env({}), data_dir=tmp_path)
    wrapper = DatabaseWrapper(
        {
            **config,
            "TIME_ZONE": None,
            "CONN_HEALTH_CHECKS": False,
            "CONN_MAX_AGE": 0,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
        }
    )
    wrapper.connect()
    try:
        cursor = wrapper.connection.cursor()
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 20000
        assert cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert isinstance(wrapper.connection, sqlite3.Connection)
        assert wrapper.transaction_mode == "IMMEDIATE"
    finally:
        wrapper.close()


def test_email_url_variants() -> None:
    assert email_settings(Env({}))["TILLBOOK_EMAIL_MODE"] == "capture"
    smtp = email_settings(
        Env({"TILLBOOK_EMAIL_URL": "smtp://user%40x.com:p%3Ass@mail.example.com"})
    )
    assert smtp["EMAIL_HOST"] == "mail.example.com"
    assert smtp["EMAIL_PORT"] == 587
    assert smtp["EMAIL_HOST_USER"] == "user@x.com"
    assert smtp["EMAIL_HOST_PASSWORD"] == "p:ss"
    assert smtp["EMAIL_USE_TLS"] is True
    assert smtp["EMAIL_USE_SSL"] is False
    smtps = email_settings(Env({"TILLBOOK_EMAIL_URL": "smtps://mail.example.com"}))
    assert (smtps["EMAIL_PORT"], smtps["EMAIL_USE_SSL"], smtps["EMAIL_USE_TLS"]) == (
        465,
        True,
        False,
    )
    provider = email_settings(
        Env(
            {
                "TILLBOOK_EMAIL_URL": "anymail://postmark",
                "TILLBOOK_ANYMAIL_POSTMARK_SERVER_TOKEN": "t",
            }
        )
    )
    assert provider["EMAIL_BACKEND"] == "anymail.backends.postmark.EmailBackend"
    assert provider["ANYMAIL"] == {"POSTMARK_SERVER_TOKEN": "t"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x", "TILLBOOK_EMAIL_URL must start with one of capture://"),
        ("smtp://mail.example.com?tls=maybe", "tls must be starttls, ssl or none"),
        ("anymail://pigeon", "unknown provider 'pigeon'"),
    ],
)
def test_bad_email_urls_are_explained(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        email_settings(Env({"TILLBOOK_EMAIL_URL": url}))


def test_a_data_folder_that_cannot_be_made_stops_start_up_with_its_name(tmp_path: Path) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    result = run_tillbook("business", "list", env={"TILLBOOK_DATA_DIR": str(a_file)})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tillbook: configuration problem: TILLBOOK_DATA_DIR ({a_file}) cannot be used as the "
        "data folder: File exists."
    )
    assert a_file.read_text() == "not a folder"


@pytest.mark.parametrize(
    "command",
    [
        ("business", "list"),
        ("token", "list", "--business", "acme"),
        ("metrics", "--business", "acme", "--from", "2026-01-01", "--to", "2026-01-31"),
    ],
)
def test_a_command_before_migrate_says_to_migrate(tmp_path: Path, command: tuple[str]) -> None:
    result = run_tillbook(*command, env={"TILLBOOK_DATA_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "tillbook: the database is not set up for this version of Tillbook; "
        "run `tillbook migrate` first."
    )
