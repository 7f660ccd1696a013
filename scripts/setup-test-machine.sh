#!/usr/bin/env bash
# Prepare a Debian machine for nightshift's test suite. This is the only script that installs system
# packages or starts services for the tests; `npm test` never does (it runs scripts/check-test-machine.sh,
# which only checks and explains). .ci/run calls it before `npm test`; on a machine of your own run it
# once as root, and again after a reboot (dockerd is started by hand, not as a service).
#
#   1. Docker: docker.io and busybox-static, and one dockerd if none answers   (scripts/ensure-docker.sh)
#   2. The install tests' tools: systemd-analyze, crontab, flock               (scripts/ensure-test-tools.sh)
#   3. Redis: Debian's redis-server, for the work queue to come. No test uses it yet, so when it cannot
#      be installed (not root, no apt-get) this is a warning, not a failure; it is installed, not started.
#   4. The test image nightshift-test/busybox:latest, from the static busybox   (scripts/make-test-image.sh)
#
# Each step does nothing when its part is already there, so the script is safe to run any number of
# times, and as any user on a machine that is already set up. Not root (or no apt-get) with something
# missing: it says what is missing and how to get it, and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }

bash scripts/ensure-docker.sh
bash scripts/ensure-test-tools.sh

if ! have redis-server; then
  if [ "$(id -u)" -eq 0 ] && have apt-get; then
    echo "setup-test-machine: installing redis-server ..." >&2
    apt-get update -qq
    # A container's policy-rc.d keeps the package from starting the service; on a host it starts as
    # the package sets it up. Tests that need Redis will start their own server.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
  else
    echo "setup-test-machine: warning: redis-server is missing (as root on Debian: apt-get install -y redis-server); no test needs it yet" >&2
  fi
fi

bash scripts/make-test-image.sh
bash scripts/check-test-machine.sh
echo "setup-test-machine: this machine is ready for npm test"
