#!/bin/bash
# Step 0k's choice for a run R (tuning material only): each candidate (best synthetic-val,
# final) gets its decoding by the rule (decoding.sh, choose_decoding.py writes it into its
# model.yaml), then synthetic seed 555 (600 frames) under that decoding. The two candidates
# run side by side, one thread each.
#   R=runs/real13 bash weights/demo/logs/tune_real13/after.sh
set -e
cd "$(git rev-parse --show-toplevel)"
source tools/env.sh
R=${R:-runs/real13}
D=weights/demo/logs/tune_real13
source weights/demo/logs/tune_real3/candidates.sh
judge() {
  local c=$1
  M=$R/cand_$c OUT=$R/dec_$c THREADS=1 bash $D/decoding.sh > /dev/null
  python $D/choose_decoding.py $R/dec_$c $R/cand_$c > $R/dec_$c/choice_applied.txt
  python -m loco_ros.cli evaluate --model $R/cand_$c --source synthetic --frames 600 --seed 555 \
    --people 1 20 --distance 2 25 --focal-jitter 0.3 --out $R/tune_syn/$c --threads 1 --no-vha \
    > $R/tune_syn_$c.log 2>&1
  echo "judged $c"
}
judge final &
if ! cmp -s $R/cand_best/predictor.safetensors $R/cand_final/predictor.safetensors; then
  judge best &
fi
wait
