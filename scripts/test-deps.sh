#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages: a real redis-server for the budget
# store tests (fleet, TTL, outage). Run by `npm test` (pretest) and .ci/run.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "redis-server is missing and this user cannot install it: run 'sudo apt-get install -y redis-server'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server >/dev/null
