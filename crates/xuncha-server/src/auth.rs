//! Passwords, bearer tokens, the login throttle and the extractor that turns a token into a principal.
//!
//! Tokens are 256 random bits, base64url; only their SHA-256 is stored. The principal (role, team,
//! district) comes from the tables, never from the device, so nothing a device sends can widen its scope; a
//! role change or a revocation takes effect at once (PostgreSQL keeps sessions per process and is told of
//! every such change: `store/postgres/sessions.rs`).

use crate::error::AppError;
use crate::store::{Session, TokenHash};
use crate::AppState;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A fresh bearer token and its stored hash.
pub fn new_token() -> (String, TokenHash) {
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// An argon2id PHC string with the crate's default parameters and a random salt.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Verifies against a fixed hash, so an unknown username costs as much time as a wrong password.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_password("xuncha-dummy-password").unwrap_or_default());
    let _ = verify_password(password, phc);
}

/// Failed sign-ins per username, in memory: after [`LoginThrottle::MAX_FAILURES`] the name is locked for
/// [`LoginThrottle::LOCKOUT`]. Lost on restart, which is acceptable for slowing down guessing.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<String, Attempts>>,
}

#[derive(Debug, Clone, Copy)]
struct Attempts {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

impl LoginThrottle {
    pub const MAX_FAILURES: u32 = 5;
    pub const LOCKOUT: Duration = Duration::from_secs(30);
    /// Bound on remembered names, so guessing random usernames cannot grow memory without limit.
    const MAX_ENTRIES: usize = 10_000;

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// `Err(seconds)` while the name is locked.
    pub fn check(&self, username: &str, now: Instant) -> Result<(), u64> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&Self::key(username)).and_then(|a| a.locked_until) {
            Some(until) if until > now => Err((until - now).as_secs().max(1)),
            _ => Ok(()),
        }
    }

    pub fn failure(&self, username: &str, now: Instant) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX_ENTRIES {
            map.retain(|_, a| now.duration_since(a.last) < Self::LOCKOUT);
        }
        let a = map.entry(Self::key(username)).or_insert(Attempts { failures: 0, last: now, locked_until: None });
        if a.locked_until.is_some_and(|u| u <= now) {
            // The lockout ran out: start counting again.
            *a = Attempts { failures: 0, last: now, locked_until: None };
        }
        a.failures += 1;
        a.last = now;
        if a.failures >= Self::MAX_FAILURES {
            a.locked_until = Some(now + Self::LOCKOUT);
        }
    }

    pub fn success(&self, username: &str) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(&Self::key(username));
    }
}

/// An authenticated request: the session behind a valid bearer token, and that token's hash (for logout).
#[derive(Debug, Clone)]
pub struct Auth {
    pub session: Session,
    pub token: TokenHash,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or(AppError::Unauthenticated)?;
        let value = header.to_str().map_err(|_| AppError::Unauthenticated)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or(AppError::Unauthenticated)?;
        let hash = token_hash(token);
        let session = state.store.session(hash).await?.ok_or(AppError::Unauthenticated)?;
        Ok(Auth { session, token: hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(token_hash(&a), ha);
        assert!(!format!("{ha:?}").contains(&hex_of(&ha.0)));
    }

    fn hex_of(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("xuncha2026").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("xuncha2026", &h));
        assert!(!verify_password("xuncha2027", &h));
        assert!(!verify_password("xuncha2026", "not a hash"));
    }

    #[test]
    fn five_failures_lock_for_thirty_seconds_and_success_resets() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..4 {
            t.failure("Li", now);
        }
        assert!(t.check("li", now).is_ok());
        t.failure("li", now);
        assert!(t.check("LI", now).is_err());
        assert!(t.check("li", now + LoginThrottle::LOCKOUT + Duration::from_secs(1)).is_ok());
        t.success("li");
        assert!(t.check("li", now).is_ok());
    }
}
