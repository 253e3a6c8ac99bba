//! Roles and who may see what. The server decides a person's role and team from its own tables; a
//! device's claim is never trusted. The same rule decides what a pull may contain.

use crate::ids::{DistrictId, TeamId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Inspector,
    TeamLeader,
    DistrictOffice,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inspector => "inspector",
            Self::TeamLeader => "team_leader",
            Self::DistrictOffice => "district_office",
            Self::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Inspector, Self::TeamLeader, Self::DistrictOffice, Self::Admin].into_iter().find(|r| r.as_str() == s)
    }
}

pub fn role_zh(s: &str) -> &'static str {
    match s {
        "inspector" => "巡查学员",
        "team_leader" => "组长",
        "district_office" => "区/街道办",
        "admin" => "管理员",
        _ => "未知角色",
    }
}

/// The authenticated person, as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user: UserId,
    pub role: Role,
    pub team: Option<TeamId>,
    pub district: Option<DistrictId>,
}

impl Principal {
    /// May this person see a finding written by `author` in `team`, located in `district`?
    /// Inspector: own and own team's. Leader: the team's. District office: the district's. Admin: all.
    pub fn can_see(&self, author: UserId, team: TeamId, district: Option<DistrictId>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Inspector => author == self.user || self.team == Some(team),
            Role::TeamLeader => self.team == Some(team) || author == self.user,
            Role::DistrictOffice => district.is_some() && self.district == district,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let (me, other) = (UserId::new_v7(), UserId::new_v7());
        let (t1, t2) = (TeamId::new_v7(), TeamId::new_v7());
        let (d1, d2) = (DistrictId::new_v7(), DistrictId::new_v7());
        let inspector = Principal { user: me, role: Role::Inspector, team: Some(t1), district: Some(d1) };
        assert!(inspector.can_see(me, t1, Some(d1)));
        assert!(inspector.can_see(other, t1, Some(d1)));
        assert!(!inspector.can_see(other, t2, Some(d1)), "another team's work is not visible");
        let office = Principal { user: me, role: Role::DistrictOffice, team: None, district: Some(d1) };
        assert!(office.can_see(other, t2, Some(d1)));
        assert!(!office.can_see(other, t2, Some(d2)));
        assert!(!office.can_see(other, t2, None));
    }
}
