#!/usr/bin/env bash
# The whole test suite on the oldest PyTorch and torchvision that pyproject.toml admits.
#
#     bash benchmarks/oldest_torch.sh            # the floors pyproject.toml names (torch>=X, torchvision>=Y)
#     bash benchmarks/oldest_torch.sh 2.5.1 0.20.1   # any other pair, to find where a floor should be
#
# It clones the repository's HEAD into a temporary folder (nothing is written here), makes a fresh
# virtual environment there with exactly those two versions from PyPI (about 3 GB with NVIDIA's
# libraries), installs the course with `pip install -e ".[dev]"` holding them, and runs `pytest`
# as `.ci/run` does (GAN_COURSE_DATA as set, else ../shared/data when it is there). It prints the
# versions, pytest's last line, and exits with pytest's status. About as long as the suite itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 2 ]; then
  torch_min=$1 vision_min=$2
elif [ $# -eq 0 ]; then
  read -r torch_min vision_min < <(python3 - <<'EOF'
import re
from pathlib import Path
text = Path("pyproject.toml").read_text(encoding="utf-8")
floor = {name: re.search(rf'"{name}>=([0-9.]+)', text).group(1) for name in ("torch", "torchvision")}
print(floor["torch"], floor["torchvision"])
EOF
)
else
  echo "usage: bash benchmarks/oldest_torch.sh [TORCH_VERSION TORCHVISION_VERSION]" >&2
  exit 2
fi

if [ -z "${GAN_COURSE_DATA:-}" ] && [ -d ../shared/data ]; then
  GAN_COURSE_DATA="$(cd ../shared/data && pwd)"
  export GAN_COURSE_DATA
fi
export MPLBACKEND=Agg PYTHONUNBUFFERED=1

work=$(mktemp -d "${TMPDIR:-/tmp}/gan-course-oldest-XXXXXX")
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/repo"
cd "$work/repo"
python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
printf 'torch==%s\ntorchvision==%s\n' "$torch_min" "$vision_min" > "$work/hold.txt"
echo "== install: torch $torch_min, torchvision $vision_min, then pip install -e \".[dev]\" holding them"
pip install --quiet -c "$work/hold.txt" "torch==$torch_min" "torchvision==$vision_min"
pip install --quiet -c "$work/hold.txt" -e ".[dev]"
python -c "import numpy, torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'numpy', numpy.__version__)"

echo "== test: pytest (GAN_COURSE_DATA=${GAN_COURSE_DATA:-unset})"
start=$SECONDS
status=0
pytest -q -p no:cacheprovider > "$work/pytest.log" 2>&1 || status=$?
grep -E "^(FAILED|ERROR) " "$work/pytest.log" || true
echo "== pytest took $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s: $(tail -n 1 "$work/pytest.log")"
exit "$status"
