"""The `citelens serve` command: an index path and an address -> a running web server.

Registered by the CLI through COMMANDS; the index comes from the group's --db option.
"""

from __future__ import annotations

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the report pages and the JSON API over the index (--db)."""
    import uvicorn

    from citelens.store import require_sqlite
    from citelens.web.app import create_app

    require_sqlite(ctx.obj["db"], "citelens serve")
    app = create_app(ctx.obj["db"])
    click.echo(f"citelens: serving {ctx.obj['db']} at http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


COMMANDS = [serve]
