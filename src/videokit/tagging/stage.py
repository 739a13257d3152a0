"""Pipeline stages: ``tag`` (rules + analyzer + user tags) and ``classify`` (taxonomy)."""

from __future__ import annotations

from videokit.pipeline import Context, Stage
from videokit.record import Record
from videokit.tagging.classify import load_taxonomy
from videokit.tagging.engine import Tagger
from videokit.tagging.rules import load_rules


def _tagger(ctx: Context) -> Tagger:
    """One Tagger per run, shared by both stages (rules and taxonomy are validated once)."""
    tagger = ctx.extras.get("tagger")
    if not isinstance(tagger, Tagger):
        tagger = Tagger(load_rules(ctx.config), load_taxonomy(ctx.config))
        ctx.extras["tagger"] = tagger
    return tagger


class _TaggerStage(Stage):
    """A stage that applies one step of the run's shared Tagger."""

    required = False  # a record without tags or a category is still worth keeping
    optional = True
    rerun_on_merge = True  # tags a user put on the stored copy count again
    needs = frozenset({"media"})

    def __init__(self) -> None:
        self.tagger: Tagger | None = None

    def setup(self, ctx: Context) -> None:
        self.tagger = _tagger(ctx)

    def process(self, record: Record, ctx: Context) -> None:
        if self.tagger is None:
            self.setup(ctx)
        assert self.tagger is not None
        self.apply(self.tagger, record)

    def apply(self, tagger: Tagger, record: Record) -> None:
        raise NotImplementedError


class TagStage(_TaggerStage):
    name = "tag"
    after = "analyze"
    provides = frozenset({"tags"})

    def apply(self, tagger: Tagger, record: Record) -> None:
        tagger.tag(record)


class ClassifyStage(_TaggerStage):
    name = "classify"
    after = "tag"
    provides = frozenset({"classification"})

    def apply(self, tagger: Tagger, record: Record) -> None:
        tagger.classify(record)
