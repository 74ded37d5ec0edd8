#!/bin/sh
# Installs the Debian packages ionflow needs to build, test and plot
# (clang with libFuzzer and OpenMP: make fuzz).
# As root, missing packages are installed with apt-get; otherwise the exact
# command to run is printed and the script fails. --mpi adds OpenMPI (for
# make MPI=1).
set -e
# liblzf-dev, liblz4-dev, zlib1g-dev: the HDF5 filters built into ionflow
# (src/h5filt.c: LZF, LZ4, bitshuffle, and gzip decoded by its threads);
# python3-hdf5plugin, bitshuffle: the tests write LZ4 and bitshuffle files;
# python3-scipy: the fits are compared with curve_fit;
# clang, libclang-rt-14-dev, libomp-14-dev: the fuzz harnesses (tests/fuzz)
PKGS="gcc make pkg-config liblua5.4-dev lua5.4 libhdf5-dev libgsl-dev libreadline-dev
libxrl-dev liblzf-dev liblz4-dev zlib1g-dev hdf5-filter-plugin groff-base perl python3-numpy
python3-h5py python3-hdf5plugin bitshuffle python3-scipy gnuplot-nox valgrind
clang libclang-rt-14-dev libomp-14-dev"
[ "${1:-}" = --mpi ] && PKGS="$PKGS libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "ionflow: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  # quiet unless it fails: then the whole log is shown
  log=$(mktemp)
  # shellcheck disable=SC2086
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
         $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "ionflow: installing the packages failed (log above)" >&2
    exit 1
  fi
  rm -f "$log"
else
  echo "ionflow: missing Debian packages; run as root:" >&2
  echo "  apt-get install$missing" >&2
  exit 1
fi
