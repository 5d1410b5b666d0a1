#!/usr/bin/env bash
# Renders a report's report.html with headless Chromium (Debian's package) into report.png next to it.
# Usage: scripts/screenshot-report.sh Reports/NAME [WIDTH HEIGHT]
set -euo pipefail
dir="${1:?usage: scripts/screenshot-report.sh Reports/NAME [WIDTH HEIGHT]}"
width="${2:-1280}"
height="${3:-2000}"
html="$dir/report.html"
[ -f "$html" ] || { echo "screenshot-report: $html: no such file (run plexlab report first)" >&2; exit 2; }

browser=""
for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null 2>&1; then browser="$candidate"; break; fi
done
if [ -z "$browser" ]; then
  echo "screenshot-report: installing chromium from Debian's packages" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium
  browser=chromium
fi

abs_html="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
png="$(cd "$dir" && pwd)/report.png"
# A throwaway profile so nothing from a previous run (or the user's) leaks in.
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --no-first-run --disable-extensions --disable-background-networking \
  --screenshot="$png" --window-size="$width,$height" "file://$abs_html" 2>/dev/null
[ -s "$png" ] || { echo "screenshot-report: chromium wrote no screenshot" >&2; exit 1; }
echo "$png"
