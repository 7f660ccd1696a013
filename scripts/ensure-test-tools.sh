#!/usr/bin/env bash
# Make sure the tools the tests use are there:
#   systemd-analyze  (Debian package systemd)       verify the units, parse OnCalendar= values
#   crontab          (Debian package cron)          `crontab -n`: Debian cron's own parser
#   flock            (Debian package util-linux)    the cron lines' lock
#   redis-server     (Debian package redis-server)  the shared queue's tests start their own servers
#                                                   (test/helpers/redis.ts); its service is never started
#   promtool         (Debian package prometheus)    `promtool check metrics` on /metrics, `check rules` and `test rules`
#                                                   on the example alert rules; its service is never started
#   python3 -m pip   (Debian package python3-pip)   the pip channel's tests download from the index with real pip
#   chromium         (Debian package chromium)      the server's and the report's tests drive it with playwright-core
#   zsh              (Debian package zsh)           the zsh completion is tried in a real zsh, through its own pty (zpty)
#   DejaVu, Liberation fonts (fonts-dejavu-core, fonts-liberation)  the report's glyph test renders with them
#
#   - All present: exit 0 quietly.
#   - Missing, not root or no apt-get: say what is needed on stderr and exit 1 (the tests would
#     FAIL without them; they are never skipped).
#   - Missing, as root on Debian: apt-get install only the missing packages. Installing them starts no
#     service in a container (policy-rc.d) and on a host only what the packages themselves enable;
#     redis-server and prometheus are installed with a policy-rc.d that refuses every start, and their
#     units are disabled, so no Redis (port 6379) or Prometheus (port 9090) runs now or after a reboot.
# Idempotent: safe to run any number of times.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have systemd-analyze || missing+=(systemd)
have crontab || missing+=(cron)
have flock || missing+=(util-linux)
have redis-server || missing+=(redis-server)
have promtool || missing+=(prometheus)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
have chromium || missing+=(chromium)
have zsh || missing+=(zsh)
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
[ -d /usr/share/fonts/truetype/liberation ] || missing+=(fonts-liberation)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
  cat >&2 <<MSG
ensure-test-tools: the nightshift tests need Debian packages that are missing: ${missing[*]}
  (systemd-analyze verifies the generated units, crontab -n parses the generated cron file, flock is the cron lines' lock,
  the queue's tests start their own redis-server, the metrics tests check /metrics and the alert rules with promtool,
  the pip channel's tests run python3 -m pip, the page tests drive chromium and render with the DejaVu and Liberation
  fonts, the completion tests run zsh; the tests FAIL without them, they are never skipped)
On Debian/Ubuntu, as root:
  apt-get update && apt-get install -y ${missing[*]}
or run this script as root:  sudo bash scripts/ensure-test-tools.sh  (it also keeps redis-server's and prometheus' own services from starting)
MSG
  exit 1
fi

echo "ensure-test-tools: installing ${missing[*]} ..." >&2
apt-get update -qq
others=()
# Packages that ship a service the tests must not have running: installed with every start refused, then disabled.
services=()
for package in "${missing[@]}"; do
  case "$package" in
    redis-server | prometheus) services+=("$package") ;;
    *) others+=("$package") ;;
  esac
done
if [ "${#others[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${others[@]}"
fi

if [ "${#services[@]}" -gt 0 ]; then
  # The tests start their own redis-server on free ports and use only prometheus' promtool; the
  # packages' services must not run. A policy-rc.d that exits 101 forbids every service start during
  # the install (containers usually have one already: it is then left as it is).
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# nightshift ensure-test-tools: no service starts while %s is installed\nexit 101\n' "${services[*]}" >"$policy"
    chmod 755 "$policy"
    made_policy=1
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${services[@]}"
  if [ -n "$made_policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
  # Nor at boot: the packages enable their units.
  if command -v systemctl >/dev/null 2>&1; then
    for service in "${services[@]}"; do
      systemctl disable --quiet "$service.service" >/dev/null 2>&1 || echo "ensure-test-tools: could not disable $service.service; disable it by hand: systemctl disable --now $service" >&2
    done
  fi
fi

for tool in systemd-analyze crontab flock redis-server promtool chromium zsh; do
  if ! have "$tool"; then
    echo "ensure-test-tools: $tool is still missing after installing ${missing[*]}" >&2
    exit 1
  fi
done
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "ensure-test-tools: python3 -m pip is still missing after installing ${missing[*]}" >&2
  exit 1
fi
