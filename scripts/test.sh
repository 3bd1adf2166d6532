#!/usr/bin/env bash
# Runs every test: formatting, lints, the Stream meeting page's type check, unit tests,
# integration tests and the browser tests (the accessibility ones with axe-core), on SQLite;
# then the integration tests again on PostgreSQL, with the tests of several instances on one
# database. Installs what the browser tests need (Debian's chromium and chromium-driver, and
# axe-core from npm into target/) and Debian's postgresql when missing; the PostgreSQL server
# is a throw-away one (scripts/postgres.sh), stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_DIR=$(mktemp -u "${TMPDIR:-/tmp}/yoom-test-pg.XXXXXX")
trap 'scripts/postgres.sh stop "$PG_DIR"' EXIT

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "== installing chromium and chromium-driver"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== type-check the Stream meeting page"
scripts/typecheck-stream.sh
echo "== axe-core for the accessibility tests"
scripts/install-axe.sh
echo "== throw-away PostgreSQL"
YOOM_TEST_POSTGRES=$(scripts/postgres.sh start "$PG_DIR")
export YOOM_TEST_POSTGRES
echo "== cargo test (SQLite; several instances on PostgreSQL)"
cargo test --all-targets
echo "== integration tests on PostgreSQL (each test app on a fresh database)"
YOOM_TEST_DATABASE=postgres cargo test --test api -- --skip browser:: --skip instances::
