"""The ``embed`` pipeline stage: every passage of a record gets its vector, before the store stage.

The stage encodes the passages of all the records of a batch together, ``[Embeddings] BatchSize``
texts per model call across videos (a runner sends :attr:`EmbedStage.batch_size` records at once:
16 on a GPU, one on the CPU; ``videokit reindex`` sends 16). Each record gets
``record.embeddings``: the model id, the vectors' dimension, its passages with their vectors (the
store writes them into its vector index and keeps the record without them) and the digest of the
passages. A record whose embeddings already match its passages and the configured model is
left as it is (:meth:`EmbedStage.done`), also when its vectors stay in the store's index only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from videokit.errors import ConfigError
from videokit.index.embedder import EXTRA_HINT, Embedder, EmbedOptions, load_embedder
from videokit.index.passages import digest, passages
from videokit.pipeline import Context, Stage
from videokit.record import Embeddings, Passage, Record

if TYPE_CHECKING:
    from videokit.config import Config

log = logging.getLogger(__name__)


class EmbedStage(Stage):
    """Sentence embeddings of a record's passages (:mod:`videokit.index.passages`)."""

    name = "embed"
    after = "classify"
    optional = True
    required = False  # a video without embeddings is still found by its words
    rerun_on_merge = True  # a merged source brings its title and description: the text changed
    needs = frozenset({"id"})
    provides = frozenset({"embeddings"})
    # Records a runner gives process_batch at once. On the CPU one: a video's own passages already
    # share a call, and batching videos saved little (74 against 94 CPU-ms per video of 7 passages)
    # while a batch holds every input of a local run back until the slowest is done. On a GPU 16.
    batch_size = 1
    GPU_BATCH = 16

    def __init__(self, options: EmbedOptions | None = None) -> None:
        self.options = options or EmbedOptions()
        on_gpu = self.options.on_gpu
        self.resources = frozenset({"gpu"}) if on_gpu else frozenset({"cpu"})
        self.batch_size = self.GPU_BATCH if on_gpu else 1
        self.embedder: Embedder | None = None

    @classmethod
    def from_config(cls, config: Config) -> EmbedStage | None:
        """None when ``[Embeddings] Enabled`` is off, or when the search extra is missing and
        embeddings were not asked for explicitly (a warning with the hint; explicitly: ConfigError).
        ConfigError for a model folder that does not exist or holds no model."""
        options = EmbedOptions.from_config(config)
        if not options.enabled:
            return None
        missing = options.missing_extra()
        if missing is not None:
            hint = f"embeddings need the {missing} package of the search extra: {EXTRA_HINT}"
            if config.origins.get(("Embeddings", "Enabled"), "default") != "default":
                raise ConfigError(f"[Embeddings] Enabled = true: {hint}")
            log.warning("%s (videos are stored without embeddings)", hint)
            return None
        options.check()
        return cls(options)

    def setup(self, ctx: Context) -> None:
        if self.embedder is None:
            self.embedder = load_embedder(self.options)

    def done(self, record: Record) -> bool:
        """Embeddings with the configured model id and the digest of the record's passages now."""
        found = record.embeddings
        if found is None:
            return False
        ident = self.options.model_id
        return found.model == ident and found.digest == digest(passages(record), ident)

    def process(self, record: Record, ctx: Context) -> None:
        err = self.process_batch([record], ctx)[0]
        if err is not None:
            raise err

    def process_batch(self, records: list[Record], ctx: Context) -> list[BaseException | None]:
        """Embed the passages of every record not :meth:`done`, in shared model calls; when a
        shared call fails, each record is tried alone so that only the one at fault fails."""
        results: list[BaseException | None] = [None] * len(records)
        todo = [(i, r, passages(r)) for i, r in enumerate(records) if not self.done(r)]
        if not todo:
            return results
        self.setup(ctx)
        assert self.embedder is not None
        try:
            self._embed(self.embedder, [(r, ps) for _, r, ps in todo])
        except Exception as e:
            if len(todo) == 1:
                results[todo[0][0]] = e
                return results
            log.debug("embedding a batch of %d records failed (%s); embedding them one by one", len(todo), e)
            for i, record, items in todo:
                try:
                    self._embed(self.embedder, [(record, items)])
                except Exception as err:
                    results[i] = err
        return results

    def _embed(self, embedder: Embedder, batch: list[tuple[Record, list[Passage]]]) -> None:
        vectors = embedder.encode([p.text for _, items in batch for p in items], self.options.batch_size)
        at = 0
        for record, items in batch:
            for p in items:
                p.vector = vectors[at]
                at += 1
            record.embeddings = Embeddings(
                model=embedder.model_id, dim=embedder.dim, passages=items, digest=digest(items, embedder.model_id)
            )
