"""Shot-boundary detection on small frames, streaming with bounded memory.

Per frame ``t`` the *content score* is ``s(t)``: the mean absolute difference between frame
``t`` and ``t-1`` over the Y, U and V planes of a ~64-pixel-wide copy, summed (0-765, in
practice 0-200; a hard cut scores 40+, a static shot 0-5, fast motion 10-25).

* **content** mode: a cut where ``s(t) >= threshold``.
* **adaptive** mode (default): a cut where ``s(t) >= threshold / 2`` *and* ``s(t)`` is at least
  ``adaptive_ratio`` times the mean score of its neighbours (fast motion raises both, a cut
  only the one frame), and the frame is not a **flash**: a cut is dropped when the picture
  before it comes back within a quarter second (or the picture after it was there a quarter
  second before), as with camera flashes and short occlusions.
* **fades** through black, white or any uniform colour: runs of uniform frames (luma and
  chroma nearly constant over the picture, whatever the colour; a change of colour ends a run);
  the boundary spans from where the contrast starts to fall to where it has recovered. A side
  without a ramp (a cut into or out of the uniform picture) is left to the cut detector. A
  uniform run longer than ``BLANK_SPLIT_S`` is a scene of its own, at the start and end of the
  video too: a dark shot that dissolves into a bright one is a boundary, while a short black
  opening that fades in (or a fade-out that ends the video) is not.
* **dissolves and wipes**: peaks of the long-range difference ``E(t) = d(t-K, t+K)`` (K = half
  a second) that are verified: most of the picture changes, the two ends are different pictures
  (not a brightness change of the same one), the frames in between lie between the two ends,
  and either each is a blend of the ends (dissolve) or each pixel already shows one end or the
  other (wipe). Camera motion fails these tests.

Boundaries are final after a bounded delay (about 9 s of video); nothing grows with length
except the list of boundaries itself.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

BLANK_STD = 6.0  # a dark or bright frame whose Y, U and V std (0-255) are under this is uniform
BLANK_DARK, BLANK_BRIGHT = 40.0, 215.0  # mean luma of a dark / bright frame
FLAT_STD = 3.0  # a frame of any other colour is uniform under this (a colour card, not a pale sky)
RAMP_STD = 12.0  # a fade's ramp reaches a picture with at least this luma std (real contrast)
FADE_MAX_S = 3.0  # longest fade-out or fade-in we look for
BLANK_SPLIT_S = 2.0  # a uniform run longer than this is a scene of its own
FLASH_S = 0.25  # a picture that returns within this is a flash, not a cut
CHANGED = 20.0  # a pixel "changed" between the ends of a transition if it moved this much


@dataclass(frozen=True, slots=True)
class DetectOptions:
    threshold: float = 27.0
    min_scene_len: float = 0.5  # seconds
    mode: str = "adaptive"  # adaptive | content
    gradual: bool = True
    adaptive_ratio: float = 3.0


@dataclass(frozen=True, slots=True)
class Transition:
    """A detected boundary: ``first``..``last`` are the frames that belong to the transition
    (equal for a cut: the first frame of the new shot)."""

    kind: str  # cut | fade | dissolve | wipe
    first: int
    last: int
    start: float  # seconds (pts of first)
    end: float  # seconds (pts of last)


class Detector:
    """Feed frames in order with :meth:`push`; collect finished boundaries from its return
    value and from :meth:`finish`."""

    def __init__(self, fps: float | None, options: DetectOptions) -> None:
        self.o = options
        fps = fps if fps and fps > 0 else 25.0
        self.fps = fps
        self.K = max(2, round(0.5 * fps))  # half-window of the long-range difference
        self.flash = max(2, round(FLASH_S * fps))
        self.w = 2  # adaptive neighbourhood, frames each side
        self.cut_delay = max(self.w, self.flash + 1)
        self.fade_max = max(2, round(FADE_MAX_S * fps))
        self.final_delay = 2 * self.fade_max + round(BLANK_SPLIT_S * fps) + 2 * self.K + 8
        keep = 3 * self.K + 2 * self.flash + 4  # frames the gradual and flash checks look back
        self._frames: deque[np.ndarray] = deque(maxlen=keep)  # float32 (3,h,w)
        self._tail: np.ndarray | None = None  # int16 copies of the newest 2K frames (fewer at the start)
        self._hist = self.final_delay + self.fade_max + 4
        self._s: deque[float] = deque(maxlen=self._hist)
        self._std: deque[float] = deque(maxlen=self._hist)
        self._blank: deque[bool] = deque(maxlen=self._hist)
        self._pts: deque[float] = deque(maxlen=self._hist)
        self._E: deque[float] = deque(maxlen=4 * self.K + 4)
        self.n = 0  # frames pushed
        self.frontier = 0  # every boundary before this frame index has been returned
        self._cuts: list[int] = []  # candidate cuts not yet final
        self._events: list[Transition] = []  # gradual/fade events not yet final
        self._blank_start: int | None = None  # current uniform run
        self._out_start: int | None = None
        self._pending_fade: tuple[int | None, int, int, bool] | None = None  # (out_start, b0, b1, long)
        self._run_long = False  # the current uniform run is longer than BLANK_SPLIT_S
        self._seen_content = False
        self._before: np.ndarray | None = None  # the picture before the current fade-out
        self._last_final: Transition | None = None
        self._last_end_index = 0
        self._gradual_until = -1

    # -- access into the rings by absolute frame index ---------------------------------
    def _f(self, i: int) -> np.ndarray:
        return self._frames[self._pos(self._frames, i)]

    def _at(self, ring: deque, i: int):  # noqa: ANN202 - float or bool
        return ring[self._pos(ring, i)]

    def _pos(self, ring: deque, i: int) -> int:
        k = i - (self.n - len(ring))
        if not 0 <= k < len(ring):
            raise IndexError(f"frame {i} is not in the window ({self.n - len(ring)}..{self.n - 1})")
        return k

    def _has(self, ring: deque, i: int) -> bool:
        return self.n - len(ring) <= i < self.n

    @staticmethod
    def _dist(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).sum()) / (a.shape[1] * a.shape[2])

    # -- feeding -------------------------------------------------------------------------
    def push(self, det: np.ndarray, pts: np.ndarray) -> list[Transition]:
        frames = det.astype(np.float32)
        lum = frames[:, 0]
        flat = lum.reshape(len(frames), -1)
        means, stds = flat.mean(axis=1), flat.std(axis=1)
        spread = np.maximum(stds, frames[:, 1:].reshape(len(frames), 2, -1).std(axis=2).max(axis=1))
        extreme = (means < BLANK_DARK) | (means > BLANK_BRIGHT)
        blank = (spread < FLAT_STD) | (extreme & (spread < BLANK_STD))
        s, e = self._scores(det.astype(np.int16))
        for k in range(len(frames)):
            self._push_one(frames[k], float(pts[k]), float(stds[k]), bool(blank[k]), float(s[k]), float(e[k]))
        self.frontier = max(0, self.n - self.final_delay)
        return self._finalize(self.frontier)

    def finish(self) -> list[Transition]:
        # decide what is still undecided, with the lookahead that exists
        end = self.n
        for c in range(max(1, end - self.cut_delay), end):
            self._decide_cut(c, end - 1)
        if self.o.gradual:  # peaks in the last second, with the long-range differences there are
            for g in range(max(2 * self.K, end - 2 * self.K), end - self.K):
                self._decide_gradual(g, final=True)
        if self._pending_fade is not None:
            self._close_fade(end - 1)
        # a video ending on a uniform run: only a long one was a boundary (when it became long)
        self.frontier = end + 1
        return self._finalize(end + 1)

    def _scores(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The whole batch at once, in integers (several times faster than float32 here):
        ``s`` of each frame and the long-range difference ``E`` ending at it (``d(i-2K, i)``,
        NaN before frame 2K). The same numbers as the frame-by-frame :meth:`_dist` (its
        float32 sums of integers are exact)."""
        n, (h, w) = len(frames), frames.shape[2:]
        back = 2 * self.K
        tail = self._tail  # frame k - j of this batch is tail[m - j] for k - j < 0
        m = 0 if tail is None else len(tail)
        s = np.zeros(n, np.float64)  # the very first frame has no predecessor: s = 0
        if n > 1:
            s[1:] = _sad(frames[1:], frames[:-1]) / (h * w)
        if tail is not None:
            s[0] = _sad(frames[:1], tail[-1:])[0] / (h * w)
        e = np.full(n, np.nan)
        first, mid = max(0, back - m), min(n, back)  # E of frames first..mid-1 reaches into the tail
        if first < mid:
            assert tail is not None
            e[first:mid] = _sad(frames[first:mid], tail[m - back + first : m - back + mid]) / (h * w)
        if n > back:
            e[back:] = _sad(frames[back:], frames[: n - back]) / (h * w)
        if n >= back or tail is None:
            self._tail = frames[-back:]
        else:
            self._tail = np.concatenate([tail, frames])[-back:]
        return s, e

    def _push_one(self, f: np.ndarray, t: float, std: float, blank: bool, s: float, e: float) -> None:
        i = self.n
        self._frames.append(f)
        self._s.append(s)
        self._std.append(std)
        self._blank.append(blank)
        self._pts.append(t)
        self.n += 1
        K = self.K
        if i >= 2 * K:
            self._E.append(e)  # E(i-K)
        self._track_blank(i, std, blank, s)
        c = i - self.cut_delay
        if c >= 1:
            self._decide_cut(c, i)
        g = i - 2 * K
        if self.o.gradual and g >= 2 * K:
            self._decide_gradual(g)

    # -- hard cuts -----------------------------------------------------------------------
    def _decide_cut(self, c: int, newest: int) -> None:
        s = self._at(self._s, c)
        o = self.o
        if o.mode == "content":
            if s >= o.threshold:
                self._cuts.append(c)
            return
        if s < o.threshold / 2:
            return
        nb = [self._at(self._s, j) for j in range(c - self.w, c + self.w + 1) if j != c and 1 <= j <= newest]
        base = max(float(np.mean(nb)) if nb else 0.0, 1.0)
        if s < o.adaptive_ratio * base:
            return
        if self._is_flash(c, newest, s):
            return
        self._cuts.append(c)

    def _is_flash(self, c: int, newest: int, s: float) -> bool:
        limit = max(0.5 * min(self.o.threshold, s), 0.4 * s)
        before = self._f(c - 1)
        for j in range(c + 1, min(newest, c + self.flash) + 1):
            if self._dist(before, self._f(j)) < limit:
                return True
        after = self._f(c)
        lo = self.n - len(self._frames)
        for j in range(c - 2, max(lo, c - 1 - self.flash) - 1, -1):
            if self._dist(after, self._f(j)) < limit:
                return True
        return False

    # -- fades through a uniform picture ---------------------------------------------------
    def _track_blank(self, i: int, std: float, blank: bool, s: float) -> None:
        if self._pending_fade is not None:
            b1 = self._pending_fade[2]
            # fade-in: contrast keeps rising; ends when it stops or after FADE_MAX_S
            prev = self._at(self._std, i - 1)
            if std <= prev + 0.2 or i - b1 > self.fade_max:
                self._close_fade(i - 1)
        if blank and self._blank_start is not None and s >= self.o.threshold / 2:
            self._end_run(i)  # a cut from one uniform colour to another
        if blank:
            if self._blank_start is None:
                self._blank_start = i
                self._run_long = False
                self._out_start = self._walk_back(i) if self._seen_content else None
                if self._out_start is not None:
                    oldest = self.n - len(self._frames)
                    self._before = self._f(max(oldest, self._out_start - 1)).copy()
            elif not self._run_long and self._at(self._pts, i) - self._at(self._pts, self._blank_start) > BLANK_SPLIT_S:
                # long enough to be a scene of its own: the fade into it is a boundary now
                self._run_long = True
                b0, out_start = self._blank_start, self._out_start
                if out_start is not None and out_start < b0 - 1:
                    self._events.append(self._transition("fade", out_start, b0))
            return
        if self._blank_start is not None:
            self._end_run(i)
        self._seen_content = True

    def _end_run(self, i: int) -> None:
        """The uniform run ended before frame ``i``."""
        assert self._blank_start is not None
        if self._pending_fade is None:
            self._pending_fade = (self._out_start, self._blank_start, i - 1, self._run_long)
        self._blank_start = None
        self._seen_content = True

    def _walk_back(self, b0: int) -> int:
        """First frame of the fade-out that ends at uniform frame ``b0``."""
        j = b0
        lo = max(self.n - len(self._std), b0 - self.fade_max)
        while j - 1 >= lo and self._at(self._std, j - 1) > self._at(self._std, j) + 0.2:
            if self._spike(j):
                break  # a cut, not a fade: the ramp starts after it
            j -= 1
        if j < b0 and self._at(self._std, j) < RAMP_STD:
            return b0  # contrast barely fell (a low-contrast shot getting flatter): no fade-out
        return j

    def _spike(self, t: int) -> bool:
        """Frame ``t`` is a cut (a jump well above its neighbours), not a step of a fast fade."""
        s = self._at(self._s, t)
        nb = [self._at(self._s, j) for j in (t - 1, t + 1) if self._has(self._s, j)]
        return s >= self.o.threshold and s >= 2.0 * max(nb, default=0.0)

    def _ramp_in_end(self, b1: int, in_end: int) -> int:
        """Last frame of the fade-in after uniform frame ``b1`` (``b1`` itself when there is none)."""
        for t in range(b1 + 1, in_end + 1):
            if self._spike(t):
                in_end = t - 1  # a cut ends the ramp
                break
        if in_end > b1 and self._at(self._std, in_end) < RAMP_STD:
            return b1  # contrast barely rose: no fade-in
        return in_end

    def _close_fade(self, in_end: int) -> None:
        assert self._pending_fade is not None
        out_start, b0, b1, long_run = self._pending_fade
        self._pending_fade = None
        in_end = self._ramp_in_end(b1, in_end)
        ramp_out = out_start is not None and out_start < b0 - 1
        ramp_in = in_end > b1 + 1
        if not ramp_out and not ramp_in:
            return  # cut into and out of a uniform picture (or a flash): the cut detector decides
        if long_run:  # a scene of its own: the fade into it was reported when it became long
            if ramp_in:
                self._events.append(self._transition("fade", b1, in_end))
            return
        if out_start is None or self._before is None:
            return  # the video opens with a short uniform run fading in: an opening fade
        after = self._f(min(in_end + 1, self.n - 1))
        if self._dist(self._before, after) < self.o.threshold / 2:
            return  # a dip to black and back into the same picture: not a new shot
        held = self._at(self._pts, b1) - self._at(self._pts, b0) if self._has(self._pts, b0) else BLANK_SPLIT_S
        if ramp_out != ramp_in and held >= self.o.min_scene_len:
            # a fade on one side, a cut on the other, and the uniform picture held in between:
            # the fade is one boundary, the cut (from the cut detector) another
            first, last = (out_start, b0) if ramp_out else (b1, in_end)
            self._events.append(self._transition("fade", first, last))
            return
        self._events.append(self._transition("fade", out_start, in_end))

    # -- dissolves and wipes -----------------------------------------------------------------
    def _decide_gradual(self, g: int, final: bool = False) -> None:
        K = self.K
        e_idx = lambda t: t - K  # noqa: E731 - E(t) is stored at position t-K of the E stream
        n_e = self.n - 2 * K  # number of E values so far (E for t = K .. n-1-K)
        ring_lo = n_e - len(self._E)

        def E(t: int) -> float:
            return self._E[e_idx(t) - ring_lo]

        # at the end of the stream (``final``) the peak test uses the differences that exist
        last_t = min(g + K, n_e - 1 + K) if final else g + K
        if g <= self._gradual_until or e_idx(g - K) < ring_lo or e_idx(last_t) >= n_e or last_t < g:
            return
        eg = E(g)
        o = self.o
        if eg < 0.8 * o.threshold:
            return
        for t in range(g - K, last_t + 1):
            v = E(t)
            if v > eg or (v == eg and t < g):
                return
        lo, hi = g - K, g + K
        if any(lo <= c <= hi + 1 for c in self._cuts):
            return
        if any(self._at(self._blank, t) for t in range(lo, hi + 1)):
            return  # a fade through a uniform picture: handled by the fade tracker
        kind, first, last = _classify(self._f(lo), self._f(hi), [self._f(t) for t in range(lo + 1, hi)])
        if kind is None:
            return
        self._events.append(self._transition(kind, lo + 1 + first, lo + 1 + last))
        self._gradual_until = hi + K

    # -- bookkeeping ---------------------------------------------------------------------------
    def _transition(self, kind: str, first: int, last: int) -> Transition:
        lo = self.n - len(self._pts)
        first = max(first, lo)
        last = max(first, last)
        return Transition(kind, first, last, self._at(self._pts, first), self._at(self._pts, min(last, self.n - 1)))

    def _finalize(self, upto: int) -> list[Transition]:
        """Merge and emit everything that starts before frame ``upto``."""
        ready_cuts = [c for c in self._cuts if c < upto]
        ready_events = [e for e in self._events if e.first < upto]
        if not ready_cuts and not ready_events:
            return []
        self._cuts = [c for c in self._cuts if c >= upto]
        self._events = [e for e in self._events if e.first >= upto]
        # a cut inside (or within 2 frames of) a gradual transition is part of it
        every = self._events + ready_events
        cuts = [
            self._transition("cut", c, c) for c in ready_cuts if not any(e.first - 2 <= c <= e.last + 2 for e in every)
        ]
        out = []
        for tr in sorted(cuts + ready_events, key=lambda x: x.first):
            prev = self._last_final
            if tr.first <= 0:
                continue
            if prev is not None and tr.start - prev.end < self.o.min_scene_len:
                continue
            out.append(tr)
            self._last_final = tr
        return out


