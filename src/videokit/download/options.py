"""The downloader's settings, read once from ``[Download]`` into a frozen, typed object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from videokit.errors import InputError

if TYPE_CHECKING:
    from videokit.config import Config


@dataclass(frozen=True, slots=True)
class DownloadOptions:
    """Everything :func:`videokit.download.fetch` needs to know; build it with :meth:`from_config`.

    A 0 for a timeout, ``deadline``, ``min_speed_kbps`` or ``max_mb`` means "no limit"."""

    max_mb: float  # largest file accepted, MiB
    connect_timeout: float  # seconds to connect
    read_timeout: float  # seconds without a byte before one read gives up
    retries: int  # retries of one download (connection errors, timeouts, 408/429/5xx)
    backoff_base: float  # first retry delay, seconds (doubles, with jitter)
    backoff_max: float  # longest retry delay, seconds
    deadline: float  # seconds one download may take in all: attempts, waits, retries
    min_speed_kbps: float  # KiB/s a download must average over any min_speed_window...
    min_speed_window: float  # ...seconds, retry waits included
    user_agent: str
    custom_user_agent: bool  # set by the user (yt-dlp otherwise sends a browser's)
    refuse_private: bool = False  # refuse non-public addresses, redirects included (videokit.download.guard)

    @classmethod
    def from_config(cls, config: Config) -> DownloadOptions:
        def get(key: str) -> float:
            return float(config.get("Download", key))

        return cls(
            max_mb=get("MaxSizeMB"),
            connect_timeout=get("ConnectTimeout"),
            read_timeout=get("ReadTimeout"),
            retries=max(int(config.get("Download", "Retries")), 0),
            backoff_base=get("BackoffBase"),
            backoff_max=get("BackoffMax"),
            deadline=get("Deadline"),
            min_speed_kbps=get("MinSpeedKBps"),
            min_speed_window=get("MinSpeedWindow"),
            user_agent=str(config.get("Download", "UserAgent")),
            custom_user_agent=config.origins.get(("Download", "UserAgent")) not in (None, "default"),
            refuse_private=bool(config.get("Download", "RefusePrivateAddresses")),
        )

    @property
    def max_bytes(self) -> int | None:
        """The size limit in bytes; None: unlimited."""
        return int(self.max_mb * 1024 * 1024) if self.max_mb > 0 else None

    def too_big(self, shown: str) -> InputError:
        return InputError(
            f"{shown}: the file exceeds the maximum size of {self.max_mb:g} MB (set [Download] MaxSizeMB)"
        )
