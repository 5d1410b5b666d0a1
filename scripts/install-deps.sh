#!/usr/bin/env bash
# Installs everything PlexLab needs on a fresh Debian 12 machine (Swift itself comes with the machine).
set -euo pipefail
packages=(libsqlite3-dev libzstd-dev liblz4-dev libzydis-dev libelf-dev qemu-user gcc gcc-multilib binutils
          sqlite3 python3 gzip xz-utils bzip2 lua5.4 grep coreutils make
          # plexlab sweep's Slurm test runs a one-node cluster (docs/sweep.md).
          slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
