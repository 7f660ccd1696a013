#!/bin/sh
# Demo recipe: pretends to build a wheel for $DESIRED_PYTHON / $DESIRED_CUDA.
set -eu
echo "building wheel for python $DESIRED_PYTHON, cuda $DESIRED_CUDA (CUDA_VERSION=$CUDA_VERSION)"
for step in configure compile link package; do
  echo "[$NIGHTSHIFT_BUILD_ID] $step"
  sleep "${DEMO_PAUSE:-1}"   # DEMO_PAUSE=0 npm run demo: the same night without the pauses
done
if [ "$DESIRED_PYTHON" = "3.13" ] && [ "$DESIRED_CUDA" = "cu126" ]; then
  echo "error: nvcc does not support this compiler yet (a deliberate failure, to show the report)" >&2
  exit 2
fi
tag=$(echo "$DESIRED_PYTHON" | tr -d .)
printf 'demo wheel %s\n' "$NIGHTSHIFT_BUILD_ID" > "$NIGHTSHIFT_OUT/demo-1.0-cp$tag-cp$tag-linux_x86_64.whl"
echo "wrote $(ls "$NIGHTSHIFT_OUT")"
