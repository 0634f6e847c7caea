"""Imports point down only: engine -> consumers -> projections -> reputation (write side)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UPPER = ("projections", "consumers", "engine")
# Command-line composition roots not yet moved to the `engine` package.
COMPOSITION_ROOTS = {"cli.py", "demo.py"}  # in reputation/
READ_SIDE_ROOTS = {"bench.py"}  # in projections/


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def test_the_write_side_imports_neither_projections_nor_consumers():
    files = sorted(p for p in (ROOT / "reputation").glob("*.py") if p.name not in COMPOSITION_ROOTS)
    assert len(files) > 8  # the write side is there (a wrong ROOT would pass vacuously)
    offenders = {
        p.name: sorted(m for m in imported_modules(p) if m.split(".")[0] in UPPER) for p in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_read_side_does_not_import_the_kafka_edge():
    files = sorted(p for p in (ROOT / "projections").rglob("*.py") if p.name not in READ_SIDE_ROOTS)
    offenders = {
        str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m.split(".")[0] in ("consumers", "engine"))
        for p in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_import_scan_sees_nested_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\ndef f():\n    from projections.rules.score import evaluate\n")
    assert imported_modules(probe) == {"os", "projections.rules.score"}
