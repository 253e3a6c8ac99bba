//! Account commands for the administrator (`xuncha-server add-user`, `set-user`, `revoke-tokens`; load-test
//! accounts: `fleet.rs`).

use crate::auth::hash_password;
use crate::store::{NewUser, ServerStore, StoreError};
use chrono::Utc;
use xuncha_domain::{DistrictId, Role, TeamId, UserId};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    #[error("username {0:?} is not valid: use 2–64 characters a–z, 0–9, '.', '_' or '-'")]
    BadUsername(String),
    #[error("the password must have at least {0} characters")]
    WeakPassword(usize),
    #[error("role {role} needs {needs}")]
    MissingScope { role: &'static str, needs: &'static str },
    #[error("no team named {0:?}")]
    UnknownTeam(String),
    #[error("no district with code {0:?}")]
    UnknownDistrict(String),
    #[error("no user named {0:?}")]
    UnknownUser(String),
    #[error("{what} must be between 1 and {max} (got {got})")]
    OutOfRange { what: &'static str, max: usize, got: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Hash(String),
}

pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Clone)]
pub struct AddUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Team name, for inspectors and team leaders.
    pub team: Option<String>,
    /// District code (e.g. `shangcheng`), for district offices.
    pub district: Option<String>,
    pub password: String,
}

pub fn valid_username(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

pub async fn add_user(store: &dyn ServerStore, u: AddUser) -> Result<UserId, AdminError> {
    if !valid_username(&u.username) {
        return Err(AdminError::BadUsername(u.username));
    }
    if u.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::WeakPassword(MIN_PASSWORD_CHARS));
    }
    let (team, district) = resolve_scope(store, u.role, u.team, u.district).await?;
    let password = u.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AdminError::Hash(e.to_string()))?
        .map_err(|e| AdminError::Hash(e.to_string()))?;
    let id = UserId::new_v7();
    let display_name = if u.display_name.trim().is_empty() { u.username.clone() } else { u.display_name };
    store
        .add_user(
            NewUser { id, username: u.username, display_name, role: u.role, team, district, password_hash },
            Utc::now(),
        )
        .await?;
    Ok(id)
}

/// The team (inspectors, leaders) or district (district offices) a role needs, looked up by name/code.
async fn resolve_scope(
    store: &dyn ServerStore,
    role: Role,
    team: Option<String>,
    district: Option<String>,
) -> Result<(Option<TeamId>, Option<DistrictId>), AdminError> {
    Ok(match role {
        Role::Inspector | Role::TeamLeader => {
            let name = team.ok_or(AdminError::MissingScope { role: role.as_str(), needs: "--team" })?;
            let team = store.team_by_name(&name).await?.ok_or(AdminError::UnknownTeam(name))?;
            (Some(team.id), None)
        }
        Role::DistrictOffice => {
            let code = district.ok_or(AdminError::MissingScope { role: role.as_str(), needs: "--district" })?;
            let d = store.district_by_code(&code).await?.ok_or(AdminError::UnknownDistrict(code))?;
            (None, Some(d))
        }
        Role::Admin => (None, None),
    })
}

/// Moves a user to another role and team or district (a trainee changes teams, an inspector becomes a
/// leader). Their devices notice at the next pull (the scope key changes) and download their new scope,
/// removing what they may no longer hold; their tokens stay valid.
pub async fn set_user(
    store: &dyn ServerStore,
    username: &str,
    role: Role,
    team: Option<String>,
    district: Option<String>,
) -> Result<UserId, AdminError> {
    let (team, district) = resolve_scope(store, role, team, district).await?;
    store.set_user_scope(username, role, team, district).await?.ok_or_else(|| AdminError::UnknownUser(username.into()))
}

/// Revokes every token of a user (a lost phone); returns how many were active.
pub async fn revoke_tokens(store: &dyn ServerStore, username: &str) -> Result<usize, AdminError> {
    store.revoke_user_tokens(username, Utc::now()).await?.ok_or_else(|| AdminError::UnknownUser(username.into()))
}
