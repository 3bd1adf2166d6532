#!/usr/bin/env bash
# Runs this folder's example on one machine and proves a rolling restart drops no sign-in:
# a throw-away PostgreSQL (scripts/postgres.sh), two release instances on loopback ports,
# Caddy in front over plain http (no certificate on loopback), and a client that signs in
# and opens Home through Caddy over and over while each instance in turn is stopped with
# SIGTERM (as systemd does) and started again.
#
#   deploy/try-locally.sh            # prints sign-ins tried, and how many failed
#   SHUTDOWN_DRAIN_SECS=0 deploy/try-locally.sh   # the same without the drain, for comparison
#
# Needs caddy and curl (installed with apt-get when missing) and builds the release binary
# when target/release/yoom is missing (YOOM_BIN names another). Everything it starts is
# stopped at the end, and its temporary directory removed.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${YOOM_BIN:-target/release/yoom}
[[ -x $BIN ]] || cargo build --release
SUDO=()
[[ $(id -u) == 0 ]] || SUDO=(sudo)
for tool in caddy curl; do
    if ! command -v "$tool" >/dev/null; then
        "${SUDO[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "$tool" >/dev/null
    fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/yoom-deploy.XXXXXX")
# PostgreSQL runs as its own user when this runs as root: it must reach its folder in here.
chmod 755 "$dir"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/postgres.sh stop "$dir/pg" 2>/dev/null || true
    rm -rf -- "$dir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_healthy() { # URL
    for _ in $(seq 1 200); do
        curl -fsS -o /dev/null "$1/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$1 did not become healthy" >&2
    return 1
}

database=$(scripts/postgres.sh start "$dir/pg")
proxy_port=$(free_port)
origin="http://127.0.0.1:$proxy_port"
declare -A port pid
for name in a b; do port[$name]=$(free_port); done

start_instance() { # NAME
    local name=$1
    mkdir -p "$dir/$name"
    env -i PATH="$PATH" \
        BASE_URL="$origin" BIND=127.0.0.1 PORT="${port[$name]}" \
        INSTANCE_URL="http://127.0.0.1:${port[$name]}" DATABASE_URL="$database" \
        DATA_DIR="$dir/$name" RECORDINGS_DIR="$dir/recordings" TRUST_PROXY=true \
        MEDIA_UDP_PORT=0 MEDIA_TCP_PORT=0 SHUTDOWN_DRAIN_SECS="${SHUTDOWN_DRAIN_SECS:-3}" RUST_LOG=warn \
        "$BIN" >>"$dir/$name.log" 2>&1 &
    pid[$name]=$!
    pids+=("$!")
}
for name in a b; do start_instance "$name"; done
for name in a b; do wait_healthy "http://127.0.0.1:${port[$name]}"; done

# The example's Caddyfile, for loopback: plain http, health checks twice a second.
cat >"$dir/Caddyfile" <<CADDY
{
	admin off
	auto_https off
}
$origin {
	reverse_proxy 127.0.0.1:${port[a]} 127.0.0.1:${port[b]} {
		lb_policy round_robin
		lb_try_duration 5s
		lb_try_interval 250ms
		health_uri /healthz
		health_interval 500ms
		health_timeout 1s
		health_status 200
	}
}
CADDY
caddy run --config "$dir/Caddyfile" --adapter caddyfile >"$dir/caddy.log" 2>&1 &
pids+=("$!")
wait_healthy "$origin"

post() { # PATH JAR FORM...
    local path=$1 jar=$2
    shift 2
    local args=()
    for field in "$@"; do args+=(--data-urlencode "$field"); done
    curl -sS -o /dev/null -w '%{http_code}' -b "$jar" -c "$jar" \
        -H "Origin: $origin" -H 'Sec-Fetch-Site: same-origin' "${args[@]}" "$origin$path"
}
status=$(post /sign-up "$dir/jar" username=rolling "display_name=Rolling Restart" \
    "password=correct horse battery" "confirm_password=correct horse battery")
[[ $status == 303 ]] || {
    echo "sign-up answered $status" >&2
    exit 1
}

# Sign in and open Home, again and again, until told to stop.
client() {
    local tried=0 failed=0 jar="$dir/client.jar"
    while [[ ! -e $dir/stop ]]; do
        rm -f "$jar"
        tried=$((tried + 1))
        local signed home
        signed=$(post /sign-in "$jar" username=rolling "password=correct horse battery" || true)
        home=$(curl -sS -b "$jar" -o "$dir/home.html" -w '%{http_code}' "$origin/" || true)
        if [[ $signed != 303 || $home != 200 ]] || ! grep -q 'Rolling Restart' "$dir/home.html"; then
            failed=$((failed + 1))
            echo "sign-in $tried: POST /sign-in $signed, GET / $home" >&2
        fi
    done
    echo "$tried $failed" >"$dir/client.result"
}
client &
client_pid=$!
sleep 2
for name in a b; do
    echo "== stopping instance $name (SIGTERM), starting it again"
    kill -TERM "${pid[$name]}"
    wait "${pid[$name]}" 2>/dev/null || true
    start_instance "$name"
    wait_healthy "http://127.0.0.1:${port[$name]}"
    sleep 2
done
touch "$dir/stop"
wait "$client_pid"
read -r tried failed <"$dir/client.result"
echo "sign-ins through the proxy during a rolling restart of both instances: $tried tried, $failed failed"
[[ $failed == 0 ]]
