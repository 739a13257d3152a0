"""Passages of the MongoDB store and the searches that land on them.

``<collection>_passages`` holds one document per passage of a video (title and description,
analysis, one scene, one transcript chunk, OCR): ``video_id``, ``rev`` (the revision of the
video document it belongs to), ``n`` (its place in the record), ``kind``, ``ref``, ``text``,
``start``, ``end``, and when embedded ``model``, ``digest`` and ``vector`` (float32, BSON
binary vector subtype 9, the form Atlas Vector Search indexes). Video documents never hold
vectors.

Vector search runs one of two ways, decided once per store (:func:`vector_search_support`):

``atlas-vector-search``  the server has Atlas Search: a ``vectorSearch`` index over ``vector``
                         (filter fields ``model`` and ``video_id``) is created with
                         ``createSearchIndexes`` and queried with ``$vectorSearch``.
``exact``                anywhere else (self-managed MongoDB, Cosmos DB, SecantusDB,
                         mongomock): the candidate passages (filters applied first) are read
                         and ranked by cosine similarity with numpy; every passage is scanned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from bson.binary import Binary
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

from videokit.record import Passage

EXACT, ATLAS = "exact", "atlas-vector-search"  # values of MongoStore.vector_search_mode
VECTOR_INDEX = "vk_vectors"
_VECTOR_SUBTYPE, _FLOAT32 = 9, b"\x27\x00"  # BSON binary vector: dtype float32, no padding
_MAX_CANDIDATES = 10_000  # $vectorSearch's numCandidates ceiling


@dataclass(slots=True)
class Hit:
    """One passage a search landed on; ``score`` is higher for better matches."""

    video_id: str
    n: int
    kind: str
    ref: str
    text: str
    start: float | None
    end: float | None
    score: float
    rev: str = ""

    @property
    def key(self) -> tuple[str, int]:
        return (self.video_id, self.n)


@dataclass(frozen=True, slots=True)
class Scope:
    """The videos a search may land on (``ids`` None: all of them). ``ask``: name them to the
    server (``$in``: best when they are few), else read the passages and keep theirs here (one
    scan instead of a long ``$in`` list, when they are much of the library)."""

    ids: frozenset[str] | None = None
    ask: bool = True

    @property
    def empty(self) -> bool:
        return self.ids is not None and not self.ids

    def query(self) -> dict[str, Any]:
        return {"video_id": {"$in": sorted(self.ids)}} if self.ids is not None and self.ask else {}

    def keeps(self, video_id: str) -> bool:
        return self.ids is None or video_id in self.ids


def encode_vector(vector: Iterable[float]) -> Binary:
    """A vector as BSON binary vector data (float32)."""
    return Binary(_FLOAT32 + np.asarray(list(vector), dtype="<f4").tobytes(), _VECTOR_SUBTYPE)


def decode_vectors(blobs: list[Any]) -> np.ndarray:
    """Stored vectors (all of one dimension) as an (n, dim) float32 matrix."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.frombuffer(bytes(b)[2:], dtype="<f4") for b in blobs])


