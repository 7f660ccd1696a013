#!/usr/bin/env bash
# Make sure a Docker engine is usable for nightshift's test suite.
#
#   - If `docker info` works (and the static busybox needed by make-test-image.sh is
#     there, or the test image already exists): exit 0 quietly.
#   - Not root, or no apt-get: explain what is needed on stderr and exit 1 (never skip).
#   - As root on Debian: install docker.io + busybox-static if missing, start ONE dockerd
#     (only if none is running), wait up to 60 s for it to answer.
# Idempotent: safe to run any number of times.
set -euo pipefail

LOG=/var/log/nightshift-dockerd.log
BUSYBOX=/bin/busybox
TEST_IMAGE=nightshift-test/busybox:latest
WAIT_SECONDS=60

docker_ok() { timeout 20 docker info >/dev/null 2>&1; }
have() { command -v "$1" >/dev/null 2>&1; }
image_exists() { docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; }

if docker_ok && { [ -x "$BUSYBOX" ] || image_exists; }; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
  cat >&2 <<MSG
ensure-docker: a working Docker engine is required for the nightshift test suite
(Docker integration tests FAIL without one; they are never skipped).
  docker info: $(if docker_ok; then echo ok; else echo 'failed'; fi)
  $BUSYBOX (static, for the test image): $(if [ -x "$BUSYBOX" ]; then echo present; else echo missing; fi)
To get one on Debian/Ubuntu, as root:
  apt-get update && apt-get install -y docker.io busybox-static
  nohup dockerd >$LOG 2>&1 &      # or: systemctl start docker
or simply run this script as root:  sudo bash scripts/ensure-docker.sh
If dockerd runs but you are not root, add yourself to the 'docker' group.
MSG
  exit 1
fi

if ! have dockerd || ! have docker || [ ! -x "$BUSYBOX" ]; then
  echo "ensure-docker: installing docker.io and busybox-static ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static
fi

if docker_ok; then
  exit 0
fi

started_pid=""
if pgrep -x dockerd >/dev/null 2>&1; then
  echo "ensure-docker: a dockerd is already running (pid $(pgrep -x dockerd | paste -sd ' ' -)); waiting for it" >&2
else
  echo "ensure-docker: starting dockerd (log: $LOG)" >&2
  mkdir -p "$(dirname "$LOG")"
  # Detached (own session, no stdin, SIGHUP ignored) so it outlives this script and
  # a Ctrl-C of the test run.
  if have setsid; then
    setsid nohup dockerd >"$LOG" 2>&1 </dev/null &
  else
    nohup dockerd >"$LOG" 2>&1 </dev/null &
  fi
  started_pid=$!
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
  if docker_ok; then
    echo "ensure-docker: docker is ready" >&2
    exit 0
  fi
  if [ -n "$started_pid" ] && ! pgrep -x dockerd >/dev/null 2>&1; then
    echo "ensure-docker: dockerd exited during startup" >&2
    break
  fi
  sleep 1
done

echo "ensure-docker: Docker engine did not become ready within ${WAIT_SECONDS}s" >&2
if [ -s "$LOG" ]; then
  echo "---- last lines of $LOG ----" >&2
  tail -n 30 "$LOG" >&2
fi
exit 1
