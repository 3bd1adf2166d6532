//! Fills a database with many accounts, meetings and attendance rows, for benchmarks.
//!
//! ```sh
//! cargo run --release --example seed_meetings -- sqlite:///tmp/bench/yoom.db 10000 1000000
//! cargo run --release --example seed_meetings -- postgres://postgres@127.0.0.1:5432/bench 10000 1000000
//! ```
//!
//! Arguments: `<database-url> <users> <meetings>`, SQLite or PostgreSQL (the database must
//! exist on PostgreSQL). The schema comes from `yoom::db::connect` (the app's own migrations);
//! the database must not hold accounts yet. Both databases get the same rows from the same seed
//! (only the times, relative to now, differ between runs).
//!
//! - Accounts `user0` … `user{N-1}`, each with a display name and the same real argon2id hash
//!   (computed once) of the password in `SEED_PASSWORD` (default `yoom-bench-password`), so any
//!   of them can sign in through the normal form.
//! - Meetings with owners chosen round-robin (meeting `i` belongs to `user{i % N}`): about 34 %
//!   scheduled in the next 60 days, 33 % ended in the past year, 10 % cancelled (half of them
//!   before a future start), 23 % started in the past and never ended (nobody present). Past
//!   meetings are an instant/scheduled mix; future ones are scheduled.
//! - Attendance for every meeting that has started: 0–5 other accounts, mostly `present = 0`,
//!   about 15 % left at `present = 1` with a stale `last_seen_at` (as a crashed server would
//!   leave them), so no seeded meeting is live.
//!
//! Everything is deterministic (a fixed PRNG seed, `SEED` to change it) except the times, which
//! are relative to now. Rows go in through multi-row prepared `insert`s in large transactions
//! on one connection, with the secondary indexes of `meeting` and `attendance` dropped during
//! the load and rebuilt from their own definitions afterwards.
//!
//! - SQLite: `synchronous = off` and foreign-key checks off (the rows are consistent by
//!   construction; set `SEED_CHECK_FK=1` to verify with `pragma foreign_key_check`
//!   afterwards), then a WAL checkpoint.
//! - PostgreSQL: `synchronous_commit = off`, a larger `maintenance_work_mem` for the index
//!   builds, and foreign-key triggers off through `session_replication_role = replica` when
//!   the role may set it (a superuser; otherwise they stay on and the load is slower).
//!   `SEED_CHECK_FK=1` looks for orphans with anti-joins. Ends with `vacuum analyze` of the
//!   seeded tables, as autovacuum would soon do after such a load, so the planner has
//!   statistics and index-only scans see an up-to-date visibility map.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, Executor};
use yoom::db::Backend;

const DEFAULT_PASSWORD: &str = "yoom-bench-password";
/// Multi-row statement sizes (bound parameters stay far below SQLite's 32,766 and
/// PostgreSQL's 65,535 limits: at most 1,750 per statement).
const MEETING_ROWS_PER_STATEMENT: usize = 200;
const ATTENDANCE_ROWS_PER_STATEMENT: usize = 250;
const ACCOUNT_ROWS_PER_STATEMENT: usize = 250;
/// Meetings per transaction.
const MEETINGS_PER_TRANSACTION: usize = 100_000;

