#!/usr/bin/env bash
# Installs the Debian packages ward needs that are missing. Idempotent; quiet when all is there.
# `setup.sh --list` prints the packages instead (scripts/check_setup.sh checks the list is complete).
set -euo pipefail

# Debian's oneDNN is built with its OpenCL GPU runtime: its CMake config needs the OpenCL headers and
# loader (ocl-icd-opencl-dev), which libdnnl-dev only recommends.
packages=(
  cmake g++ make pkg-config
  libeigen3-dev libdnnl-dev ocl-icd-opencl-dev libboost-test-dev libbenchmark-dev
  nlohmann-json3-dev libpcre2-dev libcli11-dev libglpk-dev
  gnuplot-nox
)

if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
