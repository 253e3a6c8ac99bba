//! The demo world (`xuncha-server seed-demo`): the three districts and twelve sub-districts of the demo
//! boundaries, eight teams, their people, and one working day of findings with photos and history.
//!
//! Findings go through [`ServerStore::push`], the same path a phone's upload takes, with the simulated
//! time of each step as "now": the demo data obeys every rule the server enforces and has real history.

use crate::apply::Rules;
use crate::auth::hash_password;
use crate::blobs::{hash_of, BlobStore};
use crate::store::{NewUser, ServerStore, StoreError, Team};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use xuncha_domain::finding::FindingFields;
use xuncha_domain::{
    Action, CategoryCode, DeviceId, FindingId, GeoPoint, OpId, PhotoHash, Position, PositionSource, Principal, Role,
    Severity, SubDistrict, TeamId, UserId,
};
use xuncha_proto::{OpBody, OpOutcome, Operation};

pub const DEMO_PASSWORD: &str = "xuncha2026";
const FINDINGS: usize = 60;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] crate::blobs::BlobError),
    #[error("no demo photos (*.jpg) in {0}: pass --demo-photos DIR")]
    NoPhotos(String),
    #[error("reading demo photos: {0}")]
    Io(#[from] std::io::Error),
    #[error("the demo data broke a rule: {0}")]
    Rejected(String),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// The day the findings are recorded on (China Standard Time).
    pub date: NaiveDate,
    pub demo_photos: std::path::PathBuf,
}

#[derive(Debug, Clone)]
pub struct Login {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub scope: String,
}

#[derive(Debug, Clone)]
pub struct SeedSummary {
    pub districts: usize,
    pub sub_districts: usize,
    pub teams: usize,
    pub users: usize,
    pub findings: usize,
    pub photos: usize,
    /// Photos stored as they were because `xuncha_photo::ingest` refused them.
    pub photos_raw: usize,
    pub status_counts: Vec<(String, usize)>,
    pub logins: Vec<Login>,
}

#[derive(Debug, Clone)]
pub enum SeedOutcome {
    Seeded(SeedSummary),
    /// The database already has users; nothing was changed.
    AlreadySeeded,
}

/// The teams: (sub-district code, name). Eight teams over eight of the twelve sub-districts.
const TEAMS: [(&str, &str); 8] = [
    ("hubin", "上城区湖滨一组"),
    ("qingbo", "上城区清波一组"),
    ("xiaoying", "上城区小营一组"),
    ("mishixiang", "拱墅区米市巷一组"),
    ("hushu", "拱墅区湖墅一组"),
    ("xiaohe", "拱墅区小河一组"),
    ("beishan", "西湖区北山一组"),
    ("xixi", "西湖区西溪一组"),
];

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗",
    "高",
];
const GIVEN: [&str; 24] = [
    "子涵", "浩然", "雨桐", "思远", "欣怡", "俊杰", "梓萱", "宇轩", "诗涵", "明哲", "佳怡", "文博", "静怡", "志强",
    "晓彤", "嘉懿", "一鸣", "若曦", "天佑", "可馨", "泽宇", "安琪", "家豪", "书瑶",
];

const ROADS: [&str; 16] = [
    "延安路",
    "庆春路",
    "解放路",
    "中山中路",
    "平海路",
    "南山路",
    "清泰街",
    "建国北路",
    "体育场路",
    "莫干山路",
    "湖墅南路",
    "大关路",
    "文三路",
    "教工路",
    "天目山路",
    "学院路",
];

