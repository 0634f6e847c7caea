#!/usr/bin/env bash
# The headless browser of the page tests (tests/integration/test_serve_browser.py): Debian's
# chromium and its WebDriver, chromium-driver. Nothing to do when both are there.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
command -v chromium && command -v chromedriver
