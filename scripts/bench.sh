#!/usr/bin/env bash
# Yoom benchmarks: the figures the Foundation and Dashboard issues set goals for.
#
#   ./scripts/bench.sh                                    # full run
#   BENCH_MEETINGS=100000 BENCH_DURATION=5 ./scripts/bench.sh   # quick run
#
# What it measures (all against 127.0.0.1 only, on servers it starts and stops itself):
#   Foundation (fresh, empty data directory)
#     - size of target/release/yoom from `cargo build --release`
#     - start-up: exec of the binary to the first 200 from GET /healthz, BENCH_STARTS times,
#       each on a fresh DATA_DIR (so it includes creating the database, the migrations and
#       the session key). Timed with bash's $EPOCHREALTIME (µs) around a loop that opens a
#       socket with bash's /dev/tcp and sends GET /healthz every 1 ms, so the resolution is
#       about ±1 ms (plus the ~0.1 ms of a fork before exec). Goal: under 100 ms.
#     - idle RSS: VmRSS from /proc/<pid>/status 2 s after start-up. Goal: under 30 MB.
#     - 40 sign-ins, 8 at a time: how long, and RSS after (argon2 takes 19 MiB per hash; the
#       allocator must give it back). Goal: RSS still under 30 MB.
#     - wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS on GET /healthz (a baseline for this
#       machine), on a signed-in GET / (goal p99 under 10 ms) and the same with
#       `Accept-Encoding: gzip` (what a browser sends: adds the compression cost).
#   Dashboard (BENCH_MEETINGS meetings over BENCH_USERS users, seeded with
#   `cargo run --release --example seed_meetings`, signed in as user0)
#     - seeding time, database size, start-up time and idle RSS on the big database
#     - wrk on GET /upcoming and GET / (goal p99 under 15 ms)
#     - page weight of Home: bytes downloaded with `Accept-Encoding: gzip` for the HTML and
#       every /static/ URL in its href/src attributes (and url(...) in its CSS). Goal: 60 KB.
#   Dashboard on PostgreSQL (BENCH_POSTGRES=1, the default; 0 skips it)
#     - a throw-away PostgreSQL server from scripts/postgres.sh (installed with apt-get if
#       missing; fsync off), a fresh database seeded with the same rows by the same seeder,
#       and a release server on it (DATABASE_URL=postgres://…, its default pool)
#     - seeding time, database size, start-up time and idle RSS, as on SQLite
#     - the same wrk runs on GET /upcoming and GET / as user0, alternating with SQLite's
#       (SQLite /upcoming, PostgreSQL /upcoming, SQLite /, PostgreSQL /) so both see about the
#       same load from the rest of the machine; the summary puts them side by side with the
#       ratio of PostgreSQL's req/s to SQLite's and each one's p99. PostgreSQL's own processes
#       run on the same cores as the server and wrk.
#
# Output: a Markdown summary on stdout and in target/bench/summary.md; the raw wrk outputs,
# server logs and seeding log are kept in target/bench/.
#
# How long: the release builds (minutes when they must compile), then about
# 7 × BENCH_DURATION seconds of wrk plus seeding (~20 s for 1,000,000 meetings in release, on
# each database) and a few seconds of start-ups: ~3 minutes for the default sizes once built.
#
# Figures depend on the machine: core count, CPU, and whatever else runs (wrk and the server
# share the same cores here). Compare ratios (e.g. GET / against GET /healthz on the same run,
# or a figure against its goal) rather than absolute numbers across machines, and look at the
# load averages the summary records: a load above the core count means the numbers are noisy.
#
# Settings (environment):
#   BENCH_USERS=10000  BENCH_MEETINGS=1000000  BENCH_DURATION=10 (seconds per wrk run)
#   BENCH_CONNECTIONS=64  BENCH_THREADS=2  BENCH_STARTS=5  BENCH_KEEP=1 (keep the temp data dirs)
#   BENCH_RUST_LOG=info (the servers' RUST_LOG; logs go to target/bench/server-*.log).
#   BENCH_POSTGRES=1 (0: SQLite only). With BENCH_KEEP=1 the PostgreSQL server is left running
#   (its URL and the command that stops it are printed), to look at query plans afterwards.
#   CARGO_TARGET_DIR is honoured. Needs curl and wrk; wrk is installed with apt-get (through
#   sudo when not root) if it is missing, and PostgreSQL by scripts/postgres.sh.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
SCRIPT_START=$EPOCHREALTIME

