#!/usr/bin/env bash
# Installs axe-core (MPL-2.0; pinned, with its lockfile in scripts/axe/) into target/axe for the
# accessibility browser tests. Used by tests only: nothing of it is served or committed.
# Does nothing when the installed copy already matches the lockfile.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/target/axe"
mkdir -p "$dest"
if cmp -s "$root/scripts/axe/package-lock.json" "$dest/package-lock.json" \
  && [ -f "$dest/node_modules/axe-core/axe.min.js" ]; then
  exit 0
fi
cp "$root/scripts/axe/package.json" "$root/scripts/axe/package-lock.json" "$dest/"
(cd "$dest" && npm ci --silent --no-audit --no-fund >/dev/null)
echo "axe-core $(node -p "require('$dest/node_modules/axe-core/package.json').version") installed in target/axe"