fn description(sub: &str) -> &'static str {
    match sub {
        "blocked_fire_lane" => "小区消防通道被私家车和三轮车堵塞，消防车无法通行",
        "expired_extinguisher" => "楼道灭火器压力表指针在红区，检验日期已过期",
        "ebike_charging_indoor" => "居民在一楼楼道内为电动自行车充电，电线从窗户拉出",
        "hydrant_damaged" => "路边室外消火栓被杂物遮挡，阀门锈蚀",
        "exit_sign_broken" => "商场安全出口指示灯不亮，应急照明损坏",
        "flying_wires" => "沿街店铺私拉电线横跨人行道",
        "sewage_discharge" => "餐馆后门污水直接排入雨水井",
        "open_burning" => "绿化带内有人焚烧落叶和垃圾",
        "construction_dust" => "工地出入口未冲洗车辆，道路扬尘明显",
        "noise" => "夜间施工噪声扰民，居民多次反映",
        "oil_fume" => "餐饮店油烟净化器未开启，油烟直排",
        "overflowing_bin" => "垃圾投放点垃圾桶满溢，周边散落垃圾",
        "piled_goods" => "楼道和院内堆放大量纸箱和旧家具",
        "exposed_garbage" => "背街小巷墙角有暴露垃圾，气味明显",
        "illegal_ads" => "电线杆和墙面张贴大量小广告",
        "damaged_facility" => "公共座椅破损，护栏松动",
        "waste_not_sorted" => "垃圾分类桶内混投严重，未按要求分类",
        "illegal_parking" => "机动车违规停放在人行道上，行人被迫走机动车道",
        "street_vending" => "流动摊贩占用人行道经营",
        "shared_bikes_disorder" => "地铁口共享单车乱停放，堵塞盲道",
        "road_damage" => "人行道地砖破损翘起，存在绊倒隐患",
        "manhole_missing" => "非机动车道井盖破损下陷",
        "gas_cylinder" => "沿街饭店液化气钢瓶存放在店门口，无防护",
        "hazardous_chemicals" => "五金店内违规存放油漆稀释剂等危化品",
        "no_safety_guard" => "外墙施工脚手架无防护网，下方为人行道",
        "dilapidated_building" => "老旧房屋外墙空鼓，有瓷砖坠落隐患",
        "unlicensed_operation" => "无证废品收购点占用居民楼架空层",
        _ => "现场发现问题，详见照片",
    }
}

/// Where each finding ends up; the index cycles through this so every team gets a mix. Mostly resolved
/// on the spot, a few transferred, as in the published figures.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Recorded,
    Submitted,
    Returned,
    Approved,
    ResolvedOnSpot,
    Transferred,
    InHandling,
    Handled,
    Closed,
    Invalid,
    Duplicate,
}

const FATES: [Fate; 20] = [
    Fate::Recorded,
    Fate::Submitted,
    Fate::Submitted,
    Fate::Submitted,
    Fate::Returned,
    Fate::Approved,
    Fate::Approved,
    Fate::Approved,
    Fate::ResolvedOnSpot,
    Fate::ResolvedOnSpot,
    Fate::ResolvedOnSpot,
    Fate::ResolvedOnSpot,
    Fate::ResolvedOnSpot,
    Fate::Transferred,
    Fate::Transferred,
    Fate::InHandling,
    Fate::Handled,
    Fate::Closed,
    Fate::Invalid,
    Fate::Duplicate,
];

const DEPARTMENTS: [&str; 4] = ["区城管局", "区消防救援大队", "街道办事处", "区住建局"];

/// A user who pushes from a simulated phone.
struct Actor {
    principal: Principal,
    device: DeviceId,
    seq: u64,
}

struct Pusher<'a> {
    store: &'a dyn ServerStore,
    actors: HashMap<UserId, Actor>,
    versions: HashMap<FindingId, u64>,
}

impl Pusher<'_> {
    async fn push(
        &mut self,
        user: UserId,
        finding: FindingId,
        body: OpBody,
        at: DateTime<Utc>,
    ) -> Result<(), SeedError> {
        let actor = self.actors.get_mut(&user).ok_or_else(|| SeedError::Other(format!("no actor {user}")))?;
        actor.seq += 1;
        let op = Operation { op_id: OpId::new_v7(), device_seq: actor.seq, finding_id: finding, body };
        let results = self.store.push(&actor.principal, actor.device, vec![op], at).await?;
        match &results[0].outcome {
            OpOutcome::Applied { version, .. } => {
                self.versions.insert(finding, *version);
                Ok(())
            }
            OpOutcome::Rejected { error } => Err(SeedError::Rejected(format!("{}: {}", error.code, error.en))),
        }
    }

    async fn act(
        &mut self,
        user: UserId,
        finding: FindingId,
        action: Action,
        at: DateTime<Utc>,
    ) -> Result<(), SeedError> {
        let base_version = self.versions.get(&finding).copied().unwrap_or(0);
        self.push(user, finding, OpBody::ChangeStatus { base_version, action }, at).await
    }
}

struct Names {
    used: HashSet<String>,
    i: usize,
}

impl Names {
    fn next(&mut self) -> String {
        loop {
            let n = format!(
                "{}{}",
                SURNAMES[self.i % SURNAMES.len()],
                GIVEN[(self.i * 7 + self.i / SURNAMES.len()) % GIVEN.len()]
            );
            self.i += 1;
            if self.used.insert(n.clone()) {
                return n;
            }
        }
    }
}

