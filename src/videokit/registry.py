"""Plug-in registries: every component is found by name through entry points.

There is one registry per kind of component, and one mechanism for all of them: the
entry-point group ``videokit.<kind>``. videokit's own components are declared in its own
``pyproject.toml`` exactly as a third-party package declares its:

    [project.entry-points."videokit.stages"]
    fetch = "videokit.stages:FetchStage"

A third-party entry point with the name of a built-in replaces the built-in. Kinds:
``stages`` (pipeline stages), ``analyzers``, ``stores``, ``exporters`` (library exports),
``formats`` (dataset formats).

A component may declare a settings section of its own (class attributes ``settings_section``
and ``settings``, a ``dict[str, videokit.config.Option]``): the configuration loader reads and
validates it like a built-in section.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from videokit.errors import ConfigError

F = TypeVar("F", bound=Callable[..., object])
log = logging.getLogger(__name__)

OWN_DISTRIBUTION = "videokit"
KINDS = ("stages", "analyzers", "stores", "exporters", "formats")


class Registry(Generic[F]):
    """Components of one kind, by name; loaded on first use (heavy imports stay lazy)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, F] = {}
        self._targets: dict[str, str] = {}  # name -> "module:attr"
        self._third_party: set[str] = set()
        self._imported: set[str] = set()  # factories loaded from entry points (forgotten by reload)
        self._loaded = False

    @property
    def singular(self) -> str:
        return self.kind[:-1] if self.kind.endswith("s") else self.kind

    def register(self, name: str) -> Callable[[F], F]:
        """Register a component in-process (tests, notebooks); entry points are the usual way."""

        def deco(factory: F) -> F:
            self._factories[name] = factory
            return factory

        return deco

    def reload(self) -> None:
        """Read the entry points again (after installing a plug-in into a running process)."""
        self._loaded = False
        self._targets.clear()
        self._third_party.clear()
        for name in self._imported:
            self._factories.pop(name, None)
        self._imported.clear()

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        own: dict[str, str] = {}
        for ep in entry_points(group=f"videokit.{self.kind}"):
            if _distribution(ep) == OWN_DISTRIBUTION:
                own[ep.name] = ep.value
                continue
            if ep.name in self._third_party and self._targets[ep.name] != ep.value:
                log.warning(
                    "two plug-ins register the %s %r (%s and %s); using %s",
                    self.singular,
                    ep.name,
                    self._targets[ep.name],
                    ep.value,
                    ep.value,
                )
            self._targets[ep.name] = ep.value
            self._third_party.add(ep.name)
        for name, target in own.items():
            if name in self._third_party:
                log.info("plug-in %s %r replaces the built-in one", self.singular, name)
            else:
                self._targets[name] = target
        if not own and not _own_installed():
            raise ConfigError(
                "videokit's built-in components are not registered (package metadata missing); "
                "install videokit with pip (pip install -e .) instead of running it from a source folder"
            )

    def names(self) -> list[str]:
        self._load()
        return sorted(set(self._factories) | set(self._targets))

    def third_party(self) -> list[str]:
        """Names provided by packages other than videokit."""
        self._load()
        return sorted(self._third_party)

    def get(self, name: str) -> F:
        if name in self._factories:
            return self._factories[name]
        self._load()
        target = self._targets.get(name)
        if target is None:
            raise ConfigError(f"unknown {self.singular} {name!r}; choose one of: {', '.join(self.names())}")
        module, _, attr = target.partition(":")
        try:
            obj: Any = import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except ImportError as e:
            raise ConfigError(f"{self.singular} {name!r} cannot be loaded from {target}: {e}") from None
        except AttributeError:
            raise ConfigError(f"{self.singular} {name!r}: {target} does not exist") from None
        self._factories[name] = obj
        self._imported.add(name)
        return obj

    def items(self) -> Iterator[tuple[str, F]]:
        for name in self.names():
            yield name, self.get(name)


def _distribution(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"].lower() if dist is not None else None


def _own_installed() -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution(OWN_DISTRIBUTION)
    except PackageNotFoundError:
        return False
    return True


_REGISTRIES: dict[str, Registry[Any]] = {kind: Registry(kind) for kind in KINDS}


def registry(kind: str) -> Registry[Any]:
    """The registry of ``kind`` (one of :data:`KINDS`)."""
    return _REGISTRIES[kind]


def reload_all() -> None:
    """Read every entry-point group again (a plug-in was installed into this process)."""
    for r in _REGISTRIES.values():
        r.reload()
