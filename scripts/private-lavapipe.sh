#!/usr/bin/env bash
# Unpacks one suite's lavapipe (Mesa's software Vulkan driver) into a folder without
# installing it, and prints the driver manifest to pass as VK_ICD_FILENAMES: to run the
# tests or the bench on another Mesa than the system's, e.g.
#   VK_ICD_FILENAMES=$(scripts/private-lavapipe.sh bookworm target/mesa-bookworm) cargo test --release
# .ci/run uses it to keep Debian 12's own Mesa (22.3) tested beside bookworm-backports' 25.
# Needs apt and that suite in apt's sources; the libraries the driver links stay the system's.
set -euo pipefail
suite=${1:?usage: private-lavapipe.sh SUITE DIR}
dir=${2:?usage: private-lavapipe.sh SUITE DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if ! [ -f "$dir/lvp_icd.json" ]; then
    (cd "$dir" && apt-get download -qq "mesa-vulkan-drivers/$suite")
    dpkg -x "$dir"/mesa-vulkan-drivers_*.deb "$dir/root"
    lib=$(find "$dir/root" -name libvulkan_lvp.so | head -n 1)
    api=$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$dir"/root/usr/share/vulkan/icd.d/lvp_icd*.json | head -n 1)
    printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "%s"}}\n' \
        "$lib" "$api" >"$dir/lvp_icd.json"
fi
echo "$dir/lvp_icd.json"
