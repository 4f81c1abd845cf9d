"""The CLI end to end, on each database: `db upgrade && demo seed && waves ...` with one URL."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from app.cli import cli
from app.config import PROJECT_ROOT

HEAD = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()


def _run(url: str, *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url})
    return result


def test_upgrade_seed_and_manage_waves(empty_database_url: str) -> None:
    url = empty_database_url
    assert "base" in _run(url, "db", "current").output
    upgraded = _run(url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"database at revision {HEAD}" in upgraded.output

    seeded = _run(url, "demo", "seed")
    assert seeded.exit_code == 0, seeded.output
    assert "wave 2014: 370 synthetic responses stored" in seeded.output
    assert "wave 2015: 387 synthetic responses stored" in seeded.output

    listed = _run(url, "waves", "list", "--survey", "coventry-supervision")
    lines = listed.output.splitlines()
    assert [line.split()[0] for line in lines] == ["2014", "2015", "2016"]
    assert lines[2].endswith("open")

    create_2017 = (
        "waves", "create", "--survey", "coventry-supervision", "--wave", "2017",
        "--version", "2015", "--opens", "2017-10-01", "--closes", "2017-10-31",
    )  # fmt: skip
    created = _run(url, *create_2017)
    assert created.exit_code == 0, created.output
    duplicate = _run(url, *create_2017)
    assert duplicate.exit_code == 1
    assert "already has a wave '2017'" in duplicate.output
    assert (
        _run(url, "waves", "open", "--survey", "coventry-supervision", "--wave", "2017").exit_code
        == 0
    )
    closed = _run(url, "waves", "close", "--survey", "coventry-supervision", "--wave", "2017")
    assert "now closed" in closed.output
    missing = _run(url, "waves", "open", "--survey", "coventry-supervision", "--wave", "1900")
    assert missing.exit_code == 1
    assert "no wave '1900'" in missing.output

    downgraded = _run(url, "db", "downgrade", "--revision", "base")
    assert downgraded.exit_code == 0
    assert "base" in downgraded.output
