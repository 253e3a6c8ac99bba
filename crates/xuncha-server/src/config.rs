//! What the server needs to start. The binary fills it from flags and `XUNCHA_*` environment variables.
//!
//! The database is a SQLite file (`--db`, the default) unless a PostgreSQL URL is given
//! (`--database-url postgres://…`, env `XUNCHA_DATABASE_URL`). The URL may hold a password, so it is kept in a
//! [`DatabaseUrl`] whose `Debug` and `Display` never show it.
//!
//! Photos are files under `--blobs DIR` unless an S3-compatible bucket is given (`--s3 s3://BUCKET/PREFIX?
//! endpoint=…&region=…`, env `XUNCHA_S3`, parsed into an [`S3Location`]); `DIR` then holds only unfinished
//! uploads. The S3 keys come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, never from the URL, so the
//! location can be logged as it is.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite database file (created and migrated on start). Unused when `database_url` is set.
    pub db: PathBuf,
    /// A PostgreSQL database (migrated on start) instead of the SQLite file.
    pub database_url: Option<DatabaseUrl>,
    /// The directory for photo bytes (with `s3`: for unfinished uploads only).
    pub blobs: PathBuf,
    /// Photos in an S3-compatible bucket instead of `blobs`.
    pub s3: Option<S3Location>,
    /// How long a request body may send nothing before the server gives up on it: a phone that lost its
    /// network mid-upload usually just goes silent, and until the server notices, that upload's partial
    /// stays locked (its next attempt answers 409). What arrived is kept.
    pub body_idle_timeout: Duration,
}

impl Config {
    pub const DEFAULT_DB: &'static str = "./xuncha-server.sqlite3";
    pub const DEFAULT_BLOBS: &'static str = "./xuncha-blobs";
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8600";
    /// Long enough for a weak link's pauses (2G sends something every few seconds), short enough that a
    /// phone coming back finds its upload free by its next sync.
    pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

    /// Where the data lives, for messages and logs (never with a password).
    pub fn database_label(&self) -> String {
        match &self.database_url {
            Some(url) => url.to_string(),
            None => self.db.display().to_string(),
        }
    }

    /// Where the photos live, for messages and logs.
    pub fn blobs_label(&self) -> String {
        match &self.s3 {
            Some(s3) => s3.to_string(),
            None => self.blobs.display().to_string(),
        }
    }
}

/// Why an S3 location was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum S3LocationError {
    #[error("the S3 location must look like s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=REGION")]
    Scheme,
    #[error("the S3 bucket name {0:?} is not valid (3-63 of a-z, 0-9, '.', '-')")]
    Bucket(String),
    #[error("the S3 key prefix {0:?} may hold only A-Z a-z 0-9 ! - _ . * ' ( ) and '/' between parts")]
    Prefix(String),
    #[error("unknown S3 location parameter {0:?} (known: endpoint, region)")]
    Parameter(String),
    #[error("the S3 endpoint must be http:// or https://HOST[:PORT] without user or path; credentials go in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")]
    Endpoint,
}

/// Where photos live in an S3-compatible store: `s3://BUCKET/PREFIX?endpoint=URL&region=REGION`.
/// Without `endpoint` it is AWS itself (`https://s3.REGION.amazonaws.com`); `region` defaults to `us-east-1`
/// (what most self-hosted servers expect). Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Empty, or ending with `/`: object keys are `{prefix}photos/ab/<hash>.jpg`.
    pub prefix: String,
    pub endpoint: Option<String>,
    pub region: String,
}

impl S3Location {
    pub const DEFAULT_REGION: &'static str = "us-east-1";