fn random_point_in(rng: &mut StdRng, rules: &Rules, sub: &SubDistrict) -> GeoPoint {
    use geo_bbox::bbox;
    let (min_lon, min_lat, max_lon, max_lat) = bbox(sub);
    loop {
        // Keep away from the edges: a point on a border may be located in the neighbour.
        let lat = min_lat + (max_lat - min_lat) * rng.random_range(0.1..0.9);
        let lon = min_lon + (max_lon - min_lon) * rng.random_range(0.1..0.9);
        if let Ok(p) = GeoPoint::new((lat * 1e6).round() / 1e6, (lon * 1e6).round() / 1e6) {
            if rules.boundaries.locate(&p).is_some_and(|s| s.id == sub.id) {
                return p;
            }
        }
    }
}

mod geo_bbox {
    use xuncha_domain::SubDistrict;

    /// (min lon, min lat, max lon, max lat) of a sub-district's outer ring.
    pub fn bbox(sub: &SubDistrict) -> (f64, f64, f64, f64) {
        let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for c in sub.polygon.exterior().coords() {
            b = (b.0.min(c.x), b.1.min(c.y), b.2.max(c.x), b.3.max(c.y));
        }
        b
    }
}

/// Reads, normalises and stores the demo photos; returns their hashes.
async fn load_photos(blobs: &dyn BlobStore, dir: &Path) -> Result<(Vec<(PhotoHash, u64)>, usize), SeedError> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|_| SeedError::NoPhotos(dir.display().to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("jpg") || x.eq_ignore_ascii_case("jpeg")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(SeedError::NoPhotos(dir.display().to_string()));
    }
    let mut hashes = Vec::new();
    let mut raw = 0;
    for f in files {
        let bytes = std::fs::read(&f)?;
        // The same normalisation a phone applies before upload (upright, stripped, ≤2048 px); if the
        // ingest refuses a file, the demo still works with the file as it is.
        let (hash, stored) =
            match tokio::task::spawn_blocking(move || xuncha_photo::ingest(&bytes).map_err(|e| (e, bytes)))
                .await
                .map_err(|e| SeedError::Other(e.to_string()))?
            {
                Ok(p) => (p.hash, p.stored),
                Err((e, bytes)) => {
                    tracing::warn!(file = %f.display(), error = %e, "photo ingest failed; storing the file as it is");
                    raw += 1;
                    (hash_of(&bytes), bytes)
                }
            };
        debug_assert_eq!(hash_of(&stored), hash);
        let size = stored.len() as u64;
        blobs.put(hash, stored).await?;
        hashes.push((hash, size));
    }
    Ok((hashes, raw))
}

