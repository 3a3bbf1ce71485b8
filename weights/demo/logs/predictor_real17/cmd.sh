python -m loco_ros.cli train-predictor --model-config runs/real17/model.yaml --vha weights/demo/vha.safetensors \
    --init runs/real17/init_predictor.safetensors --freeze-blocks 5 \
    --out runs/real17/predictor --steps 20000 --batch-size 8 --lr 1e-4 --lr-min 1e-5 \
    --warmup 50 --color-jitter 0.3 --scale-aug 0.2 --real-backgrounds 0.4 --negatives 0.3 \
    --real-textures 0.5 --mocap-share 0.3 \
    --teacher-set data/real/teacher_sets/vtest_pose2sim_4to1.yaml --teacher-share 0.2 --cutout-people-share 0.05 \
    --teacher-zoom 2.5 --plate-share 0.3 --object-share 0.7 \
    --val-every 300 --val-scenes 16 --ckpt-every 25 --log-every 10 --workers 1 --threads 2 \
    --seed 99 --max-minutes 110 --no-progress "$@"
