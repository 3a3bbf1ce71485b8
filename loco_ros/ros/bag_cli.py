"""loco_bag: play, record, process and inspect rosbag2 files (sqlite3 or mcap), on rosbags.

    loco_bag play BAG [--rate R] [--loop] [--start S] [--clock HZ] [--topics T ...]
                      [--remap FROM:=TO ...] [--qos TOPIC=PROFILE ...] [--sensor-data-images]
                      [--wait-for-subscribers N] [--wait-timeout S]
    loco_bag record OUT --topics T ... [--duration S] [--max-messages N]
                        [--storage mcap|sqlite3] [--use-header-stamp] [--qos TOPIC=PROFILE ...]
    loco_bag process IN OUT [--params-file config/loco.yaml] [--model-dir DIR]
                            [--image-topic T] [--camera-info-topic T] [--copy-topics T ...]
                            [--tracking] [--ground-plane auto|fixed|tf|none]
                            [--save-calibration YAML] ...
    loco_bag info BAG

ROS arguments go after ``--ros-args`` (play and record). A missing or corrupt bag, an output
that exists, or invalid options end with a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from loco_ros.bags.playback import QOS_PROFILES, PlayOptions, parse_pairs
from loco_ros.bags.reading import STORAGES, BagError, format_summary, summarize
from loco_ros.errors import LocoError

EXIT_ERROR = 2
GROUND_PLANE_CHOICES = ("auto", "fixed", "tf", "none")


def ground_plane_mode(choice: str) -> str:
    """The GroundPlaneConfig mode of a ``--ground-plane`` choice (none = off)."""
    return "off" if choice == "none" else choice


class UsageError(LocoError):
    """Invalid option values (argparse checks only their syntax)."""


def _checked(build, *args):
    """build(*args), with a ValueError of invalid options turned into a UsageError."""
    try:
        return build(*args)
    except ValueError as err:
        raise UsageError(str(err)) from err


def _add_play(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("play", help="publish a bag's messages with the recorded timing")
    parser.add_argument("bag", help="bag directory, .mcap or .db3 file")
    parser.add_argument("--rate", type=float, default=1.0, help="speed factor (default 1)")
    parser.add_argument("--loop", action="store_true", help="play again at the end, forever")
    parser.add_argument("--start", type=float, default=0.0, metavar="S",
                        help="start S seconds into the bag")
    parser.add_argument("--clock", type=float, default=0.0, metavar="HZ",
                        help="publish /clock from bag time at HZ (default off)")
    parser.add_argument("--topics", nargs="+", default=[], help="play only these topics")
    parser.add_argument("--remap", nargs="+", default=[], metavar="FROM:=TO",
                        help="publish topic FROM on TO")
    _add_qos(parser, "publisher QoS (default reliable)")
    parser.add_argument("--qos-depth", type=int, default=10, help="history depth (default 10)")
    parser.add_argument("--sensor-data-images", action="store_true",
                        help="publish image topics with the sensor-data (best effort) QoS")
    parser.add_argument("--wait-for-subscribers", type=int, default=0, metavar="N",
                        help="before playing, wait until each topic has N subscribers")
    parser.add_argument("--wait-timeout", type=float, default=30.0, metavar="S",
                        help="longest wait for subscribers (default 30 s)")
    _add_no_progress(parser)
    parser.set_defaults(run=_run_play)


def _add_record(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("record", help="record topics of the live graph to a new bag")
    parser.add_argument("out", help="new bag directory to create")
    parser.add_argument("--topics", nargs="+", required=True, help="topics to record")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds")
    parser.add_argument("--max-messages", type=int, default=None, metavar="N",
                        help="stop after N messages in all")
    parser.add_argument("--use-header-stamp", action="store_true",
                        help="bag time = header stamp (receive time for header-less types)")
    _add_qos(parser, "subscription QoS (default: adapted to the publishers)")
    parser.set_defaults(run=_run_record)


def _add_process(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("process", help="run the pose pipeline over a bag (no DDS)")
    parser.add_argument("input", help="input bag")
    parser.add_argument("output", help="new output bag")
    parser.add_argument("--params-file", default=None, metavar="YAML",
                        help="the node's parameters file (config/loco.yaml): camera, "
                             "decoding, ground plane and tracking as loco_node runs them")
    parser.add_argument("--model-dir", default=None,
                        help="model directory (default: the params file's, else the demo)")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp16")
    parser.add_argument("--engine-cache-dir", default=None)
    parser.add_argument("--image-topic", default="/camera/image")
    parser.add_argument("--camera-info-topic", default="/camera/camera_info")
    parser.add_argument("--output-topic", default="/people/poses3d")
    parser.add_argument("--copy-topics", nargs="+", default=[],
                        help="input topics copied unchanged (e.g. /people/poses3d_gt)")
    parser.add_argument("--camera-info-mode", choices=("latest", "exact"), default=None,
                        help="default: the params file's, else latest")
    parser.add_argument("--fallback-intrinsics", nargs=4, type=float, default=None,
                        metavar=("FX", "FY", "CX", "CY"),
                        help="intrinsics used while no CameraInfo has been seen")
    parser.add_argument("--tracking", action="store_true",
                        help="assign track ids (without a params file tracking is off)")
    parser.add_argument("--ground-plane", choices=GROUND_PLANE_CHOICES, default=None,
                        help="ground-plane mode, overriding the params file's: auto learns "
                             "the ground from the people frame by frame in bag order, as "
                             "loco_node (starting from the params file's "
                             "ground_plane.calibration_file when set); fixed and tf as the "
                             "node (tf: the bag's /tf_static); none: image-only depth")
    parser.add_argument("--save-calibration", default=None, metavar="YAML",
                        help="auto: write the final ground estimate here (a "
                             "ground_plane.calibration_file for loco_node)")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
    _add_no_progress(parser)
    parser.set_defaults(run=_run_process)


def _add_qos(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--qos", nargs="+", default=[], metavar="TOPIC=PROFILE",
                        help=f"{what}; PROFILE one of {', '.join(QOS_PROFILES)}")


def _add_no_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The loco_bag argument parser with its four sub-commands."""
    parser = argparse.ArgumentParser(
        prog="loco_bag", description="Play, record, process and inspect rosbag2 files.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_play(sub)
    _add_record(sub)
    _add_process(sub)
    info = sub.add_parser("info", help="topics, types, counts and duration of a bag")
    info.add_argument("bag", help="bag directory, .mcap or .db3 file")
    info.set_defaults(run=_run_info)
    return parser


def play_options(args: argparse.Namespace) -> PlayOptions:
    """PlayOptions from parsed ``loco_bag play`` arguments (ValueError if invalid)."""
    return PlayOptions(
        rate=args.rate, loop=args.loop, start_offset_s=args.start, topics=tuple(args.topics),
        remap=parse_pairs(args.remap, ":="), clock_hz=args.clock, qos_depth=args.qos_depth,
        qos=parse_pairs(args.qos, "="), sensor_data_images=args.sensor_data_images,
        wait_for_subscribers=args.wait_for_subscribers, wait_timeout_s=args.wait_timeout,
        progress=not args.no_progress,
    )


def _run_play(args: argparse.Namespace) -> int:
    import rclpy

    from loco_ros.ros.bag_player import init_rclpy, install_stop_handlers, play_bag

    options = _checked(play_options, args)
    stop = threading.Event()
    install_stop_handlers(stop)
    init_rclpy(args.ros_args)
    try:
        report = play_bag(args.bag, options, stop=stop)
    finally:
        rclpy.try_shutdown()
    print(f"played {report.published} messages ({report.loops} loop(s)) in "
          f"{report.wall_s:.3f} s; /clock ticks {report.clock_ticks}; "
          f"all acknowledged: {report.all_acked}", flush=True)
    return 0


def _run_record(args: argparse.Namespace) -> int:
    import rclpy

    from loco_ros.ros.bag_player import init_rclpy, install_stop_handlers
    from loco_ros.ros.bag_recorder import RecordOptions, record_bag

    options = _checked(lambda: RecordOptions(
        topics=tuple(args.topics), storage=args.storage, duration_s=args.duration,
        max_messages=args.max_messages, use_header_stamp=args.use_header_stamp,
        qos=parse_pairs(args.qos, "=")))
    stop = threading.Event()
    install_stop_handlers(stop)
    init_rclpy(args.ros_args)
    try:
        report = record_bag(args.out, options, stop=stop)
    finally:
        rclpy.try_shutdown()
    counts = ", ".join(f"{t}: {n}" for t, n in report.counts.items()) or "nothing"
    print(f"recorded {report.total} messages in {report.wall_s:.3f} s to {report.path} "
          f"({counts})", flush=True)
    if report.missing_topics:
        print(f"never seen: {', '.join(report.missing_topics)}", flush=True)
    return 0


def process_config(args: argparse.Namespace):
    """The NodeConfig of ``loco_bag process``: the params file (else the defaults with
    tracking off), then the command line's camera_info_mode, fallback, --tracking and
    --ground-plane (ConfigError for a mode its parameters do not allow, e.g. fixed without
    a camera height)."""
    from dataclasses import replace

    from loco_ros.runtime.node_config import NodeConfig, load_params_file

    if args.params_file:
        config = load_params_file(args.params_file)
    else:
        config = NodeConfig()
        config = replace(config, tracking=replace(config.tracking, enabled=False))
    if args.tracking:
        config = replace(config, tracking=replace(config.tracking, enabled=True))
    if args.camera_info_mode:
        config = replace(config, camera_info_mode=args.camera_info_mode)
    if args.fallback_intrinsics:
        fx, fy, cx, cy = args.fallback_intrinsics
        config = replace(config, fallback_fx=fx, fallback_fy=fy, fallback_cx=cx, fallback_cy=cy)
    if args.ground_plane:
        config = replace(config, ground_plane=replace(
            config.ground_plane, mode=ground_plane_mode(args.ground_plane)))
    if args.save_calibration and config.ground_plane.mode != "auto":
        raise UsageError("--save-calibration needs the ground-plane mode auto")
    return config


def _run_process(args: argparse.Namespace) -> int:
    from loco_ros.bags.offline import OfflineOptions, process_bag
    from loco_ros.bags.transforms import static_ground_planes
    from loco_ros.runtime.estimator import LocoEstimator
    from loco_ros.runtime.frame_pipeline import FramePipeline, PipelineConfig
    from loco_ros.runtime.node_config import with_decoding

    config = _checked(process_config, args)
    options = OfflineOptions(
        image_topic=args.image_topic, camera_info_topic=args.camera_info_topic,
        output_topic=args.output_topic, copy_topics=tuple(args.copy_topics),
        max_image_pixels=config.max_image_pixels, storage=args.storage,
        progress=not args.no_progress)
    summarize(args.input)  # BagError before the (slow) model load
    if Path(args.output).exists():
        raise BagError(f"output exists already, not overwriting: {args.output}")
    if config.cpu_threads > 0:  # as loco_node: torch's threads too
        import torch

        torch.set_num_threads(config.cpu_threads)
    estimator = LocoEstimator.from_dir(args.model_dir or config.model_dir or None,
                                       backend=args.backend, device=args.device,
                                       precision=args.precision,
                                       engine_cache_dir=args.engine_cache_dir,
                                       cpu_threads=config.cpu_threads)
    estimator.config = with_decoding(estimator.config, config)
    planes = None
    if config.ground_plane.mode == "tf":
        planes = static_ground_planes(args.input, config.ground_plane.ground_frame)
    pipeline = FramePipeline(estimator, PipelineConfig.from_node_config(config), planes,
                             initial_calibration(config.ground_plane))
    estimator.open()
    try:
        report = process_bag(args.input, args.output, pipeline, options)
    finally:
        estimator.close()
    print(f"{args.output}: {report.summary()}", flush=True)
    if pipeline.calibration is not None:
        report_calibration(pipeline.calibration, args.save_calibration)
    return 0


def initial_calibration(config):
    """Mode auto: the estimate of ground_plane.calibration_file, as loco_node loads it (None:
    none; an unreadable file is reported on stderr and learnt anew)."""
    from loco_ros.runtime.ground_calibration import load_calibration

    if config.mode != "auto" or not config.calibration_file:
        return None
    loaded = load_calibration(config.calibration_file)
    if loaded.error:
        print(f"loco_bag process: warning: {loaded.error}; learning the ground anew",
              file=sys.stderr, flush=True)
    return loaded.estimate


def report_calibration(calibration, save_path: str | None) -> None:
    """Print the final ground estimate (restarts, resets) and save it when asked."""
    from loco_ros.runtime.ground_calibration import save_calibration

    estimate = calibration.estimate
    print(f"ground plane {estimate.summary()}; restarts by misfit {calibration.restarts}"
          + (f" (last: {estimate.reset_reason})" if calibration.restarts else ""), flush=True)
    if save_path:
        save_calibration(estimate, save_path)
        print(f"ground estimate saved to {save_path}", flush=True)


def _run_info(args: argparse.Namespace) -> int:
    print(format_summary(summarize(args.bag)), flush=True)
    return 0


def split_ros_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(our arguments, the ROS arguments after ``--ros-args``)."""
    if "--ros-args" not in argv:
        return argv, []
    i = argv.index("--ros-args")
    return argv[:i], argv[i + 1:]


def main(argv: list[str] | None = None) -> None:
    """Entry point of scripts/loco_bag and ``python -m loco_ros.ros.bag_cli``."""
    ours, ros_args = split_ros_args(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    args = parser.parse_args(ours)
    args.ros_args = ros_args
    try:
        code = args.run(args)
    except LocoError as err:  # BagError, UsageError, WeightsError, ...
        print(f"loco_bag {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        code = EXIT_ERROR
    sys.exit(code)


if __name__ == "__main__":
    main()
