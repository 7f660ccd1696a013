#!/usr/bin/env bash
# Check that this machine can run nightshift's whole test suite, before `npm test` runs it. It never
# installs or starts anything: when something is missing it lists all of it, says how to get it
# (scripts/setup-test-machine.sh, as root on Debian), and fails. The tests need a real Docker engine
# and real tools; they FAIL without them, they are never skipped.
set -euo pipefail

# The test image's name; scripts/make-test-image.sh builds it, test/helpers/docker.ts uses it.
readonly TEST_IMAGE=nightshift-test/busybox:latest

have() { command -v "$1" >/dev/null 2>&1; }

problems=()

have git || problems+=("git is missing (Debian package git)")

if ! have docker; then
  problems+=("docker is missing (Debian package docker.io)")
elif ! timeout 20 docker info >/dev/null 2>&1; then
  if pgrep -x dockerd >/dev/null 2>&1; then
    problems+=("a dockerd runs but \`docker info\` fails for $(id -un): is this user allowed to use it (root, or the docker group)?")
  else
    problems+=("no Docker engine answers: dockerd is not running")
  fi
elif ! docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
  problems+=("the test image $TEST_IMAGE is missing (scripts/make-test-image.sh builds it from Debian's busybox-static)")
fi

have systemd-analyze || problems+=("systemd-analyze is missing (Debian package systemd): the install tests verify the generated units with it")
have crontab || problems+=("crontab is missing (Debian package cron): the install tests parse the generated cron file with \`crontab -n\`")
have flock || problems+=("flock is missing (Debian package util-linux): the generated cron lines take their lock with it")
have redis-server || problems+=("redis-server is missing (Debian package redis-server): the queue's tests start their own Redis servers with it")
have promtool || problems+=("promtool is missing (Debian package prometheus): the metrics tests check /metrics and the example alert rules with it")
have chromium || problems+=("chromium is missing (Debian package chromium): the server's and the report's page tests drive it with playwright-core")
have zsh || problems+=("zsh is missing (Debian package zsh): the zsh completion is tried in a real zsh")
[ -d /usr/share/fonts/truetype/dejavu ] || problems+=("the DejaVu fonts are missing (Debian package fonts-dejavu-core): the report's glyph test renders with them")
[ -d /usr/share/fonts/truetype/liberation ] || problems+=("the Liberation fonts are missing (Debian package fonts-liberation): the report's glyph test renders with them")
python3 -m pip --version >/dev/null 2>&1 || problems+=("python3 -m pip is missing (Debian package python3-pip): the pip channel's tests download wheels from the index with it")

if [ "${#problems[@]}" -eq 0 ]; then
  exit 0
fi

{
  echo "check-test-machine: this machine cannot run the nightshift test suite yet:"
  for problem in "${problems[@]}"; do echo "  - $problem"; done
  echo "npm test installs nothing. Set the machine up once, as root on Debian (it installs only what is missing"
  echo "and starts dockerd when none runs):"
  echo "  bash scripts/setup-test-machine.sh"
  echo 'then run npm test again. (`npm run test:unit`, the fast tests, needs only git.)'
} >&2
exit 1
