#!/bin/bash
# Keeps a judged run's tuning figures (step 0m's judge, tune_real15/after.sh) in the git tree:
#   R=runs/real16 T=weights/demo/logs/tune_real16/real16 bash weights/demo/logs/tune_real16/keep.sh
set -e
cd "$(git rev-parse --show-toplevel)"
: "${R:?judged run directory}" "${T:?where the figures go}"
for c in best final; do
  [ -d $R/market_$c ] || continue  # best is final: judged once
  mkdir -p $T/$c
  cp $R/dec_$c/choice_applied.txt $T/$c/choice.txt
  cp $R/dec_$c/vtest/real_metrics.md $T/$c/vtest_400_449.md
  cp $R/dec_$c/gcompris/real_metrics.json $T/$c/people_free_choice_set.json
  cp $R/dec_$c/gcompris/real_metrics.md $T/$c/people_free_choice_set.md
  cp $R/tune_syn/$c/metrics.md $T/$c/synthetic_seed555_600.md
  cp $R/market_$c/real_metrics.json $T/$c/market_street.json
  cp $R/market_$c/real_metrics.md $T/$c/market_street.md
done
cp $R/choice.txt $T/choice.txt
