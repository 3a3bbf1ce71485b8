#!/bin/bash
# Step 0o (weights/demo/COMMANDS.md): a run R's two candidates (best synthetic-validation and
# last checkpoint) each halfway between the predictor R started from and its own weights
# (alpha 0.5, fixed before any such model ran), as a run directory W that step 0m's judge
# (tune_real15/after.sh) reads like any run. Tuning material only.
#   R=runs/real15 W=runs/wise15 bash weights/demo/logs/tune_real16/wise.sh
set -e
cd "$(git rev-parse --show-toplevel)"
source tools/env.sh
: "${R:?run directory}" "${W:?output run directory}"
mkdir -p $W/predictor/checkpoint
cp $R/model.yaml $W/
half() {  # tuned weights, output
  python -m loco_ros.training.weight_average --start $R/init_predictor.safetensors \
    --tuned $1 --alpha 0.5 --out $2
}
half $R/predictor/predictor.safetensors $W/predictor/predictor.safetensors
half $R/predictor/checkpoint/predictor.safetensors $W/predictor/checkpoint/predictor.safetensors
R=$W bash weights/demo/logs/tune_real15/after.sh
