#!/usr/bin/env bash
# The package as a host sees it: actorflow installed, then a host program built out of the
# tree against it and run (tests/package/host.cpp). CTest runs each step (label `package`):
#   check.sh install BUILD_DIR PREFIX       install an actorflow build into PREFIX
#   check.sh find-package PREFIX WORK_DIR   build the host with find_package(actorflow); run it
#   check.sh pkg-config PREFIX WORK_DIR     build the host with pkg-config's flags; run it
#   check.sh subdirectory WORK_DIR          build actorflow, shared, inside a host project with
#                                           add_subdirectory (nothing but the libraries, and
#                                           none of what the tools and tests need); run that
#                                           host; install that build and run a find_package
#                                           host against the shared libraries
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)

fail() {
  echo "package check: $*" >&2
  exit 1
}

# The host built with find_package against PREFIX in WORK_DIR, then run.
find_package_host() {
  local prefix=$1 work=$2
  rm -rf "$work"
  cmake -S "$here" -B "$work" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_PREFIX_PATH="$prefix" \
    >"$work.configure.log" 2>&1 || { cat "$work.configure.log"; fail "configure failed"; }
  cmake --build "$work"
  LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/host"
}

case ${1:-} in
  install)
    rm -rf "$3"
    cmake --install "$2" --prefix "$3" >/dev/null
    for f in include/actorflow/actorflow.hpp include/actorflow/ingest.hpp \
             lib/cmake/actorflow/actorflowConfig.cmake \
             lib/cmake/actorflow/actorflowConfigVersion.cmake \
             lib/pkgconfig/actorflow.pc lib/pkgconfig/actorflow-ingest.pc; do
      [ -f "$3/$f" ] || fail "the install has no $f"
    done
    ;;
  find-package)
    find_package_host "$2" "$3"
    ;;
  pkg-config)
    rm -rf "$3" && mkdir -p "$3"
    export PKG_CONFIG_PATH="$2/lib/pkgconfig"
    pkg-config --exists --print-errors "actorflow-ingest = 0.1.0" || fail "pkg-config finds no actorflow-ingest 0.1.0"
    # shellcheck disable=SC2046 # the flags are words
    c++ -std=c++20 -o "$3/host" "$here/host.cpp" $(pkg-config --cflags --libs actorflow-ingest)
    "$3/host"
    ;;
  subdirectory)
    work=$2
    rm -rf "$work" && mkdir -p "$work"
    cmake -S "$here/subdirectory" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_CXX_FLAGS="-O0 -g0" -DACTORFLOW_SOURCE_DIR="$source_dir" -DBUILD_SHARED_LIBS=ON \
      -DACTORFLOW_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$work/prefix" >"$work/configure.log" 2>&1 ||
      { cat "$work/configure.log"; fail "configure failed"; }
    for dependency in CLI11_DIR doctest_DIR HTTPLIB_FOUND; do
      if grep -q "^$dependency" "$work/build/CMakeCache.txt"; then
        fail "a host that adds actorflow as a subdirectory was made to look for $dependency"
      fi
    done
    cmake --build "$work/build" -j 2
    "$work/build/host"
    cmake --install "$work/build" >/dev/null
    [ -L "$work/prefix/lib/libactorflow.so" ] || fail "no libactorflow.so link in the install"
    [ -f "$work/prefix/lib/libactorflow.so.0.1.0" ] || fail "no libactorflow.so.0.1.0 in the install"
    soname=$(objdump -p "$work/prefix/lib/libactorflow.so.0.1.0" | awk '$1 == "SONAME" {print $2}')
    [ "$soname" = "libactorflow.so.0.1" ] || fail "SONAME is '$soname', not libactorflow.so.0.1"
    find_package_host "$work/prefix" "$work/find-package"
    ;;
  *)
    sed -n '2,/^set/s/^# \{0,1\}//p' "$0" | grep -v '^set'
    exit 2
    ;;
esac
