-- passages: what search lands on in a video (title and description, analysis, one scene, a
-- transcript chunk, OCR), with their time range, and their embedding where the video has one
CREATE TABLE passages (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the vector index is keyed on it
    video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,                      -- title | analysis | scene | transcript | ocr
    ref      TEXT NOT NULL,
    text     TEXT NOT NULL,
    start    REAL,
    "end"    REAL,
    model    TEXT,                               -- the embedding model of vector
    vector   BLOB                                -- float32 little-endian, unit length; NULL: not embedded
);
CREATE INDEX passages_video ON passages(video_id);
CREATE INDEX passages_model ON passages(model, video_id) WHERE vector IS NOT NULL;

-- full-text index of the passages (moments in text mode), kept by the triggers below
CREATE VIRTUAL TABLE passages_fts USING fts5(
    text, content = 'passages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- every passage whose vector came or went, in order: what the vector index (a separate file,
-- videokit.store.sqlite_vectors) has still to apply
CREATE TABLE vector_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    passage_id INTEGER NOT NULL
);

-- which library this is: a vector index file built for another (a rebuilt library.sqlite) is rebuilt
CREATE TABLE library_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO library_meta (key, value) VALUES ('library_id', lower(hex(randomblob(16))));

CREATE TRIGGER passages_inserted AFTER INSERT ON passages BEGIN INSERT INTO passages_fts (rowid, text) VALUES (new.id, new.text); INSERT INTO vector_changes (passage_id) SELECT new.id WHERE new.vector IS NOT NULL; END;
CREATE TRIGGER passages_deleted AFTER DELETE ON passages BEGIN INSERT INTO passages_fts (passages_fts, rowid, text) VALUES ('delete', old.id, old.text); INSERT INTO vector_changes (passage_id) SELECT old.id WHERE old.vector IS NOT NULL; END;

-- the embeddings a video's passages were made from (model, digest of the texts)
ALTER TABLE videos ADD COLUMN embed_model TEXT;
ALTER TABLE videos ADD COLUMN embed_digest TEXT;
CREATE INDEX videos_embed_model ON videos(embed_model);
