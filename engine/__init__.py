"""The entrypoints: the top floor that wires the three layers (CLI, demo, bench, simulate, API)."""
