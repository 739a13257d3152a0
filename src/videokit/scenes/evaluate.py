"""Scoring detections against ground truth (used by the tests and the benchmark).

A detection's position is its centre ((start + end) / 2; a cut's time). It matches a true
transition [start, end] when it lies within [start - tol, end + tol], tol = 2 frames.
Detections and truths are matched one-to-one, greedily in time order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(detected: list[tuple[float, float]], truth: list[tuple[float, float]], fps: float) -> Score:
    tol = 2.0 / fps
    used: set[int] = set()
    tp = 0
    for start, end in sorted(detected):
        centre = (start + end) / 2
        for j, (ts, te) in enumerate(truth):
            if j not in used and ts - tol <= centre <= te + tol:
                used.add(j)
                tp += 1
                break
    return Score(tp, len(detected) - tp, len(truth) - tp)
