#!/usr/bin/env bash
# The README's test command: set up, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build --build-tests
# Every test is Swift Testing; skipping the empty XCTest pass keeps the closing line about real tests.
swift test --skip-build --disable-xctest