def _sad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum of absolute differences of each pair of int16 frames (exact integers, as float64)."""
    d = a - b
    np.abs(d, out=d)
    acc = np.int32 if d[0].size * 255 < 2**31 else np.int64  # int32 sums: twice as fast
    return d.reshape(len(d), -1).sum(axis=1, dtype=acc).astype(np.float64)


def _classify(a: np.ndarray, b: np.ndarray, mids: list[np.ndarray]) -> tuple[str | None, int, int]:
    """Is the change from ``a`` to ``b`` through ``mids`` a dissolve, a wipe, or neither
    (motion, lighting)? Returns (kind, first, last) with first/last indices into ``mids``."""
    if not mids:
        return None, 0, 0
    diff = b - a
    change = np.abs(diff).max(axis=0)
    moved = change > CHANGED
    if moved.mean() < 0.5:
        return None, 0, 0
    ya, yb = a[0] - a[0].mean(), b[0] - b[0].mean()
    ncc = float((ya * yb).sum() / np.sqrt((ya * ya).sum() * (yb * yb).sum() + 1e-6))
    if ncc > 0.85:  # the same picture brighter or darker: a lighting change or fade, not a new shot
        return None, 0, 0
    w = np.stack(mids)
    total = float(np.abs(diff).sum()) / (a.shape[1] * a.shape[2])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    margin = 0.1 * np.abs(diff)
    m3 = np.broadcast_to(moved, a.shape)
    inside = (w >= lo - margin) & (w <= hi + margin)
    between = inside[:, m3].reshape(len(mids), -1).mean(axis=1)
    if between.mean() < 0.8:
        return None, 0, 0
    dd = float((diff * diff).sum()) + 1e-6
    alpha = ((w - a) * diff).sum(axis=(1, 2, 3)) / dd
    blend = a + alpha[:, None, None, None] * diff
    resid = np.abs(w - blend).sum(axis=(1, 2, 3)) / (a.shape[1] * a.shape[2]) / max(total, 1e-6)
    explained = (np.minimum(np.abs(w - a), np.abs(w - b)) < 0.25 * np.abs(diff))[:, m3].reshape(len(mids), -1)
    expl = float(explained.mean())
    if expl >= 0.8:
        kind = "wipe"
    elif float(resid.max()) <= 0.35:
        kind = "dissolve"
    else:
        return None, 0, 0
    moving = np.flatnonzero((alpha > 0.05) & (alpha < 0.95))
    if len(moving) == 0:
        return None, 0, 0
    return kind, int(moving[0]), int(moving[-1])
