#!/usr/bin/env bash
# The CUDA section of bench/README.md as one command, for a node with an NVIDIA GPU (CUDA 12,
# cuDNN 9, `npm ci --onnxruntime-node-install=cuda12` done). It prints, from this repository's root:
#
#   1. `run-all.ts` with the efficiency rows on the GPU (worker end to end ÷ bare ONNX session, the
#      model-busy share, model FLOP utilisation with --peak-tflops) and the CPU rows of that node
#      (feed rate, preprocessing, transformers.js, Parquet, producer);
#   2. `cpu-per-image.ts`: this node's CPU per image by size (one core) and the cores one GPU
#      needs at 870 and 3,590 images/s, exact and --decode fast; the worker's peak RSS with the
#      model on the GPU, fp32 and fp16, batch 32 (host memory: what the pod needs).
#
# It never falls back to the CPU on its own: `--device cuda:0` fails loudly when CUDA cannot be
# used. `--device cpu` runs the same steps on the CPU (to check the script on a machine without a
# GPU; those figures are CPU figures). `--dry-run` prints the commands without running them.
#
#   bench/cuda-bench.sh [--model DIR] [--device cuda:0] [--variant fp16] [--peak-tflops T]
#                       [--gflops-per-image 220] [--quick] [--dry-run] [--help]
set -euo pipefail

MODEL=models/siglip-so400m-random
DEVICE=cuda:0
VARIANT=fp16
GFLOPS=220
PEAK=
QUICK=
DRY=

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    --variant) VARIANT=$2; shift 2 ;;
    --peak-tflops) PEAK=$2; shift 2 ;;
    --gflops-per-image) GFLOPS=$2; shift 2 ;;
    --quick) QUICK=--quick; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cuda-bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$DEVICE" in
  cpu|cuda|cuda:[0-9]*) ;;
  *) echo "cuda-bench.sh: --device must be cpu, cuda or cuda:N, not $DEVICE" >&2; exit 2 ;;
esac
case "$VARIANT" in
  fp32|fp16) ;;
  *) echo "cuda-bench.sh: --variant must be fp32 or fp16, not $VARIANT" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."

run() {
  echo "+ $*" >&2
  if [ -z "$DRY" ]; then "$@"; fi
}

if [ "$DEVICE" != cpu ] && [ -z "$DRY" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "cuda-bench.sh: no nvidia-smi on this machine: no GPU to measure (use --device cpu to check the script on the CPU)" >&2
  exit 1
fi
[ "$DEVICE" != cpu ] && [ -z "$DRY" ] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

# The so400m geometry, random-initialised (no download needed), fp32 + fp16, when missing.
if [ ! -f "$MODEL/siglip-batch.json" ]; then
  if [ "$MODEL" = models/siglip-so400m-random ]; then
    run .venv/bin/python tools/export/siglip_export.py --random so400m --seed 0 --out "$MODEL" --fp16
  else
    echo "cuda-bench.sh: $MODEL has no siglip-batch.json: not a finished export (tools/export/README.md)" >&2
    exit 1
  fi
fi

PEAK_ARGS=()
[ -n "$PEAK" ] && PEAK_ARGS=(--peak-tflops "$PEAK")
QUICK_ARGS=()
[ -n "$QUICK" ] && QUICK_ARGS=("$QUICK")

echo "== 1. every row, efficiency rows on $DEVICE ($VARIANT, $MODEL)"
run npx tsx bench/run-all.ts --model "$MODEL" --device "$DEVICE" --variant "$VARIANT" --gflops-per-image "$GFLOPS" "${PEAK_ARGS[@]}" "${QUICK_ARGS[@]}"

echo "== 2. CPU per image by size on this node's CPU; worker peak RSS with the model on $DEVICE"
run npx tsx bench/cpu-per-image.ts --so400m "$MODEL" --geometries so400m --variants fp32,fp16 --device "$DEVICE" "${QUICK_ARGS[@]}"
