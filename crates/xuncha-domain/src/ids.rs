//! Identifiers. Entity ids are UUIDv7 (time-ordered, made on the device, no coordination);
//! photos are addressed by the SHA-256 of their stored bytes.

use crate::message::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id. The caller supplies the randomness source through `Uuid::now_v7`,
            /// which reads the clock: call it at the edges (device engine, server), not in pure logic.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| DomainError::InvalidId(s.chars().take(64).collect()))
            }
        }
    };
}

uuid_id!(
    /// One finding (问题/隐患).
    FindingId
);
uuid_id!(
    /// A person with an account.
    UserId
);
uuid_id!(
    /// An inspection team (3–5 trainees and a leader).
    TeamId
);
uuid_id!(
    /// A district (区).
    DistrictId
);
uuid_id!(
    /// A sub-district (街道).
    SubDistrictId
);
uuid_id!(
    /// One installed copy of the app.
    DeviceId
);
uuid_id!(
    /// One operation in a device's outbox; the server deduplicates on it.
    OpId
);

/// SHA-256 of a stored photo's bytes; written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhotoHash([u8; 32]);

impl PhotoHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for PhotoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhotoHash({})", self.to_hex())
    }
}

impl fmt::Display for PhotoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for PhotoHash {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Lowercase only, so one photo has exactly one name (file names, URLs, primary keys).
        let valid = s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(DomainError::InvalidPhotoHash);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| DomainError::InvalidPhotoHash)?;
        Ok(Self(out))
    }
}

impl TryFrom<String> for PhotoHash {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PhotoHash> for String {
    fn from(h: PhotoHash) -> String {
        h.to_hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_hash_round_trips_and_rejects_uppercase_and_short() {
        let h = PhotoHash::from_bytes([0xab; 32]);
        assert_eq!(h.to_hex().parse::<PhotoHash>().unwrap(), h);
        assert!(h.to_hex().to_uppercase().parse::<PhotoHash>().is_err());
        assert!("abc".parse::<PhotoHash>().is_err());
        assert!("../../etc/passwd".parse::<PhotoHash>().is_err());
    }

    #[test]
    fn ids_are_v7_and_parse() {
        let id = FindingId::new_v7();
        assert_eq!(id.0.get_version_num(), 7);
        assert_eq!(id.to_string().parse::<FindingId>().unwrap(), id);
        assert!("not-a-uuid".parse::<FindingId>().is_err());
    }
}
