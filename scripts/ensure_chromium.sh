#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the report screenshot tests, once.
# Idempotent: does nothing when /usr/bin/chromium already exists. Safe to call from CI and pytest.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure_chromium: not root and no sudo; install the 'chromium' package by hand" >&2
    exit 1
  fi
fi

# Several processes may race here (parallel test sessions): serialise on a lock file.
exec 9>/tmp/tunesmith-ensure-chromium.lock
flock 9
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x /usr/bin/chromium
