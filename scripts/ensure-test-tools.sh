#!/usr/bin/env bash
# Make sure the tools the `nightshift install` tests check their output with are there:
#   systemd-analyze  (Debian package systemd)     verify the units, parse OnCalendar= values
#   crontab          (Debian package cron)        `crontab -n`: Debian cron's own parser
#   flock            (Debian package util-linux)  the cron lines' lock
#
#   - All present: exit 0 quietly.
#   - Missing, not root or no apt-get: say what is needed on stderr and exit 1 (the tests would
#     FAIL without them; they are never skipped).
#   - Missing, as root on Debian: apt-get install only the missing packages. Installing them starts no
#     service in a container (policy-rc.d) and on a host only what the packages themselves enable.
# Idempotent: safe to run any number of times.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have systemd-analyze || missing+=(systemd)
have crontab || missing+=(cron)
have flock || missing+=(util-linux)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
  cat >&2 <<MSG
ensure-test-tools: the nightshift install tests need Debian packages that are missing: ${missing[*]}
  (systemd-analyze verifies the generated units, crontab -n parses the generated cron file, flock is the cron lines' lock;
  the tests FAIL without them, they are never skipped)
On Debian/Ubuntu, as root:
  apt-get update && apt-get install -y ${missing[*]}
or run this script as root:  sudo bash scripts/ensure-test-tools.sh
MSG
  exit 1
fi

echo "ensure-test-tools: installing ${missing[*]} ..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"

for tool in systemd-analyze crontab flock; do
  if ! have "$tool"; then
    echo "ensure-test-tools: $tool is still missing after installing ${missing[*]}" >&2
    exit 1
  fi
done
