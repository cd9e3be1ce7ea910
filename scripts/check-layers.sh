#!/usr/bin/env bash
# Enforces the include rules of docs/architecture.md:
# - the server's layers base < net < engine < socketio: a module includes
#   headers only from its own or a lower layer;
# - adapter (libsio's cluster adapters) is a peer of an embedder's adapter:
#   it includes the public <sio/...> headers (<sio/adapter.h> is the seam),
#   base headers (the JSON leaf sio_json.h among them), net headers and
#   its own, never an engine or socketio header; no server layer includes
#   an adapter header;
# - the daemon (src/app) includes only <sio/...> public headers and its own.
# With a built libsio.so as $1, also checks that it exports nothing but
# sio_* symbols.
set -u
cd "$(dirname "$0")/.."
layers=(base net engine socketio)
adapter_may=(base net adapter)
rank() { local i; for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo 99; }
bad=0
declare -A where
for l in "${layers[@]}" adapter app; do
  for h in src/$l/*.h; do [ -e "$h" ] && where[$(basename "$h")]=$l; done
done
includes() { sed -n 's/^#include "\([^"]*\)".*/\1/p' "$1"; }
for l in "${layers[@]}"; do
  r=$(rank "$l")
  for f in src/$l/*.[ch]; do
    [ -e "$f" ] || continue
    while read -r inc; do
      hl=${where[$inc]:-}
      [ -z "$hl" ] && continue          # system or public header
      if [ "$(rank "$hl")" -gt "$r" ]; then
        echo "layer violation: $f ($l) includes $inc ($hl)"; bad=1
      fi
    done < <(includes "$f")
  done
done
for f in src/adapter/*.[ch]; do
  [ -e "$f" ] || continue
  while read -r inc; do
    hl=${where[$inc]:-}
    [ -z "$hl" ] && continue            # system or public header
    ok=0
    for a in "${adapter_may[@]}"; do [ "$hl" = "$a" ] && ok=1; done
    if [ $ok -eq 0 ]; then
      echo "layer violation: $f (adapter) includes $inc ($hl; only <sio/...>, base, net and adapter headers)"; bad=1
    fi
  done < <(includes "$f")
done
for f in src/app/*.[ch]; do
  [ -e "$f" ] || continue
  while read -r inc; do
    case "$inc" in app_*|gen_*|sio/*|config.h) ;; *)
      echo "layer violation: $f (app) includes \"$inc\" (only <sio/...> and app headers)"; bad=1 ;;
    esac
  done < <(includes "$f")
done
if [ $# -ge 1 ] && [ -f "$1" ]; then
  extra=$(nm -D --defined-only "$1" | awk '{print $3}' | grep -v '^sio_' | grep -v '^_' || true)
  if [ -n "$extra" ]; then
    echo "libsio exports symbols outside sio_*:"; echo "$extra" | head -20; bad=1
  fi
fi
[ $bad -eq 0 ] && echo "layers ok"
exit $bad
