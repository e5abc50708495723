#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) and the Vulkan loader with apt; run as
# root (scripts/run.sh and .ci/run call it, through sudo where needed).
#
# On Debian 12 (bookworm) Mesa comes from bookworm-backports (25.0 instead of the
# release's 22.3): its lavapipe loads storage buffers with vector gathers instead of a
# branchy loop over the lanes, and the training step runs 1.3-1.6x faster on an AMD EPYC
# (BENCHMARKS.md). The backports source is added if apt does not know it yet. Set
# FLOWGPU_MESA=release to keep the release's Mesa; if the backports cannot be installed,
# the release's Mesa is installed instead. Elsewhere the distribution's Mesa is installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(mesa-vulkan-drivers libvulkan1)
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || codename=

if [ "$codename" = bookworm ] && [ "${FLOWGPU_MESA:-backports}" = backports ]; then
    if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        cat >/etc/apt/sources.list.d/flowgpu-bookworm-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    fi
    if apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends -t bookworm-backports "${packages[@]}"; then
        exit 0
    fi
    echo "warning: Mesa from bookworm-backports could not be installed; installing the release's (22.3, slower)" >&2
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
