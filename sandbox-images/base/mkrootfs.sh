#!/bin/sh
# Makes the root filesystem every Kiln image starts from, for hosts that reach Debian's
# package archive but no image registry: `debootstrap --variant=minbase bookworm`,
# trimmed the way debian:bookworm-slim is (no documentation, man pages or translations,
# now or in later installs). The build script imports the directory with `podman import`.
#   usage: mkrootfs.sh DIR        (DIR must not exist; needs root and debootstrap)
#   KILN_DEBIAN_MIRROR overrides the mirror.
set -eu
dir=$1
mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}

debootstrap --variant=minbase bookworm "$dir" "$mirror"

cat >"$dir/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES

cat >"$dir/etc/dpkg/dpkg.cfg.d/kiln-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
DPKG

cat >"$dir/etc/apt/apt.conf.d/90kiln" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT

find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$dir/usr/share/man/"* "$dir/usr/share/info/"* "$dir/usr/share/lintian/"*
find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/cache/apt/"*.bin "$dir/var/lib/apt/lists/"* "$dir/var/log/"*
