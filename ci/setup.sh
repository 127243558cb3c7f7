#!/usr/bin/env bash
# Installs the Debian packages memgate builds and tests with (ci/test_setup_covers_tools.py
# checks that every tool the tests run is here). Idempotent: only
# missing packages are installed, and apt's lists are refreshed only then.
set -euo pipefail

packages=(
  build-essential binutils cmake ninja-build ccache pkg-config git openssl curl
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libnghttp2-dev libssl-dev zlib1g-dev libjemalloc-dev libmimalloc-dev libgtest-dev
  clang libclang-rt-14-dev
  nghttp2-client nghttp2-server nginx-light iperf3 wrk python3 python3-pytest python3-hypothesis python3-h2 python3-hyperframe python3-hpack
  golang-go golang-golang-x-net-dev
  heaptrack python3-venv python3-pip python3-setuptools python3-yaml dpkg-dev gh
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
