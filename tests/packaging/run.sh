#!/usr/bin/env bash
# The Debian package and the container image, built and used for real:
#
#   bash tests/packaging/run.sh        (as root: it runs dpkg -i and --purge)
#
# 1. `cargo deb` builds the .deb; dpkg-deb and lintian check its control
#    data, file list, modes, conffile and maintainer scripts.
# 2. `dpkg -i` installs it on this machine: the binary on the PATH, the user
#    and directories made by sysusers/tmpfiles, nothing enabled or started,
#    `systemd-analyze verify` on the installed units, the shipped config
#    refused for want of a credential and its example stanza accepted by
#    `fapi-agent check` once filled with fixtures; the installed daemon runs
#    as the fapi-agent user with that config and signs an assertion PyJWT
#    verifies, writing its audit log. `dpkg -r` leaves only the conffile and
#    that state; `dpkg --purge` leaves none of the package's files.
# 3. The image: the packaged binary and its libraries staged by
#    packaging/container/stage-rootfs.sh, built by buildah from the
#    Containerfile (ROOTFS=prebuilt: no image is pulled), checked (user,
#    volume, health check, entrypoint, no shell), then run by podman with a
#    legacy PKCS#12 credential (OpenSSL's legacy provider in the image) and
#    the socket directory bind-mounted: a client on the host signs through
#    the socket, the HEALTHCHECK command passes, the daemon runs as uid
#    10001 and stops cleanly on SIGTERM. The Kubernetes manifests name the
#    image and socket path the Containerfile builds.
#
# Containers use a private storage under the work directory (vfs driver,
# chroot isolation for builds, runc for runs), so nothing of the machine's
# own container storage is touched. Every tool is required: a missing one
# fails the run. Exit 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
started=$SECONDS

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; passed=$((passed + 1)); }
passed=0

[ "$(id -u)" = 0 ] || fail "run as root: the test installs and purges the package with dpkg"
for tool in cargo strip dpkg dpkg-deb lintian systemd-analyze systemd-sysusers systemd-tmpfiles \
  buildah podman runc setpriv openssl python3 getent; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
cargo deb --version >/dev/null 2>&1 || fail "cargo-deb is not installed (cargo install --locked cargo-deb)"
python3 -c 'import jwt, cryptography' 2>/dev/null || fail "PyJWT[crypto] is not installed (tests/requirements.txt)"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
image=localhost/fapi-agent:$version
target=${CARGO_TARGET_DIR:-$repo/target}
work=$(mktemp -d /var/tmp/fapi-packaging.XXXXXX)
chmod 0755 "$work"   # the fapi-agent user and uid 10001 traverse it
storage=(--root "$work/storage" --runroot "$work/runroot" --storage-driver vfs)
podman=(podman "${storage[@]}" --runtime runc --cgroup-manager cgroupfs --events-backend none)
ctr=fapi-agent-packaging-$$
daemon_pid=

