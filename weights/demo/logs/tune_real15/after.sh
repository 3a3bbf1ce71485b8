#!/bin/bash
# Step 0m's choice for a run R (tuning material only): step 0k's judgement (decoding rule,
# vtest 400-449, people-free choice set, synthetic seed 555; tune_real13/after.sh), then
# each candidate under its chosen decoding on Market Street (the unseen scene with people).
# The shipped model's Market Street figure is tune_real15/shipped/market_street.json (the
# market command below with weights/demo).
#   R=runs/real15 bash weights/demo/logs/tune_real15/after.sh
set -e
cd "$(git rev-parse --show-toplevel)"
source tools/env.sh
R=${R:-runs/real15}
R=$R bash weights/demo/logs/tune_real13/after.sh
market() {  # model directory, output directory
  python -m loco_ros.cli evaluate --source video --video market_street \
    --labels data/real/labels/market_street.json --frame-step 1 --model $1 --threads 1 \
    --out $2 --no-progress > $2.log 2>&1
}
market $R/cand_final $R/market_final &
if ! cmp -s $R/cand_best/predictor.safetensors $R/cand_final/predictor.safetensors; then
  market $R/cand_best $R/market_best &
fi
wait
python weights/demo/logs/tune_real15/choose.py $R | tee $R/choice.txt
