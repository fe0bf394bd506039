#!/usr/bin/env bash
# bootstrap.sh - install what leakhound needs from Debian's packages (only
# what is missing), then configure and build. Used by the README's two
# commands and by CI. Run as root or with sudo available.
#
#   tools/bootstrap.sh [--tests]   --tests also installs what the tests use
#                                   (tshark, clang's sanitizer runtime, python3)
# Builds: build/ (optimised) and, with --tests, build-asan/ (ASan+UBSan) and
# build-tsan/ (ThreadSanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--tests" ] && want_tests=1

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
        echo "bootstrap: not root and no sudo: install the packages in tools/bootstrap.sh by hand" >&2
        exit 1
    fi
fi

pkgs=(meson ninja-build pkg-config gcc libc6-dev libpcap-dev libndpi-dev libjansson-dev
      zlib1g-dev libdeflate-dev libbrotli-dev libzstd-dev libyaml-dev libssl-dev)
if [ $want_tests = 1 ]; then
    pkgs+=(python3 tshark clang libclang-rt-14-dev libfuzzer-14-dev rsyslog iproute2 libtsan2
           brotli zstd)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# libhs comes from Hyperscan (x86 with SSSE3) or its fork Vectorscan; either will do.
if ! pkg-config --exists libhs 2>/dev/null; then
    hs_pkg=libhyperscan-dev
    if ! grep -qw ssse3 /proc/cpuinfo 2>/dev/null || [ "$(dpkg --print-architecture)" != amd64 ]; then
        hs_pkg=libvectorscan-dev
    fi
    missing+=("$hs_pkg")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
    $SUDO apt-get update -qq
    if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/leakhound-apt.log 2>&1; then
        # the other provider of libhs, if the first is not available here
        if printf '%s\n' "${missing[@]}" | grep -q libhyperscan-dev; then
            missing=("${missing[@]/libhyperscan-dev/libvectorscan-dev}")
            $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/leakhound-apt.log 2>&1 || {
                tail -20 /tmp/leakhound-apt.log >&2; exit 1; }
        else
            tail -20 /tmp/leakhound-apt.log >&2; exit 1
        fi
    fi
fi

if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release -Db_ndebug=false >/dev/null
fi
ninja -C build >/dev/null
if [ $want_tests = 1 ]; then
    if [ ! -f build-asan/build.ninja ]; then
        meson setup build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined \
            -Db_lundef=false >/dev/null
    fi
    ninja -C build-asan >/dev/null
    if [ ! -f build-tsan/build.ninja ]; then
        meson setup build-tsan --buildtype=debugoptimized -Db_sanitize=thread >/dev/null
    fi
    ninja -C build-tsan >/dev/null
fi
echo "bootstrap: built build/leakhound$([ $want_tests = 1 ] && echo ', build-asan/ and build-tsan/')" >&2
