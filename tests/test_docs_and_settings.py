"""A setting or command nobody can find is a defect: the README documents every one."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from pydantic import ValidationError

from app.cli import cli
from app.config import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_starts_with_the_two_commands() -> None:
    first_lines = [line.strip() for line in README.splitlines()[:5] if line.strip()]
    assert first_lines[1].startswith("make run")
    assert first_lines[2].startswith("make test")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name.upper()}`" in README


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Typer's groups are its own command class, not click's: a group is what has commands."""
    found = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(command, "commands"):
            found.extend(_commands(command, path + " "))
        else:
            found.append((path, command))
    return found


COMMANDS = _commands(typer.main.get_command(cli))


def test_subcommands_are_found() -> None:
    assert {"db backup", "report compare", "users create"} <= {path for path, _ in COMMANDS}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_is_documented_and_has_help(path: str, command: Any) -> None:
    assert f"`{path}" in README or f"/ `{path.split()[-1]}`" in README, path
    assert command.help, path


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", _env_file=None)  # type: ignore[call-arg]
    assert Settings(environment="production", secret_key="x" * 40, _env_file=None)  # type: ignore[call-arg]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db.example/survey")
    monkeypatch.setenv("SUPPRESSION_THRESHOLD", "10")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+psycopg://db.example/survey"
    assert settings.suppression_threshold == 10
    monkeypatch.setenv("SUPPRESSION_THRESHOLD", "1")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]
