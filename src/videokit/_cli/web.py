"""The service: `videokit serve` (the REST API and web UI) and `videokit keys create|list|revoke`."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from videokit import api
from videokit.web.keys import SCOPES


@click.command()
@click.option("--host", help="Address to bind (default [Server] Host, 127.0.0.1: this machine only).")
@click.option("--port", type=click.IntRange(1, 65535), help="TCP port (default [Server] Port, 8000).")
@click.option("--signin-link", is_flag=True, help="Print a one-time link that signs this machine's browser in.")
@click.pass_obj
def serve(state: Any, host: str | None, port: int | None, signin_link: bool) -> None:
    """Serve the library: REST API under /api/v1 (Swagger UI at /docs) and the web UI.

    Requests need an API key ('videokit keys create'); people sign in to the web UI with
    one, or with the one-time link --signin-link prints. Stops gracefully on Ctrl-C or
    SIGTERM. [Server] Workers, RateLimit, AnonymousRead, PublicURL... in config.ini.
    """
    cfg = state.config()
    overrides: dict[tuple[str, str], Any] = {}
    if host is not None:
        overrides[("Server", "Host")] = host
    if port is not None:
        overrides[("Server", "Port")] = port
    if overrides:
        cfg = cfg.with_overrides(overrides)

    def ready(url: str) -> None:
        click.echo(f"serving {cfg.library} at {url} (API docs: {url}/docs); Ctrl-C stops", err=True)
        if signin_link:
            click.echo(f"sign in once, within 10 minutes: {api.signin_link(cfg)}", err=True)

    api.serve(cfg, on_ready=ready)


@click.group()
def keys() -> None:
    """API keys of the server: create, list, revoke."""


@keys.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(SCOPES), default="read", show_default=True, help="What the key may do.")
@click.pass_obj
def keys_create(state: Any, name: str, scope: str) -> None:
    """Create an API key named NAME and print it, this once (only its hash is kept)."""
    created = api.create_key(state.config(), name, scope)
    click.echo(created.key)
    click.echo(f"key {created.info.id} ({name}, scope {scope}) created; it is not shown again", err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def keys_list(state: Any, as_json: bool) -> None:
    """List the API keys: id, name, scope, created, revoked (never the keys)."""
    found = api.list_keys(state.config())
    if as_json:
        click.echo(json.dumps([asdict(k) for k in found], indent=2))
        return
    for k in found:
        revoked = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        click.echo(f"{k.id}\t{k.name}\t{k.scope}\t{k.created_at}\t{revoked}")
    click.echo(f"{len(found)} key(s)", err=True)


@keys.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(state: Any, key_id: str) -> None:
    """Revoke the key KEY_ID (as 'keys list' shows it); its sessions end too."""
    info = api.revoke_key(state.config(), key_id)
    click.echo(f"key {info.id} ({info.name}) revoked at {info.revoked_at}", err=True)


commands = [serve, keys]
