//! What the server needs to start. The binary fills it from flags and `XUNCHA_*` environment variables.
//!
//! The database is a SQLite file (`--db`, the default) unless a PostgreSQL URL is given
//! (`--database-url postgres://…`, env `XUNCHA_DATABASE_URL`). The URL may hold a password, so it is kept in a
//! [`DatabaseUrl`] whose `Debug` and `Display` never show it.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite database file (created and migrated on start). Unused when `database_url` is set.
    pub db: PathBuf,
    /// A PostgreSQL database (migrated on start) instead of the SQLite file.
    pub database_url: Option<DatabaseUrl>,
    /// The directory for photo bytes.
    pub blobs: PathBuf,
}

impl Config {
    pub const DEFAULT_DB: &'static str = "./xuncha-server.sqlite3";
    pub const DEFAULT_BLOBS: &'static str = "./xuncha-blobs";
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8600";

    /// Where the data lives, for messages and logs (never with a password).
    pub fn database_label(&self) -> String {
        match &self.database_url {
            Some(url) => url.to_string(),
            None => self.db.display().to_string(),
        }
    }
}

/// Why a database URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("the database URL must start with postgres:// or postgresql://")]
    Scheme,
}

/// A `postgres://user:password@host:port/db` URL. The password stays inside: `Debug` and `Display` print
/// `postgres://user:***@host:port/db`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<Self, DatabaseUrlError> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self(s.to_string()))
        } else {
            Err(DatabaseUrlError::Scheme)
        }
    }

    /// The full URL, password included: for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else { return "<database url>".into() };
        // The authority ends at the first '/', '?' or '#'; user info is what precedes its last '@'.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                format!("{user}:***@{host}")
            }
            None => authority.to_string(),
        };
        // A password can also come as a query parameter (`?password=…`): drop the whole query then.
        let tail = if tail.to_ascii_lowercase().contains("password") {
            tail.split(['?', '#']).next().unwrap_or_default().to_string() + "?***"
        } else {
            tail.to_string()
        };
        format!("{scheme}://{authority}{tail}")
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        for (url, shown) in [
            ("postgres://xuncha:s3cret@db.local:5432/xuncha", "postgres://xuncha:***@db.local:5432/xuncha"),
            ("postgresql://u:p%40ss@127.0.0.1/x?sslmode=disable", "postgresql://u:***@127.0.0.1/x?sslmode=disable"),
            ("postgres://postgres@127.0.0.1:5432/test", "postgres://postgres:***@127.0.0.1:5432/test"),
            ("postgres://127.0.0.1/x?user=u&password=s3cret", "postgres://127.0.0.1/x?***"),
        ] {
            let u = DatabaseUrl::parse(url).unwrap();
            assert_eq!(u.to_string(), shown);
            let config = Config { db: PathBuf::new(), database_url: Some(u), blobs: PathBuf::new() };
            let debug = format!("{config:?}");
            assert!(!debug.contains("s3cret") && !debug.contains("p%40ss"), "{debug}");
        }
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }
}
