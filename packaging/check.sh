#!/usr/bin/env bash
# CI's check of the packages (issue 19), run by .ci/run as root after the tests:
#
#   1. the Debian package: built with cargo-deb, installed with dpkg -i; the unit passes
#      `systemd-analyze verify` and its sandbox scores "OK" in `systemd-analyze security`;
#      the unit's ExecStart line runs as the packaged user (systemd is not PID 1 in CI, so
#      it is started directly), its first-start curl line gets a token, the data folder is
#      0700 and its files 0600; then the package is purged.
#   2. the container image, where buildah is installed: built from the same release binary;
#      its user, its lack of a shell, and the binary serving a token from the image's own
#      file system (chroot as the image's user).
#
# What this cannot prove here is said in docs/operations.md ("What CI proves").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ "$(id -u)" = 0 ] || { echo "packaging/check.sh installs a package: run it as root" >&2; exit 1; }
wait_listening() { # log -> URL
  for _ in $(seq 150); do
    url=$(sed -n 's/^tessera listening on //p' "$1")
    [ -n "$url" ] && { echo "$url"; return 0; }
    sleep 0.2
  done
  echo "the server did not start:" >&2; cat "$1" >&2; return 1
}
first_token() { # log -> access token, from the banner's own curl line
  local line
  line=$(sed -n 's/^  curl -s -u /curl -sf -u /p' "$1")
  [ -n "$line" ] || { echo "no curl line in the first start's banner" >&2; cat "$1" >&2; return 1; }
  eval "$line" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

echo "== the Debian package"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --quiet --version 3.8.0
cargo deb -p tessera --quiet --strip
deb=$(ls -t target/debian/tessera_*.deb | head -1)
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Depends\):/  \1:/p'
dpkg -i "$deb" >/dev/null
trap 'pkill -u tessera tessera 2>/dev/null || true; dpkg --purge tessera >/dev/null 2>&1 || true' EXIT
unit=$(dpkg -L tessera | grep '/systemd/system/tessera.service$')
getent passwd tessera | grep -q ':/var/lib/tessera:/usr/sbin/nologin$'
[ "$(stat -c '%a %U' /var/lib/tessera)" = "700 tessera" ]
systemd-analyze verify "$unit"
exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for tessera.service: \([0-9.]*\).*/\1/p')
echo "  systemd-analyze verify: ok; exposure $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }'
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
log=$(mktemp)
chmod 0644 "$log"
# As systemd would: the packaged user, the ExecStart line; on a free loopback port (the
# environment overrides the packaged file's `listen`, and the issuer follows the port).
(cd / && runuser -u tessera -- env TESSERA_LISTEN=127.0.0.1:0 $exec_start >"$log" 2>&1) &
url=$(wait_listening "$log")
token=$(first_token "$log")
[ -n "$token" ] || { echo "no token from the packaged server" >&2; cat "$log" >&2; exit 1; }
curl -sf -o /dev/null "$url/readyz"
for f in /var/lib/tessera/*; do
  [ "$(stat -c '%a %U' "$f")" = "600 tessera" ] || { echo "$f: $(stat -c '%a %U' "$f")" >&2; exit 1; }
done
echo "  ExecStart as tessera: token issued at $url; /var/lib/tessera 0700, its files 0600"
pkill -u tessera tessera || true
sleep 0.5
dpkg --purge tessera >/dev/null
if [ -e /usr/bin/tessera ] || [ -e "$unit" ]; then echo "the purge left files behind" >&2; exit 1; fi
[ -d /var/lib/tessera ] || { echo "the purge removed the data folder" >&2; exit 1; }
echo "  purged: the binary and the unit are gone; /var/lib/tessera and the user are kept"
rm -rf /var/lib/tessera
userdel tessera 2>/dev/null || true
trap - EXIT

echo "== the container image"
if ! command -v buildah >/dev/null; then
  echo "  buildah is not installed: the image is not built here"
  exit 0
fi
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs} BUILDAH_ISOLATION=chroot
TESSERA_BIN=$ROOT/target/release/tessera packaging/build-image.sh localhost/tessera:ci
user=$(buildah inspect --type image --format '{{.Docker.Config.User}}' localhost/tessera:ci)
health=$(buildah inspect --type image --format '{{.Docker.Config.Healthcheck.Test}}' localhost/tessera:ci)
[ "$user" = "10001:10001" ] || { echo "the image's user is '$user'" >&2; exit 1; }
case "$health" in *"tessera health"*|*"tessera"*"health"*) ;; *) echo "no HEALTHCHECK: $health" >&2; exit 1;; esac
ctr=$(buildah from --quiet localhost/tessera:ci)
trap 'pkill -f "^/usr/bin/tessera serve --listen 127.0.0.1:0" 2>/dev/null || true; buildah umount "$ctr" >/dev/null 2>&1 || true; buildah rm "$ctr" >/dev/null 2>&1 || true; buildah rmi localhost/tessera:ci >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
for shell in bin/sh usr/bin/sh bin/bash usr/bin/bash; do
  [ ! -e "$mnt/$shell" ] || { echo "the image has a shell: /$shell" >&2; exit 1; }
done
expected=$(mktemp)
if command -v strip >/dev/null; then strip -o "$expected" target/release/tessera; else cp target/release/tessera "$expected"; fi
cmp "$mnt/usr/bin/tessera" "$expected"
[ "$(stat -c '%u' "$mnt/var/lib/tessera")" = 10001 ]
log=$(mktemp)
# The image's own file system, as its user: the binary and its libraries from the image.
(chroot --userspec=10001:10001 "$mnt" /usr/bin/tessera serve --listen 127.0.0.1:0 \
  --data-dir /var/lib/tessera >"$log" 2>&1) &
url=$(wait_listening "$log")
token=$(first_token "$log")
[ -n "$token" ] || { echo "no token from the image's binary" >&2; cat "$log" >&2; exit 1; }
chroot --userspec=10001:10001 "$mnt" /usr/bin/tessera health --url "$url/readyz" >/dev/null
[ "$(stat -c '%a %u' "$mnt/var/lib/tessera")" = "700 10001" ]
for f in "$mnt"/var/lib/tessera/*; do
  [ "$(stat -c '%a %u' "$f")" = "600 10001" ] || { echo "$f: $(stat -c '%a %u' "$f")" >&2; exit 1; }
done
echo "  image: user 10001:10001, HEALTHCHECK tessera health, no shell; its binary served a token at $url"
