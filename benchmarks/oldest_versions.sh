#!/usr/bin/env bash
# The whole test suite on the oldest releases that pyproject.toml admits: every dependency of the
# course and of its [dev] extra at its floor (torch>=2.6 gets 2.6.0, numpy>=2.0 gets 2.0.0, ...).
#
#     bash benchmarks/oldest_versions.sh                       # every floor pyproject.toml names
#     bash benchmarks/oldest_versions.sh torch==2.10.0 torchvision==0.25.0  # floors, some held at newer versions
#
# (To try a release below a floor, lower the floor in pyproject.toml and commit it first: the script runs HEAD,
# and a pin below a floor cannot resolve.)
#
# It clones the repository's HEAD into a temporary folder (nothing is written here), lets uv
# (`uv pip compile --resolution lowest-direct`, uv itself installed from PyPI into that folder)
# pick the lowest versions of the direct dependencies that install together on this Python, installs
# exactly those in a fresh virtual environment (about 3 GB with NVIDIA's libraries), then the course
# without dependencies, and runs `pytest` as `.ci/run` does (GAN_COURSE_DATA as set, else
# ../shared/data when it is there). It prints the versions it chose, the failures and pytest's last
# line, keeps pytest's whole output in $TMPDIR/gan-course-oldest-versions.log, and exits with
# pytest's status. About as long as the suite itself, plus a minute or two.
set -euo pipefail
cd "$(dirname "$0")/.."

for spec in "$@"; do
  case "$spec" in
    *==*) ;;
    *) echo "error: $spec is not NAME==VERSION; give pins such as torch==2.5.1" >&2; exit 2 ;;
  esac
done

if [ -z "${GAN_COURSE_DATA:-}" ] && [ -d ../shared/data ]; then
  GAN_COURSE_DATA="$(cd ../shared/data && pwd)"
  export GAN_COURSE_DATA
fi
export MPLBACKEND=Agg PYTHONUNBUFFERED=1

work=$(mktemp -d "${TMPDIR:-/tmp}/gan-course-oldest-XXXXXX")
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/repo"
cd "$work/repo"
python3 -m venv "$work/uv"
"$work/uv/bin/pip" install --quiet uv
printf '%s\n' "$@" > "$work/held.txt"
echo "== resolve: the lowest direct dependencies of pyproject.toml and its [dev] extra$([ $# -gt 0 ] && echo ", holding $*")"
"$work/uv/bin/uv" pip compile --quiet pyproject.toml --extra dev --resolution lowest-direct \
  --constraint "$work/held.txt" --python "$(command -v python3)" --output-file "$work/lowest.txt"
python3 -m venv .venv
"$work/uv/bin/uv" pip sync --quiet "$work/lowest.txt" --python .venv/bin/python
"$work/uv/bin/uv" pip install --quiet --no-deps -e . --python .venv/bin/python
# shellcheck disable=SC1091
. .venv/bin/activate
python - <<'EOF'
import re
from importlib.metadata import version
from pathlib import Path

from reference.config import tomllib

project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
names = [re.split(r"[<>=;\[ ]", dep, maxsplit=1)[0] for dep in [*project["dependencies"], *project["optional-dependencies"]["dev"]]]
print("== installed:", ", ".join(f"{name} {version(name)}" for name in dict.fromkeys(names) if not name.startswith("tomli")))
EOF

echo "== test: pytest (GAN_COURSE_DATA=${GAN_COURSE_DATA:-unset})"
start=$SECONDS
status=0
log="${TMPDIR:-/tmp}/gan-course-oldest-versions.log"
pytest -q -p no:cacheprovider > "$log" 2>&1 || status=$?
grep -E "^(FAILED|ERROR) " "$log" || true
echo "== pytest took $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s: $(tail -n 1 "$log")"
echo "== pytest's whole output: $log"
exit "$status"