    pub fn parse(s: &str) -> Result<Self, S3LocationError> {
        let rest = s.trim().strip_prefix("s3://").ok_or(S3LocationError::Scheme)?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-']);
        if !bucket_ok {
            return Err(S3LocationError::Bucket(bucket.to_string()));
        }
        // S3's "safe characters" only, so a key never needs escaping (and never differs between clients).
        let prefix = prefix.trim_matches('/');
        let safe = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c);
        if !prefix.is_empty()
            && !prefix.split('/').all(|part| !part.is_empty() && part != "." && part != ".." && part.chars().all(safe))
        {
            return Err(S3LocationError::Prefix(prefix.to_string()));
        }
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        let (mut endpoint, mut region) = (None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v);
            match k {
                "endpoint" => endpoint = Some(v),
                "region" => region = Some(v),
                _ => return Err(S3LocationError::Parameter(k.to_string())),
            }
        }
        if let Some(e) = &endpoint {
            let authority = e.strip_prefix("http://").or_else(|| e.strip_prefix("https://"));
            let authority = authority.map(|a| a.trim_end_matches('/'));
            if authority.is_none_or(|a| a.is_empty() || a.contains(['@', '/', '?', '#'])) {
                return Err(S3LocationError::Endpoint);
            }
            endpoint = Some(e.trim_end_matches('/').to_string());
        }
        let region = region.filter(|r| !r.is_empty()).unwrap_or_else(|| Self::DEFAULT_REGION.to_string());
        Ok(Self { bucket: bucket.to_string(), prefix, endpoint, region })
    }
}

/// `%XX` → byte (an endpoint URL in a query may come escaped); anything malformed stays as it is.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl std::str::FromStr for S3Location {
    type Err = S3LocationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}?", self.bucket, self.prefix)?;
        if let Some(e) = &self.endpoint {
            write!(f, "endpoint={e}&")?;
        }
        write!(f, "region={}", self.region)
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
            let config = Config {
                db: PathBuf::new(),
                database_url: Some(u),
                blobs: PathBuf::new(),
                s3: None,
                body_idle_timeout: Config::DEFAULT_BODY_IDLE_TIMEOUT,
            };
            let debug = format!("{config:?}");
            assert!(!debug.contains("s3cret") && !debug.contains("p%40ss"), "{debug}");
        }
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn s3_locations_parse_and_print_without_secrets() {
        let l =
            S3Location::parse("s3://xuncha-photos/prod/v1/?endpoint=http://127.0.0.1:9000/&region=cn-east-1").unwrap();
        assert_eq!(l.bucket, "xuncha-photos");
        assert_eq!(l.prefix, "prod/v1/");
        assert_eq!(l.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(l.region, "cn-east-1");
        assert_eq!(l.to_string(), "s3://xuncha-photos/prod/v1/?endpoint=http://127.0.0.1:9000&region=cn-east-1");
        assert_eq!(S3Location::parse(&l.to_string()).unwrap(), l, "Display round-trips");

        let aws = S3Location::parse("s3://bucket").unwrap();
        assert_eq!((aws.prefix.as_str(), aws.endpoint, aws.region.as_str()), ("", None, "us-east-1"));
        let escaped = S3Location::parse("s3://bucket/p?endpoint=http%3A%2F%2Fminio%3A9000").unwrap();
        assert_eq!(escaped.endpoint.as_deref(), Some("http://minio:9000"));

        assert_eq!(S3Location::parse("/var/photos"), Err(S3LocationError::Scheme));
        assert!(matches!(S3Location::parse("s3://Bad_Bucket/x"), Err(S3LocationError::Bucket(_))));
        assert!(matches!(S3Location::parse("s3://bucket/a//b"), Err(S3LocationError::Prefix(_))));
        assert!(matches!(S3Location::parse("s3://bucket/a b"), Err(S3LocationError::Prefix(_))));
        assert!(matches!(S3Location::parse("s3://bucket/a/../b"), Err(S3LocationError::Prefix(_))));
        assert!(matches!(S3Location::parse("s3://bucket?secret=x"), Err(S3LocationError::Parameter(_))));
        assert_eq!(
            S3Location::parse("s3://bucket?endpoint=http://key:secret@minio:9000"),
            Err(S3LocationError::Endpoint),
            "no credentials in the URL"
        );
        assert_eq!(S3Location::parse("s3://bucket?endpoint=ftp://minio"), Err(S3LocationError::Endpoint));
    }
}
