"""The command line: a thin layer over the library API.

Each command group lives in its own module and is attached in :func:`_attach`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

import click

from videokit import __version__
from videokit.config import Config, load_config
from videokit.errors import ConfigError, StoreError, UsageError
from videokit.logs import setup_logging

# modules under videokit._cli that define a ``commands`` list of click commands
_COMMAND_MODULES = [
    "core",
    "search",
    "scenes",
    "rules",
    "analysis",
    "batch",
    "migrate",
    "dataset",
    "dataset_dupes",
    "dataset_tools",
    "web",
    "reindex",
]


@dataclass
class AppState:
    config_path: str | None
    library: str | None
    log_level: str | None
    quiet: bool
    _config: Config | None = field(default=None, repr=False)

    def config(self, overrides: dict[tuple[str, str], Any] | None = None) -> Config:
        """Build the configuration once (flag > env > file > default) and set up logging."""
        if self._config is None:
            base: dict[tuple[str, str], Any] = {}
            if self.library:
                base[("Library", "Location")] = str(Path(self.library).expanduser().resolve())
            if self.log_level:
                base[("Logging", "Level")] = self.log_level
            cfg = load_config(self.config_path, overrides=base)
            setup_logging(cfg)
            self._config = cfg
        if overrides:
            return self._config.with_overrides(overrides)
        return self._config


class _Group(click.Group):
    """Maps user-caused errors to one line on stderr and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, UsageError) as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except StoreError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)


def _global_params(*, after_command: bool) -> list[click.Option]:
    """``--config``, ``--library``, ``--log-level``, ``--quiet``: shown on the main group; every
    command also takes hidden copies that update the :class:`AppState` while its arguments are
    parsed, before its body builds the configuration (given twice, the one after the command wins)."""
    extra: dict[str, Any] = {"hidden": True, "expose_value": False, "callback": _set_global} if after_command else {}
    return [
        click.Option(
            ["--config", "config_path"],
            type=click.Path(dir_okay=False),
            help="config.ini to use (default ./config.ini or $VIDEOKIT_CONFIG).",
            **extra,
        ),
        click.Option(
            ["--library"], type=click.Path(file_okay=False), help="Library folder (default from config).", **extra
        ),
        click.Option(
            ["--log-level"],
            type=click.Choice(["debug", "info", "warning", "error"]),
            help="stderr log level (debug also makes the log file verbose).",
            **extra,
        ),
        click.Option(["-q", "--quiet"], is_flag=True, help="No progress bars.", **extra),
    ]


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    state = ctx.find_object(AppState)
    if state is None or value is None or value is False or param.name is None:
        return
    if state._config is not None:
        raise click.UsageError(f"{param.opts[0]}: give it before the command here (the configuration was already read)")
    setattr(state, param.name, value)


def _add_global_params(cmd: click.Command) -> None:
    """Let ``cmd`` (and, for a group, each of its commands) take the global options after its name."""
    taken = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {p.name for p in cmd.params}
    for opt in _global_params(after_command=True):
        if taken.isdisjoint({*opt.opts, opt.name}):
            cmd.params.append(opt)
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            _add_global_params(sub)


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, params=_global_params(after_command=False)
)
@click.version_option(__version__, prog_name="videokit")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, library: str | None, log_level: str | None, quiet: bool) -> None:
    """videokit: turn video URLs and files into a searchable, tagged library.

    The options below may also be given after the command (videokit run clip.mp4 --quiet)."""
    ctx.obj = AppState(config_path, library, log_level, quiet)


def _attach() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = import_module(f"videokit._cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"videokit._cli.{name}":
                continue  # command group not present in this build
            raise
        for cmd in module.commands:
            _add_global_params(cmd)
            main.add_command(cmd)


_attach()
