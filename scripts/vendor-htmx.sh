#!/usr/bin/env bash
# Fetches the pinned htmx release from the npm registry into static/vendor/htmx/.
#
# Pinned to the 2.0 line: it is the stable, long-supported series whose attribute semantics
# (hx-target, hx-swap, HX-* headers, responseHandling) the templates are written against.
# htmx 4.0 changes request and error handling defaults; moving to it is a deliberate upgrade,
# done by changing HTMX_VERSION, re-running this script and re-running the browser tests.
set -euo pipefail
HTMX_VERSION="2.0.11"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/static/vendor/htmx"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "htmx.org@${HTMX_VERSION}" >/dev/null)
tar -xzf "$work"/htmx.org-"${HTMX_VERSION}".tgz -C "$work"
mkdir -p "$dest"
cp "$work/package/dist/htmx.min.js" "$dest/htmx.min.js"
cp "$work/package/LICENSE" "$dest/LICENSE"
printf 'htmx.org %s (npm registry)\n' "$HTMX_VERSION" > "$dest/VERSION"
echo "htmx ${HTMX_VERSION} vendored into ${dest#"$root"/}"
