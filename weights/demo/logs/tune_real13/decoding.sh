#!/bin/bash
# Step 0k's decoding grid for one model directory M, on tuning material only:
# vtest.avi 400-449 (teacher labels) and the people-free choice set (GCompris's animals).
#   M=weights/demo OUT=runs/real13/dec_shipped bash weights/demo/logs/tune_real13/decoding.sh
# then: python weights/demo/logs/tune_real13/choose_decoding.py OUT
set -e
cd "$(git rev-parse --show-toplevel)"
source tools/env.sh
GRID="--thresholds 0.45 0.5 0.55 0.6 0.65 0.7 0.75 --min-joints 4 6 8 --duplicate-fracs 0.2"
mkdir -p $OUT
python -m loco_ros.cli evaluate --source video --video vtest --labels data/real/labels/vtest.json \
  --frame-range 400 450 --frame-step 1 $GRID --model $M --threads ${THREADS:-2} --out $OUT/vtest \
  --no-progress > $OUT/vtest.log 2>&1
python -m loco_ros.cli evaluate --source images --images gcompris $GRID --model $M \
  --threads ${THREADS:-2} --out $OUT/gcompris --no-progress > $OUT/gcompris.log 2>&1
python weights/demo/logs/tune_real13/choose_decoding.py $OUT | tee $OUT/choice.txt
