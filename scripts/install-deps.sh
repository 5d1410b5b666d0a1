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

# Whole-system recording (`plexlab record --system`, docs/recorder.md "System traces"): qemu-system-x86 10.x
# from bookworm-backports (Debian's own registry; its backports dependencies come with -t), the guest kernel,
# busybox-static for the guest image, and the static C library for the guest's init.
system_packages=(linux-image-amd64 busybox-static cpio libc6-dev)
if ! qemu-system-x86_64 --version 2>/dev/null | grep -q 'version 1[0-9]\.'; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86
fi
missing=()
for p in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# qemu-user must stay Debian 12's 7.2: its dynamic build loads TCG plugins (`-plugin`), while
# bookworm-backports' qemu-user 10 is static and refuses them. Installing from backports above can move
# it (seen on this project's machines): put bookworm's back.
if ! qemu-x86_64 --version 2>/dev/null | grep -q 'version 7\.'; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends --allow-downgrades qemu-user/bookworm
fi
