#!/usr/bin/env bash
# Benchmarks GET /api/token in Stream mode: requests/s and latency at 64 connections.
#
#   ./scripts/bench-token.sh                       # 10 s per run
#   BENCH_DURATION=5 ./scripts/bench-token.sh
#
# What it does, all on 127.0.0.1 with servers it starts and stops itself:
#   - builds the release binary (CARGO_TARGET_DIR is honoured);
#   - starts a tiny stand-in for Stream's REST API (python3's http.server answering the
#     user upsert), so the server runs in real Stream mode without the internet;
#   - starts yoom with STREAM_API_KEY/STREAM_SECRET_KEY set and STREAM_BASE_URL at the
#     stand-in, signs up one user with curl and keeps the session cookie;
#   - runs wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS on GET /healthz (this machine's
#     baseline) and on a signed-in GET /api/token.
# The per-person token rate limit (60 a minute by default) is raised for the run with
# STREAM_TOKEN_RATE_LIMIT, so every answer is a real token (any non-200 is counted and makes
# the run fail); only the user's first token upserts them to Stream, so the stand-in sees
# one request.
#
# Goal (from the issue): over 20,000 requests/s with p99 under 5 ms. wrk and the server share
# the machine's cores; the summary records the load average before and after each run.
#
# Output: a Markdown summary on stdout and in target/bench/token-summary.md; raw wrk output
# and logs in target/bench/. Needs curl, python3 and wrk (installed with apt-get if missing).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BENCH_DURATION=${BENCH_DURATION:-10}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
BENCH_THREADS=${BENCH_THREADS:-2}
HOST=127.0.0.1
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/yoom
OUT=$ROOT/target/bench
mkdir -p "$OUT"
rm -f "$OUT"/token-*.txt "$OUT"/token-*.log "$OUT"/token-summary.md

log() { printf '\n== %s\n' "$*" >&2; }
die() {
    printf 'bench-token: %s\n' "$*" >&2
    exit 1
}