cleanup() {
  local rc=$?
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  "${podman[@]}" rm -f -t 5 "$ctr" >/dev/null 2>&1
  # A package this run installed and did not get to purge.
  if [ -n "${installed:-}" ] && dpkg-query -W -f='${db:Status-Status}' fapi-agent 2>/dev/null | grep -qv '^not-installed$'; then
    dpkg --purge fapi-agent >/dev/null 2>&1
  fi
  [ -n "${enabled_by_test:-}" ] && rm -f /etc/systemd/system/sockets.target.wants/fapi-agent.socket
  "${podman[@]}" system reset -f >/dev/null 2>&1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# Wait for a condition (a command), at most N seconds.
wait_for() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

# An ES256 credential: P-256 key and a self-signed certificate valid now.
make_cert() { # DIR
  openssl ecparam -name prime256v1 -genkey -noout -out "$1/plain.key" 2>/dev/null
  openssl req -x509 -new -key "$1/plain.key" -subj /CN=acme -days 30 -out "$1/acme.crt" 2>/dev/null
}

# Verifies the assertion on stdin with PyJWT against the certificate's key.
verify_assertion() { # CERT CLIENT_ID ISSUER
  python3 -c '
import sys, jwt
from cryptography import x509
cert = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
token = sys.stdin.read().strip()
claims = jwt.decode(token, cert.public_key(), algorithms=["ES256"], audience=sys.argv[3],
                    issuer=sys.argv[2], options={"require": ["exp", "iat", "jti", "sub"]})
assert claims["sub"] == sys.argv[2], claims
print("verified", claims["jti"])
' "$@"
}

echo "== 1. the .deb"
cargo deb --locked --strip --output "$work/fapi-agent.deb" >"$work/cargo-deb.log" 2>&1 \
  || { cat "$work/cargo-deb.log"; fail "cargo deb"; }
deb=$work/fapi-agent.deb
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = fapi-agent ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version-1" ] || fail "Version $(field Version), Cargo.toml says $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture $(field Architecture)"
depends=$(field Depends)
for dep in libc6 libssl3 'systemd | systemd-standalone-sysusers'; do
  [[ $depends == *"$dep"* ]] || fail "Depends lacks $dep: $depends"
done
dpkg-deb -x "$deb" "$work/deb-root"
top=$(zcat "$work/deb-root/usr/share/doc/fapi-agent/changelog.Debian.gz" | head -1)
[[ $top == "fapi-agent ($version-1) "* ]] || fail "packaging/debian/changelog is at $top, Cargo.toml at $version"
ok "control: fapi-agent $(field Version) $(field Architecture), Depends: $depends; changelog at $version-1"

# The file list and modes, exactly.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\.\//, "/", $6); print $1, $2, $6 }' | sort >"$work/files"
{
  echo "-rw-r--r-- 0/0 /etc/fapi-agent/agent.toml"
  echo "-rw-r--r-- 0/0 /lib/systemd/system/fapi-agent.service"
  echo "-rw-r--r-- 0/0 /lib/systemd/system/fapi-agent.socket"
  echo "-rwxr-xr-x 0/0 /usr/bin/fapi-agent"
  echo "-rw-r--r-- 0/0 /usr/lib/sysusers.d/fapi-agent.conf"
  echo "-rw-r--r-- 0/0 /usr/lib/tmpfiles.d/fapi-agent.conf"
  for doc in README.md docs/*.md; do
    echo "-rw-r--r-- 0/0 /usr/share/doc/fapi-agent/$(basename "$doc")"
  done
  echo "-rw-r--r-- 0/0 /usr/share/doc/fapi-agent/changelog.Debian.gz"
  echo "-rw-r--r-- 0/0 /usr/share/doc/fapi-agent/copyright"
  echo "-rw-r--r-- 0/0 /usr/share/doc/fapi-agent/examples/credentials.conf.example"
} | sort >"$work/files.expected"
diff -u "$work/files.expected" "$work/files" || fail "the .deb's files differ from the expected list"
ok "files: $(wc -l <"$work/files") files with the expected paths, owners and modes"

dpkg-deb -e "$deb" "$work/control"
[ "$(cat "$work/control/conffiles")" = /etc/fapi-agent/agent.toml ] \
  || fail "conffiles: $(cat "$work/control/conffiles")"
for s in postinst prerm postrm; do
  cmp -s "$work/control/$s" "packaging/debian/$s" || fail "$s is not packaging/debian/$s"
  [ "$(stat -c %a "$work/control/$s")" = 755 ] || fail "$s mode"
  sh -n "$work/control/$s" || fail "$s: syntax"
done
# Nothing is enabled or started by the package.
if grep -En '(systemctl|deb-systemd-helper|deb-systemd-invoke)[^#]* (start|enable|restart|reenable)\b' "$work/control/postinst"; then
  fail "postinst enables or starts a unit"
fi
ok "conffile /etc/fapi-agent/agent.toml; postinst/prerm/postrm are packaging/debian's, start and enable nothing"

# Lintian: no error (warnings and info are printed, not fatal).
lintian --fail-on error --info "$deb" >"$work/lintian.log" 2>&1 || { cat "$work/lintian.log"; fail "lintian reports errors"; }
sed 's/^/  lintian: /' "$work/lintian.log"
ok "lintian: no error ($(grep -c '^[EWIP]:' "$work/lintian.log" || true) tag(s) of lower severity)"

echo "== 2. dpkg -i on this machine"
if dpkg-query -W -f='${db:Status-Status}' fapi-agent 2>/dev/null | grep -qv '^not-installed$'; then
  # Only ever this test's own package on a CI machine: an interrupted run.
  echo "purging a fapi-agent package left by an earlier run"
  dpkg --purge fapi-agent >/dev/null
fi
for f in /usr/bin/fapi-agent /lib/systemd/system/fapi-agent.service /etc/fapi-agent/agent.toml \
  $(find /etc/systemd/system -name 'fapi-agent*' 2>/dev/null); do
  [ ! -e "$f" ] && [ ! -L "$f" ] || fail "$f exists and belongs to no package: refusing to overwrite it"
done
installed=1
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log"; fail "dpkg -i"; }
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' fapi-agent)" = "ii " ] || fail "not installed: $(dpkg-query -W -f='${db:Status-Abbrev}' fapi-agent)"
dpkg -L fapi-agent | while read -r f; do [ -d "$f" ] || echo "$f"; done | sort >"$work/owned"
[ "$(command -v fapi-agent)" = /usr/bin/fapi-agent ] || fail "fapi-agent on the PATH: $(command -v fapi-agent)"
v=$(fapi-agent --version)
[[ $v == "fapi-agent $version"* ]] || fail "--version: $v"
ok "installed; from the PATH: $(echo "$v" | head -1)"

IFS=: read -r _ _ uid gid _ home shell < <(getent passwd fapi-agent) || fail "no fapi-agent user"
[ "$home" = /var/lib/fapi-agent ] && [ "$shell" = /usr/sbin/nologin ] || fail "fapi-agent user: home $home shell $shell"
[ "$uid" -lt 1000 ] || fail "fapi-agent uid $uid is not a system uid"
getent group fapi-admin >/dev/null || fail "no fapi-admin group"
[ "$(stat -c '%a %U %G' /etc/fapi-agent)" = "750 root fapi-agent" ] || fail "/etc/fapi-agent: $(stat -c '%a %U %G' /etc/fapi-agent)"
[ "$(stat -c '%a %U %G' /var/lib/fapi-agent)" = "700 fapi-agent fapi-agent" ] || fail "/var/lib/fapi-agent: $(stat -c '%a %U %G' /var/lib/fapi-agent)"
ok "systemd-sysusers made user fapi-agent (uid $uid, nologin) and group fapi-admin; tmpfiles made /etc/fapi-agent 0750 and /var/lib/fapi-agent 0700"

enabled=$(find /etc/systemd/system -name 'fapi-agent*' 2>/dev/null)
[ -z "$enabled" ] || fail "units enabled on install: $enabled"
if [ -d /run/systemd/system ]; then
  ! systemctl is-active -q fapi-agent.socket fapi-agent.service || fail "a unit was started on install"
fi
(cd /lib/systemd/system && systemd-analyze verify fapi-agent.service fapi-agent.socket) >"$work/verify.log" 2>&1 \
  || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
[ ! -s "$work/verify.log" ] || { cat "$work/verify.log"; fail "systemd-analyze verify printed warnings"; }
ok "nothing enabled or started; systemd-analyze verify: the installed units are clean"

# An administrator enables the socket; purge must take that symlink away.
systemctl enable fapi-agent.socket >"$work/enable.log" 2>&1 || { cat "$work/enable.log"; fail "systemctl enable"; }
wants=/etc/systemd/system/sockets.target.wants/fapi-agent.socket
[ -L "$wants" ] || fail "systemctl enable made no $wants"
enabled_by_test=1

# The shipped config: refused with the message saying what to add.
set +e
out=$(fapi-agent check --config /etc/fapi-agent/agent.toml 2>&1); rc=$?
set -e
[ $rc = 2 ] && [[ $out == *"defines no credentials: add a [credentials.NAME] table"* ]] \
  || fail "check of the shipped config: exit $rc: $out"
ok "the shipped config is refused until a credential is added (exit 2: ${out##*: })"

# Its example stanza, uncommented, with fixture files at its paths: a key
# encrypted with AES-256 (PKCS#8) and the passphrase as a systemd credential.
fx=$work/etc && mkdir -p "$fx" "$work/creds"
make_cert "$fx"
printf 'correct horse battery staple' >"$work/creds/acme-pass"
openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$fx/plain.key" -out "$fx/acme.key" \
  -passout file:"$work/creds/acme-pass"
rm "$fx/plain.key"
chown root:fapi-agent "$fx/acme.key" "$fx/acme.crt" "$work/creds" "$work/creds/acme-pass"
chmod 0640 "$fx/acme.key" "$fx/acme.crt" && chmod 0750 "$work/creds" && chmod 0440 "$work/creds/acme-pass"
sed -e 's/^# \(\[credentials\.acme\]\|\[\[credentials\.acme\.allow\]\]\|client_id =\|issuer =\|key =\|certificate =\|passphrase =\|operations =\)/\1/' \
  -e "s|/etc/fapi-agent/acme\.|$fx/acme.|" \
  -e "s|^# uids = \[1001\]|uids = [$uid]|" \
  -e 's|^# \(audit_log = \)|\1|' /etc/fapi-agent/agent.toml >"$fx/agent.toml"
grep -q '^\[credentials\.acme\]' "$fx/agent.toml" && grep -q "^key = \"$fx/acme.key\"" "$fx/agent.toml" \
  && grep -q '^passphrase = { source = "systemd", name = "acme-pass" }' "$fx/agent.toml" \
  || { cat "$fx/agent.toml"; fail "the example stanza was not uncommented as expected"; }
CREDENTIALS_DIRECTORY=$work/creds fapi-agent check --config "$fx/agent.toml" >"$work/check.log" 2>&1 \
  || { cat "$work/check.log"; fail "fapi-agent check of the filled example"; }
ok "the example stanza, filled with fixtures, passes fapi-agent check: $(tail -1 "$work/check.log")"

# The installed daemon as the fapi-agent user with that config (the socket
# in a private directory, as the socket unit's /run/fapi-agent would be).
run=$work/run && install -d -o fapi-agent -g fapi-agent -m 0700 "$run"
as_agent=(setpriv --reuid fapi-agent --regid fapi-agent --init-groups --inh-caps=-all)
CREDENTIALS_DIRECTORY=$work/creds "${as_agent[@]}" /usr/bin/fapi-agent run --config "$fx/agent.toml" \
  --socket "$run/agent.sock" 2>"$work/daemon.log" &
daemon_pid=$!
wait_for 30 test -S "$run/agent.sock" || { cat "$work/daemon.log"; fail "the installed daemon did not bind its socket"; }
"${as_agent[@]}" fapi-agent status --socket "$run/agent.sock" >"$work/status" || fail "fapi-agent status"
grep -q "fapi-agent $version" "$work/status" || fail "status: $(cat "$work/status")"
"${as_agent[@]}" fapi-agent assertion --socket "$run/agent.sock" --credential acme >"$work/assertion" \
  || fail "fapi-agent assertion"
verify_assertion "$fx/acme.crt" acme https://as.bank.example <"$work/assertion" >/dev/null \
  || fail "PyJWT rejects the installed daemon's assertion"
kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "the daemon did not exit 0 on SIGTERM: $(tail -3 "$work/daemon.log")"
daemon_pid=
[ -s /var/lib/fapi-agent/audit.jsonl ] || fail "no audit log in /var/lib/fapi-agent"
ok "the installed daemon ran as fapi-agent with the example config; status answered; PyJWT verified its assertion; audit log written"

echo "== 3. the container image"
# The packaged binary (stripped, as shipped) and what it links.
ctx=$work/context && mkdir -p "$ctx/target"
packaging/container/stage-rootfs.sh "$work/deb-root/usr/bin/fapi-agent" "$ctx/target/container-rootfs" >/dev/null
buildah "${storage[@]}" bud --isolation chroot --format docker --build-arg ROOTFS=prebuilt \
  -f "$repo/Containerfile" -t "$image" "$ctx" >"$work/buildah.log" 2>&1 \
  || { cat "$work/buildah.log"; fail "buildah bud"; }
grep -q 'pulling\|Trying to pull' "$work/buildah.log" && fail "the prebuilt build pulled an image"
buildah "${storage[@]}" inspect --type image "$image" >"$work/image.json"
python3 - "$work/image.json" <<'EOF' || fail "image config"
import json, sys
c = json.load(open(sys.argv[1]))["Docker"]["config"]
want = {
    "User": "10001:10001",
    "Entrypoint": ["/usr/bin/fapi-agent"],
    "Cmd": ["run", "--config", "/etc/fapi-agent/agent.toml"],
    "Volumes": {"/run/fapi-agent": {}},
}
for k, v in want.items():
    assert c.get(k) == v, f"{k}: {c.get(k)!r}, want {v!r}"
assert c["Healthcheck"]["Test"] == ["CMD", "/usr/bin/fapi-agent", "status"], c["Healthcheck"]
env = dict(e.split("=", 1) for e in c["Env"])
assert env["FAPI_AGENT_SOCKET"] == "/run/fapi-agent/sock/agent.sock", env
EOF
ok "image $image: user 10001:10001, volume /run/fapi-agent, HEALTHCHECK fapi-agent status, entrypoint the daemon"

# Everything in the image: no shell, no package manager.
mnt=$("${podman[@]}" image mount "$image")
(cd "$mnt" && find . ! -type d | sed 's/^\.//' | sort) >"$work/image-files"
[ "$(stat -c '%u:%g %a' "$mnt/run/fapi-agent")" = "10001:10001 750" ] || fail "/run/fapi-agent in the image: $(stat -c '%u:%g %a' "$mnt/run/fapi-agent")"
"${podman[@]}" image unmount "$image" >/dev/null
if grep -E '/(sh|bash|dash|busybox|apt|dpkg)$' "$work/image-files"; then fail "the image has a shell or package manager"; fi
for f in /usr/bin/fapi-agent /etc/ssl/certs/ca-certificates.crt "$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')/legacy.so"; do
  grep -qx "$f" "$work/image-files" || fail "the image lacks $f"
done
ok "image: $(wc -l <"$work/image-files") files ($(tr '\n' ' ' <"$work/image-files")), no shell"

# The Kubernetes manifests run this image, with this socket.
images=$(grep -rhoE 'image: *[^ ]*fapi-agent[^ ]*' deploy/kubernetes | sed 's/image: *//' | sort -u)
[ "$images" = "$image" ] || fail "deploy/kubernetes names $images, the Containerfile builds $image"
grep -rq '/run/fapi-agent/sock/agent.sock' deploy/kubernetes || fail "the manifests use another socket path"
ok "deploy/kubernetes runs $image with the image's socket /run/fapi-agent/sock/agent.sock"

# A legacy PKCS#12 credential (RC2/3DES: needs the legacy provider) and a
# passphrase file, mounted read-only at /etc/fapi-agent.
conf=$work/container-etc && mkdir -p "$conf"
make_cert "$conf"
printf 'another passphrase' >"$conf/acme.pass"
openssl pkcs12 -export -legacy -inkey "$conf/plain.key" -in "$conf/acme.crt" -out "$conf/acme.p12" \
  -passout file:"$conf/acme.pass"
rm "$conf/plain.key"
cat >"$conf/agent.toml" <<'EOF'
[credentials.acme]
client_id = "acme"
issuer = "https://as.bank.example"
pkcs12 = "/etc/fapi-agent/acme.p12"
passphrase = { source = "file", path = "/etc/fapi-agent/acme.pass" }
EOF
chown -R 10001:10001 "$conf" && chmod 0600 "$conf/acme.pass" && chmod 0750 "$conf"
vol=$work/volume && install -d -o 10001 -g 10001 -m 0750 "$vol"
"${podman[@]}" run -d --name "$ctr" --read-only --cap-drop ALL --security-opt no-new-privileges \
  --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  -v "$vol:/run/fapi-agent" -v "$conf:/etc/fapi-agent:ro" "$image" >"$work/podman-run.log" 2>&1 \
  || { cat "$work/podman-run.log"; fail "podman run"; }
sock=$vol/sock/agent.sock
running() { [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$ctr")" = true ]; }
wait_for 30 test -S "$sock" || { "${podman[@]}" logs "$ctr"; fail "the daemon in the image did not bind $sock"; }
running || fail "the container stopped"
ok "the daemon in the image serves $sock on the bind-mounted volume (read-only root, no capabilities)"

# A client on the host: uid 10001, the daemon's (its policy's default).
host_bin=$work/deb-root/usr/bin/fapi-agent
as_10001=(setpriv --reuid 10001 --regid 10001 --clear-groups --inh-caps=-all)
"${as_10001[@]}" "$host_bin" assertion --socket "$sock" --credential acme >"$work/c-assertion" \
  || { "${podman[@]}" logs "$ctr"; fail "assertion through the container's socket"; }
verify_assertion "$conf/acme.crt" acme https://as.bank.example <"$work/c-assertion" >/dev/null \
  || fail "PyJWT rejects the image's assertion"
ok "a host client signed through the socket with the legacy PKCS#12 key; PyJWT verified the assertion"

"${podman[@]}" healthcheck run "$ctr" >"$work/health.log" 2>&1 || { cat "$work/health.log"; fail "the HEALTHCHECK command fails"; }
set +e
"${podman[@]}" exec "$ctr" /bin/sh -c true >/dev/null 2>&1; rc=$?
set -e
[ $rc != 0 ] || fail "/bin/sh ran in the image"
pid=$("${podman[@]}" inspect -f '{{.State.Pid}}' "$ctr")
read -r _ ruid euid _ < <(grep '^Uid:' "/proc/$pid/status")
[ "$ruid" = 10001 ] && [ "$euid" = 10001 ] || fail "the daemon runs as uid $ruid/$euid"
[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "/usr/bin/fapi-agent run --config /etc/fapi-agent/agent.toml " ] \
  || fail "the entrypoint ran $(tr '\0' ' ' <"/proc/$pid/cmdline")"
if "${podman[@]}" logs "$ctr" 2>&1 | grep -i 'legacy provider unavailable'; then fail "no legacy provider in the image"; fi
ok "HEALTHCHECK (fapi-agent status) passes; the daemon is uid 10001; exec /bin/sh fails (no shell)"

"${podman[@]}" stop -t 20 "$ctr" >/dev/null
[ "$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$ctr")" = 0 ] || fail "exit code $("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$ctr") on SIGTERM"
[ ! -e "$sock" ] || fail "the socket is left behind"
"${podman[@]}" rm "$ctr" >/dev/null
ok "podman stop: exit 0 and the socket removed"

echo "== 4. dpkg -r, dpkg --purge"
dpkg -r fapi-agent >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log"; fail "dpkg -r"; }
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' fapi-agent)" = "rc " ] || fail "after remove: $(dpkg-query -W -f='${db:Status-Abbrev}' fapi-agent)"
left=$(while read -r f; do if [ -e "$f" ]; then echo "$f"; fi; done <"$work/owned")
[ "$left" = /etc/fapi-agent/agent.toml ] || fail "after dpkg -r, left: $left"
[ -s /var/lib/fapi-agent/audit.jsonl ] || fail "dpkg -r deleted the daemon's state"
[ -L "$wants" ] || fail "dpkg -r dropped the administrator's enablement"
ok "dpkg -r: only the conffile, the daemon's state (audit log) and the administrator's enablement remain"
dpkg --purge fapi-agent >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; fail "dpkg --purge"; }
installed=
dpkg-query -W fapi-agent >/dev/null 2>&1 && fail "still known to dpkg after purge"
for f in $(cat "$work/owned") /etc/fapi-agent /var/lib/fapi-agent $wants; do
  [ ! -e "$f" ] && [ ! -L "$f" ] || fail "after purge, $f is left"
done
enabled_by_test=
ok "dpkg --purge: none of the package's files, /etc/fapi-agent, /var/lib/fapi-agent or the enablement remain (the system user stays, as Debian leaves users)"

echo "tests/packaging/run.sh took $((SECONDS - started)) s"
echo "packaging: $passed passed, 0 failed"
