#!/usr/bin/env bash
# Make sure the tools the tests use are there:
#   systemd-analyze  (Debian package systemd)       verify the units, parse OnCalendar= values
#   crontab          (Debian package cron)          `crontab -n`: Debian cron's own parser
#   flock            (Debian package util-linux)    the cron lines' lock
#   redis-server     (Debian package redis-server)  the shared queue's tests start their own servers
#                                                   (test/helpers/redis.ts); its service is never started
#   python3 -m pip   (Debian package python3-pip)   the pip channel's tests download from the index with real pip
#   chromium         (Debian package chromium)      the server's and the report's tests drive it with playwright-core
#   DejaVu, Liberation fonts (fonts-dejavu-core, fonts-liberation)  the report's glyph test renders with them
#
#   - All present: exit 0 quietly.
#   - Missing, not root or no apt-get: say what is needed on stderr and exit 1 (the tests would
#     FAIL without them; they are never skipped).
#   - Missing, as root on Debian: apt-get install only the missing packages. Installing them starts no
#     service in a container (policy-rc.d) and on a host only what the packages themselves enable;
#     redis-server is installed with a policy-rc.d that refuses every start, and its unit is disabled,
#     so no Redis runs on the machine's port 6379 now or after a reboot.
# Idempotent: safe to run any number of times.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have systemd-analyze || missing+=(systemd)
have crontab || missing+=(cron)
have flock || missing+=(util-linux)
have redis-server || missing+=(redis-server)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
have chromium || missing+=(chromium)
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
[ -d /usr/share/fonts/truetype/liberation ] || missing+=(fonts-liberation)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
  cat >&2 <<MSG
ensure-test-tools: the nightshift tests need Debian packages that are missing: ${missing[*]}
  (systemd-analyze verifies the generated units, crontab -n parses the generated cron file, flock is the cron lines' lock,
  the queue's tests start their own redis-server, the pip channel's tests run python3 -m pip, the page tests drive
  chromium and render with the DejaVu and Liberation fonts; the tests FAIL without them, they are never skipped)
On Debian/Ubuntu, as root:
  apt-get update && apt-get install -y ${missing[*]}
or run this script as root:  sudo bash scripts/ensure-test-tools.sh  (it also keeps redis-server's own service from starting)
MSG
  exit 1
fi

echo "ensure-test-tools: installing ${missing[*]} ..." >&2
apt-get update -qq
others=()
for package in "${missing[@]}"; do [ "$package" = redis-server ] || others+=("$package"); done
if [ "${#others[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${others[@]}"
fi

if [[ " ${missing[*]} " == *" redis-server "* ]]; then
  # The tests start their own redis-server on free ports; the package's service must not run. A
  # policy-rc.d that exits 101 forbids every service start during the install (containers usually
  # have one already: it is then left as it is).
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# nightshift ensure-test-tools: no service starts while redis-server is installed\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
  if [ -n "$made_policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
  # Nor at boot: the package enables its unit.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --quiet redis-server.service >/dev/null 2>&1 || echo "ensure-test-tools: could not disable redis-server.service; disable it by hand: systemctl disable --now redis-server" >&2
  fi
fi

for tool in systemd-analyze crontab flock redis-server chromium; do
  if ! have "$tool"; then
    echo "ensure-test-tools: $tool is still missing after installing ${missing[*]}" >&2
    exit 1
  fi
done
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "ensure-test-tools: python3 -m pip is still missing after installing ${missing[*]}" >&2
  exit 1
fi
