#!/usr/bin/env bash
# Signed-in Home requests per second, Clerk mode vs built-in accounts, same machine, same run;
# then the cost of one session verification in microseconds (benches/clerk_verify.rs).
#
# Everything is local: a release build of Yoom in each mode on 127.0.0.1, Clerk's Backend API
# mocked by examples/clerk_bench_tool.rs (JWKS and users), and a __session cookie it mints with
# the test key. Needs wrk (installed with apt-get when missing).
#
#   scripts/bench-clerk.sh            # DURATION=15s CONNECTIONS=16 by default
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
LOCAL_PORT=18180
CLERK_PORT=18181
MOCK_PORT=18190

if ! command -v wrk >/dev/null 2>&1; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk >/dev/null
fi

echo "== building (release)"
cargo build --release --quiet --bin yoom --example clerk_bench_tool
release="${CARGO_TARGET_DIR:-target}/release"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_until_up() {
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  exit 1
}

run_wrk() {
  local name="$1" port="$2" cookie="$3"
  local status
  status="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$port/")"
  if [ "$status" != "200" ]; then
    echo "$name: signed-in Home answered $status, not 200" >&2
    exit 1
  fi
  echo "== $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION GET / (signed in)"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "Cookie: $cookie" "http://127.0.0.1:$port/" \
    | tee "$work/$name.txt"
}

echo "== built-in accounts on :$LOCAL_PORT"
# Identity only: the mesh, so no media ports are taken (the SFU's ICE-TCP default, PORT + 1,
# is the other server's port).
DATA_DIR="$work/local" PORT=$LOCAL_PORT BASE_URL="http://127.0.0.1:$LOCAL_PORT" RUST_LOG=warn \
  BUILTIN_MEDIA=mesh "$release/yoom" &
pids+=($!)
wait_until_up $LOCAL_PORT
curl -fsS -o /dev/null -c "$work/jar" \
  -H "Origin: http://127.0.0.1:$LOCAL_PORT" -H "Sec-Fetch-Site: same-origin" \
  --data-urlencode "username=bench" --data-urlencode "display_name=Bench User" \
  --data-urlencode "password=correct horse battery" \
  --data-urlencode "confirm_password=correct horse battery" \
  "http://127.0.0.1:$LOCAL_PORT/sign-up"
local_cookie="yoom_session=$(awk '$6 == "yoom_session" { print $7 }' "$work/jar")"

echo "== Clerk mode on :$CLERK_PORT (mock Backend API on :$MOCK_PORT)"
"$release/examples/clerk_bench_tool" serve $MOCK_PORT &
pids+=($!)
DATA_DIR="$work/clerk" PORT=$CLERK_PORT BASE_URL="http://127.0.0.1:$CLERK_PORT" RUST_LOG=warn \
  BUILTIN_MEDIA=mesh CLERK_PUBLISHABLE_KEY="pk_test_Y2xlcmsuY2xlcmsuZGV2JA" CLERK_SECRET_KEY="sk_test_bench" \
  CLERK_API_URL="http://127.0.0.1:$MOCK_PORT" \
  "$release/yoom" &
pids+=($!)
wait_until_up $CLERK_PORT
clerk_cookie="$("$release/examples/clerk_bench_tool" cookie "http://127.0.0.1:$CLERK_PORT")"

run_wrk builtin $LOCAL_PORT "$local_cookie"
run_wrk clerk $CLERK_PORT "$clerk_cookie"

echo "== summary (requests/s, signed-in GET /)"
for name in builtin clerk; do
  printf '%-8s %s\n' "$name" "$(awk '/Requests\/sec/ { print $2 }' "$work/$name.txt")"
done

echo "== verification cost (cargo bench --bench clerk_verify)"
cargo bench --quiet --bench clerk_verify
