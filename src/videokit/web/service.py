"""What one server process holds: the configuration, the key store, the rate limiter and the
job runner, built once by :func:`videokit.web.app.create_app` (``app.state.service``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.web.jobs import JobRunner
    from videokit.web.keys import KeyStore
    from videokit.web.limits import RateLimiter
    from videokit.web.options import ServerOptions


@dataclass(slots=True)
class Service:
    config: Config
    options: ServerOptions
    keys: KeyStore
    limiter: RateLimiter
    jobs: JobRunner

    def close(self) -> None:
        self.jobs.close()
        self.limiter.close()
        self.keys.close()


def service(request: Request) -> Service:
    """The service of the application handling ``request``."""
    return request.app.state.service
