"""The ``[Server]`` settings, read once into a typed, frozen object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videokit.config import Config


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How the server listens and what it lets in; build it with :meth:`from_config`."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    public_url: str = ""  # base URL people reach the server at; "" when unknown
    rate_limit: str = "120/minute"  # a ``limits`` rate string; "" for none
    browser_rate_limit: str = "600/minute"  # a signed-in browser's pages and API calls, per key
    anonymous_read: bool = False
    allow_private_urls: bool = False
    max_body_bytes: int = 1024 * 1024
    redis_url: str = ""

    @classmethod
    def from_config(cls, config: Config) -> ServerOptions:
        s = config.section("Server")
        return cls(
            host=str(s["Host"]),
            port=int(s["Port"]),
            workers=int(s["Workers"]),
            public_url=str(s["PublicURL"]).rstrip("/"),
            rate_limit=str(s["RateLimit"]),
            browser_rate_limit=str(s["BrowserRateLimit"]),
            anonymous_read=bool(s["AnonymousRead"]),
            allow_private_urls=bool(s["AllowPrivateURLs"]),
            max_body_bytes=int(s["MaxBodyBytes"]),
            redis_url=str(s["RedisURL"]),
        )

    @property
    def secure_cookies(self) -> bool:
        """Cookies marked Secure: the public URL is https."""
        return self.public_url.lower().startswith("https://")

    def base_url(self) -> str:
        """Where people reach the server: the public URL, else the address it binds."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"