pub async fn seed_demo(
    store: &dyn ServerStore,
    blobs: &dyn BlobStore,
    opts: &SeedOptions,
) -> Result<SeedOutcome, SeedError> {
    if store.user_count().await? > 0 {
        return Ok(SeedOutcome::AlreadySeeded);
    }
    let rules = Rules::builtin();
    let now = Utc::now();
    // A fixed seed: the same date gives the same demo day.
    let mut rng = StdRng::seed_from_u64(
        opts.date.to_string().bytes().fold(0xC0FFEE, |a: u64, b| a.wrapping_mul(31).wrapping_add(u64::from(b))),
    );
    let (photos, photos_raw) = load_photos(blobs, &opts.demo_photos).await?;

    // Districts and sub-districts are already in the tables: the store mirrors the boundaries on open.

    // Every demo account has the same password, so one argon2 hash serves them all (hashing 52 times
    // would take minutes in a debug build and protect nothing: the password is published).
    let password_hash = tokio::task::spawn_blocking(|| hash_password(DEMO_PASSWORD))
        .await
        .map_err(|e| SeedError::Other(e.to_string()))?
        .map_err(|e| SeedError::Other(e.to_string()))?;
    let mut names = Names { used: HashSet::new(), i: 0 };
    let mut logins = Vec::new();
    let mut add =
        |username: String, display_name: String, role: Role, team: Option<TeamId>, district, scope: String| {
            logins.push(Login { username: username.clone(), display_name: display_name.clone(), role, scope });
            NewUser {
                id: UserId::new_v7(),
                username,
                display_name,
                role,
                team,
                district,
                password_hash: password_hash.clone(),
            }
        };
    let mut new_users = vec![add("admin".into(), "系统管理员".into(), Role::Admin, None, None, "全部 / all".into())];
    for d in &rules.boundaries.districts {
        let name = names.next();
        new_users.push(add(format!("office-{}", d.code), name, Role::DistrictOffice, None, Some(d.id), d.zh.clone()));
    }

    struct TeamPlan {
        team: Team,
        sub: SubDistrict,
        leader: UserId,
        inspectors: Vec<UserId>,
    }
    let mut plans = Vec::new();
    for (n, (code, team_name)) in TEAMS.iter().enumerate() {
        let n = n + 1;
        let sub = rules
            .boundaries
            .sub_districts
            .iter()
            .find(|s| s.code == *code)
            .ok_or_else(|| SeedError::Other(format!("sub-district {code} is not in the demo boundaries")))?
            .clone();
        let team = Team {
            id: TeamId::new_v7(),
            name: (*team_name).into(),
            district: sub.district,
            sub_district: Some(sub.id),
        };
        store.add_team(team.clone()).await?;
        let leader = add(format!("leader{n}"), names.next(), Role::TeamLeader, Some(team.id), None, team.name.clone());
        let mut inspectors = Vec::new();
        let leader_id = leader.id;
        new_users.push(leader);
        for k in 1..=5 {
            let u =
                add(format!("inspector{n}-{k}"), names.next(), Role::Inspector, Some(team.id), None, team.name.clone());
            inspectors.push(u.id);
            new_users.push(u);
        }
        plans.push(TeamPlan { team, sub, leader: leader_id, inspectors });
    }
    let user_total = new_users.len();
    let office_of: HashMap<_, _> = new_users
        .iter()
        .filter(|u| u.role == Role::DistrictOffice)
        .filter_map(|u| u.district.map(|d| (d, u.id)))
        .collect();
    let mut pusher = Pusher { store, actors: HashMap::new(), versions: HashMap::new() };
    for u in new_users {
        let id = u.id;
        store.add_user(u, now).await?;
        let principal = store.principal_of(id).await?.ok_or_else(|| SeedError::Other(format!("user {id} vanished")))?;
        pusher.actors.insert(id, Actor { principal, device: DeviceId::new_v7(), seq: 0 });
    }

    // ---- one working day ----
    let cst = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    let at = |h: u32, m: u32| -> DateTime<FixedOffset> {
        let naive = opts.date.and_hms_opt(h, m, 0).expect("valid time of day");
        cst.from_local_datetime(&naive).single().expect("a fixed offset has no gaps")
    };
    let mut status_counts: HashMap<&'static str, usize> = HashMap::new();
    let mut per_team_created: HashMap<TeamId, Vec<FindingId>> = HashMap::new();
    for i in 0..FINDINGS {
        let plan = &plans[i % plans.len()];
        let author = plan.inspectors[rng.random_range(0..plan.inspectors.len())];
        let category = &rules.taxonomy.categories[rng.random_range(0..rules.taxonomy.categories.len())];
        let sub = &category.subcategories[rng.random_range(0..category.subcategories.len())];
        let point = random_point_in(&mut rng, &rules, &plan.sub);
        let observed = at(8, 30) + Duration::minutes(rng.random_range(0..(8 * 60)));
        let n_photos = if rng.random_bool(0.4) { 2 } else { 1 };
        let first = rng.random_range(0..photos.len());
        let chosen: Vec<(PhotoHash, u64)> =
            (0..n_photos.min(photos.len())).map(|k| photos[(first + k) % photos.len()]).collect();
        let finding_photos: Vec<PhotoHash> = chosen.iter().map(|(h, _)| *h).collect();
        let road = ROADS[rng.random_range(0..ROADS.len())];
        let road2 = ROADS[rng.random_range(0..ROADS.len())];
        let address = format!(
            "{road}与{road2}交叉口向{}{}米路{}",
            ["东", "南", "西", "北"][rng.random_range(0..4)],
            rng.random_range(2..30) * 10,
            ["南", "北", "东", "西"][rng.random_range(0..4)]
        );
        let severity = match category.code.as_str() {
            "fire_safety" | "production_safety" if rng.random_bool(0.5) => Severity::High,
            _ if rng.random_bool(0.2) => Severity::Low,
            _ => Severity::Normal,
        };
        let fields = FindingFields {
            category: category.code.clone(),
            subcategory: CategoryCode::try_from(sub.code.as_str()).map_err(|e| SeedError::Other(e.to_string()))?,
            description: description(sub.code.as_str())
                .to_string()
                .try_into()
                .map_err(|e: xuncha_domain::DomainError| SeedError::Other(e.to_string()))?,
            address,
            severity,
            position: Some(Position {
                point,
                accuracy_m: Some(
                    f64::from(rng.random_range(4u32..25))
                        .try_into()
                        .map_err(|e: xuncha_domain::DomainError| SeedError::Other(e.to_string()))?,
                ),
                source: PositionSource::DeviceGps,
            }),
            photos: finding_photos.clone(),
            observed_at: observed,
        };
        for (hash, size) in &chosen {
            let principal = &pusher.actors[&author].principal;
            store.record_photo_upload(principal, *hash, *size, observed.with_timezone(&Utc)).await?;
        }
        let id = FindingId::new_v7();
        let mut t = observed.with_timezone(&Utc) + Duration::minutes(rng.random_range(1..20));
        pusher.push(author, id, OpBody::Create { fields }, t).await?;

        let mut fate = FATES[(i * 7) % FATES.len()];
        let earlier = per_team_created.entry(plan.team.id).or_default();
        let duplicate_of = earlier.first().copied();
        if fate == Fate::Duplicate && duplicate_of.is_none() {
            fate = Fate::Invalid;
        }
        earlier.push(id);
        let leader = plan.leader;
        let office = office_of[&plan.team.district];
        // Evening: the day's log is submitted, then the leader reviews it.
        let step = |rng: &mut StdRng, from: DateTime<Utc>, lo: i64, hi: i64| {
            from + Duration::minutes(rng.random_range(lo..hi))
        };
        if fate != Fate::Recorded {
            t = t.max(at(17, 30).with_timezone(&Utc));
            t = step(&mut rng, t, 1, 30);
            pusher.act(author, id, Action::Submit, t).await?;
        }
        let dept = DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())];
        t = step(&mut rng, t.max(at(19, 0).with_timezone(&Utc)), 5, 90);
        match fate {
            Fate::Returned => {
                pusher
                    .act(
                        leader,
                        id,
                        Action::Return {
                            reason: "照片看不清问题位置，请补拍一张带参照物的全景照片".into()
                        },
                        t,
                    )
                    .await?
            }
            Fate::Invalid => {
                pusher
                    .act(leader, id, Action::MarkInvalid { reason: "不属于巡查范围（私人住宅内部）".into() }, t)
                    .await?
            }
            Fate::Duplicate => {
                let of = duplicate_of.expect("checked above");
                pusher.act(leader, id, Action::MarkDuplicate { of }, t).await?
            }
            Fate::Recorded | Fate::Submitted => {}
            _ => pusher.act(leader, id, Action::Approve, t).await?,
        }
        if matches!(fate, Fate::ResolvedOnSpot) {
            t = step(&mut rng, t, 1, 10);
            pusher.act(leader, id, Action::ResolveOnSpot { note: "已联系物业现场整改完毕".into() }, t).await?;
        }
        if matches!(fate, Fate::Transferred | Fate::InHandling | Fate::Handled | Fate::Closed) {
            t = step(&mut rng, t, 1, 10);
            pusher.act(leader, id, Action::Transfer { department: dept.into() }, t).await?;
        }
        if matches!(fate, Fate::InHandling | Fate::Handled | Fate::Closed) {
            t = step(&mut rng, t, 20, 60);
            pusher.act(office, id, Action::StartHandling, t).await?;
        }
        if matches!(fate, Fate::Handled | Fate::Closed) {
            t = step(&mut rng, t, 30, 120);
            pusher.act(office, id, Action::MarkHandled { note: "已责令整改，现场已清理".into() }, t).await?;
        }
        if matches!(fate, Fate::Closed) {
            t = step(&mut rng, t, 10, 60);
            pusher.act(office, id, Action::Verify, t).await?;
        }
        *status_counts.entry(fate_status(fate)).or_default() += 1;
    }

    let mut status_counts: Vec<(String, usize)> = status_counts.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    status_counts.sort();
    Ok(SeedOutcome::Seeded(SeedSummary {
        districts: rules.boundaries.districts.len(),
        sub_districts: rules.boundaries.sub_districts.len(),
        teams: plans.len(),
        users: user_total,
        findings: FINDINGS,
        photos: photos.len(),
        photos_raw,
        status_counts,
        logins,
    }))
}

fn fate_status(f: Fate) -> &'static str {
    match f {
        Fate::Recorded => "recorded",
        Fate::Submitted => "submitted",
        Fate::Returned => "returned",
        Fate::Approved => "approved",
        Fate::ResolvedOnSpot => "resolved_on_spot",
        Fate::Transferred => "transferred",
        Fate::InHandling => "in_handling",
        Fate::Handled => "handled",
        Fate::Closed => "closed",
        Fate::Invalid => "invalid",
        Fate::Duplicate => "duplicate",
    }
}
