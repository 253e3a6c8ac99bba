//! Load-test accounts (`xuncha-server seed-fleet`): N teams shaped like real ones — a leader and a few
//! trainees (the brief: teams of three to five) — spread over the sub-districts, all with one password.
//! The simulator and the sync benchmark sign in a thousand devices as a thousand different people with
//! them; the demo world's 48 accounts would put a hundred phones in one team, which no city has.
//!
//! For test servers: the accounts are ordinary inspectors and leaders. Running it again adds only what
//! is missing, so a fleet can be grown.

use crate::admin::{AdminError, MIN_PASSWORD_CHARS};
use crate::apply::Rules;
use crate::auth::hash_password;
use crate::store::{NewUser, ServerStore, Team};
use chrono::Utc;
use xuncha_domain::{Role, TeamId, UserId};

/// Upper bounds, so a typo cannot create millions of accounts.
pub const MAX_TEAMS: usize = 10_000;
pub const MAX_INSPECTORS: usize = 20;

#[derive(Clone)]
pub struct FleetOptions {
    pub teams: usize,
    /// Trainees per team (besides the leader).
    pub inspectors: usize,
    pub password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetSummary {
    pub teams_added: usize,
    pub users_added: usize,
}

/// The name of load-test team `t` (1-based).
pub fn team_name(t: usize) -> String {
    format!("压测{t:04}组")
}

/// The username of member `k` of load-test team `t` (both 1-based; member 0 is the leader).
pub fn username(t: usize, k: usize) -> String {
    if k == 0 {
        format!("fleet{t}-leader")
    } else {
        format!("fleet{t}-{k}")
    }
}

pub async fn seed_fleet(store: &dyn ServerStore, opts: FleetOptions) -> Result<FleetSummary, AdminError> {
    for (what, got, max) in [("--teams", opts.teams, MAX_TEAMS), ("--inspectors", opts.inspectors, MAX_INSPECTORS)] {
        if got == 0 || got > max {
            return Err(AdminError::OutOfRange { what, max, got });
        }
    }
    if opts.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::WeakPassword(MIN_PASSWORD_CHARS));
    }
    // One argon2 hash for every account: they share the password, and hashing thousands would take minutes.
    let password = opts.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AdminError::Hash(e.to_string()))?
        .map_err(|e| AdminError::Hash(e.to_string()))?;
    let subs = Rules::builtin().boundaries.sub_districts;
    let now = Utc::now();
    let mut sum = FleetSummary { teams_added: 0, users_added: 0 };
    for t in 1..=opts.teams {
        let name = team_name(t);
        let team = match store.team_by_name(&name).await? {
            Some(team) => team,
            None => {
                let sub = &subs[(t - 1) % subs.len()];
                let team = Team { id: TeamId::new_v7(), name, district: sub.district, sub_district: Some(sub.id) };
                store.add_team(team.clone()).await?;
                sum.teams_added += 1;
                team
            }
        };
        for k in 0..=opts.inspectors {
            let username = username(t, k);
            if store.credentials(&username).await?.is_some() {
                continue;
            }
            let role = if k == 0 { Role::TeamLeader } else { Role::Inspector };
            let display_name = if k == 0 { format!("{}组长", team.name) } else { format!("{}学员{k}", team.name) };
            let user = NewUser {
                id: UserId::new_v7(),
                username,
                display_name,
                role,
                team: Some(team.id),
                district: None,
                password_hash: password_hash.clone(),
            };
            store.add_user(user, now).await?;
            sum.users_added += 1;
        }
    }
    tracing::info!(teams = sum.teams_added, users = sum.users_added, "fleet seeded");
    Ok(sum)
}
