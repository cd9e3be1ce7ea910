#!/usr/bin/env bash
# Enforces the include rules of docs/architecture.md: a module includes
# headers only from its own or a lower layer, and the daemon (src/app) only
# <sio/...> public headers and its own. With a built libsio.so as $1, also
# checks that it exports nothing but sio_* symbols.
set -u
cd "$(dirname "$0")/.."
layers=(base net engine socketio adapter)
rank() { local i; for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo 99; }
bad=0
declare -A where
for l in "${layers[@]}" app; do
  for h in src/$l/*.h; do [ -e "$h" ] && where[$(basename "$h")]=$l; done
done
for l in "${layers[@]}"; do
  r=$(rank "$l")
  for f in src/$l/*.[ch]; do
    [ -e "$f" ] || continue
    while read -r inc; do
      hl=${where[$inc]:-}
      [ -z "$hl" ] && continue          # system or public header
      if [ "$hl" = app ] || [ "$(rank "$hl")" -gt "$r" ]; then
        echo "layer violation: $f ($l) includes $inc ($hl)"; bad=1
      fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  done
done
for f in src/app/*.[ch]; do
  [ -e "$f" ] || continue
  while read -r inc; do
    case "$inc" in app_*|gen_*|sio/*|config.h) ;; *)
      echo "layer violation: $f (app) includes \"$inc\" (only <sio/...> and app headers)"; bad=1 ;;
    esac
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
if [ $# -ge 1 ] && [ -f "$1" ]; then
  extra=$(nm -D --defined-only "$1" | awk '{print $3}' | grep -v '^sio_' | grep -v '^_' || true)
  if [ -n "$extra" ]; then
    echo "libsio exports symbols outside sio_*:"; echo "$extra" | head -20; bad=1
  fi
fi
[ $bad -eq 0 ] && echo "layers ok"
exit $bad
