#!/bin/bash
# after choosing: weights/demo has the new predictor + model.yaml decoding; held-out evaluations
set -e
cd "$(git rev-parse --show-toplevel)"
source tools/env.sh
L=weights/demo/logs
R=${R:-runs/real3}  # where the run logs go (R=runs/real4 for step 0d)
python -m loco_ros.cli evaluate --source real --model weights/demo --frame-step 1 --threads 2 --out $L/real_heldout --no-progress > $R/real_heldout.log 2>&1
echo real-fp32 done; cat $L/real_heldout/real_metrics.md
python -m loco_ros.cli evaluate --source real --model weights/demo --frame-step 1 --threads 2 --precision int8 --out $L/real_heldout_int8 --no-progress > $R/real_heldout_int8.log 2>&1
echo real-int8 done; cat $L/real_heldout_int8/real_metrics.md
python -m loco_ros.cli evaluate --source multiview --model weights/demo --threads 2 --out $L/real_multiview --no-progress > $R/real_multiview.log 2>&1
echo multiview done; cat $L/real_multiview/multiview_metrics.md
python -m loco_ros.cli evaluate --model weights/demo --source synthetic --frames 400 --seed 777 \
    --people 1 20 --distance 2 25 --focal-jitter 0.3 --out $L/eval_heldout --threads 2 --no-vha > $R/eval_heldout.log 2>&1
echo synthetic done; tail -30 $R/eval_heldout.log
PYTHONPATH=. python benchmarks/cpu_precision.py --model weights/demo --frames 40 --out $L/speed_int8.json > $R/speed_int8.log 2>&1
echo speed done; grep -A3 '"median_ms"\|fps_median\|int8_over' $L/speed_int8.json
