"""Datasets for machine learning: labelled clips, leak-free splits, standard formats.

``videokit dataset OUT`` (and :func:`videokit.api.dataset`) plans clips from stored videos
(:mod:`~videokit.dataset.clips`), labels them (:mod:`~videokit.dataset.labels`), groups
near-duplicates and splits without leaks (:mod:`~videokit.dataset.dedup`,
:mod:`~videokit.dataset.splits`), cuts them with one ffmpeg process per source video, and writes
each requested format (:mod:`~videokit.dataset.formats`, plug-ins in the entry-point group
``videokit.formats``) plus a manifest and a dataset card (:mod:`~videokit.dataset.build`).
"""
