"""The image and compose file, checked without a Docker engine: what they name exists, and the
start-up they describe (migrate, then serve with several workers on PostgreSQL) runs for real."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
import typer.main
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from typer.core import TyperGroup

from app.cli import cli
from app.config import PROJECT_ROOT, Settings
from tests.conftest import fresh_postgres_database

BIN = Path(sys.executable).parent
COMMANDS = typer.main.get_command(cli)
assert isinstance(COMMANDS, TyperGroup)
HEAD = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()
INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|[\w.-]+-dev)\b")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    @property
    def exec_form(self) -> list[str]:
        """The JSON array of CMD, ENTRYPOINT, HEALTHCHECK CMD; a shell form is an error here."""
        command = self.arguments.partition("CMD ")[2] if self.keyword == "HEALTHCHECK" else None
        parsed = json.loads(command or self.arguments)
        assert isinstance(parsed, list), self
        return [str(part) for part in parsed]


def parse_dockerfile(source: str) -> list[Instruction]:
    """Instructions with their continuation lines joined; comments dropped, as Docker does."""
    instructions: list[Instruction] = []
    pending = ""
    for line in source.splitlines():
        if line.strip().startswith("#") or (not line.strip() and not pending):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            keyword, _, arguments = pending.strip().partition(" ")
            instructions.append(Instruction(keyword.upper(), " ".join(arguments.split())))
            pending = ""
    assert not pending, f"the Dockerfile ends inside a continued line: {pending!r}"
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            found.append([])
        assert found, "the Dockerfile must start with FROM"
        found[-1].append(instruction)
    return found


DOCKERFILE = parse_dockerfile((PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8"))
STAGES = stages(DOCKERFILE)
FINAL = STAGES[-1]
COMPOSE = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text(encoding="utf-8"))
IGNORED = [
    line.strip().rstrip("/")
    for line in (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


def _only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the stage, found {found}"
    return found[0]


def _workdir(stage: list[Instruction]) -> PurePosixPath:
    return PurePosixPath(_only(stage, "WORKDIR").arguments)


def _entry_point_script() -> Path:
    """The project file the image's ENTRYPOINT runs (paths in the image are under WORKDIR)."""
    (script,) = _only(FINAL, "ENTRYPOINT").exec_form
    return PROJECT_ROOT / PurePosixPath(script).relative_to(_workdir(FINAL))


def _cli_lines(script: Path) -> list[list[str]]:
    """Each `supervision-survey ...` command the script runs, as words after the program."""
    commands = []
    for line in script.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if "supervision-survey" in words and not line.lstrip().startswith("#"):
            commands.append(words[words.index("supervision-survey") + 1 :])
    return commands


def test_the_dockerfile_parses_into_known_instructions() -> None:
    assert DOCKERFILE
    assert {i.keyword for i in DOCKERFILE} <= INSTRUCTIONS
    assert parse_dockerfile("RUN a \\\n  # a comment\n  b\nUSER x") == [
        Instruction("RUN", "a b"),
        Instruction("USER", "x"),
    ]


def test_the_image_builds_in_stages_and_runs_on_slim_python_3_11() -> None:
    assert len(STAGES) >= 2
    build_image, _, build_name = STAGES[0][0].arguments.partition(" AS ")
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", FINAL[0].arguments)
    assert build_image == FINAL[0].arguments  # the copied virtual environment needs its Python
    copied_from = {i.arguments.split()[0] for i in FINAL if i.keyword == "COPY"}
    assert f"--from={build_name}" in copied_from


def test_build_tools_stay_in_the_build_stage() -> None:
    assert any(BUILD_TOOLS.search(i.arguments) for i in STAGES[0] if i.keyword == "RUN")
    for instruction in FINAL:
        if instruction.keyword == "RUN":
            assert not BUILD_TOOLS.search(instruction.arguments), instruction


def test_the_service_runs_as_a_user_other_than_root() -> None:
    keywords = [i.keyword for i in FINAL]
    user = _only(FINAL, "USER").arguments
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert user.split(":")[0] not in {"root", "0"}


def test_the_healthcheck_asks_healthz_on_the_port_served_and_exposed() -> None:
    healthcheck = _only(FINAL, "HEALTHCHECK").exec_form
    assert healthcheck[0] == "python"  # slim images have no curl
    assert "'http://127.0.0.1:8000/healthz'" in healthcheck[-1]
    assert _only(FINAL, "EXPOSE").arguments == "8000"
    (*_, serve) = _cli_lines(_entry_point_script())
    assert serve[:3] == ["serve", "--host", "0.0.0.0"]
    assert serve[serve.index("--port") + 1] == "8000"


def test_every_copied_path_exists_and_is_sent_to_the_build() -> None:
    copies = [i.arguments.split() for i in DOCKERFILE if i.keyword == "COPY"]
    sources = [path for *paths, _ in copies if not paths[0].startswith("--") for path in paths]
    assert "migrations" in sources
    for source in sources:
        assert (PROJECT_ROOT / source).exists(), source
        assert not [p for p in IGNORED if fnmatch.fnmatch(source, p)], f"{source} is ignored"
    for secret_or_local in (".env", ".venv", "var", ".git"):
        assert secret_or_local in IGNORED