BENCH_USERS=${BENCH_USERS:-10000}
BENCH_MEETINGS=${BENCH_MEETINGS:-1000000}
BENCH_DURATION=${BENCH_DURATION:-10}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_STARTS=${BENCH_STARTS:-5}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_POSTGRES=${BENCH_POSTGRES:-1}
[[ $BENCH_POSTGRES == 0 || $BENCH_POSTGRES == 1 ]] || {
    echo "bench: BENCH_POSTGRES must be 0 or 1" >&2
    exit 2
}
PASSWORD=yoom-bench-password-$RANDOM$RANDOM
HOST=127.0.0.1

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/yoom
SEEDER=$TARGET_DIR/release/examples/seed_meetings
OUT=$ROOT/target/bench
mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.log "$OUT"/*.html "$OUT"/summary.md

log() { printf '\n== %s\n' "$*" >&2; }
die() {
    printf 'bench: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- cleanup
SERVER_PIDS=()
TEMP_DIRS=()
PG_DIR=
PG_URL=
cleanup() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n $PG_DIR ]]; then
        if [[ $BENCH_KEEP == 1 && -n $PG_URL ]]; then
            printf 'bench: PostgreSQL still runs at %s; stop it with: scripts/postgres.sh stop %s\n' \
                "$PG_URL" "$PG_DIR" >&2
        else
            "$ROOT/scripts/postgres.sh" stop "$PG_DIR" || true
        fi
    fi
    if [[ $BENCH_KEEP == 1 ]]; then
        ((${#TEMP_DIRS[@]})) && printf 'bench: kept %s\n' "${TEMP_DIRS[*]}" >&2
    else
        local d
        for d in "${TEMP_DIRS[@]}"; do rm -rf -- "$d"; done
    fi
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# new_temp_dir VAR: a fresh directory in VAR, removed on exit (not in $(...): the list of
# directories to remove must be kept by this shell).
new_temp_dir() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/yoom-bench.XXXXXX")
    TEMP_DIRS+=("$d")
    printf -v "$1" '%s' "$d"
}

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    if [[ $(id -u) == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq wrk >/dev/null
fi
command -v curl >/dev/null || die "curl is needed"

# A sleep that forks nothing: read with a timeout on a pipe nobody writes to.
exec {SLEEP_FD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }

# Microseconds since the epoch, from bash's builtin $EPOCHREALTIME (no fork).
now_us() {
    local t=${EPOCHREALTIME/[.,]/}
    printf '%s' "$((10#$t))"
}

# ---------------------------------------------------------------- build
log "cargo build --release"
cargo build --release
log "cargo build --release --example seed_meetings"
cargo build --release --example seed_meetings
[[ -x $BIN ]] || die "$BIN was not built"
BIN_BYTES=$(stat -c %s "$BIN")

# ---------------------------------------------------------------- helpers
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
            printf '%s' "$port"
            return 0
        fi
    done
    die "no free port found"
}

# One GET /healthz over bash's /dev/tcp; succeeds on a 200.
healthz_once() {
    local port=$1 fd status
    { exec {fd}<>"/dev/tcp/$HOST/$port"; } 2>/dev/null || return 1
    printf 'GET /healthz HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$HOST" "$port" >&"$fd" || {
        exec {fd}>&-
        return 1
    }
    status=
    read -r -t 2 -u "$fd" _ status _ || true
    exec {fd}>&-
    [[ $status == 200 ]]
}

# start_server DATA_DIR NAME [VAR=value...]: starts the binary (with these variables set too),
# waits for the first healthy /healthz.
# Sets SERVER_PID, PORT, ORIGIN, STARTUP_MS (exec → first 200, in ms with 0.1 ms steps).
start_server() {
    local data_dir=$1 name=$2 t0 t1 deadline
    shift 2
    PORT=$(free_port)
    ORIGIN=http://$HOST:$PORT
    t0=$(now_us)
    # From the data directory (so no .env of the work tree is read), with no provider keys,
    # session key or database URL inherited from the caller. The subshell and env exec, so
    # $! is the server itself.
    (
        cd "$data_dir"
        exec env -u SESSION_KEY -u DATABASE_URL -u TRUST_PROXY -u STREAM_API_KEY \
            -u NEXT_PUBLIC_STREAM_API_KEY -u STREAM_SECRET_KEY -u CLERK_PUBLISHABLE_KEY \
            -u NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY -u CLERK_SECRET_KEY -u NEXT_PUBLIC_BASE_URL \
            -u DATABASE_MAX_CONNECTIONS -u INSTANCE_URL -u SHUTDOWN_DRAIN_SECS \
            DATA_DIR="$data_dir" PORT="$PORT" BIND="$HOST" BASE_URL="$ORIGIN" \
            RUST_LOG="${BENCH_RUST_LOG:-info}" "$@" "$BIN"
    ) >>"$OUT/server-$name.log" 2>&1 &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    deadline=$((t0 + 60000000))
    until healthz_once "$PORT"; do
        kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited; see $OUT/server-$name.log"
        (($(now_us) < deadline)) || die "no healthy /healthz after 60 s; see $OUT/server-$name.log"
        nap 0.001
    done
    t1=$(now_us)
    STARTUP_MS=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }')
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# post FORM_PATH JAR field=value...: a same-origin form post as a browser sends it; prints
# the status code.
post_form() {
    local path=$1 jar=$2 args=() kv
    shift 2
    for kv in "$@"; do args+=(--data-urlencode "$kv"); done
    curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
        -H "Origin: $ORIGIN" -H 'Sec-Fetch-Site: same-origin' "${args[@]}" "$ORIGIN$path"
}

session_cookie() { awk '$6 == "yoom_session" { print $7 }' "$1" | tail -n 1; }

# A signed-in GET must be a 200 (a lost session would be a 303 to /sign-in, which wrk counts
# as a success).
check_signed_in() {
    local path=$1 code
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: yoom_session=$COOKIE" "$ORIGIN$path")
    [[ $code == 200 ]] || die "GET $path with the session cookie answered $code, not 200"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.2f", v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else printf "?" }'
}

# run_wrk NAME PATH [extra wrk args...]: sets RPS, P50, P99 (ms), ERRORS, LOAD.
run_wrk() {
    local name=$1 path=$2 out
    shift 2
    out=$OUT/wrk-$name.txt
    log "wrk $path ($name, ${BENCH_DURATION}s, $BENCH_CONNECTIONS connections)"
    local load_before
    load_before=$(loadavg)
    wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_DURATION}s" --latency "$@" \
        "$ORIGIN$path" | tee "$out" >&2
    LOAD="$load_before → $(loadavg)"
    RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    ERRORS=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ {
        for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { s = $i; sub(/,/, "", s); n += s } }
        END { print n + 0 }' "$out")
}

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "–"; else printf "%.2f×", a / b }'; }

# ================================================================ Foundation
log "start-up: $BENCH_STARTS starts on fresh data directories"
STARTS=()
for i in $(seq 1 "$BENCH_STARTS"); do
    new_temp_dir DATA1
    start_server "$DATA1" foundation
    STARTS+=("$STARTUP_MS")
    printf '  start %d: %s ms\n' "$i" "$STARTUP_MS" >&2
    if ((i < BENCH_STARTS)); then stop_server; fi
done
START_MED=$(median "${STARTS[@]}")
START_MIN=$(printf '%s\n' "${STARTS[@]}" | sort -n | head -n 1)
START_MAX=$(printf '%s\n' "${STARTS[@]}" | sort -n | tail -n 1)

sleep 2
IDLE_RSS=$(rss_kb "$SERVER_PID")
printf '  idle RSS: %s kB\n' "$IDLE_RSS" >&2

log "sign up"
JAR1=$DATA1/cookies.txt
code=$(post_form /sign-up "$JAR1" username=bench "display_name=Bench User" \
    "password=$PASSWORD" "confirm_password=$PASSWORD")
[[ $code == 303 ]] || die "sign-up answered $code, not 303"
COOKIE=$(session_cookie "$JAR1")
[[ -n $COOKIE ]] || die "no yoom_session cookie after sign-up"
check_signed_in /

log "40 sign-ins, 8 at a time (each one an argon2id hash of 19 MiB)"
# Eight accounts, each signing in once per round: one account signing in 8 times at once would
# meet its own limit (5 attempts counted before the password is checked).
for i in 1 2 3 4 5 6 7 8; do
    code=$(post_form /sign-up "$DATA1/jar-signup-$i.txt" "username=bench$i" "display_name=Bench $i" \
        "password=$PASSWORD" "confirm_password=$PASSWORD")
    [[ $code == 303 ]] || die "sign-up of bench$i answered $code, not 303"
done
signin_t0=$(now_us)
for round in 1 2 3 4 5; do
    pids=()
    for i in 1 2 3 4 5 6 7 8; do
        post_form /sign-in "$DATA1/jar-$round-$i.txt" "username=bench$i" "password=$PASSWORD" \
            >"$DATA1/sign-in-$round-$i.code" &
        pids+=($!)
    done
    wait "${pids[@]}"
done
SIGNIN_MS=$(awk -v d=$(($(now_us) - signin_t0)) 'BEGIN { printf "%.0f", d / 1000 }')
grep -qv '^303$' "$DATA1"/sign-in-*.code && die "a sign-in did not answer 303"
SIGNIN_RSS=$(rss_kb "$SERVER_PID")
printf '  %s ms; RSS after: %s kB\n' "$SIGNIN_MS" "$SIGNIN_RSS" >&2

run_wrk healthz /healthz
H_RPS=$RPS H_P50=$P50 H_P99=$P99 H_ERR=$ERRORS H_LOAD=$LOAD
run_wrk home-empty / -H "Cookie: yoom_session=$COOKIE"
F_RPS=$RPS F_P50=$P50 F_P99=$P99 F_ERR=$ERRORS F_LOAD=$LOAD
run_wrk home-empty-gzip / -H "Cookie: yoom_session=$COOKIE" -H 'Accept-Encoding: gzip'
FZ_RPS=$RPS FZ_P50=$P50 FZ_P99=$P99 FZ_ERR=$ERRORS FZ_LOAD=$LOAD
check_signed_in /
LOADED_RSS=$(rss_kb "$SERVER_PID")
stop_server

# ================================================================ Dashboard
log "seeding $BENCH_MEETINGS meetings over $BENCH_USERS users"
new_temp_dir DATA2
seed_t0=$(now_us)
SEED_PASSWORD=$PASSWORD "$SEEDER" "sqlite://$DATA2/yoom.db" "$BENCH_USERS" "$BENCH_MEETINGS" \
    2>&1 | tee "$OUT/seed.log" >&2
SEED_S=$(awk -v d=$(($(now_us) - seed_t0)) 'BEGIN { printf "%.1f", d / 1e6 }')
DB_BYTES=$(stat -c %s "$DATA2/yoom.db")
ATTENDANCE_ROWS=$(sed -n 's/^.* meetings and \([0-9]*\) attendance rows in .*$/\1/p' "$OUT/seed.log" | tail -n 1)

log "start the server on the seeded database"
start_server "$DATA2" dashboard
BIG_START=$STARTUP_MS
sleep 2
BIG_IDLE_RSS=$(rss_kb "$SERVER_PID")

# seeded_sign_in JAR HTML: signs in as user0 on the server at $ORIGIN, saves its /upcoming in
# HTML and warms it up. Sets COOKIE and CARDS (meeting cards on /upcoming's first page).
seeded_sign_in() {
    local jar=$1 html=$2 code
    log "sign in as user0 ($ORIGIN)"
    code=$(post_form /sign-in "$jar" username=user0 "password=$PASSWORD")
    [[ $code == 303 ]] || die "sign-in answered $code, not 303"
    COOKIE=$(session_cookie "$jar")
    [[ -n $COOKIE ]] || die "no yoom_session cookie after sign-in"
    check_signed_in /upcoming
    check_signed_in /
    curl -sS -H "Cookie: yoom_session=$COOKIE" "$ORIGIN/upcoming" >"$html"
    CARDS=$(grep -o 'class="meeting-card"' "$html" | wc -l)
    # A few requests first, so the figures are not about the first read of the database.
    for _ in $(seq 1 20); do
        curl -sS -o /dev/null -H "Cookie: yoom_session=$COOKIE" "$ORIGIN/upcoming"
        curl -sS -o /dev/null -H "Cookie: yoom_session=$COOKIE" "$ORIGIN/"
    done
}

seeded_sign_in "$DATA2/cookies.txt" "$OUT/upcoming.html"
SQ_PID=$SERVER_PID SQ_ORIGIN=$ORIGIN SQ_COOKIE=$COOKIE SQ_CARDS=$CARDS
use_sqlite() { SERVER_PID=$SQ_PID ORIGIN=$SQ_ORIGIN COOKIE=$SQ_COOKIE; }

# ---------------------------------------------------------------- the same on PostgreSQL
if [[ $BENCH_POSTGRES == 1 ]]; then
    log "PostgreSQL: a throw-away server (scripts/postgres.sh)"
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/yoom-bench-pg.XXXXXX")
    PG_URL=$("$ROOT/scripts/postgres.sh" start "$PG_DIR")
    PSQL=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql
    [[ -x $PSQL ]] || PSQL=$(command -v psql) || die "psql not found"
    psql_at() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$@"; }
    PG_VERSION=$(psql_at "$PG_URL" -c 'show server_version')
    psql_at "$PG_URL" -c 'create database yoom_bench'
    PG_BENCH_URL=${PG_URL%/*}/yoom_bench

    log "PostgreSQL $PG_VERSION: seeding $BENCH_MEETINGS meetings over $BENCH_USERS users"
    seed_t0=$(now_us)
    SEED_PASSWORD=$PASSWORD "$SEEDER" "$PG_BENCH_URL" "$BENCH_USERS" "$BENCH_MEETINGS" \
        2>&1 | tee "$OUT/seed-postgres.log" >&2
    PG_SEED_S=$(awk -v d=$(($(now_us) - seed_t0)) 'BEGIN { printf "%.1f", d / 1e6 }')
    PG_DB_BYTES=$(psql_at "$PG_BENCH_URL" -c 'select pg_database_size(current_database())')
    PG_ATTENDANCE_ROWS=$(sed -n 's/^.* meetings and \([0-9]*\) attendance rows in .*$/\1/p' \
        "$OUT/seed-postgres.log" | tail -n 1)
    [[ $PG_ATTENDANCE_ROWS == "$ATTENDANCE_ROWS" ]] ||
        die "PostgreSQL got $PG_ATTENDANCE_ROWS attendance rows, SQLite $ATTENDANCE_ROWS"

    log "start the server on the seeded PostgreSQL database"
    new_temp_dir DATA3
    start_server "$DATA3" dashboard-postgres DATABASE_URL="$PG_BENCH_URL" SHUTDOWN_DRAIN_SECS=0
    PG_START=$STARTUP_MS
    sleep 2
    PG_IDLE_RSS=$(rss_kb "$SERVER_PID")
    seeded_sign_in "$DATA3/cookies.txt" "$OUT/upcoming-postgres.html"
    PG_PID=$SERVER_PID PG_ORIGIN=$ORIGIN PG_COOKIE=$COOKIE PG_CARDS=$CARDS
    [[ $PG_CARDS == "$SQ_CARDS" ]] ||
        printf 'bench: warning: /upcoming shows %s cards on PostgreSQL, %s on SQLite\n' \
            "$PG_CARDS" "$SQ_CARDS" >&2
fi
use_postgres() { SERVER_PID=$PG_PID ORIGIN=$PG_ORIGIN COOKIE=$PG_COOKIE; }

# Alternating, so both databases meet about the same load from the rest of the machine.
use_sqlite
run_wrk upcoming /upcoming -H "Cookie: yoom_session=$COOKIE"
U_RPS=$RPS U_P50=$P50 U_P99=$P99 U_ERR=$ERRORS U_LOAD=$LOAD
if [[ $BENCH_POSTGRES == 1 ]]; then
    use_postgres
    run_wrk upcoming-postgres /upcoming -H "Cookie: yoom_session=$COOKIE"
    PU_RPS=$RPS PU_P50=$P50 PU_P99=$P99 PU_ERR=$ERRORS PU_LOAD=$LOAD
fi
use_sqlite
run_wrk home-seeded / -H "Cookie: yoom_session=$COOKIE"
D_RPS=$RPS D_P50=$P50 D_P99=$P99 D_ERR=$ERRORS D_LOAD=$LOAD
if [[ $BENCH_POSTGRES == 1 ]]; then
    use_postgres
    run_wrk home-seeded-postgres / -H "Cookie: yoom_session=$COOKIE"
    PD_RPS=$RPS PD_P50=$P50 PD_P99=$P99 PD_ERR=$ERRORS PD_LOAD=$LOAD
    check_signed_in /upcoming
    stop_server
fi
use_sqlite
check_signed_in /upcoming
CARDS=$SQ_CARDS

# ---------------------------------------------------------------- page weight of Home
log "page weight of Home"
WEIGHT_TABLE=$OUT/page-weight.txt
: >"$WEIGHT_TABLE"
# fetch URL: prints "gzip_bytes raw_bytes header_bytes" for one URL (with the session cookie).
fetch_sizes() {
    local url=$1 gz raw
    gz=$(curl -sS --compressed -H 'Accept-Encoding: gzip' -H "Cookie: yoom_session=$COOKIE" \
        -o /dev/null -w '%{size_download} %{size_header} %{http_code}' "$ORIGIN$url")
    raw=$(curl -sS -H "Cookie: yoom_session=$COOKIE" -o /dev/null -w '%{size_download}' "$ORIGIN$url")
    local g h c
    read -r g h c <<<"$gz"
    [[ $c == 200 ]] || die "GET $url for the page weight answered $c"
    printf '%s %s %s' "$g" "$raw" "$h"
}
curl -sS --compressed -H 'Accept-Encoding: gzip' -H "Cookie: yoom_session=$COOKIE" \
    "$ORIGIN/" >"$OUT/home.html"
decode_entities() { sed -e 's/&#x2[fF];/\//g; s/&#47;/\//g; s/&#x3[dD];/=/g; s/&#61;/=/g; s/&amp;/\&/g'; }
mapfile -t ASSETS < <(grep -oE '(href|src)="/static/[^"]*"' "$OUT/home.html" |
    sed -E 's/^(href|src)="//; s/"$//' | decode_entities | awk '!seen[$0]++')
# url(...) references inside the stylesheets.
for a in "${ASSETS[@]}"; do
    if [[ ${a%%\?*} == *.css ]]; then
        while IFS= read -r u; do
            [[ -n $u ]] && ASSETS+=("$u")
        done < <(curl -sS "$ORIGIN$a" | grep -oE 'url\(["'\'']?/static/[^)"'\'']*' |
            sed -E 's/^url\(["'\'']?//')
    fi
done
mapfile -t ASSETS < <(printf '%s\n' "${ASSETS[@]}" | awk 'NF && !seen[$0]++')
((${#ASSETS[@]})) || printf 'bench: warning: Home references no /static/ URL\n' >&2
TOTAL_GZ=0 TOTAL_RAW=0 TOTAL_HDR=0
for url in / "${ASSETS[@]}"; do
    sizes=$(fetch_sizes "$url")
    read -r g r h <<<"$sizes"
    TOTAL_GZ=$((TOTAL_GZ + g)) TOTAL_RAW=$((TOTAL_RAW + r)) TOTAL_HDR=$((TOTAL_HDR + h))
    printf '| `%s` | %s | %s |\n' "${url%%\?*}" "$g" "$r" >>"$WEIGHT_TABLE"
done
stop_server

# ================================================================ summary
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }
TOTAL_S=$(awk -v d=$(($(now_us) - 10#${SCRIPT_START/[.,]/})) 'BEGIN { printf "%.0f", d / 1e6 }')
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
SUMMARY=$OUT/summary.md
{
    printf '# Yoom benchmark\n\n'
    printf '%s; %s cores (%s); %s; wrk -t%s -c%s -d%ss; commit %s%s.\n\n' \
        "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$CPU" "$(uname -sr)" \
        "$BENCH_THREADS" "$BENCH_CONNECTIONS" "$BENCH_DURATION" \
        "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
        "$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
    printf 'wrk and the server share the machine; load averages (1/5/15 min) are recorded per run.\n'
    printf 'Whole run: %s s.\n\n' "$TOTAL_S"

    printf '## Foundation (empty database)\n\n'
    printf '| measure | value | goal | value / goal |\n|---|---|---|---|\n'
    printf '| binary size (`target/release/yoom`) | %s MB (%s bytes) | – | – |\n' \
        "$(awk -v b="$BIN_BYTES" 'BEGIN { printf "%.2f", b / 1048576 }')" "$BIN_BYTES"
    printf '| start-up, exec → first 200 `/healthz` (median of %s fresh starts; ±1 ms) | %s ms (min %s, max %s) | < 100 ms | %s |\n' \
        "$BENCH_STARTS" "$START_MED" "$START_MIN" "$START_MAX" "$(ratio "$START_MED" 100)"
    printf '| idle RSS 2 s after start-up | %s MB | < 30 MB | %s |\n' \
        "$(mb "$IDLE_RSS")" "$(ratio "$(mb "$IDLE_RSS")" 30)"
    printf '| 40 sign-ins, 8 at a time | %s ms | – | – |\n' "$SIGNIN_MS"
    printf '| RSS after those sign-ins | %s MB | < 30 MB | %s |\n' \
        "$(mb "$SIGNIN_RSS")" "$(ratio "$(mb "$SIGNIN_RSS")" 30)"
    printf '| RSS after the wrk runs | %s MB | – | – |\n' "$(mb "$LOADED_RSS")"
    printf '| GET `/` signed in: p99 | %s ms | < 10 ms | %s |\n\n' "$F_P99" "$(ratio "$F_P99" 10)"

    printf '| wrk run | req/s | p50 ms | p99 ms | errors | load before → after |\n|---|---|---|---|---|---|\n'
    printf '| GET `/healthz` (baseline) | %s | %s | %s | %s | %s |\n' "$H_RPS" "$H_P50" "$H_P99" "$H_ERR" "$H_LOAD"
    printf '| GET `/` signed in | %s | %s | %s | %s | %s |\n' "$F_RPS" "$F_P50" "$F_P99" "$F_ERR" "$F_LOAD"
    printf '| GET `/` signed in, `Accept-Encoding: gzip` | %s | %s | %s | %s | %s |\n\n' "$FZ_RPS" "$FZ_P50" "$FZ_P99" "$FZ_ERR" "$FZ_LOAD"
    printf 'GET `/` req/s as a share of `/healthz` req/s: %s (plain), %s (gzip).\n\n' \
        "$(ratio "$F_RPS" "$H_RPS")" "$(ratio "$FZ_RPS" "$H_RPS")"

    printf '## Dashboard on SQLite (%s meetings, %s attendance rows, %s users; signed in as user0)\n\n' \
        "$BENCH_MEETINGS" "${ATTENDANCE_ROWS:-?}" "$BENCH_USERS"
    printf 'Seeding took %s s; the database is %s MB. user0'\''s `/upcoming` shows %s cards on its first page.\n\n' \
        "$SEED_S" "$(awk -v b="$DB_BYTES" 'BEGIN { printf "%.0f", b / 1048576 }')" "$CARDS"
    printf '| measure | value | goal | value / goal |\n|---|---|---|---|\n'
    printf '| GET `/upcoming` p99 | %s ms | < 15 ms | %s |\n' "$U_P99" "$(ratio "$U_P99" 15)"
    printf '| GET `/` p99 | %s ms | < 15 ms | %s |\n' "$D_P99" "$(ratio "$D_P99" 15)"
    printf '| page weight of Home (gzip; HTML + %s static files) | %s KB (%s bytes) | < 60 KB | %s |\n' \
        "${#ASSETS[@]}" "$(kb "$TOTAL_GZ")" "$TOTAL_GZ" "$(ratio "$(kb "$TOTAL_GZ")" 60)"
    printf '| start-up on the seeded database | %s ms | < 100 ms | %s |\n' "$BIG_START" "$(ratio "$BIG_START" 100)"
    printf '| idle RSS on the seeded database | %s MB | < 30 MB | %s |\n\n' \
        "$(mb "$BIG_IDLE_RSS")" "$(ratio "$(mb "$BIG_IDLE_RSS")" 30)"

    printf '| wrk run | req/s | p50 ms | p99 ms | errors | load before → after |\n|---|---|---|---|---|---|\n'
    printf '| GET `/upcoming` | %s | %s | %s | %s | %s |\n' "$U_RPS" "$U_P50" "$U_P99" "$U_ERR" "$U_LOAD"
    printf '| GET `/` | %s | %s | %s | %s | %s |\n\n' "$D_RPS" "$D_P50" "$D_P99" "$D_ERR" "$D_LOAD"

    if [[ $BENCH_POSTGRES == 1 ]]; then
        printf '## Dashboard on PostgreSQL next to SQLite (same rows, same seeder)\n\n'
        printf 'PostgreSQL %s from `scripts/postgres.sh` (fsync off) on the same machine, so its processes share the cores with the server and wrk; each server uses its default pool (`DATABASE_MAX_CONNECTIONS` unset). The wrk runs alternated: SQLite `/upcoming`, PostgreSQL `/upcoming`, SQLite `/`, PostgreSQL `/`. user0'\''s `/upcoming` shows %s cards on its first page.\n\n' \
            "$PG_VERSION" "$PG_CARDS"
        printf '| measure | SQLite | PostgreSQL | PostgreSQL / SQLite |\n|---|---|---|---|\n'
        printf '| seeding (%s meetings, %s attendance rows, %s users) | %s s | %s s | %s |\n' \
            "$BENCH_MEETINGS" "${ATTENDANCE_ROWS:-?}" "$BENCH_USERS" "$SEED_S" "$PG_SEED_S" "$(ratio "$PG_SEED_S" "$SEED_S")"
        printf '| database size | %s MB | %s MB | %s |\n' \
            "$(awk -v b="$DB_BYTES" 'BEGIN { printf "%.0f", b / 1048576 }')" \
            "$(awk -v b="$PG_DB_BYTES" 'BEGIN { printf "%.0f", b / 1048576 }')" "$(ratio "$PG_DB_BYTES" "$DB_BYTES")"
        printf '| start-up on the seeded database | %s ms | %s ms | %s |\n' "$BIG_START" "$PG_START" "$(ratio "$PG_START" "$BIG_START")"
        printf '| idle RSS on the seeded database (server only) | %s MB | %s MB | %s |\n' \
            "$(mb "$BIG_IDLE_RSS")" "$(mb "$PG_IDLE_RSS")" "$(ratio "$PG_IDLE_RSS" "$BIG_IDLE_RSS")"
        printf '| GET `/upcoming` req/s | %s | %s | **%s** |\n' "$U_RPS" "$PU_RPS" "$(ratio "$PU_RPS" "$U_RPS")"
        printf '| GET `/upcoming` p50 | %s ms | %s ms | %s |\n' "$U_P50" "$PU_P50" "$(ratio "$PU_P50" "$U_P50")"
        printf '| GET `/upcoming` p99 (goal < 15 ms) | %s ms | %s ms | %s |\n' "$U_P99" "$PU_P99" "$(ratio "$PU_P99" "$U_P99")"
        printf '| GET `/` req/s | %s | %s | **%s** |\n' "$D_RPS" "$PD_RPS" "$(ratio "$PD_RPS" "$D_RPS")"
        printf '| GET `/` p50 | %s ms | %s ms | %s |\n' "$D_P50" "$PD_P50" "$(ratio "$PD_P50" "$D_P50")"
        printf '| GET `/` p99 (goal < 15 ms) | %s ms | %s ms | %s |\n\n' "$D_P99" "$PD_P99" "$(ratio "$PD_P99" "$D_P99")"

        printf '| wrk run (PostgreSQL) | req/s | p50 ms | p99 ms | errors | load before → after |\n|---|---|---|---|---|---|\n'
        printf '| GET `/upcoming` | %s | %s | %s | %s | %s |\n' "$PU_RPS" "$PU_P50" "$PU_P99" "$PU_ERR" "$PU_LOAD"
        printf '| GET `/` | %s | %s | %s | %s | %s |\n\n' "$PD_RPS" "$PD_P50" "$PD_P99" "$PD_ERR" "$PD_LOAD"
    fi

    printf '### Page weight of Home\n\n'
    printf 'Bodies as downloaded with `Accept-Encoding: gzip` (curl `%%{size_download}`), and uncompressed for reference; response headers add %s bytes more.\n\n' "$TOTAL_HDR"
    printf '| URL | gzip bytes | raw bytes |\n|---|---|---|\n'
    cat "$WEIGHT_TABLE"
    printf '| **total** | **%s** | **%s** |\n' "$TOTAL_GZ" "$TOTAL_RAW"
} >"$SUMMARY"

printf '\n' >&2
cat "$SUMMARY"
printf '\n(also in %s)\n' "${SUMMARY#"$ROOT"/}" >&2
