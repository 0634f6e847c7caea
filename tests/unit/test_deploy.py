"""deploy/ cannot run here (no container engine): keep it correct by reading it against the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from engine.cli import COMMANDS, main_group
from projections.native import HOLD_ENV
from projections.publication import ENV_DAYS, ENV_K
from reputation.config import ENV_NAMES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
FILES = ["compose.yaml", "env.example", "RUNBOOK.md"]
READ = set(ENV_NAMES) | {HOLD_ENV, ENV_DAYS, ENV_K}  # the settings, and what the projector reads


def text(name: str) -> str:
    return (DEPLOY / name).read_text()


def compose_commands() -> list[list[str]]:
    """Every `command: [...]` of compose.yaml (flow-style lists are JSON)."""
    found = re.findall(r"^\s*command:\s*(\[.*\])\s*$", text("compose.yaml"), re.M)
    return [json.loads(c) for c in found]


@pytest.mark.parametrize("name", FILES)
def test_every_configuration_name_is_one_the_engine_reads(name):
    names = set(re.findall(r"\bREPUTATION_[A-Z0-9_]+\b", text(name)))
    assert names, f"{name} names no REPUTATION_* variable"
    assert names <= READ, f"unknown in {name}: {sorted(names - READ)}"


def test_env_example_sets_the_variables_compose_passes():
    example = dict(
        line.split("=", 1) for line in text("env.example").splitlines() if line.strip() and not line.startswith("#")
    )
    passed = set(re.findall(r"^\s+(REPUTATION_[A-Z_]+):", text("compose.yaml"), re.M))
    assert set(example) <= set(ENV_NAMES)
    assert (
        passed == set(example) == {"REPUTATION_STORE", "REPUTATION_KAFKA", "REPUTATION_TOPIC_PREFIX", "REPUTATION_HOME"}
    )


def test_every_compose_command_exists_and_parses():
    commands = compose_commands()
    assert {c[1] for c in commands} == {"consume", "project", "relay"}
    for argv in commands:
        assert argv[0] == "reputation"
        assert argv[1] in COMMANDS, argv
        ctx = click.Context(main_group)
        command = main_group.get_command(ctx, argv[1])
        assert "not available" not in (command.help or ""), f"{argv[1]}: {command.help}"
        command.make_context(argv[1], list(argv[2:]))  # raises on an unknown option


def test_every_command_the_runbook_names_exists():
    used = set(re.findall(r"\breputation ([a-z][a-z-]*)", text("RUNBOOK.md")))
    assert {"consume", "relay", "project", "subscribe"} <= used
    assert used <= set(COMMANDS), sorted(used - set(COMMANDS))
    for name, rest in re.findall(r"\breputation ([a-z][a-z-]*)([^`\n#|]*)", text("RUNBOOK.md")):
        command = main_group.get_command(click.Context(main_group), name)
        known = {o for p in command.params for o in p.opts} | {"--help"}
        for option in re.findall(r"(--[a-z][a-z-]*)", rest):
            assert option in known, f"reputation {name} has no option {option}"
