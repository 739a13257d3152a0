"""How long one download has taken and how fast it goes, across all its attempts.

Two rules end a download that would otherwise hold a batch for ever, each with a
:class:`~videokit.errors.TransientError` that names its setting (the ``.part`` stays, so the
next run resumes it):

- ``[Download] Deadline``: the download, retries and waits included, has not finished within
  that many seconds;
- ``[Download] MinSpeedKBps`` over ``MinSpeedWindow``: fewer than ``MinSpeedKBps × MinSpeedWindow``
  KiB arrived in the last ``MinSpeedWindow`` seconds (retry waits count; so does a host that
  never answers, which therefore costs about ``MinSpeedWindow`` seconds).

A read that never returns is ended by ``ReadTimeout``; :meth:`Pace.time_left` caps each
attempt's timeouts so that no attempt outlives a rule.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from videokit.download.options import DownloadOptions
from videokit.errors import TransientError

KIB = 1024
_STEPS = 16  # samples kept per window: the rule may be lenient by 1/_STEPS of a window's bytes


class Pace:
    """The clock and byte count of one download. ``started``: when the caller began waiting for
    it (the deadline runs from there); the speed window runs from when this object is made."""

    def __init__(
        self,
        shown: str,
        options: DownloadOptions,
        *,
        started: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shown = shown
        self.opts = options
        self.clock = clock
        now = clock()
        self.started = now if started is None else started
        self.since = now
        self.total = 0  # bytes received
        self._samples: deque[tuple[float, int]] = deque([(now, 0)])  # (time, total then), ascending

    # -- feeding -------------------------------------------------------------------------
    def add(self, n: int) -> None:
        """``n`` bytes arrived just now; raises when a rule is broken."""
        self.total += n
        self.check()

    def check(self, *, wait: float = 0.0, reason: str | None = None) -> None:
        """Raise TransientError when a rule is broken now, or will be after ``wait`` more
        seconds without data (a retry delay about to be slept). ``reason``: why the last
        attempt failed, for the message."""
        now = self.clock()
        self._sample(now)
        at = now + max(wait, 0.0)
        o = self.opts
        if o.deadline > 0 and at - self.started >= o.deadline:
            raise TransientError(
                f"{self.shown}: not finished within [Download] Deadline={o.deadline:g}s "
                f"({_size(self.total)} received{_because(reason)}); run it again to resume, or raise Deadline"
            )
        window = o.min_speed_window
        if o.min_speed_kbps <= 0 or window <= 0 or at - self.since < window:
            return
        got = self.total - self._base(at - window)
        if got >= o.min_speed_kbps * KIB * window:
            return
        if self.total == 0:
            raise TransientError(
                f"{self.shown}: nothing received within [Download] MinSpeedWindow={window:g}s"
                f"{_because(reason)}; try again later"
            )
        raise TransientError(
            f"{self.shown}: slower than [Download] MinSpeedKBps={o.min_speed_kbps:g} over the last {window:g}s "
            f"({got / KIB / window:.2g} KB/s{_because(reason)}); run it again later to resume, "
            "or lower MinSpeedKBps (0: no minimum)"
        )

    def time_left(self) -> float | None:
        """Seconds an attempt may wait for data before a rule ends the download (None: no
        limit): the deadline, and the speed window while nothing at all has arrived."""
        now = self.clock()
        o = self.opts
        left: list[float] = []
        if o.deadline > 0:
            left.append(self.started + o.deadline - now)
        if o.min_speed_kbps > 0 and o.min_speed_window > 0 and self.total == 0:
            left.append(self.since + o.min_speed_window - now)
        return max(min(left), 0.05) if left else None

    def cap(self, timeout: float) -> float | None:
        """``timeout`` (0: none) no longer than :meth:`time_left`; None: no timeout."""
        left = self.time_left()
        if timeout <= 0:
            return left
        return timeout if left is None else min(timeout, left)

    # -- the window ----------------------------------------------------------------------
    def _sample(self, now: float) -> None:
        step = self.opts.min_speed_window / _STEPS
        last_t, last_n = self._samples[-1]
        if self.total != last_n and now - last_t >= step:
            self._samples.append((now, self.total))
        # keep one sample at or before the oldest instant a window can still start at
        horizon = now - self.opts.min_speed_window
        while len(self._samples) > 1 and self._samples[1][0] <= horizon:
            self._samples.popleft()

    def _base(self, t: float) -> int:
        """Bytes received by time ``t`` (by the last sample at or before it: lenient)."""
        base = 0
        for when, total in self._samples:
            if when > t:
                break
            base = total
        return base


def _because(reason: str | None) -> str:
    return f"; last attempt: {reason}" if reason else ""


def _size(n: int) -> str:
    if n < KIB * KIB:
        return f"{n} bytes"
    return f"{n / KIB / KIB:.1f} MB"
