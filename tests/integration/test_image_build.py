"""The image's build stage, run here without a container engine: the files deploy/Dockerfile
copies, built by the same `maturin build` command, make a wheel that holds every module and
resource of the four packages plus the native core, and that wheel alone runs `reputation demo`."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
PACKAGES = ("reputation", "projections", "consumers", "engine")

pytestmark = pytest.mark.slow


def build_stage() -> list[str]:
    """The instructions of the first stage (up to the second FROM), continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    stages = re.split(r"^FROM ", joined, flags=re.M)
    assert len(stages) >= 3, "the Dockerfile is not multi-stage (a build stage, then a runtime)"
    return [line.strip() for line in stages[1].splitlines()[1:] if line.strip() and not line.startswith("#")]


def copied_paths(stage: list[str]) -> list[str]:
    paths: list[str] = []
    for line in stage:
        if line.startswith("COPY "):
            *sources, _dest = shlex.split(line)[1:]
            paths += sources
    return paths


def build_command(stage: list[str]) -> list[str]:
    runs = [line for line in stage if line.startswith("RUN ") and "maturin build" in line]
    assert len(runs) == 1, f"the build stage should run `maturin build` once: {runs}"
    argv = shlex.split(runs[0][4:])
    return [sys.executable, "-m", "maturin", *argv[argv.index("build") :]]


def tracked(package: str) -> set[str]:
    out = subprocess.run(
        ["git", "ls-files", package], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {p for p in out if p.endswith((".py", ".sql", ".html"))}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if shutil.which("cargo") is None:
        pytest.fail("cargo is missing: the package cannot be built on this machine", pytrace=False)
    src = tmp_path_factory.mktemp("src")
    stage = build_stage()
    copied = copied_paths(stage)
    assert set(PACKAGES) | {"native", "pyproject.toml"} <= set(copied), copied
    for name in copied:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("target", "__pycache__", "*.so"))
        else:
            shutil.copy(origin, src / name)
    argv = build_command(stage)
    out = src / argv[argv.index("--out") + 1].lstrip("/")
    argv[argv.index("--out") + 1] = str(out)
    # the crate's dependencies compiled by `pip install -e .` are reused from native/target
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "native" / "target")}
    done = subprocess.run(argv, cwd=src, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_the_wheel_holds_every_module_and_resource_and_the_core(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in PACKAGES:
        missing = tracked(package) - names
        assert not missing, f"the image would lack {sorted(missing)[:5]}"
    assert any(re.fullmatch(r"reputation/_core\.[\w.-]*so", n) for n in names), "no native core in the wheel"


def test_the_wheel_alone_runs_the_demo_through_its_entry_point(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    points = configparser.ConfigParser()
    points.read(next(site.glob("*.dist-info")) / "entry_points.txt")
    module, func = points["console_scripts"]["reputation"].split(":")
    code = (
        "import sys, reputation, reputation._core as core\n"
        f"assert reputation.__file__.startswith({str(site)!r}), reputation.__file__\n"
        f"assert core.__file__.startswith({str(site)!r}), core.__file__\n"
        f"sys.argv = ['reputation', 'demo']\nfrom {module} import {func}\n{func}()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "REPUTATION_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    env.pop("REPUTATION_STORE", None)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the forum case" in done.stdout and "fair-2026" in done.stdout, done.stdout[-2000:]