def unit(m: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(norms == 0, 1, norms)


def _hit(d: dict, score: float) -> Hit:
    return Hit(
        d["video_id"], d["n"], d["kind"], d.get("ref") or "", d.get("text") or "", d.get("start"), d.get("end"), score,
        d.get("rev") or "",
    )  # fmt: skip


class PassageIndex:
    """``<collection>_passages``: written under the video document's revision, switched with it."""

    def __init__(self, coll: Collection) -> None:
        self.coll = coll

    def create_indexes(self) -> None:
        self.coll.create_index([("video_id", 1), ("rev", 1), ("n", 1)], name="vk_passage_video")
        self.coll.create_index([("model", 1), ("video_id", 1)], name="vk_passage_model")

    def create_text_index(self) -> None:
        self.coll.create_index([("text", "text")], default_language="english", name="vk_passage_text")

    # -- writes --------------------------------------------------------------------------
    def docs(
        self, video_id: str, rev: str, passages: list[Passage], *, model: str | None, digest: str | None, now: datetime
    ) -> list[dict]:
        """The documents for ``passages``; a passage without a vector gets none (and no model)."""
        out = []
        for n, p in enumerate(passages):
            doc: dict[str, Any] = {
                "_id": f"{video_id}:{rev}:{n}",
                "video_id": video_id,
                "rev": rev,
                "n": n,
                "written": now,
                "kind": p.kind,
                "ref": p.ref,
                "text": p.text,
                "start": p.start,
                "end": p.end,
            }
            if p.vector is not None and model:
                doc.update(model=model, digest=digest, vector=encode_vector(p.vector))
            out.append(doc)
        return out

    def stored_vectors(self, video_id: str, rev: str, model: str) -> dict[tuple[str, str, str], Binary]:
        """The vectors stored for the video's passages of revision ``rev`` by ``model``,
        keyed by (kind, ref, text)."""
        found = self.coll.find(
            {"video_id": video_id, "rev": rev, "model": model}, {"kind": 1, "ref": 1, "text": 1, "vector": 1}
        )
        return {(d["kind"], d.get("ref") or "", d.get("text") or ""): d["vector"] for d in found if d.get("vector")}

    # -- reads ---------------------------------------------------------------------------
    def passages_of(self, revs: dict[str, str]) -> dict[str, list[Passage]]:
        """The passages (without vectors) of each video id at its revision."""
        out: dict[str, list[Passage]] = {}
        if not revs:
            return out
        cur = self.coll.find({"video_id": {"$in": list(revs)}}, {"vector": 0}).sort([("video_id", 1), ("n", 1)])
        for d in cur:
            if revs.get(d["video_id"]) == d["rev"]:
                out.setdefault(d["video_id"], []).append(
                    Passage(d["kind"], d.get("ref") or "", d.get("text") or "", d.get("start"), d.get("end"))
                )
        return out

    def text_hits(self, words: list[str], scope: Scope, *, use_index: bool) -> list[Hit]:
        """Passages holding every word (as a word prefix), best first. ``use_index``: ask the
        server's text index (raises what the server raises when it has none)."""
        f = scope.query()
        proj = {"vector": 0, "written": 0}
        if use_index:
            f["$text"] = {"$search": " ".join(f'"{w}"' for w in words)}
            cur = self.coll.find(f, {**proj, "score": {"$meta": "textScore"}}).sort([("score", {"$meta": "textScore"})])
            return [_hit(d, float(d.get("score") or 0.0)) for d in cur if scope.keeps(d["video_id"])]
        pats = [re.compile(r"\b" + re.escape(w), re.IGNORECASE) for w in words]
        f["$and"] = [{"text": p} for p in pats]
        hits = []
        for d in self.coll.find(f, proj):
            if not scope.keeps(d["video_id"]):
                continue
            text = d.get("text") or ""
            n_hits = sum(len(p.findall(text)) for p in pats)
            hits.append(_hit(d, n_hits / (1 + len(text.split())) ** 0.5))
        hits.sort(key=lambda h: (-h.score, h.video_id, h.n))
        return hits

    def exact_hits(self, vector: list[float], model: str | None, scope: Scope) -> tuple[list[Hit], int]:
        """Every embedded candidate passage ranked by cosine similarity with ``vector``; and
        how many passages were scanned."""
        f: dict[str, Any] = {"vector": {"$exists": True}}
        if model:
            f["model"] = model
        f.update(scope.query())
        size = 2 + 4 * len(vector)
        docs = [d for d in self.coll.find(f, {"written": 0}) if scope.keeps(d["video_id"]) and len(d["vector"]) == size]
        if not docs:
            return [], 0
        m = unit(decode_vectors([d.pop("vector") for d in docs]))
        q = unit(np.asarray(vector, dtype=np.float32))
        scores = m @ q
        order = np.argsort(-scores, kind="stable")
        return [_hit(docs[i], float(scores[i])) for i in order], len(docs)

    def atlas_hits(self, vector: list[float], model: str | None, scope: Scope, want: int) -> list[Hit]:
        """The ``want`` best passages by ``$vectorSearch`` (cosine; Atlas scores (1 + cos) / 2,
        turned back into cos here so both ways score alike)."""
        f: dict[str, Any] = {}
        if model:
            f["model"] = {"$eq": model}
        if scope.ids is not None:  # a pre-filter of the index, however many
            f["video_id"] = {"$in": sorted(scope.ids)}
        stage: dict[str, Any] = {
            "index": VECTOR_INDEX,
            "path": "vector",
            "queryVector": [float(x) for x in vector],
            "numCandidates": min(_MAX_CANDIDATES, max(100, want * 10)),
            "limit": min(_MAX_CANDIDATES, want),
        }
        if f:
            stage["filter"] = f
        pipeline = [
            {"$vectorSearch": stage},
            {"$project": {"vector": 0, "written": 0, "score": {"$meta": "vectorSearchScore"}}},
        ]
        return [_hit(d, 2.0 * float(d["score"]) - 1.0) for d in self.coll.aggregate(pipeline)]

    def vectors_of(self, revs: dict[str, str], model: str | None, *, ask: bool = True) -> dict[str, np.ndarray]:
        """Each video's passage vectors (at its revision) as a matrix; ``ask`` as in :class:`Scope`."""
        if not revs:
            return {}
        f: dict[str, Any] = {"vector": {"$exists": True}, **Scope(frozenset(revs), ask).query()}
        if model:
            f["model"] = model
        rows: dict[str, list[Any]] = {}
        for d in self.coll.find(f, {"video_id": 1, "rev": 1, "vector": 1}):
            if revs.get(d["video_id"]) == d["rev"]:
                rows.setdefault(d["video_id"], []).append(d["vector"])
        return {v: decode_vectors(b) for v, b in rows.items()}

    def remove(self, video_id: str) -> None:
        self.coll.delete_many({"video_id": video_id})


# -- Atlas Vector Search -------------------------------------------------------------------
def vector_search_support(coll: Collection) -> tuple[bool, str]:
    """(True, "") when the server answers ``listSearchIndexes`` (Atlas Search), else (False,
    why). Not a pymongo collection (mongomock): no Atlas Search."""
    if not isinstance(coll, Collection):
        return False, "this client has no Atlas Search"
    try:
        list(coll.list_search_indexes(VECTOR_INDEX))
    except OperationFailure as e:
        msg = str((e.details or {}).get("errmsg") or e)
        return False, f"the server has no Atlas Search ({msg.split('. ')[0]})"
    return True, ""


def ensure_vector_index(coll: Collection, dim: int) -> bool:
    """Create (or re-dimension) the vectorSearch index; True when it is ready to query."""
    definition = {
        "fields": [
            {"type": "vector", "path": "vector", "numDimensions": dim, "similarity": "cosine"},
            {"type": "filter", "path": "model"},
            {"type": "filter", "path": "video_id"},
        ]
    }
    found = list(coll.list_search_indexes(VECTOR_INDEX))
    if not found:
        coll.create_search_index({"name": VECTOR_INDEX, "type": "vectorSearch", "definition": definition})
        return False
    index = found[0]
    fields = (index.get("latestDefinition") or {}).get("fields") or []
    if not any(f.get("numDimensions") == dim for f in fields):
        coll.update_search_index(VECTOR_INDEX, definition)
        return False
    return bool(index.get("queryable"))
