#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/deps.txt (and any named as arguments)
# that are missing. Runs apt-get only when something is missing; stops with a clear
# message if that needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Each line: a package name, optionally followed by a command that, when already on PATH,
# satisfies it (nodejs from another source ships its own npm, which conflicts with Debian's).
missing=()
while read -r p cmd _; do
  [ -n "$p" ] || continue
  if [ -n "${cmd:-}" ] && command -v "$cmd" >/dev/null 2>&1; then
    continue
  fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done < <(sed -e 's/#.*//' "$here/deps.txt")
# Extra packages named on the command line (make fuzz: clang, libfuzzer-14-dev).
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Non-Debian steps (for example npm data packages) live in scripts/deps.d/*.sh and run
# after the Debian packages are in place.
run_hooks() {
  shopt -s nullglob
  for h in "$here"/deps.d/*.sh; do bash "$h" || exit 1; done
}
if [ ${#missing[@]} -eq 0 ]; then run_hooks; exit 0; fi
echo "agora: installing missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "agora: these packages are missing and installing them needs root:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once if they are absent or a package cannot be found.
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/agora-apt.log 2>&1; then
  $SUDO apt-get update -q >>/tmp/agora-apt.log 2>&1 || true
  if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/agora-apt.log 2>&1; then
    echo "agora: apt-get install failed; see /tmp/agora-apt.log" >&2
    tail -n 20 /tmp/agora-apt.log >&2
    exit 1
  fi
fi
echo "agora: installed ${missing[*]}" >&2
run_hooks
