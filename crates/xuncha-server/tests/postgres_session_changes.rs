//! Each server process on PostgreSQL keeps the sessions it has read (`store/postgres/sessions.rs`). Here two
//! server processes share one database: a sign-out, a revocation or a move made through one (or through
//! the admin command, a third process) must take effect on the other as soon as PostgreSQL's notification
//! arrives, not when the kept session would have expired (10 min); and a change made while a server cannot
//! hear notifications must not be missed either.

mod common;
mod pgtest;

use common::{login, Client, Server, BIN};
use pgtest::TestDb;
use reqwest::StatusCode;
use std::process::Command;
use std::time::{Duration, Instant};
use xuncha_domain::Role;
use xuncha_proto::{paths, UserProfile};

/// Far below the kept sessions' 10 min: a change that is only noticed when they expire fails.
const WITHIN: Duration = Duration::from_secs(3);

/// `GET /me` with `c`'s token on `server` (not necessarily the one `c` signed in on).
async fn me(server: &Server, c: &Client) -> reqwest::Response {
    c.http.get(format!("{}{}", server.url, paths::ME)).bearer_auth(&c.token).send().await.unwrap()
}

/// Asks `server` until `done` holds for its answer; returns how long that took. Panics after [`WITHIN`].
async fn until(server: &Server, c: &Client, what: &str, done: impl AsyncFn(reqwest::Response) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if done(me(server, c).await).await {
            let took = start.elapsed();
            println!("{what}: seen on the other server after {} ms", took.as_millis());
            return took;
        }
        assert!(start.elapsed() < WITHIN, "{what}: still not seen on the other server after {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn is_401(r: reqwest::Response) -> bool {
    r.status() == StatusCode::UNAUTHORIZED
}

/// A fresh test database seeded with the demo world, its URL, and a first server process on it.
async fn seeded() -> (TestDb, String, Server) {
    let db = TestDb::create().await;
    let url = db.url.expose().to_string();
    let a = Server::seeded_on_postgres(&url, "a.log");
    (db, url, a)
}

/// Signs `user` in on `a` and has `b` read (and keep) the session twice.
async fn signed_in_and_kept(a: &Server, b: &Server, user: &str) -> Client {
    let c = login(a, user).await;
    for _ in 0..2 {
        assert_eq!(me(b, &c).await.status(), StatusCode::OK);
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_a_revocation_or_a_move_on_one_server_holds_on_the_other_at_once() {
    let (db, url, a) = seeded().await;
    let b = Server::on_postgres(&url, "b.log");
    let admin = |args: &[&str]| {
        let out =
            Command::new(BIN).args(args).arg("--database-url").arg(&url).env("XUNCHA_LOG", "warn").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };

    // A sign-out through server A.
    let c = signed_in_and_kept(&a, &b, "inspector1-1").await;
    let r = c.http.post(format!("{}{}", a.url, paths::LOGOUT)).bearer_auth(&c.token).send().await.unwrap();
    assert!(r.status().is_success(), "logout: {}", r.status());
    until(&b, &c, "sign-out", is_401).await;

    // A lost phone: every sign-in of a user revoked by the admin command, a process of its own.
    let c = signed_in_and_kept(&a, &b, "inspector1-2").await;
    admin(&["revoke-tokens", "--user", "inspector1-2"]);
    until(&b, &c, "revoke-tokens", is_401).await;

    // A trainee made team leader: the other server answers with the new role.
    let c = signed_in_and_kept(&a, &b, "inspector1-3").await;
    admin(&["set-user", "--user", "inspector1-3", "--role", "team_leader", "--team", "上城区湖滨一组"]);
    until(&b, &c, "set-user", async |r| r.json::<UserProfile>().await.unwrap().role == Role::TeamLeader).await;

    // The servers cannot hear notifications for a moment: PostgreSQL ends their listening connections, and a
    // token is revoked by hand in SQL, which notifies nobody. The kept session must not outlive that for 10 min.
    let c = signed_in_and_kept(&a, &b, "inspector1-4").await;
    let sql = db.connect().await;
    let ended = sql
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN xuncha_sessions'",
            &[],
        )
        .await
        .unwrap()
        .len();
    assert_eq!(ended, 2, "one listening connection per server");
    sql.execute(
        "UPDATE tokens SET revoked_at = now() WHERE user_id = (SELECT id FROM users WHERE username = 'inspector1-4')",
        &[],
    )
    .await
    .unwrap();
    until(&b, &c, "revoked in SQL while not listening", is_401).await;

    // Listening again afterwards: a sign-out is heard as before.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c = signed_in_and_kept(&a, &b, "inspector1-5").await;
    let r = c.http.post(format!("{}{}", a.url, paths::LOGOUT)).bearer_auth(&c.token).send().await.unwrap();
    assert!(r.status().is_success());
    let took = until(&b, &c, "sign-out after reconnecting", is_401).await;
    assert!(took < Duration::from_secs(1), "heard, not found by a reconnect: {took:?}");
}

/// A phone syncs right after signing in, so the sign-in keeps its session: after a server start, a thousand
/// phones signing in must not each read theirs again on their first sync. Seen from outside through the
/// one change nothing hears (a role edited by hand in SQL, which sends no notification): the server the
/// phone signed in on answers from what it kept, a server that never saw this session reads the new role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_keeps_its_session_for_the_first_sync() {
    let (db, url, a) = seeded().await;
    let sql = db.connect().await;
    // Sessions are kept only while the server listens for changes: wait for its LISTEN.
    let start = Instant::now();
    while sql
        .query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN xuncha_sessions'",
            &[],
        )
        .await
        .unwrap()
        .is_empty()
    {
        assert!(start.elapsed() < WITHIN, "server A never listened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let c = login(&a, "inspector1-1").await;
    sql.execute("UPDATE users SET role = 'team_leader' WHERE username = 'inspector1-1'", &[]).await.unwrap();
    let b = Server::on_postgres(&url, "b.log");
    let role = async |s: &Server| me(s, &c).await.json::<UserProfile>().await.unwrap().role;
    assert_eq!(
        role(&a).await,
        Role::Inspector,
        "server A read the session again instead of keeping it from the sign-in"
    );
    assert_eq!(role(&b).await, Role::TeamLeader, "server B never saw this session: it reads the database");
}
