#!/usr/bin/env bash
# Package test (issue 6): builds the .deb packages from this checkout,
# installs them with apt-get, runs the installed daemon the way
# sio-server.service would (systemd is not running in CI), connects clients
# over long-polling and WebSocket, stops it with SIGTERM, removes and purges
# the packages; then builds the .rpm (from `make distcheck`'s tarball) and
# inspects its file list, scripts and requires.
#
# Usage: scripts/test-package.sh        (as root, on Debian 12; installs
#                                        what it needs with
#                                        scripts/install-deps.sh package)
# Env:   KEEP=1   keep the work directory (packages, logs) and print it
# The last line is "N passed, M failed"; the exit status is non-zero when a
# check failed. Only loopback addresses are used. The packages it installed
# are purged at the end, whatever happened; the sio-server system user is
# kept, as purging the package keeps it (packaging/debian/README.Debian).
set -u
cd "$(dirname "$0")/.."
top=$PWD
passed=0 failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }
check() { # description command...
  local d=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi
}
has_all() { # text pattern... : every pattern matches a line of text
  local text=$1 p; shift
  for p; do grep -q -- "$p" <<<"$text" || return 1; done
}
system_user() { # the account postinst made: system uid, no home, no login
  getent passwd sio-server |
    awk -F: '$3 < 1000 && $6 == "/nonexistent" && $7 ~ /nologin$/ {f = 1} END {exit !f}'
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if [ "$(id -u)" != 0 ]; then
  echo "test-package: needs root (apt-get install, a system user)" >&2
  bad "run as root"; finish
fi
pkgs="sio-server libsio0 libsio-dev"
for p in $pkgs; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed'; then
    echo "test-package: $p is already installed here; not touching it" >&2
    bad "no sio-server package installed before the test"; finish
  fi
done
scripts/install-deps.sh package >/dev/null || { bad "install-deps package"; finish; }

work=$(mktemp -d /tmp/sio-pkgtest.XXXXXX)
pid=
npid=
installed=
cleanup() {
  [ -n "$npid" ] && kill -KILL "$npid" 2>/dev/null
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  fi
  if [ -n "$installed" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $pkgs >/dev/null 2>&1
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "test-package: kept $work" >&2
  else rm -rf "$work"; fi
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive

# --- (a) build ---------------------------------------------------------------
echo "== build .deb"
DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" scripts/build-deb.sh "$work/deb" \
  > "$work/build-deb.out" 2>&1
rc=$?
debs=$(ls "$work"/deb/sio-server_*.deb "$work"/deb/libsio0_*.deb "$work"/deb/libsio-dev_*.deb 2>/dev/null)
if [ "$(wc -w <<<"$debs")" -eq 3 ]; then ok "build-deb.sh built sio-server, libsio0, libsio-dev"
else tail -n 40 "$work/build-deb.out"; bad "build-deb.sh built the .debs"; finish; fi
if [ $rc -eq 0 ]; then ok "lintian: no error or warning beyond the explained overrides"
else cat "$work/deb/lintian.log" 2>/dev/null; bad "lintian (build-deb.sh exit $rc)"; fi
grep -E '^[EWIPO]: ' "$work/deb/lintian.log" 2>/dev/null | sed 's/^/      /'

# --- (b) install -------------------------------------------------------------
echo "== apt-get install"
installed=1
if apt-get install -y -qq --no-install-recommends "$work"/deb/sio-server_*.deb \
    "$work"/deb/libsio0_*.deb "$work"/deb/libsio-dev_*.deb > "$work/install.log" 2>&1; then
  ok "apt-get install ./sio-server_*.deb ./libsio0_*.deb ./libsio-dev_*.deb"
else
  tail -n 30 "$work/install.log"; bad "apt-get install"; finish
fi
unit=/lib/systemd/system/sio-server.service
conf=/etc/sio-server/sio-server.conf
for f in /usr/bin/sio-server "$unit" "$conf" \
    /usr/libexec/sio-server/sio-server-configured \
    /usr/share/man/man8/sio-server.8.gz /usr/include/sio/sio.h \
    /usr/share/doc/sio-server/README.Debian; do
  check "installed $f" test -e "$f"
done
check "conffile registered: $conf" \
  sh -c "dpkg-query -W -f='\${Conffiles}' sio-server | grep -q ' $conf '"
check "system user sio-server created (nologin, no home)" system_user
check "conffile is root:sio-server 0640" \
  test "$(stat -c '%U:%G %a' "$conf")" = "root:sio-server 640"
check "unit enabled (multi-user.target.wants symlink)" \
  test -L /etc/systemd/system/multi-user.target.wants/sio-server.service
check "man sio-server shows the page" sh -c 'man -P cat 8 sio-server | grep -q "EXIT STATUS"'
check "sio-server --version runs from /usr/bin" sh -c '/usr/bin/sio-server --version | grep -q "^sio-server "'
if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify "$unit" 2>&1)
  if [ -z "$out" ]; then ok "systemd-analyze verify $unit"
  else printf '%s\n' "$out"; bad "systemd-analyze verify $unit"; fi
  score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  if [ -n "$score" ] && awk -v s="$score" 'BEGIN {exit !(s <= 2.0)}'; then
    ok "systemd-analyze security: exposure $score (<= 2.0)"
  else bad "systemd-analyze security: exposure '${score}'"; fi
fi
# libsio-dev: the installed headers and libsio.pc build a program.
if cc -o "$work/embed-echo" examples/embed-echo.c \
    $(pkg-config --cflags --libs libsio) > "$work/cc.log" 2>&1; then
  ok "libsio-dev: examples/embed-echo.c builds with pkg-config libsio"
else
  cat "$work/cc.log"; bad "libsio-dev: examples/embed-echo.c builds with pkg-config libsio"
fi

# --- (c) start it as the unit would ------------------------------------------
echo "== run the installed daemon as sio-server.service would"
unit_val() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
user=$(unit_val User); group=$(unit_val Group)
exec_start=$(unit_val ExecStart); exec_cond=$(unit_val ExecCondition)
nofile=$(unit_val LimitNOFILE); type=$(unit_val Type)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
cfgdir=$work/etc
mkdir -p "$cfgdir"
printf '%s' "$secret" > "$cfgdir/jwt.key"
cat > "$cfgdir/sio-server.conf" <<EOF
[server]
listen = 127.0.0.1:$port
drain_timeout_ms = 3000
[auth]
secret_file = $cfgdir/jwt.key
[log]
level = info
EOF
chown -R root:"$group" "$work" && chmod 750 "$work" "$cfgdir" &&
  chmod 640 "$cfgdir/jwt.key" "$cfgdir/sio-server.conf"
# The unit's command lines, with the test configuration instead of /etc's.
start_cmd=${exec_start//$conf/$cfgdir/sio-server.conf}
cond_cmd=${exec_cond//$conf/$cfgdir/sio-server.conf}
as_unit() { # command... : User=, Group=, NoNewPrivileges=, empty capability sets
  setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
    --inh-caps=-all --bounding-set=-all -- env -i PATH=/usr/bin:/bin "$@"
}
# ExecCondition=: skip on the packaged (unconfigured) file, start on ours.
as_unit $exec_cond > "$work/cond1.log" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q 'not configured' "$work/cond1.log"; then
  ok "ExecCondition skips the start with the packaged configuration (exit 1)"
else cat "$work/cond1.log"; bad "ExecCondition on the packaged configuration: exit $rc, want 1"; fi
check "the packaged configuration is valid and readable by $user" \
  as_unit /usr/bin/sio-server --check-config --config "$conf"
as_unit $cond_cmd > "$work/cond2.log" 2>&1; rc=$?
if [ $rc -eq 0 ]; then ok "ExecCondition lets the configured unit start (exit 0)"
else cat "$work/cond2.log"; bad "ExecCondition on the test configuration: exit $rc, want 0"; fi

# README.md's "Install from package" steps, on a copy of the packaged file.
cp "$conf" "$cfgdir/readme.conf"
sed -i "s|^# secret_file =.*|secret_file = $cfgdir/jwt.key|" "$cfgdir/readme.conf"
chgrp "$group" "$cfgdir/readme.conf"; chmod 640 "$cfgdir/readme.conf"
as_unit ${exec_cond//$conf/$cfgdir/readme.conf} > "$work/cond3.log" 2>&1; rc=$?
if [ $rc -eq 0 ]; then ok "README's one-line edit of the packaged file satisfies ExecCondition"
else cat "$work/cond3.log"; bad "README's edit of the packaged file: ExecCondition exit $rc"; fi

# Type=notify: a stand-in for systemd's notification socket, writable by
# the service user, logging each datagram on one line.
notify_env=()
if [ "$type" = notify ]; then
  /usr/bin/python3 -u -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
print("BOUND", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
' "$work/notify" > "$work/notify.log" 2>&1 &
  npid=$!
  for _ in $(seq 1 50); do grep -q BOUND "$work/notify.log" && break; sleep 0.1; done
  notify_env=(NOTIFY_SOCKET="$work/notify")
fi
limit=()
if [ -n "$nofile" ] && prlimit --nofile="$nofile:$nofile" true 2>/dev/null; then
  limit=(prlimit --nofile="$nofile:$nofile" --)
fi
"${limit[@]}" setpriv --reuid="$user" --regid="$group" --init-groups \
  --no-new-privs --inh-caps=-all --bounding-set=-all -- \
  env -i PATH=/usr/bin:/bin "${notify_env[@]}" $start_cmd > "$work/daemon.log" 2>&1 &
pid=$!
base=http://127.0.0.1:$port
up=
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "$base/health" 2>/dev/null && { up=1; break; }
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -n "$up" ]; then ok "daemon started on 127.0.0.1:$port"
else cat "$work/daemon.log"; bad "daemon started"; finish; fi
check "runs as user $user" test "$(ps -o user= -p "$pid" | tr -d ' ')" = "$user"
if [ ${#limit[@]} -gt 0 ]; then
  check "LimitNOFILE=$nofile applies" sh -c \
    "grep -E '^Max open files +$nofile +$nofile' /proc/$pid/limits"
fi
check "not in development mode (no dev token printed)" \
  sh -c "! grep -q 'Development token' '$work/daemon.log'"

# --- (d) health, handshake, clients ------------------------------------------
health=$(curl -fsS "$base/health")
if grep -q '"status": *"ok"' <<<"$health"; then ok "GET /health: status ok"
else echo "$health"; bad "GET /health"; fi
check "GET /ready: 200" curl -fsS "$base/ready"
check "GET /metrics has sio_connections" sh -c "curl -fsS '$base/metrics' | grep -q '^sio_connections'"
# Tokens and a WebSocket client, with Python's standard library only.
cat > "$work/client.py" <<'PY'
import base64, hashlib, hmac, json, os, socket, struct, sys, time
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def token(secret):
    now = int(time.time())
    h = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64u(json.dumps({"sub": "pkgtest", "iat": now, "exp": now + 600}).encode())
    s = hmac.new(secret.encode(), (h + "." + p).encode(), hashlib.sha256).digest()
    return h + "." + p + "." + b64u(s)
def ws(port, tok):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
               "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (port, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d: raise SystemExit("closed during the upgrade")
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    if not head.startswith(b"HTTP/1.1 101") or want not in head:
        raise SystemExit("no 101 upgrade: %r" % head[:200])
    print("ws-upgrade ok")
    def need(n):
        nonlocal buf
        while len(buf) < n:
            d = s.recv(65536)
            if not d: raise SystemExit("closed")
            buf += d
        out, buf = buf[:n], buf[n:]
        return out
    def frame():
        b0, b1 = need(2)
        n = b1 & 0x7f
        if n == 126: n = struct.unpack("!H", need(2))[0]
        elif n == 127: n = struct.unpack("!Q", need(8))[0]
        return b0 & 0x0f, need(n)
    def send(text):
        data, mask = text.encode(), os.urandom(4)
        hdr = bytes([0x81]) + (bytes([0x80 | len(data)]) if len(data) < 126
                               else bytes([0x80 | 126]) + struct.pack("!H", len(data)))
        s.sendall(hdr + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(data)))
    op, open_pkt = frame()
    if not open_pkt.startswith(b"0{"): raise SystemExit("first frame %r" % open_pkt[:80])
    print("ws-open ok", json.loads(open_pkt[1:])["sid"])
    send('40{"token":"%s"}' % tok)
    seen = []
    deadline = time.time() + 5
    while time.time() < deadline:
        op, msg = frame()
        seen.append(msg[:60])
        if msg.startswith(b"40{") and b'"sid"' in msg: print("ws-connect ok"); break
        if msg.startswith(b"44"): raise SystemExit("connect refused: %r" % msg)
    else:
        raise SystemExit("no CONNECT answer: %r" % seen)
    deadline = time.time() + 3
    while time.time() < deadline:
        op, msg = frame()
        if b"connection.established" in msg: print("ws-event ok"); break
    s.close()
if sys.argv[1] == "token": print(token(sys.argv[2]))
else: ws(int(sys.argv[2]), sys.argv[3])
PY
tok=$(python3 "$work/client.py" token "$secret")
# Long-polling with curl: open, CONNECT with the token, read the answer.
open=$(curl -fsS "$base/socket.io/?EIO=4&transport=polling")
if [ "${open:0:2}" = '0{' ]; then ok "polling handshake: body starts with 0{"
else echo "$open"; bad "polling handshake: body '$open'"; fi
sid=$(sed -n 's/^0{"sid":"\([^"]*\)".*/\1/p' <<<"$open")
post=$(curl -fsS -X POST -H 'Content-Type: text/plain;charset=UTF-8' \
  --data-binary "40{\"token\":\"$tok\"}" "$base/socket.io/?EIO=4&transport=polling&sid=$sid")
get=$(curl -fsS --max-time 5 "$base/socket.io/?EIO=4&transport=polling&sid=$sid")
if [ "$post" = ok ] && grep -q '40{"sid"' <<<"$get"; then
  ok "polling client joins the / namespace with a JWT"
else echo "POST: $post GET: $get"; bad "polling client joins the / namespace with a JWT"; fi
curl -fsS -X POST --data-binary 1 "$base/socket.io/?EIO=4&transport=polling&sid=$sid" >/dev/null 2>&1
wsout=$(python3 "$work/client.py" ws "$port" "$tok" 2>&1)
check "WebSocket upgrade (101, Sec-WebSocket-Accept)" grep -q '^ws-upgrade ok' <<<"$wsout"
check "WebSocket Engine.IO open packet (0{...})" grep -q '^ws-open ok' <<<"$wsout"
check "WebSocket client joins the / namespace with a JWT" grep -q '^ws-connect ok' <<<"$wsout"
check "WebSocket client receives connection.established" grep -q '^ws-event ok' <<<"$wsout"
grep -q '^ws-connect ok' <<<"$wsout" || printf '%s\n' "$wsout"
bad_tok=$(python3 "$work/client.py" token wrong-secret-wrong-secret-wrong-secret)
open=$(curl -fsS "$base/socket.io/?EIO=4&transport=polling")
sid=$(sed -n 's/^0{"sid":"\([^"]*\)".*/\1/p' <<<"$open")
curl -fsS -X POST --data-binary "40{\"token\":\"$bad_tok\"}" \
  "$base/socket.io/?EIO=4&transport=polling&sid=$sid" >/dev/null 2>&1
get=$(curl -fsS --max-time 5 "$base/socket.io/?EIO=4&transport=polling&sid=$sid")
check "a token signed with another secret is refused (44...)" grep -q '^44' <<<"$get"

# SIGHUP reloads (ExecReload=/bin/kill -HUP $MAINPID).
kill -HUP "$pid"; sleep 0.5
check "SIGHUP reloads and the daemon keeps running" sh -c \
  "kill -0 $pid && grep -q 'configuration reloaded' '$work/daemon.log'"

# --- (e) SIGTERM drains and exits 0 ------------------------------------------
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  bad "SIGTERM: still running after 10 s"; kill -KILL "$pid"; wait "$pid" 2>/dev/null
else
  wait "$pid"; rc=$?
  if [ $rc -eq 0 ]; then ok "SIGTERM: drained and exited 0"
  else tail -n 20 "$work/daemon.log"; bad "SIGTERM: exit status $rc, want 0"; fi
fi
pid=
if [ "$type" = notify ]; then
  # what systemd would have heard, in order: READY, RELOADING + READY, STOPPING
  seq=$(grep -oE '^(READY|RELOADING|STOPPING)=1' "$work/notify.log" | tr '\n' ' ')
  if [ "$seq" = "READY=1 RELOADING=1 READY=1 STOPPING=1 " ]; then
    ok "Type=notify: READY=1, RELOADING=1 + READY=1 on SIGHUP, STOPPING=1 on SIGTERM"
  else cat "$work/notify.log"; bad "Type=notify: heard '$seq'"; fi
  kill -KILL "$npid" 2>/dev/null; wait "$npid" 2>/dev/null; npid=
fi

# --- (f) remove, purge ---------------------------------------------------------
echo "== apt-get remove / purge"
apt-get remove -y -qq sio-server > "$work/remove.log" 2>&1
check "remove: the daemon is gone" test ! -e /usr/bin/sio-server
check "remove: the conffile stays until purge" test -f "$conf"
apt-get purge -y -qq $pkgs > "$work/purge.log" 2>&1
rc=$?
installed=
check "apt-get purge -y $pkgs" test $rc -eq 0
left=
for f in /usr/bin/sio-server "$unit" /etc/sio-server /usr/libexec/sio-server \
    /usr/share/man/man8/sio-server.8.gz /usr/include/sio /usr/share/doc/sio-server \
    /etc/systemd/system/multi-user.target.wants/sio-server.service \
    /usr/lib/"$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)"/libsio.so.0; do
  [ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
if [ -z "$left" ]; then ok "purge: no file of the packages is left"
else bad "purge left:$left"; fi
check "purge: no package left in dpkg's database" sh -c \
  "! dpkg-query -W $pkgs 2>/dev/null | grep -q ."
check "purge: the sio-server user is kept (README.Debian), still without login" system_user
owned=$(find /etc /usr /var /opt /srv -xdev -user sio-server 2>/dev/null | head -n 5)
if [ -z "$owned" ]; then ok "purge: no file owned by sio-server is left"
else bad "purge: files owned by sio-server: $owned"; fi

# --- (g) the .rpm -------------------------------------------------------------
echo "== build .rpm (tarball from make distcheck)"
if DISTCHECK=1 RPM_NOCHECK=1 scripts/build-rpm.sh "$work/rpm" > "$work/build-rpm.out" 2>&1; then
  ok "make distcheck, then build-rpm.sh built the .rpm"
else
  tail -n 40 "$work/build-rpm.out"; bad "build-rpm.sh"; finish
fi
rpm_main=$(ls "$work"/rpm/sio-server-[0-9]*.rpm 2>/dev/null | head -n 1)
rpm_lib=$(ls "$work"/rpm/libsio-[0-9]*.rpm 2>/dev/null | head -n 1)
rpm_dev=$(ls "$work"/rpm/libsio-devel-[0-9]*.rpm 2>/dev/null | head -n 1)
files=$(rpm -qpl "$rpm_main" 2>/dev/null)
for f in /usr/bin/sio-server /usr/lib/systemd/system/sio-server.service \
    /etc/sio-server/sio-server.conf /usr/libexec/sio-server/sio-server-configured \
    /usr/lib/sysusers.d/sio-server.conf; do
  check "rpm -qpl sio-server has $f" grep -qx "$f" <<<"$files"
done
check "rpm -qpl sio-server has the man page" grep -q '^/usr/share/man/man8/sio-server\.8' <<<"$files"
flags=$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' "$rpm_main" 2>/dev/null |
  grep ' /etc/sio-server/sio-server.conf$')
check "the conffile is %config(noreplace), root:sio-server 0640" \
  grep -qE '^c[a-z]*n[a-z]* -rw-r----- root:sio-server ' <<<"$flags"
scripts=$(rpm -qp --scripts "$rpm_main" 2>/dev/null)
check "rpm --scripts: %pre creates the sio-server group and user" \
  has_all "$scripts" "groupadd -r sio-server" "useradd -r -g sio-server"
check "rpm --scripts: %systemd_post (preset on install)" grep -q 'preset sio-server.service' <<<"$scripts"
check "rpm --scripts: %systemd_preun (disable --now on removal)" grep -q 'disable --now sio-server.service' <<<"$scripts"
check "rpm --scripts: %systemd_postun_with_restart (try-restart on upgrade)" grep -q 'try-restart sio-server.service' <<<"$scripts"
reqs=$(rpm -qp --requires "$rpm_main" 2>/dev/null)
check "rpm --requires: libsio of the same build, shadow-utils, systemd" \
  has_all "$reqs" "^libsio(.*) = " "^shadow-utils" "^systemd"
check "libsio rpm has libsio.so.0" sh -c "rpm -qpl '$rpm_lib' | grep -q '/libsio\.so\.0'"
check "libsio-devel rpm has <sio/sio.h> and libsio.pc" sh -c \
  "rpm -qpl '$rpm_dev' | grep -q '^/usr/include/sio/sio.h$' && rpm -qpl '$rpm_dev' | grep -q 'pkgconfig/libsio.pc$'"

finish
