# Sourced by the after.sh scripts: model directories $R/cand_best (best synthetic-validation
# checkpoint) and $R/cand_final (last checkpoint) of run $R, with the shipped VHA, refiner
# and int8 calibration frames.
for c in best final; do
  mkdir -p $R/cand_$c
  cp $R/model.yaml weights/demo/vha.safetensors weights/demo/refiner.safetensors $R/cand_$c/
  cp -r weights/demo/int8_calibration $R/cand_$c/
done
cp $R/predictor/predictor.safetensors $R/cand_best/
cp $R/predictor/checkpoint/predictor.safetensors $R/cand_final/
