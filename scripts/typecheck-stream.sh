#!/usr/bin/env bash
# Type-checks the Stream meeting page (static/js/meeting/stream.js and its stream-*.js modules)
# with TypeScript's checkJs against the type definitions of the same @stream-io/video-client
# version the vendored bundle is built from (scripts/vendor-stream.sh).
#
# npm installs TypeScript and the client from the lockfile kept in scripts/typecheck-stream/
# into target/typecheck-stream/, once: a rerun with the same lockfile installs nothing. The
# bundle's exports are typed from the entry vendor-stream.sh bundles, so using a name the
# bundle does not export is an error too. JSDoc comments in the modules carry the types.
# To upgrade the client: change the version here in package.json and in vendor-stream.sh
# together, run `npm install --package-lock-only` in scripts/typecheck-stream/, commit both.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
pins="$root/scripts/typecheck-stream"
cache="$root/target/typecheck-stream"

# The client whose types we check against must be the one the bundle is built from.
bundled="$(sed -n 's/^STREAM_CLIENT_VERSION="\(.*\)"$/\1/p' "$root/scripts/vendor-stream.sh")"
pinned="$(sed -n 's/^ *"@stream-io\/video-client": "\(.*\)",\{0,1\}$/\1/p' "$pins/package.json")"
if [ -z "$bundled" ] || [ "$bundled" != "$pinned" ]; then
  echo "typecheck-stream: the bundle is built from @stream-io/video-client '${bundled}'," \
    "but scripts/typecheck-stream/package.json pins '${pinned}'" >&2
  exit 1
fi

if ! cmp -s "$pins/package-lock.json" "$cache/package-lock.json" || [ ! -x "$cache/node_modules/.bin/tsc" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "typecheck-stream: needs Node.js and npm (to install TypeScript and the client's types)" >&2
    exit 1
  fi
  rm -rf "$cache"
  mkdir -p "$cache"
  cp "$pins/package.json" "$pins/package-lock.json" "$cache/"
  (cd "$cache" && npm ci --silent --no-audit --no-fund >/dev/null)
fi

# What the bundle exports: vendor-stream.sh's entry, which re-exports from the client, is
# also a valid declaration file. tsconfig.json maps the bundle's URL to it.
sed -n "/^cat > entry.js <<'JS'$/,/^JS$/{//!p}" "$root/scripts/vendor-stream.sh" > "$cache/stream-video-client.d.ts"
if ! grep -q 'from "@stream-io/video-client"' "$cache/stream-video-client.d.ts"; then
  echo "typecheck-stream: could not read the bundle's entry from scripts/vendor-stream.sh" >&2
  exit 1
fi

"$cache/node_modules/.bin/tsc" -p "$pins/tsconfig.json"
