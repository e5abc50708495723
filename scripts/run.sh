#!/usr/bin/env bash
# The first command on a fresh machine: makes sure a Vulkan driver is there, then trains
# (`cargo run --release --example train`, which chooses the preset by adapter: the spec
# model on a GPU, the quick one on a software adapter) and ends with the report.
# Arguments go to the train example, e.g. `scripts/run.sh --preset spec`.
#
# On Linux without any Vulkan driver it installs Mesa's software driver (lavapipe) when it
# can (root, or sudo without a password, on Debian/Ubuntu; scripts/install-lavapipe.sh,
# which takes Mesa 25 from bookworm-backports on Debian 12); otherwise it prints the exact
# command to run and stops. macOS (Metal) and Windows (DX12) need nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="mesa-vulkan-drivers libvulkan1"
ICD_DIRS="${FLOWGPU_ICD_DIRS:-/usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d}"

# True when the Vulkan loader and at least one driver manifest are installed.
have_vulkan() {
    if [ -n "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
        return 0
    fi
    ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || return 1
    local d
    for d in $ICD_DIRS; do
        if compgen -G "$d/*.json" >/dev/null; then
            return 0
        fi
    done
    return 1
}

install_driver() {
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            as_root=(sudo)
        else
            echo "no Vulkan driver found. Install Mesa's software driver (or your GPU's driver), then run this again:" >&2
            echo "    sudo scripts/install-lavapipe.sh    (or: sudo apt-get update && sudo apt-get install -y $PACKAGES)" >&2
            exit 1
        fi
    fi
    echo "no Vulkan driver found: installing Mesa's software driver ($PACKAGES)" >&2
    "${as_root[@]}" scripts/install-lavapipe.sh
}

# Debian 12's own lavapipe (Mesa 22.3) runs a training step 1.3-1.6x slower than Mesa 25.
hint_newer_mesa() {
    local version codename
    version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null) || return 0
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || return 0
    if [ "$codename" = bookworm ] && [ "${version%%.*}" -lt 24 ] 2>/dev/null; then
        echo "note: lavapipe is Mesa $version; Mesa 25 from bookworm-backports trains faster (BENCHMARKS.md): sudo scripts/install-lavapipe.sh" >&2
    fi
}

if [ "$(uname -s)" = Linux ] && ! have_vulkan; then
    if command -v apt-get >/dev/null; then
        install_driver
    else
        echo "no Vulkan driver found. Install your distribution's Mesa Vulkan drivers (the package that provides lavapipe, e.g. 'mesa-vulkan-drivers' or 'vulkan-swrast') and the Vulkan loader, then run this again." >&2
        exit 1
    fi
elif [ "$(uname -s)" = Linux ]; then
    hint_newer_mesa
fi

if ! command -v cargo >/dev/null; then
    echo "cargo is not installed: install Rust from https://rustup.rs (curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh), then run this again." >&2
    exit 1
fi

exec cargo run --release --example train -- "$@"
