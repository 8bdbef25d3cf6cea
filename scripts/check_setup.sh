#!/usr/bin/env bash
# check_setup.sh BUILD_DIR: does scripts/setup.sh install everything this build found? Every file and
# folder CMake found (the FILEPATH and PATH entries of BUILD_DIR/CMakeCache.txt: package configs,
# libraries, headers, tools) that belongs to a Debian package must belong to a package that
# `apt-get install --no-install-recommends <setup's list>` brings onto a machine that has nothing,
# as apt computes it here. This is how a dependency present on this machine but missing from the
# set-up (a package that is only recommended, say) is caught without a bare machine. Files no
# package owns (a CUDA toolkit from NVIDIA's installer) are listed, not judged.
# Exit 0: complete; 1: something is missing (named); 77: apt or dpkg cannot answer here (skipped).
set -uo pipefail
build=${1:?usage: check_setup.sh BUILD_DIR}
cache="$build/CMakeCache.txt"
[ -f "$cache" ] || { echo "check_setup: no $cache"; exit 1; }
command -v dpkg-query >/dev/null && command -v apt-get >/dev/null || { echo "check_setup: skipped (no dpkg/apt)"; exit 77; }

mapfile -t packages < <(bash "$(dirname "$0")/setup.sh" --list)
# What the set-up installs on a machine with nothing installed (an empty dpkg status).
closure=$(apt-get -s -o Dir::State::status=/dev/null --no-install-recommends install "${packages[@]}" 2>/dev/null |
          awk '/^Inst /{print $2}' | sed 's/:.*//' | sort -u)
[ -n "$closure" ] || { echo "check_setup: skipped (apt cannot simulate the install: no package lists?)"; exit 77; }

owners_of() { dpkg-query -S "$1" 2>/dev/null | sed 's/: .*//' | tr ',' '\n' | sed 's/^ *//; s/:.*//' | sort -u; }

missing=0 unowned=()
while IFS= read -r path; do
  [ -e "$path" ] || continue
  # The path as found first (a -dev package's unversioned .so link belongs to the -dev package, not
  # to the library it points at); the resolved file where the path itself is not a package's (an
  # alternatives link such as /usr/bin/c++).
  real=$path
  owners=$(owners_of "$path")
  if [ -z "$owners" ]; then real=$(readlink -f "$path"); owners=$(owners_of "$real"); fi
  if [ -z "$owners" ]; then unowned+=("$path"); continue; fi
  if ! grep -qxF -f <(echo "$owners") <<<"$closure"; then
    echo "check_setup: $path ($real) comes from $(echo $owners | tr ' ' ','), which scripts/setup.sh does not install"
    missing=1
  fi
done < <(sed -n 's/^[A-Za-z0-9_.+-]*:\(FILEPATH\|PATH\)=\(\/.*\)$/\2/p' "$cache" | grep -v '^/usr/local$' | sort -u)

[ ${#unowned[@]} -eq 0 ] || echo "check_setup: not from a Debian package (not judged): ${unowned[*]}"
if [ $missing -eq 0 ]; then
  echo "check_setup: scripts/setup.sh installs every package this build uses (${#packages[@]} listed, $(wc -l <<<"$closure") with dependencies)"
fi
exit $missing
