"""The `reputation` command line: the composition root.

This is the one module of `reputation` that reaches into `projections` and `consumers`
(lazily, per command): it wires adapters to services. Exit codes (interfaces.md): 0 done,
2 usage error, 3 invalid input, 4 not found, 5 a required service is unreachable.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from reputation.config import Settings

EXIT_INVALID = 3
EXIT_NOT_FOUND = 4
EXIT_UNAVAILABLE = 5

# command name -> "module:attribute"; imported only when the command runs
COMMANDS = {
    "demo": "reputation.demo:demo_command",
    "simulate": "engine.simulate.command:simulate_command",
    "ingest": "reputation.commands:ingest_command",
    "export": "reputation.commands:export_command",
    "tick": "reputation.commands:tick_command",
    "project": "projections.commands:project_command",
    "score": "projections.commands:score_command",
    "client": "projections.commands:client_command",
    "explain": "projections.commands:explain_command",
    "history": "projections.commands:history_command",
    "audit": "projections.audit_commands:audit_command",
    "relay": "consumers.commands:relay_command",
    "consume": "consumers.commands:consume_command",
    "subscribe": "consumers.commands:subscribe_command",
    "bench": "projections.bench:bench_command",
}


class Failure(click.ClickException):
    """A clean failure with an exit code and one message (never a traceback)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.exit_code = code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:  # a command not built yet
            reason = str(exc)

            @click.command(name, help=f"(not available: {reason})")
            def missing() -> None:
                raise Failure(f"`reputation {name}` is not available in this build: {reason}", 2)

            return missing


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="REPUTATION_HOME", default=None, help="Folder of the embedded stores [REPUTATION_HOME, default ./.reputation].")
@click.option("--store", envvar="REPUTATION_STORE", default=None, help="`sqlite` or a postgresql://user@host:port/db URL [REPUTATION_STORE].")
@click.option("--kafka", envvar="REPUTATION_KAFKA", default=None, help="Kafka bootstrap servers host:port,... [REPUTATION_KAFKA].")
@click.option("--topic-prefix", envvar="REPUTATION_TOPIC_PREFIX", default=None, help="Prefix of the Kafka topic names [REPUTATION_TOPIC_PREFIX].")
@click.option("--audit-db", envvar="REPUTATION_AUDIT_DB", default=None, help="DuckDB audit file [REPUTATION_AUDIT_DB, default HOME/audit.duckdb].")
@click.pass_context
def main_group(ctx: click.Context, home: str | None, store: str | None, kafka: str | None, topic_prefix: str | None, audit_db: str | None) -> None:
    """Event-sourced reputation engine: Job Success Scores you can replay, time-travel and explain."""
    ctx.obj = Settings.from_env(home=home, store=store, kafka=kafka, topic_prefix=topic_prefix, audit_db=audit_db)


def settings() -> Settings:
    return click.get_current_context().find_root().obj


def main() -> None:
    from reputation.store import Unavailable

    try:
        main_group(standalone_mode=True)
    except Unavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_UNAVAILABLE)
