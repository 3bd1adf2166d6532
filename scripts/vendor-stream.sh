#!/usr/bin/env bash
# Bundles the pinned @stream-io/video-client browser build into static/vendor/stream/, so the
# Stream meeting page loads it from our own origin (no CDN, nothing fetched at run time).
#
# npm installs the client and esbuild into a temporary directory from the lockfile kept in
# scripts/vendor-stream/ (so every dependency of the client is pinned, not only the client);
# esbuild bundles a small entry that re-exports what static/js/meeting/stream.js uses into one
# minified ES module. The client's licence and a VERSION file are written beside it. The
# result is committed.
# To upgrade: change STREAM_CLIENT_VERSION (or ESBUILD_VERSION), re-run (the lockfile is
# regenerated when the pins changed), commit the lockfile and the bundle, and re-run the
# Stream browser tests.
set -euo pipefail
STREAM_CLIENT_VERSION="1.60.0"
ESBUILD_VERSION="0.28.2"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/static/vendor/stream"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

lock="$root/scripts/vendor-stream"
cd "$work"
cat > package.json <<JSON
{
  "name": "yoom-vendor-stream",
  "private": true,
  "dependencies": {
    "@stream-io/video-client": "${STREAM_CLIENT_VERSION}",
    "esbuild": "${ESBUILD_VERSION}"
  }
}
JSON
if [ -f "$lock/package-lock.json" ] && cmp -s package.json "$lock/package.json"; then
  cp "$lock/package-lock.json" package-lock.json
  npm ci --silent --no-audit --no-fund >/dev/null
else
  echo "pins changed: resolving and recording a new lockfile in ${lock#"$root"/}"
  npm install --silent --no-audit --no-fund >/dev/null
  mkdir -p "$lock"
  cp package.json package-lock.json "$lock/"
fi

# Only what stream.js imports: esbuild drops the rest it can prove unused.
cat > entry.js <<'JS'
export {
  StreamVideoClient,
  CallingState,
  SfuModels,
  hasAudio,
  hasVideo,
  hasScreenShare,
} from "@stream-io/video-client";
JS

# The package's "browser" field points esbuild at its browser build.
./node_modules/.bin/esbuild entry.js --bundle --format=esm --minify --platform=browser \
  --target=es2020 --legal-comments=eof --log-level=warning \
  --define:process.env.NODE_ENV='"production"' \
  --outfile=stream-video-client.js

mkdir -p "$dest"
cp stream-video-client.js "$dest/stream-video-client.js"
cp node_modules/@stream-io/video-client/LICENSE "$dest/LICENSE"
printf '@stream-io/video-client %s (npm registry), bundled with esbuild %s\n' \
  "$STREAM_CLIENT_VERSION" "$ESBUILD_VERSION" > "$dest/VERSION"
echo "@stream-io/video-client ${STREAM_CLIENT_VERSION} bundled into ${dest#"$root"/} ($(wc -c < "$dest/stream-video-client.js") bytes)"
