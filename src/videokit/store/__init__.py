"""Library stores. ``open_store(config)`` picks the backend named in ``[Library] Store``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from videokit.registry import Registry, registry
from videokit.store.base import Query, Store

if TYPE_CHECKING:
    from videokit.config import Config

stores: Registry[Callable[[Config], Store]] = registry("stores")


def open_store(config: Config) -> Store:
    return stores.get(config.get("Library", "Store"))(config)


__all__ = ["Query", "Store", "open_store", "stores"]
