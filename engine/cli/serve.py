"""`reputation serve`: the read API and the pages, with the projector following the log inside."""

from __future__ import annotations

import click

from engine.cli import settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option(
    "--interval",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0.01),
    help="Seconds between the projector's polls of the log.",
)
@click.option(
    "--no-follow", is_flag=True, help="Do not project in the background (another process runs `project --follow`)."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Server processes; with more than one the projector runs in the supervising process.",
)
def serve_command(host: str, port: int, interval: float, no_follow: bool, workers: int) -> None:
    """Serve the JSON API (described at /openapi.json) and the pages (/) over HTTP.

    The projector runs in a background thread of the server (`project --follow` inside):
    requests read the projections as they are and never wait for a catch-up; /healthz shows
    the lag. The trust audience needs the bearer token REPUTATION_TRUST_TOKEN."""
    import uvicorn

    from engine.serve import create_app
    from engine.serve.state import check_configuration

    cfg = settings()
    check_configuration(cfg)  # refuse now what would fail every request
    click.echo(f"serving on http://{host}:{port}/ (API description: /openapi.json)", err=True)
    if workers == 1:
        app = create_app(cfg, follow=not no_follow, interval=interval)
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
        return
    from engine.serve.app import pass_settings
    from engine.serve.state import Follower

    pass_settings(cfg)  # the workers are new processes: they read the settings from the environment
    follower = None if no_follow else Follower(cfg, interval)
    if follower is not None:
        follower.start()  # `project --follow` beside the workers, in this supervising process
    try:
        uvicorn.run(
            "engine.serve.app:from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
    finally:
        if follower is not None:
            follower.stop()
