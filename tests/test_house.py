"""Checks that keep the house in order, run by the README's test command: the import layers
(import-linter: engine -> consumers -> projections -> reputation, and no adapter in the domain),
mypy, and ruff (lint and format)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    """The tool installed next to this Python (the test extra), else on PATH."""
    local = Path(sys.executable).with_name(name)
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_imports_point_down_the_flow():
    done = run(tool("lint-imports"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_the_cli_does_not_import_scipy_until_an_interval_is_asked_for():
    # scipy costs 0.4-1.3 s to import; a `score` or `history` must not pay it up front
    probe = "import sys, engine.cli, projections.service; print('scipy' in sys.modules)"
    done = run(sys.executable, "-c", probe)
    assert done.stdout.strip() == "False", done.stdout + done.stderr


def test_the_packages_type_check():
    """mypy over reputation, projections, consumers and engine ([tool.mypy] in pyproject.toml);
    every `type: ignore` names its code and says why on the line."""
    done = run(tool("mypy"))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    bare = run("grep", "-rnE", r"type: ignore(\s|$)", "reputation", "projections", "consumers", "engine")
    assert bare.stdout == "", f"a type: ignore without an error code:\n{bare.stdout}"


def test_the_native_core_unit_tests():
    """The Rust core's own unit tests (`cargo test`, without the Python bindings)."""
    cargo = shutil.which("cargo")
    assert cargo, "cargo is not installed: the native core needs a Rust toolchain"
    done = run(cargo, "test", "--quiet", "--manifest-path", "native/Cargo.toml", "--no-default-features")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "test result: ok" in done.stdout


def test_the_native_core_is_formatted():
    """rustfmt (native/rustfmt.toml) holds over the Rust core."""
    cargo = shutil.which("cargo")
    assert cargo, "cargo is not installed: the native core needs a Rust toolchain"
    done = run(cargo, "fmt", "--check", "--manifest-path", "native/Cargo.toml")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def test_ruff_lint_and_format():
    """ruff's lint rules and its formatter ([tool.ruff] in pyproject.toml) hold everywhere."""
    ruff = tool("ruff")
    lint = run(ruff, "check", ".")
    assert lint.returncode == 0, lint.stdout[-4000:]
    fmt = run(ruff, "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout[-4000:]
