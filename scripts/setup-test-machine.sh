#!/usr/bin/env bash
# Prepare a Debian machine for nightshift's test suite. This is the only script that installs system
# packages or starts services for the tests; the tests never do. npm runs it before `npm test` (the
# pretest script), so `npm test` alone sets a fresh Debian machine up when run as root.
#
#   1. Docker: docker.io and busybox-static, and one dockerd if none answers   (scripts/ensure-docker.sh)
#   2. The tests' tools: systemd-analyze, crontab, flock, redis-server, and     (scripts/ensure-test-tools.sh)
#      python3-pip (real pip downloads from the pip channel's index), chromium and the DejaVu and
#      Liberation fonts (the page tests, through playwright-core), prometheus (its promtool checks
#      /metrics and the example alert rules), zsh (the zsh completion is tried in a real zsh)
#      (redis-server and prometheus: the packages only, their services are not started; the tests
#      start their own servers)
#   3. The test image nightshift-test/busybox:latest, from the static busybox   (scripts/make-test-image.sh)
#
# Each step does nothing when its part is already there, so the script is safe to run any number of
# times, and as any user on a machine that is already set up. Not root (or no apt-get) with something
# missing: it says what is missing and how to get it, and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-docker.sh
bash scripts/ensure-test-tools.sh

bash scripts/make-test-image.sh
bash scripts/check-test-machine.sh
echo "setup-test-machine: this machine is ready for npm test"
