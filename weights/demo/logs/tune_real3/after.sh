#!/bin/bash
# candidates (best synthetic-val, final) -> decoding grid on vtest 400-449 (tuning frames, never held out)
set -e
cd "$(git rev-parse --show-toplevel)"
source tools/env.sh
R=${R:-runs/real3}  # the run to judge (R=runs/real4 for step 0d)
# SYN_FRAMES: synthetic tuning frames (200; 600 from step 0j on)
source weights/demo/logs/tune_real3/candidates.sh
for c in final best; do
  if [ $c = best ] && cmp -s $R/cand_best/predictor.safetensors $R/cand_final/predictor.safetensors; then continue; fi
  python -m loco_ros.cli evaluate --source video --video vtest --labels data/real/labels/vtest.json \
    --frame-range 400 450 --frame-step 1 --thresholds 0.35 0.4 0.45 0.5 0.55 0.6 --min-joints 4 6 \
    --duplicate-fracs 0.2 --model $R/cand_$c --threads 2 --out $R/tune_$c --no-progress > $R/tune_$c.log 2>&1
  echo tuned $c
done
mkdir -p $R/tune_syn
for c in final best; do
  [ -d $R/tune_$c ] || continue
  python -m loco_ros.cli evaluate --model $R/cand_$c --source synthetic --frames ${SYN_FRAMES:-200} --seed 555 --people 1 20 \
    --distance 2 25 --focal-jitter 0.3 --out $R/tune_syn/$c --threads 2 --no-vha > $R/tune_syn/$c.log 2>&1
  echo synthetic-tuned $c
done
