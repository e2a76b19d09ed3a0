#!/usr/bin/env bash
# Lays out the container image's whole root filesystem in DEST from a built
# fapi-agent binary and the build machine's own files (Debian's packages):
#
#   packaging/container/stage-rootfs.sh BINARY DEST
#
# DEST gets: /usr/bin/fapi-agent; every shared library `ldd` lists (and the
# dynamic loader) at the path ldd prints; OpenSSL's legacy provider
# (ossl-modules/legacy.so, for legacy PKCS#12 and DES-encrypted keys) in
# OpenSSL's MODULESDIR; the CA bundle; /etc/passwd and /etc/group naming
# uid/gid 10001 fapi-agent; /etc/fapi-agent and /run/fapi-agent. No shell,
# no package manager. Both Containerfile paths use it: the multi-stage build
# (in its Rust stage) and the prebuilt one (tests/packaging/run.sh).
# It ends by running the staged binary chrooted into DEST when it can
# (root): a missing library fails here, not in the image.
set -euo pipefail

[ $# = 2 ] || { echo "usage: $0 BINARY DEST" >&2; exit 2; }
bin=$1 dest=$2
[ -x "$bin" ] || { echo "$bin: not an executable" >&2; exit 1; }
for tool in ldd openssl install; do
  command -v "$tool" >/dev/null || { echo "$0 needs $tool" >&2; exit 1; }
done
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca" ] || { echo "no CA bundle at $ca (Debian package ca-certificates)" >&2; exit 1; }
# OpenSSL looks for providers in the MODULESDIR compiled into libcrypto.
modules=$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')
legacy=$modules/legacy.so
[ -f "$legacy" ] || { echo "no OpenSSL legacy provider at $legacy" >&2; exit 1; }

rm -rf "$dest"
install -d -m 0755 "$dest"/usr/bin "$dest"/etc/ssl/certs "$dest"/etc/fapi-agent "$dest$modules"
install -m 0755 "$bin" "$dest/usr/bin/fapi-agent"
install -m 0644 "$legacy" "$dest$legacy"

# Each library at the path ldd prints (the loader too), as a regular file.
libs() {
  ldd "$1" | awk '/=> \// { print $3 } /^\t\// { print $1 }'
}
for lib in $( { libs "$bin"; libs "$legacy"; } | sort -u); do
  install -D -m 0644 "$(readlink -f "$lib")" "$dest$lib"
done
# The loader is executed by the kernel: keep it executable.
for ld in "$dest"/lib64/ld-linux-*.so.* "$dest"/lib/ld-linux*.so.*; do
  [ -e "$ld" ] && chmod 0755 "$ld"
done

install -m 0644 "$ca" "$dest/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/nonexistent\nfapi-agent:x:10001:10001:fapi-agent:/:/nonexistent\n' >"$dest/etc/passwd"
printf 'root:x:0:\nfapi-agent:x:10001:\n' >"$dest/etc/group"
chmod 0644 "$dest/etc/passwd" "$dest/etc/group"
# The socket directory (a volume): the daemon makes its private sock/
# subdirectory in it.
install -d -m 0750 "$dest/run/fapi-agent"

if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  chroot "$dest" /usr/bin/fapi-agent --version >/dev/null
fi
echo "staged $(find "$dest" -type f | wc -l) files in $dest"
