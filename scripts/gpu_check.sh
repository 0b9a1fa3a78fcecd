#!/usr/bin/env bash
# The prepared GPU run: every measurement that needs a CUDA machine, in at most ~10 minutes, written to $OUT
# as gpu_check.json, gpu_check.md and gpu_check.log (plus the training run's checkpoint, history and eval).
# Runs from this checkout without installing it. See docs/benchmarks.md ("The GPU check").
#
#   OUT=/path/to/results bash scripts/gpu_check.sh            # on the GPU machine
#   OUT=/tmp/gpu_dry bash scripts/gpu_check.sh --dry-run       # every step on the CPU at tiny sizes (< 5 min)
#
# Extra arguments go to python -m vdpm_ros.harness.gpu_check (e.g. --steps env,w1 or --total-s 300).
# PYTHON selects the interpreter (default python3).
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT="${OUT:-$PWD/out/gpu_check}"
mkdir -p "$OUT"
# The Python side keeps its own per-step budgets inside --total-s; this outer limit only catches a hang
# of the whole run, after which the report files written so far stay in $OUT.
limit=590
case " $* " in *" --dry-run "*) limit=2460 ;; esac
exec timeout --kill-after=5 "${GPU_CHECK_TIMEOUT_S:-$limit}" "${PYTHON:-python3}" -m vdpm_ros.harness.gpu_check --out "$OUT" "$@"
