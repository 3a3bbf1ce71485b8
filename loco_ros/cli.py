"""``loco``: the command-line tools of loco_ros (ROS-free).

    loco generate shards --out DIR --images N --seed S     synthetic training shards (npz)
    loco generate bag --out BAG --frames N --seed S        a rosbag2 with images, camera info
                                                           and GT poses (/people/poses3d_gt)
    loco train-vha ...         loco_ros.training.train_vha
    loco train-predictor ...   loco_ros.training.train_predictor
    loco train-refiner ...     loco_ros.training.train_refiner
    loco evaluate ...          loco_ros.evaluation.evaluate
    loco export [--model-dir DIR] [--cache-dir DIR] [--precision fp16|fp32|int8] [--device-index N]
                               the ONNX file and, where TensorRT and a GPU exist, the TensorRT
                               engine, into the cache loco_node reads (engine_cache_dir), so
                               that activating the node does not export or build (minutes)

Each ``train-*`` / ``evaluate`` subcommand takes the arguments of its module (``--help``).
Also ``python -m loco_ros.cli``.
"""

from __future__ import annotations

import argparse
import sys

SUBCOMMANDS = {
    "train-vha": "loco_ros.training.train_vha",
    "train-predictor": "loco_ros.training.train_predictor",
    "train-refiner": "loco_ros.training.train_refiner",
    "evaluate": "loco_ros.evaluation.evaluate",
}


def _scene_config(args):
    from loco_ros.synthetic.scene import SceneConfig

    return SceneConfig(
        image_width=args.width, image_height=args.height, focal_px=args.focal,
        focal_jitter=args.focal_jitter, people=tuple(args.people),
        distance_m=tuple(args.distance),
    )


def generate_bag(out: str, frames: int, seed: int, config, fps: float = 10.0,
                 image_topic: str = "/camera/image", info_topic: str = "/camera/camera_info",
                 gt_topic: str = "/people/poses3d_gt", storage: str = "mcap") -> None:
    """Write ``frames`` synthetic frames (independent scenes, the images of the shards of
    ``seed``) as a rosbag2: rgb8 images, CameraInfo and the GT people (Pose3DArray)."""
    from loco_ros.synthetic.bag import BagTopics, write_scene_bag
    from loco_ros.synthetic.dataset import generate_sample

    scenes = [generate_sample(seed, i, config, render=False).scene for i in range(frames)]
    write_scene_bag(out, scenes, fps=fps, seed=seed, storage=storage,
                    topics=BagTopics(image_topic, info_topic, gt_topic),
                    render=lambda i, _scene: generate_sample(seed, i, config).image)


def _generate(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="loco generate",
                                description="synthetic data: npz shards or a rosbag2")
    p.add_argument("what", choices=("shards", "bag"))
    p.add_argument("--out", required=True)
    p.add_argument("--images", "--frames", dest="count", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=288)
    p.add_argument("--focal", type=float, default=400.0, help="canonical focal (pixels)")
    p.add_argument("--focal-jitter", type=float, default=0.3)
    p.add_argument("--people", type=int, nargs=2, default=(1, 20))
    p.add_argument("--distance", type=float, nargs=2, default=(2.0, 25.0))
    p.add_argument("--shard-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--fps", type=float, default=10.0, help="bag frame rate")
    p.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    p.add_argument("--image-topic", default="/camera/image")
    p.add_argument("--info-topic", default="/camera/camera_info")
    p.add_argument("--gt-topic", default="/people/poses3d_gt")
    args = p.parse_args(argv)
    config = _scene_config(args)
    if args.what == "shards":
        from loco_ros.synthetic.dataset import generate_shards

        paths = generate_shards(args.out, args.count, args.seed, config,
                                shard_size=args.shard_size, workers=args.workers)
        print(f"{len(paths)} shard(s) in {args.out}")
    else:
        generate_bag(args.out, args.count, args.seed, config, args.fps, args.image_topic,
                     args.info_topic, args.gt_topic, storage=args.storage)
        print(f"wrote {args.count} frames to {args.out}")
    return 0


def export(model_dir: str | None = None, cache_dir: str | None = None,
           precision: str = "fp16", device_index: int = 0, onnx_only: bool = False,
           progress: bool = True) -> dict[str, str]:
    """Export the model's ONNX file (and build its TensorRT engine where possible) into the
    cache that ``select_backend`` reads; returns what was written or why not."""
    from pathlib import Path

    from loco_ros.backends.selection import default_cache_dir
    from loco_ros.backends.tensorrt_engine import tensorrt_unavailable_reason
    from loco_ros.export.onnx_export import cached_onnx
    from loco_ros.runtime.estimator import default_model_dir, load_model

    path = Path(model_dir) if model_dir else default_model_dir()
    config, network, _ = load_model(path)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    onnx = cached_onnx(config, network.predictor, network.vha, cache, progress=progress)
    done = {"onnx": str(onnx)}
    if precision == "int8":  # the ONNX Runtime CPU graph; TensorRT builds fp16
        from loco_ros.export.quantize import cached_int8_onnx, calibration_images

        done["onnx_int8"] = str(cached_int8_onnx(onnx, calibration_images(path), cache, config))
        precision = "fp16"
    if onnx_only:
        done["tensorrt"] = "skipped (--onnx-only)"
        return done
    import torch

    why = tensorrt_unavailable_reason() or (
        None if torch.cuda.is_available() else "no CUDA GPU visible to torch")
    if why is not None:
        done["tensorrt"] = f"not built: {why}"
        return done
    from loco_ros.backends.tensorrt_backend import TensorRTBackend

    backend = TensorRTBackend.from_onnx(onnx, cache, precision, device_index=device_index,
                                        progress=progress)
    done["tensorrt"] = backend.description
    backend.close()
    return done


def _export(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="loco export", description="ONNX export and TensorRT engine into the cache "
        "that loco_node reads (its engine_cache_dir parameter)")
    p.add_argument("--model-dir", default=None, help="model.yaml + weights (default: demo)")
    p.add_argument("--cache-dir", default=None,
                   help="default: $XDG_CACHE_HOME/loco_ros/engines, as the node")
    p.add_argument("--precision", choices=("fp16", "fp32", "int8"), default="fp16",
                   help="TensorRT engine precision; int8 also writes the ONNX Runtime CPU "
                   "int8 graph (and builds a fp16 engine where TensorRT runs)")
    p.add_argument("--device-index", type=int, default=0, help="CUDA device of the engine")
    p.add_argument("--onnx-only", action="store_true", help="do not build a TensorRT engine")
    args = p.parse_args(argv)
    done = export(args.model_dir, args.cache_dir, args.precision, args.device_index,
                  args.onnx_only)
    for what, result in done.items():
        print(f"{what}: {result}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ["generate", "export", *SUBCOMMANDS]
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__.strip())
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nunknown command {argv[0]!r}; expected one of {', '.join(commands)}",
                  file=sys.stderr)
            return 2
        return 0
    command, rest = argv[0], argv[1:]
    if command == "generate":
        return _generate(rest)
    if command == "export":
        return _export(rest)
    import importlib

    module = importlib.import_module(SUBCOMMANDS[command])
    module.main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
