//! The device schema, as embedded migrations. Append new `M::up` entries; never edit a shipped one
//! (phones in the field upgrade from any earlier version). PRAGMAs are set on open, not here, because
//! `journal_mode` cannot change inside the migration's transaction.

use rusqlite_migration::{Migrations, M};

const MIGRATION_SLICE: &[M<'static>] = &[
    M::up(
        r#"
-- Small facts about this installation: device_id, server_url, server_id, pull_cursor,
-- next_device_seq, last_sync_at, last_error (UserMessage JSON).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- One row per account that signed in online on this device. The verifier (argon2 of the password,
-- made at online login) allows offline sign-in; the token is cleared at logout; at most one row is active.
CREATE TABLE session (
    server_url   TEXT NOT NULL,
    username     TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    profile_json TEXT NOT NULL,
    token        TEXT,
    verifier     TEXT NOT NULL,
    active       INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    signed_in_at TEXT NOT NULL,
    PRIMARY KEY (server_url, username)
) STRICT;
CREATE UNIQUE INDEX session_one_active ON session(active) WHERE active = 1;

-- Findings as this device knows them: its own (possibly unsent) and those pulled from the server.
-- fields_json is xuncha_domain::FindingFields; the other columns are copies for listing and filtering.
CREATE TABLE findings (
    id             TEXT PRIMARY KEY NOT NULL,
    author         TEXT NOT NULL,
    team           TEXT NOT NULL,
    fields_json    TEXT NOT NULL,
    status         TEXT NOT NULL,
    category       TEXT NOT NULL,
    observed_at    TEXT NOT NULL,       -- RFC 3339 with the device's offset, as recorded
    observed_utc   TEXT NOT NULL,       -- same instant in UTC, for ordering
    observed_day   TEXT NOT NULL,       -- YYYY-MM-DD in the zone it was recorded in
    version        INTEGER NOT NULL DEFAULT 0,   -- last server version seen; 0 = never confirmed
    server_seq     INTEGER,
    author_name    TEXT NOT NULL DEFAULT '',
    team_name      TEXT NOT NULL DEFAULT '',
    sub_district   TEXT,                -- zh name
    received_at    TEXT,
    rejection_json TEXT,                -- UserMessage of the last refused change
    updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX findings_day ON findings(observed_day, observed_utc);
CREATE INDEX findings_author ON findings(author, observed_utc);
CREATE INDEX findings_team ON findings(team, observed_utc);

-- Append-only audit lines. Local lines until the server's history replaces them on pull.
CREATE TABLE history (
    id          INTEGER PRIMARY KEY,
    finding_id  TEXT NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT,
    from_server INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX history_finding ON history(finding_id, id);

-- Photo files present on this device (the files are written before the row commits).
CREATE TABLE photos (
    hash        TEXT PRIMARY KEY NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    exif_json   TEXT,
    created_at  TEXT NOT NULL,
    uploaded_at TEXT                    -- set only when the server confirmed it holds these bytes
) STRICT;

-- Which photos a finding references, in order. No FK to photos: a pulled finding may reference
-- photos not downloaded yet (that is how the downloader finds them).
CREATE TABLE finding_photos (
    finding_id TEXT NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    PRIMARY KEY (finding_id, idx)
) STRICT;
CREATE INDEX finding_photos_hash ON finding_photos(hash);

-- Changes waiting for the server, written in the same transaction as the change itself.
-- A 'rejected' op stays (with its reason) until the person acts on that finding again.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id       TEXT NOT NULL UNIQUE,
    device_seq  INTEGER NOT NULL UNIQUE,
    finding_id  TEXT NOT NULL REFERENCES findings(id),
    user_id     TEXT NOT NULL,          -- whose token may send it
    kind        TEXT NOT NULL CHECK (kind IN ('create', 'edit', 'change_status')),
    body_json   TEXT NOT NULL,          -- xuncha_proto::OpBody
    prev_status TEXT,                   -- for change_status: the status to restore if refused
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'rejected')),
    error_json  TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,   -- >0: the server may have it, so the body is frozen
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_finding ON outbox(finding_id, seq);
CREATE INDEX outbox_state ON outbox(state, seq);
"#,
    ),
    M::up(
        r#"
-- Fields of this device's edits that had been changed on the server to other values meanwhile: the
-- server kept its value and handed both back. Kept until the person chooses (Engine::resolve_conflict).
CREATE TABLE conflicts (
    finding_id  TEXT NOT NULL REFERENCES findings(id) ON DELETE CASCADE,
    field       TEXT NOT NULL,         -- xuncha_domain::Field
    yours_json  TEXT NOT NULL,
    theirs_json TEXT NOT NULL,
    op_id       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (finding_id, field)
) STRICT;

-- The scope re-download generation that last received the row from the server (sync/scope.rs):
-- rows a finished re-download did not see have left this person's scope and are removed.
ALTER TABLE findings ADD COLUMN seen_gen INTEGER NOT NULL DEFAULT 0;
"#,
    ),
];

pub const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_SLICE);

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_validate() {
        super::MIGRATIONS.validate().unwrap();
    }
}
