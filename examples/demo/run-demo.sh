#!/usr/bin/env bash
# Runs the demo night: makes a local git repository of the recipes, then checks, plans and runs the night.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
nightshift=(node "$repo_root/dist/cli.js" --config "$here" --machine demo)

[ -f "$repo_root/dist/cli.js" ] || (cd "$repo_root" && npm run -s build)

# The recipes repository nightshift clones into every night folder (a real git repo, served by file path).
work="$here/work"
rm -rf "$work/recipes.git" "$work/recipes-src"
mkdir -p "$work"
cp -r "$here/recipes" "$work/recipes-src"
git -C "$work/recipes-src" init -q -b main
git -C "$work/recipes-src" add -A
git -C "$work/recipes-src" -c user.name=demo -c user.email=demo@example.com commit -qm "demo recipes"
git clone -q --bare "$work/recipes-src" "$work/recipes.git"
rm -rf "$work/recipes-src"

echo "== nightshift validate"
"${nightshift[@]}" validate
echo
echo "== nightshift plan"
"${nightshift[@]}" plan
echo
echo "== nightshift run  (one build fails on purpose: the night exits 1 and says which)"
status=0
"${nightshift[@]}" run --force --refresh-recipes || status=$?
echo
echo "== nightshift status"
"${nightshift[@]}" status
echo
echo "== nightshift log wheel_3.13_cu126"
"${nightshift[@]}" log wheel_3.13_cu126
echo
echo "== nightshift report  (written to a file here; --send would mail it)"
"${nightshift[@]}" report
echo
night=$("${nightshift[@]}" status --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const n=JSON.parse(s);console.log(n.date)})')
echo "The night folder is $here/work/nights/$night (night.json, logs/, artifacts/, report.html)."
echo "Published, as it would be to S3: $here/work/nights/published/ ($night/ and nightshift/ with manifests, logs, latest pointers)."
# A failed build is the expected result here; anything else (exit 2, 4, 70) is a real problem.
[ "$status" -le 1 ] || exit "$status"
