-- Xuncha server schema, PostgreSQL backend, version 1. The same tables as the SQLite backend, with native
-- types: ids are uuid, times timestamptz. JSON is kept as text, not jsonb: it is only ever read back whole, and
-- jsonb refuses the escaped NUL (\u0000) that a description may legally hold, which would turn a valid push into
-- an error retried forever. Run by `store::postgres::run_migrations` in one transaction together with its row in
-- schema_migrations.

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE districts (
    id   uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    zh   text NOT NULL,
    en   text NOT NULL
);

CREATE TABLE sub_districts (
    id          uuid PRIMARY KEY,
    district_id uuid NOT NULL REFERENCES districts(id),
    code        text NOT NULL UNIQUE,
    zh          text NOT NULL,
    en          text NOT NULL
);

CREATE TABLE teams (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    district_id     uuid NOT NULL REFERENCES districts(id),
    sub_district_id uuid REFERENCES sub_districts(id)
);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL,
    display_name  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('inspector', 'team_leader', 'district_office', 'admin')),
    -- Inspectors and leaders belong to a team (their district is the team's); a district office to a district.
    team_id       uuid REFERENCES teams(id),
    district_id   uuid REFERENCES districts(id),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);
-- User names are unique regardless of case, like SQLite's COLLATE NOCASE; lookups use lower() too.
CREATE UNIQUE INDEX users_username_ci ON users (lower(username));

-- Only the SHA-256 of a bearer token is stored: a copy of the database does not let anyone sign in.
CREATE TABLE tokens (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    device_id   uuid NOT NULL,
    device_name text NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX tokens_by_user ON tokens(user_id);

-- The one source of server_seq. Every change takes the next value with
-- `UPDATE change_counter SET last_seq = last_seq + 1 RETURNING last_seq` inside its own transaction; the row
-- lock is held until commit, so changes commit in seq order and a pull cursor never skips a slower writer
-- (a SEQUENCE would hand out numbers that can commit out of order). See docs/sync-protocol.md, "Download".
CREATE TABLE change_counter (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_seq bigint NOT NULL
);
INSERT INTO change_counter (id, last_seq) VALUES (true, 0);

CREATE TABLE findings (
    id              uuid PRIMARY KEY,
    author_id       uuid NOT NULL REFERENCES users(id),
    team_id         uuid NOT NULL REFERENCES teams(id),
    district_id     uuid REFERENCES districts(id),
    sub_district_id uuid REFERENCES sub_districts(id),
    status          text NOT NULL,
    -- xuncha_domain::finding::FindingFields: the editable part, written whole on every edit.
    fields_json     text NOT NULL,
    version         bigint NOT NULL CHECK (version >= 1),
    -- Position of the latest change in the server's change order; pulls page on it.
    server_seq      bigint NOT NULL UNIQUE,
    received_at     timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- One index per pull scope, each ending in server_seq so a page is a range scan.
CREATE INDEX findings_by_team ON findings(team_id, server_seq);
CREATE INDEX findings_by_author ON findings(author_id, server_seq);
CREATE INDEX findings_by_district ON findings(district_id, server_seq);

-- Append-only: rows are inserted, never updated or deleted.
CREATE TABLE finding_history (
    finding_id uuid NOT NULL REFERENCES findings(id),
    n          integer NOT NULL,
    entry_json text NOT NULL,
    PRIMARY KEY (finding_id, n)
);

-- Which photos a finding currently shows; decides who may download a photo.
CREATE TABLE finding_photos (
    finding_id uuid NOT NULL REFERENCES findings(id),
    hash       text NOT NULL,
    PRIMARY KEY (finding_id, hash)
);
CREATE INDEX finding_photos_by_hash ON finding_photos(hash);

CREATE TABLE photos (
    hash        text PRIMARY KEY,
    size        bigint NOT NULL,
    received_at timestamptz NOT NULL
);

-- Everyone who uploaded a photo may read it back, even before a finding names it.
CREATE TABLE photo_uploads (
    hash        text NOT NULL REFERENCES photos(hash),
    user_id     uuid NOT NULL REFERENCES users(id),
    uploaded_at timestamptz NOT NULL,
    PRIMARY KEY (hash, user_id)
);

-- Every operation a device pushed, applied or rejected, with the answer it got: a retry gets the same answer
-- and changes nothing. The row is inserted first (claiming the op id and the device slot; a concurrent
-- duplicate waits on it) and its result is set before the same transaction commits, so a committed row always
-- has one.
CREATE TABLE applied_ops (
    op_id      uuid PRIMARY KEY,
    device_id  uuid NOT NULL,
    device_seq bigint NOT NULL,
    user_id    uuid NOT NULL REFERENCES users(id),
    finding_id uuid NOT NULL,
    result_json text,
    applied_at timestamptz NOT NULL,
    UNIQUE (device_id, device_seq)
);
