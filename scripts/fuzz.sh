#!/usr/bin/env bash
# `make fuzz`: fuzzes each target for N seconds (default 60), starting from its corpus.
# New crash inputs land in fuzz/corpus/<target>/ for the replay tests to keep.
set -euo pipefail
build=$1; secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
for f in "$build"/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  t=$(basename "$f"); t=${t#fuzz_}
  echo "== fuzz $t for ${secs}s"
  mkdir -p "$root/fuzz/corpus/$t" "$build/corpus/$t"
  # New coverage goes to the build tree; the checked-in corpus is only read (seeds).
  "$f" -max_total_time="$secs" -artifact_prefix="$root/fuzz/corpus/$t/crash-" \
       "$build/corpus/$t" "$root/fuzz/corpus/$t" 2>&1 | tail -n 3
done
