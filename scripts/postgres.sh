#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests and benchmarks, from Debian's packages.
#
#   scripts/postgres.sh start DIR   # prints the server's URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   scripts/postgres.sh stop DIR    # stops it and removes DIR
#
# DIR is created (it must not exist or be empty) and holds the data directory, the socket,
# the log and the port. The server listens on 127.0.0.1 only, on a free port, trusts local
# connections, and trades durability for speed (fsync off): it is for tests, never for data.
# Installs Debian's `postgresql` with apt-get (through sudo when not root) when initdb is
# missing. PostgreSQL refuses to run as root: as root it runs as the `postgres` user the
# package creates.
set -euo pipefail

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}
[[ $# == 2 ]] || usage
cmd=$1 dir=$2

pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n $bin && -x $bin/initdb ]] && printf '%s' "$bin"
}

as_owner() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
    if ! bin=$(pg_bin); then
        echo "== installing postgresql" >&2
        sudo_cmd=()
        [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
        "${sudo_cmd[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq postgresql >/dev/null
        bin=$(pg_bin) || {
            echo "postgres.sh: initdb not found after installing postgresql" >&2
            exit 1
        }
    fi
    mkdir -p "$dir"
    [[ -z $(ls -A "$dir") ]] || {
        echo "postgres.sh: $dir is not empty" >&2
        exit 1
    }
    [[ $(id -u) == 0 ]] && chown postgres "$dir"
    port=
    for _ in $(seq 1 100); do
        candidate=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
            port=$candidate
            break
        fi
    done
    [[ -n $port ]] || {
        echo "postgres.sh: no free port" >&2
        exit 1
    }
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    printf '%s\n' "$port" >"$dir/port"
    printf 'postgres://postgres@127.0.0.1:%s/postgres\n' "$port"
    ;;
stop)
    if [[ -d $dir/data ]]; then
        bin=$(pg_bin) || exit 1
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf -- "$dir"
    ;;
*) usage ;;
esac
