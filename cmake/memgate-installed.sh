#!/bin/sh
# memgate as installed by cmake --install or the .deb: the driver lives in <prefix>/share/memgate/python.
prefix=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
PYTHONPATH="$prefix/share/memgate/python${PYTHONPATH:+:$PYTHONPATH}" exec /usr/bin/python3 -m harness "$@"