const FIRST: [&str; 24] = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Sophie",
    "John",
    "Hedy",
    "Donald",
    "Katherine",
    "Niklaus",
    "Shafi",
    "Vint",
    "Annie",
    "Leslie",
    "Mary",
    "Guido",
];
const LAST: [&str; 24] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Wilson",
    "McCarthy",
    "Lamarr",
    "Knuth",
    "Johnson",
    "Wirth",
    "Goldwasser",
    "Cerf",
    "Easley",
    "Lamport",
    "Jackson",
    "van Rossum",
];
const TOPICS: [&str; 16] = [
    "Weekly sync",
    "Sprint planning",
    "Design review",
    "1:1",
    "Retrospective",
    "Customer call",
    "Interview",
    "All hands",
    "Standup",
    "Budget review",
    "Incident review",
    "Roadmap",
    "Onboarding",
    "Demo day",
    "Pairing session",
    "Office hours",
];

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi` (`hi > lo`).
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `p` percent.
    fn chance(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }
    fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

struct MeetingRow {
    id: String,
    owner: usize,
    description: String,
    kind: &'static str,
    starts_at: i64,
    created_at: i64,
    ended_at: Option<i64>,
    cancelled_at: Option<i64>,
}

struct AttendanceRow {
    meeting: usize, // index into the current batch
    account: usize,
    first_joined_at: i64,
    last_seen_at: i64,
    present: bool,
}

#[derive(Default)]
struct Counts {
    upcoming: u64,
    ended: u64,
    cancelled: u64,
    stale: u64,
    instant: u64,
    scheduled: u64,
    attendance: u64,
    present: u64,
}

fn description(rng: &mut Rng, kind: &str, i: usize) -> String {
    // Instant meetings usually have none ("No Description" on the card), like the original.
    if kind == "instant" && rng.chance(70) {
        return String::new();
    }
    let topic = TOPICS[rng.below(TOPICS.len())];
    if rng.chance(50) {
        format!("{topic} #{}", i % 997)
    } else {
        format!(
            "{topic}: agenda, notes and follow-ups for the team (meeting {i}). Bring questions."
        )
    }
}

fn make_meeting(
    rng: &mut Rng,
    i: usize,
    users: usize,
    now: i64,
    counts: &mut Counts,
) -> MeetingRow {
    let owner = i % users;
    let roll = rng.below(100);
    let mut m = MeetingRow {
        id: rng.uuid(),
        owner,
        description: String::new(),
        kind: "scheduled",
        starts_at: 0,
        created_at: 0,
        ended_at: None,
        cancelled_at: None,
    };
    let past_start = |rng: &mut Rng| {
        // Whole 5 minutes, between an hour and a year ago.
        let t = now - rng.range(HOUR, 365 * DAY);
        t - t.rem_euclid(5 * MINUTE)
    };
    match roll {
        0..=33 => {
            // Scheduled, starting in the next 60 days.
            counts.upcoming += 1;
            let t = now + rng.range(10 * MINUTE, 60 * DAY);
            m.starts_at = t - t.rem_euclid(5 * MINUTE) + 5 * MINUTE;
            m.created_at = now - rng.range(0, 30 * DAY);
        }
        34..=66 => {
            counts.ended += 1;
            m.starts_at = past_start(rng);
            if rng.chance(50) {
                m.kind = "instant";
                m.created_at = m.starts_at;
            } else {
                m.created_at = m.starts_at - rng.range(HOUR, 14 * DAY);
            }
            m.ended_at = Some((m.starts_at + rng.range(5 * MINUTE, 3 * HOUR)).min(now - MINUTE));
        }
        67..=76 => {
            counts.cancelled += 1;
            if rng.chance(50) {
                let t = now + rng.range(HOUR, 60 * DAY);
                m.starts_at = t - t.rem_euclid(5 * MINUTE);
                m.created_at = now - rng.range(DAY, 30 * DAY);
                m.cancelled_at = Some(now - rng.range(0, (now - m.created_at).max(1)));
            } else {
                m.starts_at = past_start(rng);
                m.created_at = m.starts_at - rng.range(DAY, 30 * DAY);
                m.cancelled_at = Some(m.starts_at - rng.range(MINUTE, DAY));
            }
        }
        _ => {
            // Started and never ended; nobody is in it any more, so it lists as previous.
            counts.stale += 1;
            m.starts_at = past_start(rng);
            if rng.chance(60) {
                m.kind = "instant";
                m.created_at = m.starts_at;
            } else {
                m.created_at = m.starts_at - rng.range(HOUR, 14 * DAY);
            }
        }
    }
    if m.kind == "instant" {
        counts.instant += 1;
    } else {
        counts.scheduled += 1;
    }
    m.description = description(rng, m.kind, i);
    m
}

/// 0–5 other accounts who joined a meeting that has started (and was not cancelled).
fn make_attendance(
    rng: &mut Rng,
    m: &MeetingRow,
    batch_index: usize,
    users: usize,
    now: i64,
    counts: &mut Counts,
    out: &mut Vec<AttendanceRow>,
) {
    if m.cancelled_at.is_some() || m.starts_at > now || users < 2 {
        return;
    }
    let wanted = rng.below(6).min(users - 1);
    let mut chosen: [usize; 5] = [usize::MAX; 5];
    let mut n = 0;
    while n < wanted {
        let u = rng.below(users);
        if u == m.owner || chosen[..n].contains(&u) {
            continue;
        }
        chosen[n] = u;
        n += 1;
        let first = m.starts_at + rng.range(0, 5 * MINUTE);
        let end = m.ended_at.unwrap_or(m.starts_at + HOUR).max(first + MINUTE);
        let last = rng.range(first, end + 1).min(now - 10 * MINUTE);
        let present = rng.chance(15);
        counts.attendance += 1;
        counts.present += present as u64;
        out.push(AttendanceRow {
            meeting: batch_index,
            account: u,
            first_joined_at: first,
            last_seen_at: last.max(first),
            present,
        });
    }
}

/// `head (?, ?, …), (?, …), …` for SQLite, `head ($1, $2, …), ($n+1, …), …` for PostgreSQL.
/// SQLite reads `$N` too, but as named parameters: sqlx binds each one by asking SQLite its
/// name, which SQLite finds by a linear search, so 1,600 of them per statement made the load
/// three times slower. Every statement stays under SQLite's limit, the lower of the two.
fn values_sql(backend: Backend, head: &str, columns: usize, rows: usize) -> Arc<str> {
    use std::fmt::Write;
    const MAX_PARAMETERS: usize = 32_766;
    assert!(
        columns * rows <= MAX_PARAMETERS,
        "{} parameters in one statement",
        columns * rows
    );
    let mut sql = String::with_capacity(head.len() + rows * columns * 8);
    sql.push_str(head);
    for r in 0..rows {
        sql.push_str(if r > 0 { ", (" } else { "(" });
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    write!(sql, "${}", r * columns + c + 1).expect("writing to a String")
                }
            }
        }
        sql.push(')');
    }
    Arc::from(sql)
}

/// Statement for `rows` rows, reusing the full-size one (prepared once, then cached).
fn statement(
    backend: Backend,
    cache: &mut Vec<(usize, Arc<str>)>,
    head: &str,
    columns: usize,
    rows: usize,
) -> Arc<str> {
    if let Some((_, sql)) = cache.iter().find(|(n, _)| *n == rows) {
        return sql.clone();
    }
    let sql = values_sql(backend, head, columns, rows);
    cache.push((rows, sql.clone()));
    sql
}

const ACCOUNT_HEAD: &str = "insert into account (id, username, display_name, password_hash, image_url, \
     created_at, updated_at) values ";
const MEETING_HEAD: &str = "insert into meeting (id, owner_id, description, kind, starts_at, created_at, \
     ended_at, cancelled_at) values ";
const ATTENDANCE_HEAD: &str = "insert into attendance (meeting_id, account_id, first_joined_at, \
     last_seen_at, present, created_at) values ";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: seed_meetings <database-url> <users> <meetings>\n\
                 e.g. seed_meetings sqlite:///tmp/bench/yoom.db 10000 1000000\n\
                 or   seed_meetings postgres://postgres@127.0.0.1:5432/bench 10000 1000000";
    let [url, users, meetings] = args.as_slice() else {
        anyhow::bail!("{usage}");
    };
    let users: usize = users.parse().context(usage)?;
    let meetings: usize = meetings.parse().context(usage)?;
    anyhow::ensure!(users >= 1, "at least one user is needed");
    let backend = Backend::of_url(url)
        .with_context(|| format!("`{url}` is neither a sqlite: nor a postgres:// URL"))?;
    let password = std::env::var("SEED_PASSWORD").unwrap_or_else(|_| DEFAULT_PASSWORD.into());
    let seed: u64 = match std::env::var("SEED") {
        Ok(s) => s.parse().context("SEED must be a number")?,
        Err(_) => 0x5EED_2026,
    };
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("Failed to create {}", dir.display()))?;
        }
    }

    let started = Instant::now();
    let pool = yoom::db::connect(url).await?;
    let mut conn = pool.acquire().await?;
    let existing: i64 = sqlx::query_scalar("select count(*) from account")
        .fetch_one(&mut *conn)
        .await?;
    anyhow::ensure!(
        existing == 0,
        "{url} already has {existing} accounts; seed a fresh database"
    );
    let foreign_keys_off = match backend {
        Backend::Sqlite => {
            conn.execute(
                "pragma foreign_keys = off; pragma synchronous = off; pragma temp_store = memory; \
                 pragma cache_size = -1048576;",
            )
            .await?;
            true
        }
        Backend::Postgres => {
            conn.execute("set synchronous_commit = off; set maintenance_work_mem = '1GB'")
                .await?;
            // Foreign keys are triggers on PostgreSQL; a replica session fires none. Only a
            // superuser may ask for it: without, the checks run on every row.
            conn.execute("set session_replication_role = replica")
                .await
                .is_ok()
        }
    };
    println!(
        "{} schema ready in {:.2?}; seeding {users} users and {meetings} meetings{}",
        backend.name(),
        started.elapsed(),
        if foreign_keys_off {
            ""
        } else {
            " (foreign-key checks on: not allowed to turn them off)"
        }
    );

    // One real hash, shared by every account.
    let t = Instant::now();
    let hash = yoom::auth::password::hash(password.clone()).await?;
    println!("argon2id hash computed once in {:.2?}", t.elapsed());

    let now = yoom::time::now();
    let mut rng = Rng(seed);
    let mut cache = Vec::new();

    // Accounts.
    let t = Instant::now();
    let mut account_ids = Vec::with_capacity(users);
    for _ in 0..users {
        account_ids.push(rng.uuid());
    }
    {
        let mut tx = conn.begin().await?;
        for start in (0..users).step_by(ACCOUNT_ROWS_PER_STATEMENT) {
            let end = (start + ACCOUNT_ROWS_PER_STATEMENT).min(users);
            let sql = statement(backend, &mut cache, ACCOUNT_HEAD, 7, end - start);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (i, id) in account_ids.iter().enumerate().take(end).skip(start) {
                let created = now - rng.range(DAY, 400 * DAY);
                let name = format!(
                    "{} {}",
                    FIRST[rng.below(FIRST.len())],
                    LAST[rng.below(LAST.len())]
                );
                q = q
                    .bind(id.clone())
                    .bind(format!("user{i}"))
                    .bind(name)
                    .bind(hash.clone())
                    .bind(None::<String>)
                    .bind(created)
                    .bind(created);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    println!("{users} accounts in {:.2?}", t.elapsed());

    // Meetings and attendance. Secondary indexes are dropped first and rebuilt afterwards
    // from their own stored SQL (a sort is much faster than a million random B-tree inserts);
    // the primary keys stay, so duplicates would still be refused.
    let t = Instant::now();
    // SQLite lists automatic indexes (primary keys, unique constraints) with a null `sql`;
    // PostgreSQL's indexes behind a constraint cannot be dropped on their own.
    let indexes: Vec<(String, String)> = sqlx::query_as(match backend {
        Backend::Sqlite => {
            "select name, sql from sqlite_master where type = 'index' and sql is not null \
             and tbl_name in ('meeting', 'attendance') order by name"
        }
        Backend::Postgres => {
            "select i.indexname::text, i.indexdef from pg_indexes i \
             where i.schemaname = current_schema() and i.tablename in ('meeting', 'attendance') \
             and not exists (select 1 from pg_constraint c \
                 where c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass) \
             order by i.indexname"
        }
    })
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &indexes {
        conn.execute(AssertSqlSafe(format!(
            "drop index \"{}\"",
            name.replace('"', "\"\"")
        )))
        .await?;
    }
    let mut counts = Counts::default();
    let mut mcache = Vec::new();
    let mut acache = Vec::new();
    let mut done = 0usize;
    while done < meetings {
        let tx_end = (done + MEETINGS_PER_TRANSACTION).min(meetings);
        let mut tx = conn.begin().await?;
        let mut start = done;
        while start < tx_end {
            let end = (start + MEETING_ROWS_PER_STATEMENT).min(tx_end);
            let mut rows = Vec::with_capacity(end - start);
            let mut attendance = Vec::new();
            for i in start..end {
                let m = make_meeting(&mut rng, i, users, now, &mut counts);
                make_attendance(
                    &mut rng,
                    &m,
                    rows.len(),
                    users,
                    now,
                    &mut counts,
                    &mut attendance,
                );
                rows.push(m);
            }
            let sql = statement(backend, &mut mcache, MEETING_HEAD, 8, rows.len());
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for m in &rows {
                q = q
                    .bind(m.id.clone())
                    .bind(account_ids[m.owner].clone())
                    .bind(m.description.clone())
                    .bind(m.kind)
                    .bind(m.starts_at)
                    .bind(m.created_at)
                    .bind(m.ended_at)
                    .bind(m.cancelled_at);
            }
            q.execute(&mut *tx).await?;
            for chunk in attendance.chunks(ATTENDANCE_ROWS_PER_STATEMENT) {
                let sql = statement(backend, &mut acache, ATTENDANCE_HEAD, 6, chunk.len());
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for a in chunk {
                    q = q
                        .bind(rows[a.meeting].id.clone())
                        .bind(account_ids[a.account].clone())
                        .bind(a.first_joined_at)
                        .bind(a.last_seen_at)
                        .bind(a.present as i64)
                        .bind(a.first_joined_at);
                }
                q.execute(&mut *tx).await?;
            }
            start = end;
        }
        tx.commit().await?;
        done = tx_end;
        println!(
            "  {done} meetings, {} attendance rows, {:.1?}",
            counts.attendance,
            t.elapsed()
        );
    }
    let t_index = Instant::now();
    for (_, sql) in &indexes {
        conn.execute(AssertSqlSafe(sql.clone())).await?;
    }
    println!(
        "rebuilt {} indexes ({}) in {:.2?}",
        indexes.len(),
        indexes
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        t_index.elapsed()
    );
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{meetings} meetings and {} attendance rows in {secs:.2} s ({:.0} rows/s)",
        counts.attendance,
        (meetings as f64 + counts.attendance as f64) / secs.max(1e-9)
    );
    println!(
        "  upcoming {}, ended {}, cancelled {}, started-never-ended {}; instant {}, scheduled {}; \
         attendance present=1 (stale) {}",
        counts.upcoming,
        counts.ended,
        counts.cancelled,
        counts.stale,
        counts.instant,
        counts.scheduled,
        counts.present
    );

    if std::env::var("SEED_CHECK_FK").is_ok_and(|v| v == "1") {
        let t = Instant::now();
        let bad: i64 = match backend {
            Backend::Sqlite => sqlx::query("pragma foreign_key_check")
                .fetch_all(&mut *conn)
                .await?
                .len() as i64,
            Backend::Postgres => {
                sqlx::query_scalar(
                    "select (select count(*) from meeting m \
                         where not exists (select 1 from account a where a.id = m.owner_id)) \
                     + (select count(*) from attendance t \
                         where not exists (select 1 from meeting m where m.id = t.meeting_id) \
                         or not exists (select 1 from account a where a.id = t.account_id))",
                )
                .fetch_one(&mut *conn)
                .await?
            }
        };
        anyhow::ensure!(bad == 0, "{bad} foreign-key violations");
        println!("foreign keys checked in {:.2?}", t.elapsed());
    }

    let t = Instant::now();
    match backend {
        Backend::Sqlite => {
            conn.execute("pragma wal_checkpoint(truncate)").await?;
            conn.execute("pragma foreign_keys = on").await?;
            drop(conn);
            pool.close().await;
            println!("checkpointed in {:.2?}", t.elapsed());
        }
        Backend::Postgres => {
            conn.execute("reset session_replication_role").await?;
            conn.execute("vacuum (analyze) account, meeting, attendance")
                .await?;
            drop(conn);
            pool.close().await;
            println!("vacuumed and analyzed in {:.2?}", t.elapsed());
        }
    }
    println!(
        "done in {:.2?}; sign in as user0 … user{} with the password {:?}",
        started.elapsed(),
        users - 1,
        password
    );
    Ok(())
}
