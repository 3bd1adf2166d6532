#!/usr/bin/env bash
# Runs every test: formatting, lints, the Stream meeting page's type check, unit tests,
# integration tests and the browser tests (the accessibility ones with axe-core).
# Installs what the browser tests need (Debian's chromium and chromium-driver, and axe-core
# from npm into target/) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

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
echo "== cargo test"
cargo test --all-targets
