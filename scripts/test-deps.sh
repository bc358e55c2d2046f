#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages: a real redis-server for the budget
# store tests (fleet, TTL, outage), and Debian's Chromium for the viewer's browser tests
# (driven by playwright-core, which never downloads a browser). Run by `npm test` (pretest) and .ci/run.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "${missing[*]} missing and this user cannot install them: run 'sudo apt-get install -y --no-install-recommends ${missing[*]}'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
