"""Plugin registries: components plug in by name.

Built-in components register themselves with a decorator; third-party packages do the
same through the entry-point group ``videokit.<kind>`` (e.g. ``videokit.analyzers``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from videokit.errors import ConfigError

F = TypeVar("F", bound=Callable[..., object])


class Registry(Generic[F]):
    def __init__(self, kind: str, builtins: dict[str, str] | None = None) -> None:
        self.kind = kind
        self._factories: dict[str, F] = {}
        # name -> "module:attr" imported on first use (keeps heavy deps lazy)
        self._lazy: dict[str, str] = dict(builtins or {})
        self._loaded_eps = False

    def register(self, name: str) -> Callable[[F], F]:
        def deco(factory: F) -> F:
            self._factories[name] = factory
            return factory

        return deco

    def _load_entry_points(self) -> None:
        if self._loaded_eps:
            return
        self._loaded_eps = True
        for ep in entry_points(group=f"videokit.{self.kind}"):
            self._lazy.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(set(self._factories) | set(self._lazy))

    def get(self, name: str) -> F:
        if name in self._factories:
            return self._factories[name]
        self._load_entry_points()
        target = self._lazy.get(name)
        if target is None:
            raise ConfigError(
                f"unknown {self.kind[:-1] if self.kind.endswith('s') else self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            )
        module, _, attr = target.partition(":")
        obj = getattr(import_module(module), attr)
        self._factories[name] = obj
        return obj
