#!/usr/bin/env bash
# Builds Tessera's container image with buildah from a release binary:
#
#   packaging/build-image.sh [TAG]        # default localhost/tessera:latest
#   TESSERA_BIN=path/to/tessera packaging/build-image.sh
#
# The base is made here from Debian packages (libc6, libgcc-s1, fetched with apt-get download
# and unpacked): the binary needs nothing else (reqwest carries its own root certificates).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TAG=${1:-localhost/tessera:latest}
BIN=${TESSERA_BIN:-$ROOT/target/release/tessera}
[ -x "$BIN" ] || { echo "no release binary at $BIN: cargo build --release -p tessera" >&2; exit 1; }
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs" "$ctx/debs"
(cd "$ctx/debs" && apt-get download -qq -o APT::Sandbox::User=root libc6 libgcc-s1 >/dev/null)
for deb in "$ctx"/debs/*.deb; do dpkg-deb -x "$deb" "$ctx/rootfs"; done
# The libraries only: no documentation, locales, programs or package scripts.
rm -rf "$ctx/rootfs/usr/share" "$ctx/rootfs/usr/bin" "$ctx/rootfs/usr/sbin" \
  "$ctx/rootfs/sbin" "$ctx/rootfs/bin" "$ctx/rootfs/usr/libexec"
mkdir -p "$ctx/rootfs/etc" "$ctx/data"
chmod 0700 "$ctx/data"
printf 'root:x:0:0:root:/nonexistent:/nonexistent\ntessera:x:10001:10001:Tessera token service:/var/lib/tessera:/nonexistent\n' >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\ntessera:x:10001:\n' >"$ctx/rootfs/etc/group"
# Without its debug line tables (123 MB → 24 MB), as the .deb holds it (cargo deb --strip).
if command -v strip >/dev/null; then
  strip -o "$ctx/tessera" "$BIN"
  chmod 0755 "$ctx/tessera"
else
  install -m 0755 "$BIN" "$ctx/tessera"
fi
cp packaging/Containerfile "$ctx/Containerfile"
buildah build --quiet --format docker --layers=false -t "$TAG" -f "$ctx/Containerfile" "$ctx" >/dev/null
echo "built $TAG"
