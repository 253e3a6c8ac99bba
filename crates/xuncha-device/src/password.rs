//! The offline sign-in verifier: an argon2id hash of the password, made at an online sign-in.
//! The password itself is never stored or logged.

use crate::error::{DeviceError, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub fn make_verifier(password: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| DeviceError::Internal(format!("salt: {e}")))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| DeviceError::Internal(format!("argon2: {e}")))?
        .to_string())
}

/// False for a wrong password and for an unreadable verifier alike.
pub fn check(verifier: &str, password: &str) -> bool {
    PasswordHash::new(verifier).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn verifier_accepts_only_the_password() {
        let v = super::make_verifier("correct horse").unwrap();
        assert!(!v.contains("correct horse"));
        assert!(super::check(&v, "correct horse"));
        assert!(!super::check(&v, "wrong"));
        assert!(!super::check("garbage", "correct horse"));
    }
}
