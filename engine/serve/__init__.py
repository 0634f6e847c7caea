"""`reputation serve`: the read API and the pages (FastAPI + Jinja2 + server-rendered SVG)."""

from engine.serve.app import create_app

__all__ = ["create_app"]
