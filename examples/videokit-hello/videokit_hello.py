"""A complete videokit plug-in: one stage, one analyzer, one store and one exporter."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from videokit.analysis import AnalysisRequest, Analyzer
from videokit.config import Config, Option
from videokit.pipeline import Context, Stage
from videokit.record import Analysis, Record
from videokit.store.base import Query, Store
from videokit.store.match import matches, select


class AspectStage(Stage):
    """Runs right after probe, in every executor: is the picture portrait, square or landscape?"""

    name = "aspect"
    after = "probe"
    needs = frozenset({"media"})
    provides = frozenset({"aspect"})
    optional = True  # videokit run --skip aspect
    required = False  # a failure here does not stop the record

    def process(self, record: Record, ctx: Context) -> None:
        w, h = record.media.width or 0, record.media.height or 0
        shape = "portrait" if h > w else "square" if h == w else "landscape"
        record.extra[self.name] = {"shape": shape, "ratio": round(w / h, 3) if h else None}


class HelloAnalyzer(Analyzer):
    """A CPU analyzer with a settings section of its own: [Hello] Greeting and Repeat."""

    name = "hello"
    needs_gpu = False
    settings_section = "Hello"
    settings = {
        "Greeting": Option("hello", str, "First words of every description."),
        "Repeat": Option("1", int, "How many times the greeting is said."),
    }

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.options = config.section(self.settings_section)

    def analyze(self, request: AnalysisRequest) -> Analysis:
        greeting = " ".join([self.options["Greeting"]] * self.options["Repeat"])
        text = f"{greeting}: {len(request.frames)} frames of {request.duration or 0:.1f} s"
        return Analysis(backend=self.name, description=text)


class JsonFolderStore(Store):
    """One JSON file per video in a folder; queries answered by videokit.store.match."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _all(self) -> Iterator[Record]:
        for path in sorted(self.folder.glob("*.json")):
            yield Record.from_json(path.read_text(encoding="utf-8"))

    def upsert(self, record: Record) -> None:
        tmp = self.folder / f".{record.id}.tmp"
        tmp.write_text(record.to_json(), encoding="utf-8")
        os.replace(tmp, self.folder / f"{record.id}.json")  # never half-written

    def get(self, id: str) -> Record | None:
        hits = list(self.folder.glob(f"{id}*.json")) if len(id) >= 6 else []
        return Record.from_json(hits[0].read_text(encoding="utf-8")) if len(hits) == 1 else None

    def find_by_source(self, source: str) -> Record | None:
        return next((r for r in self._all() if any(source in (s.input, s.url) for s in r.sources)), None)

    def search(self, query: Query) -> list[Record]:
        return select(self._all(), query)

    def count(self, query: Query | None = None) -> int:
        return sum(1 for r in self._all() if matches(r, query or Query()))

    def delete(self, id: str) -> bool:
        path = self.folder / f"{id}.json"
        if not path.exists():
            return False
        path.unlink()
        return True


def open_json_folder(config: Config) -> Store:
    return JsonFolderStore(config.library / "records")


def export_titles(records: Iterable[Record], out: Path) -> int:
    """``id<TAB>title`` per line, written atomically."""
    lines = [f"{r.id}\t{r.title}\n" for r in records]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    os.replace(tmp, out)
    return len(lines)
