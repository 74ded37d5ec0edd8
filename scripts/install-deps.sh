#!/bin/sh
# Installs the Debian packages ionflow needs to build, test and plot.
# As root, missing packages are installed with apt-get; otherwise the exact
# command to run is printed and the script fails. --mpi adds OpenMPI (for
# make MPI=1).
set -e
PKGS="gcc make pkg-config liblua5.4-dev lua5.4 libhdf5-dev libgsl-dev libreadline-dev
libxrl-dev hdf5-filter-plugin groff-base perl python3-numpy python3-h5py gnuplot-nox
valgrind"
[ "$1" = --mpi ] && PKGS="$PKGS libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "ionflow: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
else
  echo "ionflow: missing Debian packages; run as root:" >&2
  echo "  apt-get install$missing" >&2
  exit 1
fi
