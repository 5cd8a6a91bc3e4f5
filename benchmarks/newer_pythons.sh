#!/usr/bin/env bash
# The whole suite on Pythons newer than the one CI runs (3.11): Debian unstable's python3.13 and python3.14,
# with what pip picks for them today (torch 2.14.1 as CI has it; NumPy, SciPy and the rest at their newest, which
# for these Pythons may be newer than CI's: SciPy 1.18 and NumPy 2.5 were) and unstable's bubblewrap.
#
#   sudo bash benchmarks/newer_pythons.sh              # 3.13 and 3.14, one after the other
#   sudo bash benchmarks/newer_pythons.sh 3.14         # one of them
#   sudo PYTEST_ARGS=tests/test_stops.py bash benchmarks/newer_pythons.sh 3.13   # some tests only
#
# Needs root (debootstrap, and bwrap run as root), Debian's mirror and PyPI, and about 1 GB for the Debian root
# plus 6 GB per Python (torch's CUDA wheels). The Debian root is made once in $SID_ROOT (default
# $TMPDIR/gan-course-sid) and kept; each Python gets a clone of this checkout's HEAD (commit first) in
# $SID_ROOT/root/gan-<version> with a virtual environment of its own, installed with the README's command.
# The root is entered with bwrap, not chroot: a chrooted process may not make user namespaces, so no grading
# sandbox could start and the sandbox tests would only skip. pytest's output goes to
# $SID_ROOT/root/pytest-<version>.log; the last lines of each are printed.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
root="${SID_ROOT:-${TMPDIR:-/tmp}/gan-course-sid}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.13 3.14)
for v in "${versions[@]}"; do
  case "$v" in 3.1[3-9]) ;; *) echo "error: $v: Debian unstable has Python 3.13 and newer only; name 3.13 or 3.14" >&2; exit 2 ;; esac
done
if [ "$(id -u)" != 0 ]; then
  echo "error: run as root (debootstrap makes the Debian root, and bwrap enters it): sudo bash $0 ${versions[*]}" >&2
  exit 2
fi
command -v debootstrap >/dev/null || (apt-get update -qq && apt-get install -y -qq debootstrap bubblewrap) >/dev/null

packages=git,ca-certificates,bubblewrap
for v in "${versions[@]}"; do packages="$packages,python$v,python$v-venv"; done
have_pythons() { for v in "${versions[@]}"; do [ -x "$root/usr/bin/python$v" ] || return 1; done; }
if [ ! -e "$root/.made" ] || ! have_pythons; then
  echo "== debootstrap sid into $root ($packages)"
  rm -rf "$root"
  debootstrap --variant=minbase --include="$packages" sid "$root" http://deb.debian.org/debian > "$root.debootstrap.log" 2>&1 \
    || { tail -5 "$root.debootstrap.log"; exit 1; }
  touch "$root/.made"
fi
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"  # the host's trust (a proxy's CA)

data=()
if [ -n "${GAN_COURSE_DATA:-}" ] && [ -d "$GAN_COURSE_DATA" ]; then
  data=(--ro-bind "$GAN_COURSE_DATA" /data --setenv GAN_COURSE_DATA /data)
elif [ -d "$repo/../shared/data" ]; then
  data=(--ro-bind "$(cd "$repo/../shared/data" && pwd)" /data --setenv GAN_COURSE_DATA /data)
fi

box() {  # run a command inside the Debian root: its own /, the host's /proc, /dev and network, this checkout at /src
  bwrap --bind "$root" / --bind /proc /proc --dev-bind /dev /dev --bind /sys /sys \
    --ro-bind /etc/hosts /etc/hosts --ro-bind /etc/resolv.conf /etc/resolv.conf --ro-bind "$repo" /src \
    "${data[@]}" --setenv HOME /root --setenv PIP_CERT /etc/ssl/certs/ca-certificates.crt \
    --setenv SSL_CERT_FILE /etc/ssl/certs/ca-certificates.crt --setenv MPLBACKEND Agg --setenv PYTHONUNBUFFERED 1 \
    --chdir /root "$@"
}

for v in "${versions[@]}"; do
  echo "== Python $v: clone HEAD ($(git -C "$repo" log --oneline -1)), install, pytest"
  box bash -c "
    set -e
    git config --global --add safe.directory '*'
    rm -rf /root/gan-$v && git clone -q /src /root/gan-$v && cd /root/gan-$v
    python$v -m venv .venv && . .venv/bin/activate
    pip install -q torch==2.14.1 torchvision==0.29.1 > /root/install-$v.log 2>&1
    pip install -q -e '.[dev]' >> /root/install-$v.log 2>&1
    python -c 'import sys, torch, numpy, scipy; print(\"python\", sys.version.split()[0], \"torch\", torch.__version__, \"numpy\", numpy.__version__, \"scipy\", scipy.__version__)'
    python -c 'from reference.grading.sandbox import sandbox_problem; print(\"sandbox:\", sandbox_problem() or \"works\")'
    start=\$SECONDS
    status=0
    pytest -p no:cacheprovider -rfE ${PYTEST_ARGS:-} > /root/pytest-$v.log 2>&1 || status=\$?
    echo \"pytest exit \$status in \$((SECONDS - start)) s\"
    tail -3 /root/pytest-$v.log
  " || echo "== Python $v: failed (see $root/root/install-$v.log and $root/root/pytest-$v.log)"
done