PIDS=()
DATA=$(mktemp -d)
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$DATA"
}
trap cleanup EXIT

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    if [[ $(id -u) == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq wrk >/dev/null
fi
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"

log "cargo build --release"
cargo build --release
[[ -x $BIN ]] || die "$BIN was not built"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {
    local url=$1 i
    for i in $(seq 1 300); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    die "nothing answered at $url"
}

# ---------------------------------------------------------------- the Stream stand-in
MOCK_PORT=$(free_port)
cat >"$DATA/mock.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Stream(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.answer(200, {"ok": True})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        sys.stderr.write(f"POST {self.path}\n")
        if "/video/call/" in self.path:
            cid = self.path.split("?")[0].rstrip("/").split("/")[-2:]
            data = body.get("data", {})
            self.answer(201, {"created": True, "duration": "0.1ms", "call": {
                "id": cid[1], "type": cid[0], "cid": ":".join(cid),
                "custom": data.get("custom", {}),
                "created_by": {"id": data.get("created_by_id", "")}}})
        else:
            self.answer(201, {"users": body.get("users", {}), "duration": "0.1ms"})

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Stream).serve_forever()
PY
python3 "$DATA/mock.py" "$MOCK_PORT" 2>"$OUT/token-mock.log" &
PIDS+=($!)
wait_http "http://$HOST:$MOCK_PORT/"

# ---------------------------------------------------------------- the server
PORT=$(free_port)
ORIGIN=http://$HOST:$PORT
(
    cd "$DATA"
    exec env -u SESSION_KEY -u DATABASE_URL -u CLERK_PUBLISHABLE_KEY \
        -u NEXT_PUBLIC_CLERK_PUBLISHABLE_KEY -u CLERK_SECRET_KEY -u NEXT_PUBLIC_STREAM_API_KEY \
        DATA_DIR="$DATA" PORT="$PORT" BIND="$HOST" BASE_URL="$ORIGIN" \
        STREAM_API_KEY=bench-key STREAM_SECRET_KEY="bench-secret-$RANDOM$RANDOM" \
        STREAM_BASE_URL="http://$HOST:$MOCK_PORT" STREAM_TOKEN_RATE_LIMIT=100000000 STREAM_RESTRICT_CALLS=false \
        RUST_LOG="${BENCH_RUST_LOG:-warn}" "$BIN"
) >"$OUT/token-server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_http "$ORIGIN/healthz"

log "sign up"
JAR=$DATA/cookies.txt
PASSWORD=bench-password-$RANDOM$RANDOM
code=$(curl -sS -o /dev/null -w '%{http_code}' -c "$JAR" -b "$JAR" \
    -H "Origin: $ORIGIN" -H 'Sec-Fetch-Site: same-origin' \
    --data-urlencode username=tokenbench --data-urlencode "display_name=Token Bench" \
    --data-urlencode "password=$PASSWORD" --data-urlencode "confirm_password=$PASSWORD" \
    "$ORIGIN/sign-up")
[[ $code == 303 ]] || die "sign-up answered $code"
COOKIE=$(awk '$6 == "yoom_session" { print $7 }' "$JAR" | tail -n 1)
[[ -n $COOKIE ]] || die "no session cookie"
# A token is for one meeting's call: the host's own meeting.
location=$(curl -sS -o /dev/null -w '%{redirect_url}' -H "Cookie: yoom_session=$COOKIE" \
    -H "Origin: $ORIGIN" -H 'Sec-Fetch-Site: same-origin' \
    --data-urlencode description=Bench "$ORIGIN/meetings/instant")
MEETING=${location##*/meeting/}
[[ ${#MEETING} == 36 ]] || die "no meeting was created ($location)"
TOKEN_PATH="/api/token?meeting=$MEETING"
first=$(curl -sS -H "Cookie: yoom_session=$COOKIE" "$ORIGIN$TOKEN_PATH")
[[ $first == *'"token":"'* ]] || die "GET /api/token answered: $first"

to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
        else printf "?" }'
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# run_wrk NAME PATH [wrk args]: sets RPS, P50, P99, MAX (ms), NON2XX, LOAD.
run_wrk() {
    local name=$1 path=$2 out=$OUT/token-wrk-$1.txt before
    shift 2
    log "wrk $path ($name, ${BENCH_DURATION}s, $BENCH_CONNECTIONS connections)"
    before=$(loadavg)
    wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_DURATION}s" --latency "$@" \
        "$ORIGIN$path" | tee "$out" >&2
    LOAD="$before → $(loadavg)"
    RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    MAX=$(to_ms "$(awk '$1 == "Latency" { print $4 }' "$out")")
    NON2XX=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ {
        for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { s = $i; sub(/,/, "", s); n += s } }
        END { print n + 0 }' "$out")
}

# A short warm-up, so the figures are not about the first connections.
wrk -t1 -c8 -d1s -H "Cookie: yoom_session=$COOKIE" "$ORIGIN$TOKEN_PATH" >/dev/null

run_wrk healthz /healthz
H=("$RPS" "$P50" "$P99" "$MAX" "$NON2XX" "$LOAD")
run_wrk token "$TOKEN_PATH" -H "Cookie: yoom_session=$COOKIE"
T=("$RPS" "$P50" "$P99" "$MAX" "$NON2XX" "$LOAD")
UPSERTS=$(grep -c '^POST /api/v2/users' "$OUT/token-mock.log" || true)
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died; see $OUT/token-server.log"

verdict() { awk -v r="$1" -v p="$2" 'BEGIN { print (r > 20000 && p < 5) ? "met" : "not met" }'; }
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
{
    printf '# GET /api/token benchmark (Stream mode)\n\n'
    printf '%s; %s cores (%s); wrk -t%s -c%s -d%ss; commit %s%s.\n' \
        "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$CPU" "$BENCH_THREADS" \
        "$BENCH_CONNECTIONS" "$BENCH_DURATION" "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
        "$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
    printf 'wrk and the server share the machine. Upserts the stand-in saw: %s.\n\n' "$UPSERTS"
    printf '| run | req/s | p50 ms | p99 ms | max ms | non-2xx + socket errors | load before → after |\n'
    printf '|---|---|---|---|---|---|---|\n'
    printf '| GET `/healthz` (baseline) | %s | %s | %s | %s | %s | %s |\n' "${H[@]}"
    printf '| GET `/api/token` signed in | %s | %s | %s | %s | %s | %s |\n\n' "${T[@]}"
    printf 'Goal: over 20,000 req/s and p99 under 5 ms: %s.\n' "$(verdict "${T[0]}" "${T[2]}")"
} >"$OUT/token-summary.md"
cat "$OUT/token-summary.md"
[[ ${T[4]} == 0 ]] || die "GET /api/token had ${T[4]} non-2xx answers or socket errors"