def test_the_entry_point_runs_commands_the_cli_has() -> None:
    script = _entry_point_script()
    assert os.access(script, os.X_OK)
    image_path = PurePosixPath(_only(FINAL, "ENTRYPOINT").exec_form[0])
    copied = [i.arguments.split()[-1] for i in FINAL if i.keyword == "COPY"]
    assert any(_workdir(FINAL) / target == image_path for target in copied)

    run = _cli_lines(script)
    assert [words[:2] for words in run] == [["db", "upgrade"], ["serve", "--host"]]
    for words in run:
        command = COMMANDS
        while isinstance(command, TyperGroup):
            command = command.commands[words.pop(0)]
        options = {name for param in command.params for name in param.opts + param.secondary_opts}
        assert {word for word in words if word.startswith("--")} <= options, words


# compose.yaml

REQUIRED = re.compile(r"\$\{(\w+):\?[^}]+\}")
INTERPOLATION = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def _interpolate(value: object, environment: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}`."""

    def replace(match: re.Match[str]) -> str:
        name, operator, word = match.groups()
        if environment.get(name):
            return environment[name]
        if operator == "?":
            raise LookupError(word)
        return word or ""

    return INTERPOLATION.sub(replace, str(value))


def _serve_variables() -> set[str]:
    """Environment variables `serve` reads for its options (workers, trusted proxies)."""
    params = COMMANDS.commands["serve"].params
    return {param.envvar for param in params if isinstance(param.envvar, str)}


def test_compose_builds_the_app_and_waits_for_a_healthy_postgresql() -> None:
    app, db = COMPOSE["services"]["app"], COMPOSE["services"]["db"]
    assert app["build"] == "."
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    image, _, version = db["image"].partition(":")
    assert image == "postgres"
    assert int(version.split(".")[0]) >= 15
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    (volume,) = db["volumes"]
    name, _, mounted_at = volume.partition(":")
    assert name in COMPOSE["volumes"]
    assert mounted_at == "/var/lib/postgresql/data"


def test_compose_sets_only_what_the_settings_and_serve_read() -> None:
    variables = set(COMPOSE["services"]["app"]["environment"])
    settings = {name.upper() for name in Settings.model_fields}
    assert {"DATABASE_URL", "SECRET_KEY", "ENVIRONMENT"} <= variables
    assert variables <= settings | _serve_variables()
    assert _serve_variables() == {"WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"}


def test_compose_takes_its_secrets_from_the_environment_and_they_reach_the_settings() -> None:
    app, db = COMPOSE["services"]["app"], COMPOSE["services"]["db"]
    assert REQUIRED.fullmatch(app["environment"]["SECRET_KEY"])
    assert REQUIRED.fullmatch(db["environment"]["POSTGRES_PASSWORD"])
    given = {"SECRET_KEY": secrets.token_urlsafe(48), "POSTGRES_PASSWORD": "s3cret"}
    resolved = {k: _interpolate(v, given) for k, v in app["environment"].items()}
    with pytest.raises(LookupError, match="SECRET_KEY"):
        _interpolate(app["environment"]["SECRET_KEY"], {})

    fields = {k.lower(): v for k, v in resolved.items() if k.lower() in Settings.model_fields}
    settings = Settings(**fields, _env_file=None)
    assert settings.environment == "production"
    url = make_url(settings.database_url)
    assert url.drivername == "postgresql+psycopg"
    assert url.host in COMPOSE["services"]
    assert url.username == db["environment"]["POSTGRES_USER"]
    assert url.password == _interpolate(db["environment"]["POSTGRES_PASSWORD"], given)
    assert url.database == db["environment"]["POSTGRES_DB"]


# The start-up sequence, for real: the entry point against an empty PostgreSQL database.


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthcheck(port: int) -> int:
    """The image's HEALTHCHECK command, pointed at the test server's port."""
    command = _only(FINAL, "HEALTHCHECK").exec_form
    probe = command[-1].replace(":8000/", f":{port}/")
    return subprocess.run([sys.executable, *command[1:-1], probe], check=False).returncode


def _wait_for_health(process: subprocess.Popen[bytes], port: int, log: Path) -> dict[str, str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server stopped:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
                assert reply.status == 200
                return dict(json.load(reply))
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    pytest.fail(f"/healthz never answered:\n{log.read_text()}")


@pytest.mark.postgres
def test_the_entry_point_migrates_then_serves_with_two_workers(
    postgres_server: str, tmp_path: Path
) -> None:
    environment = {
        **{k: v for k, v in os.environ.items() if k not in _serve_variables()},
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": fresh_postgres_database(postgres_server, migrated=False),
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
    }
    port, log = _free_port(), tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [_entry_point_script(), "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert _wait_for_health(server, port, log) == {"status": "ok", "database": "ok"}
        assert _healthcheck(port) == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/surveys") as reply:
            assert json.load(reply) == []  # served from the tables the migrations made
        current = subprocess.run(
            [BIN / "supervision-survey", "db", "current"],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        assert current.stdout.strip() == HEAD
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)

    output_text = log.read_text()
    assert server.returncode == 0, output_text
    assert output_text.index(f"database at revision {HEAD}") < output_text.index("Uvicorn running")
    assert len(set(re.findall(r"Started server process \[(\d+)\]", output_text))) == 2
    assert _healthcheck(port) != 0
