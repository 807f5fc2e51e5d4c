//! Test support for this crate's tests and for other crates' tests that need a PostgreSQL
//! database: a fresh, empty database per test on the server named by
//! `STRONGBOX_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped afterwards. Without a reachable server a test says SKIPPED, unless
//! `STRONGBOX_REQUIRE_POSTGRES=1` (CI), where it fails.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failed setup fails the test"
)]

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("STRONGBOX_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| DEFAULT_URL.into())
}

/// The URL with any password replaced, for log lines.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.into() };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.into(),
    }
}

/// The same server URL pointing at database `db` (query parameters kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

fn random_hex() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

/// Runs `body` with the URL of a fresh, empty database, dropped afterwards (even when `body`
/// panics). Without a reachable server: prints SKIPPED and passes, unless
/// `STRONGBOX_REQUIRE_POSTGRES=1`, in which case it fails.
pub async fn with_fresh_db<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin = admin_url();
    let connected = match tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(&admin)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("no answer within 3 s".to_string()),
    };
    let mut conn = match connected {
        Ok(c) => c,
        Err(why) => {
            if std::env::var("STRONGBOX_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PostgreSQL not reachable at {} ({why}) and STRONGBOX_REQUIRE_POSTGRES=1", redacted(&admin));
            }
            eprintln!(
                "SKIPPED: PostgreSQL not reachable at {} — storage-postgres conformance not run ({why})",
                redacted(&admin)
            );
            return;
        }
    };
    let db = format!("sb_test_{}", random_hex());
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut conn).await.unwrap();
    let outcome = tokio::spawn(body(with_database(&admin, &db))).await;
    let dropped =
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).execute(&mut conn).await;
    if let Err(e) = dropped {
        eprintln!("warning: could not drop test database {db}: {e}");
    }
    let _ = conn.close().await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test body did not finish: {e}");
    }
}
