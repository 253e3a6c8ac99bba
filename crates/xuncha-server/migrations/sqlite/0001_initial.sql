-- Xuncha server schema, SQLite backend, version 1.
-- Ids are UUID strings (TEXT) so the file stays readable with the sqlite3 shell; times are RFC 3339 UTC.
-- PRAGMAs (WAL, synchronous, foreign_keys) are set on every connection, not here: they are not schema.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE districts (
    id   TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    zh   TEXT NOT NULL,
    en   TEXT NOT NULL
) STRICT;

CREATE TABLE sub_districts (
    id          TEXT PRIMARY KEY,
    district_id TEXT NOT NULL REFERENCES districts(id),
    code        TEXT NOT NULL UNIQUE,
    zh          TEXT NOT NULL,
    en          TEXT NOT NULL
) STRICT;

CREATE TABLE teams (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    district_id     TEXT NOT NULL REFERENCES districts(id),
    sub_district_id TEXT REFERENCES sub_districts(id)
) STRICT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('inspector', 'team_leader', 'district_office', 'admin')),
    -- Inspectors and leaders belong to a team (their district is the team's); a district office to a district.
    team_id       TEXT REFERENCES teams(id),
    district_id   TEXT REFERENCES districts(id),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

-- Only the SHA-256 of a bearer token is stored: a copy of this file does not let anyone sign in.
CREATE TABLE tokens (
    token_hash  BLOB PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    device_id   TEXT NOT NULL,
    device_name TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
) STRICT;
CREATE INDEX tokens_by_user ON tokens(user_id);

CREATE TABLE findings (
    id              TEXT PRIMARY KEY,
    author_id       TEXT NOT NULL REFERENCES users(id),
    team_id         TEXT NOT NULL REFERENCES teams(id),
    district_id     TEXT REFERENCES districts(id),
    sub_district_id TEXT REFERENCES sub_districts(id),
    status          TEXT NOT NULL,
    -- xuncha_domain::finding::FindingFields as JSON: the editable part, written whole on every edit.
    fields_json     TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    -- Position of the latest change in the server's change order; pulls page on it.
    server_seq      INTEGER NOT NULL UNIQUE,
    received_at     TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
-- One index per pull scope, each ending in server_seq so a page is a range scan.
CREATE INDEX findings_by_team ON findings(team_id, server_seq);
CREATE INDEX findings_by_author ON findings(author_id, server_seq);
CREATE INDEX findings_by_district ON findings(district_id, server_seq);

-- Append-only: rows are inserted, never updated or deleted.
CREATE TABLE finding_history (
    finding_id TEXT NOT NULL REFERENCES findings(id),
    n          INTEGER NOT NULL,
    entry_json TEXT NOT NULL,
    PRIMARY KEY (finding_id, n)
) STRICT;

-- Which photos a finding currently shows; decides who may download a photo.
CREATE TABLE finding_photos (
    finding_id TEXT NOT NULL REFERENCES findings(id),
    hash       TEXT NOT NULL,
    PRIMARY KEY (finding_id, hash)
) STRICT;
CREATE INDEX finding_photos_by_hash ON finding_photos(hash);

CREATE TABLE photos (
    hash        TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    received_at TEXT NOT NULL
) STRICT;

-- Everyone who uploaded a photo may read it back, even before a finding names it.
CREATE TABLE photo_uploads (
    hash        TEXT NOT NULL REFERENCES photos(hash),
    user_id     TEXT NOT NULL REFERENCES users(id),
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (hash, user_id)
) STRICT;

-- Every operation a device pushed, applied or rejected, with the answer it got: a retry gets the
-- same answer and changes nothing.
CREATE TABLE applied_ops (
    op_id       TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    device_seq  INTEGER NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id),
    finding_id  TEXT NOT NULL,
    result_json TEXT NOT NULL,
    applied_at  TEXT NOT NULL,
    UNIQUE (device_id, device_seq)
) STRICT;
