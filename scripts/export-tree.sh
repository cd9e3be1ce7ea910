#!/usr/bin/env bash
# Copies this checkout as the next commit would have it (tracked files and
# untracked ones git does not ignore; no build output, no node_modules, no
# generated configure) to DEST. Outside a git checkout, copies the
# directory without build output. Used by build-deb.sh and build-rpm.sh.
# Usage: scripts/export-tree.sh DEST
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: export-tree.sh DEST}
mkdir -p "$dest"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$top" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do
      # skip files deleted in the work tree but not yet in the index
      if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
    done | tar --null --no-recursion -T - -cf -) | tar -C "$dest" -xf -
else
  tar -C "$top" --exclude=.git --exclude='./build*' --exclude=node_modules \
    --exclude=autom4te.cache --exclude=./dist -cf - . | tar -C "$dest" -xf -
fi
