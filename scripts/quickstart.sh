#!/usr/bin/env bash
# The whole method in one command, on synthetic data: install, write the synthetic tree, train the
# three stages of the original README (2D; 2D+3D; + geometric loss), test on the H36M validation
# split with --full_test, evaluate PCKh on MPII, run the demo, print a summary.
#
#   ./scripts/quickstart.sh [--device auto|cpu|cuda] [--full] [--no_pretrained]
#
# CPU: a small configuration (msra_18, 128x128 input, bf16 training where the CPU has native bf16)
# that finishes in under 15 minutes on 2 cores. GPU (or --full): a larger one. Stage 1 starts from
# the ImageNet weights when they can be had; --no_pretrained starts it from random initialisation.
# Every step is a plain command that can be copied from README.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEVICE=auto
FULL=0
PRETRAINED=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --device) DEVICE="$2"; shift 2 ;;
        --device=*) DEVICE="${1#*=}"; shift ;;
        --full) FULL=1; shift ;;
        --no_pretrained) PRETRAINED=(--no_pretrained); shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "quickstart.sh: unknown argument $1 (use --device auto|cpu|cuda, --full," \
                "--no_pretrained)" >&2; exit 2 ;;
    esac
done

# QS_SETUP=0 skips the install (the test suite runs inside an installed environment).
[[ "${QS_SETUP:-1}" == 0 ]] || ./setup.sh
PY="$ROOT/.venv/bin/python"
if [[ "$DEVICE" == auto ]]; then
    DEVICE=$("$PY" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
fi
[[ "$DEVICE" == cuda ]] && FULL=1

# Sizes. QS_* environment variables override them (the test suite runs a reduced quick start).
if [[ "$FULL" == 1 ]]; then
    NUM=${QS_NUM:-2000}; ARCH=${QS_ARCH:-msra_50}; RES=${QS_RES:-256}; BATCH=${QS_BATCH:-32}
    E1=${QS_E1:-30}; E2=${QS_E2:-20}; E3=${QS_E3:-5}; WORKERS=${QS_WORKERS:-8}
else
    NUM=${QS_NUM:-1000}; ARCH=${QS_ARCH:-msra_18}; RES=${QS_RES:-128}; BATCH=${QS_BATCH:-32}
    E1=${QS_E1:-10}; E2=${QS_E2:-8}; E3=${QS_E3:-1}; WORKERS=${QS_WORKERS:-2}
fi
# Learning rate of stages 1 and 2, rotation augmentation (-1: the dataset's default) and seed.
LR=${QS_LR:-0.001}; ROTATE=${QS_ROTATE:--1}; SEED=${QS_SEED:-0}
# On the CPU: channels_last, and bf16 autocast where bf16 is native (AMX or AVX512-BF16; about 2.5x
# faster steps there, measured on msra_18 at 128x128); elsewhere float32.
FAST=()
if [[ "$DEVICE" == cpu ]]; then
    FAST=(--channels_last)
    AMP=off
    grep -qsE 'amx_bf16|avx512_bf16' /proc/cpuinfo && AMP=bf16
    AMP=${QS_AMP:-$AMP}
    FAST+=(--amp "$AMP")
fi
OUT=$((RES / 4))
DATA=${QS_DATA:-data/synthetic}
EXP=${QS_EXP:-exp}
PREFIX=${QS_PREFIX:-quickstart}
START=$(date +%s)
step() { echo; echo "== $1 ($(( $(date +%s) - START ))s)"; }

step "synthetic data -> $DATA"
"$PY" scripts/make_synthetic_data.py --out "$DATA" --datasets mpii h36m --num "$NUM" --workers 2

COMMON=(--arch "$ARCH" --input_h "$RES" --input_w "$RES" --output_h "$OUT" --output_w "$OUT"
        --batch_size "$BATCH" --num_workers "$WORKERS" --device "$DEVICE"
        --data_dir "$ROOT/$DATA" --exp_dir "$ROOT/$EXP" --print_iter 20)
# Training only: tests and the demo measure in float32.
TRAIN=("${COMMON[@]}" --random_seed "$SEED" --rotate "$ROTATE" ${FAST[@]+"${FAST[@]}"})
cd src

step "stage 1: 2D (MPII)"
# No validation pass here: the MPII test below reports PCKh.
"$PY" main.py --exp_id "${PREFIX}_s1" --dataset mpii "${TRAIN[@]}" \
    --num_epochs "$E1" --lr "$LR" --lr_step "$((E1 * 3 / 4))" --val_intervals "$((E1 + 1))" \
    ${PRETRAINED[@]+"${PRETRAINED[@]}"}

step "stage 2: 2D + 3D (fusion_3d, from stage 1)"
"$PY" main.py --exp_id "${PREFIX}_s2" --task human3d --dataset fusion_3d --ratio_3d 1 \
    --weight_3d 0.1 --load_model "$ROOT/$EXP/${PREFIX}_s1/model_last.pth" "${TRAIN[@]}" \
    --num_epochs "$E2" --lr "$LR" --lr_step "$((E2 * 3 / 4))" --val_intervals "$E2"

step "stage 3: + geometric loss (from stage 2)"
"$PY" main.py --exp_id "${PREFIX}_s3" --task human3d --dataset fusion_3d --ratio_3d 1 \
    --weight_3d 0.1 --weight_var 0.01 --lr 1e-4 \
    --load_model "$ROOT/$EXP/${PREFIX}_s2/model_last.pth" "${TRAIN[@]}" \
    --num_epochs "$E3" --val_intervals "$E3"

step "test: H36M validation, --full_test"
"$PY" main.py --exp_id "${PREFIX}_s3" --task human3d --dataset H36M --test --full_test \
    --load_model "$ROOT/$EXP/${PREFIX}_s3/model_last.pth" "${COMMON[@]}"

step "test: MPII validation (PCKh)"
"$PY" main.py --exp_id "${PREFIX}_s3_mpii" --task human3d --dataset mpii --test \
    --load_model "$ROOT/$EXP/${PREFIX}_s3/model_last.pth" "${COMMON[@]}"

step "demo on images/"
"$PY" demo.py --demo ../images --load_model "$ROOT/$EXP/${PREFIX}_s3/model_last.pth" \
    --device "$DEVICE" --save_dir "$ROOT/$EXP/demo"

cd "$ROOT"
step "summary"
"$PY" scripts/quickstart_summary.py --data_dir "$DATA" --exp_dir "$EXP" --prefix "$PREFIX" \
    --input "$RES" --output "$OUT" --seconds "$(( $(date +%s) - START ))"
