#!/usr/bin/env bash
# Issue 16, item 6: the prepared GPU check (LoRA + QLoRA in bf16, loss falls, bit-exact resume, serve,
# vLLM recipe) -> bench/results/gpu.md. Logic and arguments live in bench/gpu_check.py (tested on CPU).
# Exit codes: 0 all checks passed, 1 a check failed, 2 bad arguments, 3 no CUDA GPU (nothing run;
# pass --cpu-smoke for the tiny CPU run). Run from anywhere; finishes in under 10 minutes on one GPU.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1
cd "$root"
exec timeout --signal=TERM --kill-after=30 "${GPU_CHECK_TIMEOUT_S:-570}" "$python" bench/gpu_check.py "$@"
