#!/usr/bin/env bash
# The GPU checks and the GPU figures the README and the lessons quote, in one run on a machine with
# a CUDA GPU (CI has none; nothing here runs there). From the course folder, in its environment:
#
#     bash benchmarks/gpu_check.sh 2>&1 | tee gpu.log        # about 6 minutes on one H200
#
# 1. tests/test_gpu.py and tests/test_device_selection.py: training on CUDA in fp32 and under --amp
#    (bf16, and fp16 with its GradScaler), the trainer's DDP path on NCCL, grading with --gpu.
# 2. The main job (`gan-course train`: 30 epochs of dcgan on digits) on the GPU, fp32 and --amp.
# 3. benchmarks/train_throughput.py --device cuda: the reference trainer against the tutorial loop.
# 4. benchmarks/lesson_times.py 02 03: the two lessons that train longest, full mode ("GPU:" in
#    their first cell).
# Each step runs whatever the one before did; the exit status is the tests'.
set -uo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0), 'bf16', torch.cuda.is_bf16_supported())"

echo "== 1. tests"
python -m pytest -o addopts="" -p no:cacheprovider -n 4 -ra --durations=10 tests/test_gpu.py tests/test_device_selection.py
status=$?

echo "== 2. the main job on the GPU"
TIMEFORMAT="%R s"
for amp in "" "--amp"; do
  out=$(mktemp -d)
  echo "gan-course train --no-progress --device cuda $amp"
  time python -m reference.cli train --no-progress --device cuda $amp --out "$out/run" >/dev/null
  rm -rf "$out"
done

echo "== 3. throughput"
python benchmarks/train_throughput.py --device cuda

echo "== 4. lessons 02 and 03, full mode"
python benchmarks/lesson_times.py 02 03
exit "$status"
