"""Search by what is said and what it means: the passages of a record, their embeddings, reindexing.

- :mod:`videokit.index.passages`: ``passages(record)``, the pieces of a record's text that search
  can land on (title, analysis, scenes, transcript chunks, OCR), and their ``digest``; pure, no model.
- :mod:`videokit.index.embedder`: the sentence-embedding model (``[Embeddings]``), loaded once per
  process, and ``embed_query(config, text)`` for the library API's search.
- :mod:`videokit.index.stage`: the ``embed`` pipeline stage.
- :mod:`videokit.index.reindex`: ``videokit reindex``, transcripts and embeddings for an existing library.
- :mod:`videokit.index.fuse`: reciprocal-rank fusion of text and vector rankings (shared by the stores).

Nothing here imports the model's packages (the ``search`` extra) until a model is needed.
"""
