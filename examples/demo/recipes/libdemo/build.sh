#!/bin/sh
# Demo recipe: pretends to build a C++ library archive for $DESIRED_CUDA.
set -eu
echo "building libdemo for cuda $DESIRED_CUDA"
sleep "$((${DEMO_PAUSE:-1} * 3))"
printf 'demo library %s\n' "$NIGHTSHIFT_BUILD_ID" > "$NIGHTSHIFT_OUT/libdemo-$DESIRED_CUDA.tar.gz"
echo "done"
