#!/usr/bin/env bash
# Checks the dependency rule of docs/architecture.md by grepping includes:
#   core <- comm <- train, core <- sim; core includes nothing else of ours;
#   nothing under src/ defines main() or calls exit().
set -u
root=${1:-.}
cd "$root" || exit 2
bad=0
check() { # layer, forbidden include prefixes...
  local layer=$1; shift
  [ -d "src/$layer" ] || return 0
  for f in $(find "src/$layer" -name '*.[ch]'); do
    for forb in "$@"; do
      if grep -nE "#include[[:space:]]+[\"<](agora/)?$forb[/.]" "$f" | grep -v "agora/agora.h" >/dev/null; then
        grep -nE "#include[[:space:]]+[\"<](agora/)?$forb[/.]" "$f" | sed "s|^|$f: $layer must not include $forb: |"
        bad=1
      fi
    done
  done
}
check core comm train sim
check comm train sim
check sim comm train
check train sim
if grep -rnE '^[a-z].*[[:space:]]main[[:space:]]*\(' src/ 2>/dev/null; then
  echo "src/ must not define main()"; bad=1
fi
if grep -rnE '(^|[^_a-z])(exit|_Exit)[[:space:]]*\(' src/ --include='*.c' 2>/dev/null | grep -v '^\s*/\?\*' | grep -v '_exit(' ; then
  echo "src/ must not call exit()"; bad=1
fi
[ $bad = 0 ] && echo "layering ok"
exit $bad
