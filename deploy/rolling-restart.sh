#!/usr/bin/env bash
# Restarts Yoom instances one at a time (after installing a new binary), waiting for each to
# answer its health check before the next one stops, so one instance always serves.
#
#   deploy/rolling-restart.sh a=http://10.0.0.11:8080 b=http://10.0.0.12:8080
#
# Each argument is a systemd instance name (yoom@NAME) and the address of its /healthz.
set -euo pipefail
[[ $# -gt 0 ]] || {
    echo "usage: $0 NAME=http://host:port ..." >&2
    exit 2
}
for arg in "$@"; do
    name=${arg%%=*} url=${arg#*=}
    echo "== restarting yoom@$name"
    systemctl restart "yoom@$name"
    for _ in $(seq 1 60); do
        if curl -fsS -o /dev/null "$url/healthz"; then
            echo "   healthy"
            continue 2
        fi
        sleep 1
    done
    echo "yoom@$name did not become healthy in 60 s; stopping here" >&2
    exit 1
done
