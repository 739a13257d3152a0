-- videos: one row per distinct content (id = SHA-256 of the file)
CREATE TABLE videos (
    id          TEXT PRIMARY KEY,
    record      TEXT NOT NULL,          -- the full Record as JSON
    title       TEXT,
    duration    REAL,
    width       INTEGER,
    height      INTEGER,
    resolution  TEXT,
    video_codec TEXT,                   -- lower case
    has_audio   INTEGER,
    category    TEXT,
    scene_count INTEGER,
    added_at    TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX videos_duration ON videos(duration);
CREATE INDEX videos_height ON videos(height);
CREATE INDEX videos_category ON videos(category COLLATE NOCASE);
CREATE INDEX videos_added ON videos(added_at);

CREATE TABLE video_tags (
    video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,             -- lower case
    PRIMARY KEY (video_id, name)
);
CREATE INDEX video_tags_name ON video_tags(name);

CREATE TABLE video_sources (
    video_id TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    input    TEXT NOT NULL,
    url      TEXT,
    path     TEXT,
    domain   TEXT,
    PRIMARY KEY (video_id, input)
);
CREATE INDEX video_sources_input ON video_sources(input);
CREATE INDEX video_sources_domain ON video_sources(domain);

-- full-text index, keyed by videos.rowid (an indexed lookup, unlike an UNINDEXED id column)
CREATE VIRTUAL TABLE videos_fts USING fts5(
    title, description, tags, filename, sources, text,
    tokenize = 'unicode61 remove_diacritics 2'
);
