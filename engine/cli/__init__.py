"""The `reputation` command line: the composition root.

Commands are thin: they parse options, call the services of `reputation`, `projections` and
`consumers`, and print. Typed errors (`reputation.errors`) become exit codes here and only
here: 0 done, 2 usage error, 3 invalid input, 4 not found, 5 a required service is unreachable.
"""

from __future__ import annotations

import importlib
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from reputation import config, errors
from reputation.config import Settings

EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_NOT_FOUND = 4
EXIT_UNAVAILABLE = 5

EXIT_CODES: tuple[tuple[type[errors.EngineError], int], ...] = (
    (errors.BadRequest, EXIT_USAGE),
    (errors.InvalidInput, EXIT_INVALID),
    (errors.NotFound, EXIT_NOT_FOUND),
    (errors.Unavailable, EXIT_UNAVAILABLE),
)

# command name -> "module:attribute"; imported only when the command runs
COMMANDS = {
    "demo": "engine.demo:demo_command",
    "simulate": "engine.simulate.command:simulate_command",
    "ingest": "engine.cli.write:ingest_command",
    "export": "engine.cli.write:export_command",
    "verify": "engine.cli.verify:verify_command",
    "tick": "engine.cli.write:tick_command",
    "project": "engine.cli.read:project_command",
    "score": "engine.cli.read:score_command",
    "client": "engine.cli.read:client_command",
    "explain": "engine.cli.read:explain_command",
    "history": "engine.cli.read:history_command",
    "calendar": "engine.cli.calendar:calendar_command",
    "audit": "engine.cli.audit:audit_command",
    "relay": "engine.cli.kafka:relay_command",
    "consume": "engine.cli.kafka:consume_command",
    "subscribe": "engine.cli.kafka:subscribe_command",
    "bench": "engine.bench:bench_command",
    "serve": "engine.cli.serve:serve_command",
    "whatif": "engine.cli.whatif:whatif_command",
}


def exit_code(exc: errors.EngineError) -> int:
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return EXIT_INVALID


class Failure(click.ClickException):
    """A clean failure with an exit code and one message (never a traceback)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click declares it on the class; ours varies

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


# (option, Settings field, environment variable, help): accepted before the command and after it
STORE_OPTIONS = (
    ("--home", "home", config.ENV_HOME, "Folder of the embedded stores [default ./.reputation]."),
    (
        "--store",
        "store",
        config.ENV_STORE,
        "`sqlite`, `sqlite:///path/events.sqlite` or a postgresql://user@host:port/db URL.",
    ),
    ("--kafka", "kafka", config.ENV_KAFKA, "Kafka bootstrap servers host:port,..."),
    ("--topic-prefix", "topic_prefix", config.ENV_TOPIC_PREFIX, "Prefix of the Kafka topic names."),
    ("--audit-db", "audit_db", config.ENV_AUDIT_DB, "DuckDB audit file [default HOME/audit.duckdb]."),
)


def _late(flag: str, field: str, env: str, help: str) -> click.Option:
    """The same option after the command (`score f-1 --home X`): it overrides the group's."""

    def keep(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            setattr(ctx.find_root().obj, field, value)

    return click.Option([flag], default=None, expose_value=False, callback=keep, help=f"{help} [{env}]")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        if not getattr(command, "_late_options", False):
            command.params.extend(_late(*option) for option in STORE_OPTIONS)
            command._late_options = True  # type: ignore[attr-defined]  # added once per process
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except errors.EngineError as exc:  # the edge: a typed error becomes an exit code
            raise Failure(str(exc), exit_code(exc)) from None


def _version() -> str:
    try:
        return version("reputation-engine")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "unknown"


def _store_options(f: Any) -> Any:
    for flag, field, env, help in reversed(STORE_OPTIONS):
        f = click.option(flag, field, envvar=env, default=None, help=f"{help} [{env}]")(f)
    return f


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="reputation")
@_store_options
@click.option("-v", "--verbose", count=True, help="Log what the engine does to stderr (-v info, -vv debug).")
@click.pass_context
def main_group(ctx: click.Context, verbose: int, **options: str | None) -> None:
    """Event-sourced reputation engine: Job Success Scores you can replay, time-travel and explain."""
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s %(message)s",
            stream=sys.stderr,
        )
    ctx.obj = Settings.from_env(**options)


def settings() -> Settings:
    return click.get_current_context().find_root().obj


def main() -> None:
    main_group(standalone_mode=True)
