#!/usr/bin/env bash
# Build the local Docker image used by nightshift's integration tests.
#
# No registry is reachable from test machines, so the image is never pulled: it is
# `docker import`ed from a tiny rootfs holding the static busybox (Debian package
# busybox-static) plus one symlink per applet, /tmp, /out, /recipes and a minimal
# /etc/passwd and /etc/group.
#
# Usage: bash scripts/make-test-image.sh [--force]
#   --force   rebuild even if the image already exists
set -euo pipefail

# The test image's name; test/helpers/docker.ts exports the same value as TEST_IMAGE.
readonly TEST_IMAGE=nightshift-test/busybox:latest
readonly BUSYBOX=/bin/busybox

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "make-test-image: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

verify() {
  local out
  if ! out=$(docker run --rm --network none "$TEST_IMAGE" sh -c 'echo ok' 2>&1) || [ "$out" != ok ]; then
    echo "make-test-image: $TEST_IMAGE does not work (got: $out)" >&2
    echo "  rebuild it with: bash scripts/make-test-image.sh --force" >&2
    exit 1
  fi
}

if [ "$force" -eq 0 ] && docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
  verify
  echo "make-test-image: $TEST_IMAGE already exists (use --force to rebuild)"
  exit 0
fi

if [ ! -x "$BUSYBOX" ]; then
  echo "make-test-image: $BUSYBOX not found; install Debian's busybox-static" >&2
  echo "  (as root: bash scripts/ensure-docker.sh, or apt-get install -y busybox-static)" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nightshift-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root="$tmp/rootfs"

mkdir -p "$root/bin" "$root/etc" "$root/out" "$root/recipes" "$root/tmp" "$root/root"
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"

count=0
while IFS= read -r applet; do
  # Leave busybox itself out: the binary is already /bin/busybox.
  [ -n "$applet" ] && [ "$applet" != busybox ] || continue
  ln -s busybox "$root/bin/$applet"
  count=$((count + 1))
done < <("$BUSYBOX" --list)

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP

tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$tmp/rootfs.tar" .
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'WORKDIR /' \
  --change 'CMD ["sh"]' \
  "$tmp/rootfs.tar" "$TEST_IMAGE" >/dev/null

verify
echo "make-test-image: built $TEST_IMAGE (busybox + $count applet links)"
