#!/bin/sh
# Builds the Debian package of ovn-vif-sidecar with dpkg-deb (make deb).
#
#   mkdeb.sh BINARY GIT_VERSION REVISION OUTDIR [HOST_BINARY]
#   mkdeb.sh --debversion GIT_VERSION     print the Debian version only
#
# BINARY is a static build of ./cmd/ovn-vif-sidecar for the target
# architecture (GOARCH, default the host's). The package is written to
# OUTDIR/ovn-vif-sidecar_<debversion>_<arch>.deb and its path printed.
# HOST_BINARY (default BINARY) is run for the man page's --help, so that
# a cross build can use the host's build of the same tree.
set -eu

# debversion maps `git describe --tags --always --dirty` to a Debian
# upstream version, which must start with a digit and may not contain "-"
# (there is no Debian revision):
#   v1.2.3               -> 1.2.3
#   v1.2.3-4-gabcdef0    -> 1.2.3+4.gabcdef0
#   v1.2.3-dirty         -> 1.2.3+dirty
#   abcdef0 (no tag)     -> 0.0.0+gabcdef0 (also 6835aee -> 0.0.0+g6835aee)
#   abcdef0-dirty        -> 0.0.0+gabcdef0.dirty
debversion() {
	v=${1#v}
	# A describe without tags is an abbreviated hash, which may start
	# with a digit too.
	if printf '%s\n' "$1" | grep -Eq '^[0-9a-f]{7,40}(-dirty)?$'; then
		v=g$1
	fi
	case $v in
	[0-9]*)
		v=$(printf '%s' "$v" | sed -E 's/-(rc|alpha|beta|pre)/~\1/; s/-([0-9]+)-g([0-9a-f]+)/+\1.g\2/; s/-dirty$/.dirty/; s/^([^+]*)\.dirty$/\1+dirty/; s/-/./g')
		;;
	*)
		v=0.0.0+$(printf '%s' "$v" | sed -E 's/-dirty$/.dirty/; s/-/./g')
		;;
	esac
	printf '%s\n' "$v" | tr -cd 'A-Za-z0-9.+~\n'
}

if [ "${1:-}" = --debversion ]; then
	debversion "$2"
	exit 0
fi

bin=$1 gitversion=$2 revision=$3 outdir=$4 hostbin=${5:-$1}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
version=$(debversion "$gitversion")
goarch=${GOARCH:-$(go env GOARCH)}
case $goarch in
amd64 | arm64 | s390x | riscv64) arch=$goarch ;;
arm) arch=armhf ;;
386) arch=i386 ;;
ppc64le) arch=ppc64el ;;
*) echo "mkdeb: no Debian architecture for GOARCH=$goarch" >&2; exit 1 ;;
esac
# Reproducible dates: the commit's, not the build's.
: "${SOURCE_DATE_EPOCH:=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

umask 022
root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
pkg=ovn-vif-sidecar
doc=$root/usr/share/doc/$pkg

install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/default" "$root/usr/share/man/man8" "$doc" "$root/usr/share/lintian/overrides"
install -m 0755 "$bin" "$root/usr/bin/$pkg"
install -m 0644 "$top/deploy/systemd/$pkg.service" "$root/lib/systemd/system/$pkg.service"
install -m 0644 "$top/deploy/systemd/$pkg.default" "$root/etc/default/$pkg"
install -m 0644 "$here/copyright" "$doc/copyright"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"
# Maintainer scripts: what dh_installsystemd --no-start would generate.
for script in postinst prerm postrm; do
	install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done

# The README and every page under docs/ as they are at build time, laid
# out as in the source tree (the README links docs/*.md), in the form
# dh_compress leaves them: gzip -9n above 4 KiB (Policy 12.3).
install -d "$doc/docs"
install -m 0644 "$top/README.md" "$doc/README.md"
for page in "$top"/docs/*.md; do
	install -m 0644 "$page" "$doc/docs/$(basename "$page")"
done
find "$doc" -name '*.md' -size +4k -exec gzip -9n {} +

# The man page is the binary's own --help, so it cannot drift; its SEE
# ALSO names the documents by the names they are installed under.
date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
"$here/manpage.sh" "$hostbin" "$version" "$date" "$root" > "$root/man.8"
gzip -9n < "$root/man.8" > "$root/usr/share/man/man8/$pkg.8.gz"
rm "$root/man.8"

gzip -9n > "$doc/changelog.gz" <<CHANGELOG
$pkg ($version) unstable; urgency=medium

  * Built from git $gitversion.
  * Revision $revision.

 -- ovn-vif-sidecar maintainers <ovn-vif-sidecar@example.org>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
CHANGELOG

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$here/control.in" > "$root/DEBIAN/control"
echo /etc/default/$pkg > "$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$outdir"
out=$outdir/${pkg}_${version}_${arch}.deb
# DEB_COMPRESSION=none is for tests that install many builds.
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$out" >/dev/null
echo "$out"
