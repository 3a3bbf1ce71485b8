"""Evaluate a trained model: VHA peak F1 (paper Table 2), the JTA metric (paper Table 3) with
and without the refiner, MPJPE, and PandaNet's 3DPCK@150mm (by camera distance, per joint).

Data sources (all yield :class:`EvalFrame`: RGB image, intrinsics K of that image, GT people
(G, 14, 3) metres with NaN for joints that do not count, and the ground plane where known):

- ``synthetic``: scenes drawn on the fly from ``--seed`` (loco_ros.synthetic), rendered at
  the model's input size (or ``--image-size``), focal jittered by ``--focal-jitter`` around
  the canonical ``grid.focal_px`` (scaled to the image width); the ground plane is the scene
  camera's (height, pitch, roll);
- ``jta``: the JTA dataset (loco_ros.data.jta): annotations under ROOT/annotations/SPLIT and
  videos under ROOT/videos/SPLIT, frames 10, 20, ..., 900 (the paper's protocol) or a subset;
- ``bag``: a rosbag2 with images, camera info and a GT topic (loco_ros/msg/Pose3DArray,
  default /people/poses3d_gt), matched by header stamp; the ground plane per
  ``--ground-plane``: ``fixed`` (``--camera-height-m``, ``--pitch-deg``, ``--roll-deg``),
  ``tf`` (the bag's /tf_static), ``auto`` (learnt from the people frame by frame in bag
  order, as loco_node's ground_plane.mode auto: scored as "LoCO + refiner + self-calibrated
  ground", the people as the node publishes them, image-only depth until converged), or
  ``none``; by default the fixed mount when given, else the bag's /tf_static if any.

Protocol details (see docs/training/README.md):

- GT: joints inside the image and in front of the camera (occluded joints included).
- Predictions: people from the pipeline (``evaluation.pipeline.run_pipeline``); joints that
  project outside the image (only refiner-filled joints can) are dropped, as the GT has none;
  the authors' solitary joints (unassigned candidates with confidence > 0.6) are added to
  the JTA metric's predictions.
- Ground plane: frames with a plane are also scored after ``ground_plane.snap_people_to_ground``
  of the refined people ("LoCO + refiner + ground plane"), the prior a calibrated robot camera
  adds to the monocular method.
- JTA metric: ``metrics.jta_metric`` (greedy row-then-column matching per frame, PR/RE/F1
  averaged over frames) at 0.4 / 0.8 / 1.2 m.
- MPJPE: Hungarian person matching (``metrics.match_people_hungarian``, gate 1 m mean joint
  distance), mean over joints present in both, absolute camera-frame positions and
  hip-aligned.
- 3DPCK@150mm: ``metrics.pck3d`` (hip-aligned, PandaNet protocol) summed over frames.
- VHA F1: the GT heatmap of each frame (from all GT joints with the network intrinsics)
  through the VHA round trip, peaks (the model's decode threshold and neighbourhood, no
  sub-voxel offsets) vs rounded GT voxels at 0 / 1 / 2 voxels (Euclidean, one-to-one).
  Scored twice: with the Gaussians at the joints' exact continuous voxels, as the trainers
  render them (keys ``f1_*``), and at their rounded voxels, the paper's eq. 1 and Table 2
  protocol (keys ``paper_f1_*``); an off-grid centre makes two voxels nearly tie, which the
  round trip must resolve for the exact row.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from loco_ros.config import ModelConfig
from loco_ros.decoding.codec import encode_joints_to_voxels, render_volumetric_heatmap
from loco_ros.decoding.ground_plane import GroundPlane, GroundPlaneConfig, ground_plane_from_config
from loco_ros.decoding.lifting import in_image, letterbox_intrinsics
from loco_ros.decoding.peaks import find_peaks
from loco_ros.evaluation import add_model_argument, model_dir
from loco_ros.evaluation.pipeline import evaluation_pipeline, people_in_image, run_frame
from loco_ros.metrics import (
    JTA_THRESHOLDS_M,
    PCK_DISTANCE_EDGES_M,
    PckCounts,
    PeakCounts,
    format_markdown_table,
    jta_metric,
    match_people_hungarian,
    pck3d,
    peak_f1,
)
from loco_ros.model.vha import VolumetricHeatmapAutoencoder, code_shape
from loco_ros.model.weights import load_weights
from loco_ros.runtime.estimator import load_model
from loco_ros.skeleton import NUM_JOINTS

VARIANTS = {"plain": "LoCO", "refined": "LoCO + refiner",
            "grounded": "LoCO + refiner + ground plane",
            "auto": "LoCO + refiner + self-calibrated ground"}


class EvalFrame(NamedTuple):
    """image (H, W, 3) uint8 RGB, K (3, 3), gt (G, 14, 3) m with NaN, ground plane or None."""

    image: np.ndarray
    K: np.ndarray
    gt: np.ndarray
    ground: GroundPlane | None = None


# ----------------------------------------------------------------------------- sources


def synthetic_frames(config: ModelConfig, n: int, seed: int, people=(1, 20),
                     distance=(2.0, 25.0), focal_jitter: float = 0.3,
                     image_size: tuple[int, int] | None = None) -> Iterator[EvalFrame]:
    """``n`` rendered synthetic frames of ``seed`` (stream 5, so never a training sample)."""
    from loco_ros.synthetic.render import render_scene
    from loco_ros.training.common import sample_rng
    from loco_ros.training.data import SceneRanges, draw_scene, gt_people, scene_config

    grid = config.grid
    focal = None
    if image_size is not None:
        focal = grid.focal_px * image_size[0] / grid.image_width
    cfg = scene_config(grid, SceneRanges(tuple(people), tuple(distance), focal_jitter),
                       size_wh=image_size, focal_px=focal)
    for i in range(n):
        scene = draw_scene(seed, i, cfg, stream=5)
        image = render_scene(scene, sample_rng(seed, i, 15))
        yield EvalFrame(image, scene.K, gt_people(scene), scene.camera.ground_plane)


def jta_frames(root: str, split: str = "test", frame_step: int = 10, max_sequences: int = 0,
               max_frames: int = 0) -> Iterator[EvalFrame]:
    """JTA frames (paper protocol: frames 10, 20, ..., 900 of every sequence of the split)."""
    import cv2

    from loco_ros.data import jta

    paths = jta.sequence_paths(root, split)
    if max_sequences:
        paths = paths[:max_sequences]
    count = 0
    for path in paths:
        seq = jta.load_sequence(path)
        video = cv2.VideoCapture(str(jta.video_path(root, split, path.stem)))
        wanted = set(range(frame_step, 901, frame_step))
        index = 0
        while True:
            ok, bgr = video.read()
            if not ok:
                break
            index += 1  # JTA frame numbers start at 1
            if index not in wanted:
                continue
            gt = jta.select_gt(seq.frame(index))
            yield EvalFrame(np.ascontiguousarray(bgr[:, :, ::-1]), jta.jta_intrinsics(), gt.xyz_m)
            count += 1
            if max_frames and count >= max_frames:
                video.release()
                return
        video.release()


def bag_frames(path: str, image_topic: str = "/camera/image_raw",
               info_topic: str = "/camera/camera_info", gt_topic: str = "/people/poses3d_gt",
               max_frames: int = 0, ground: GroundPlane | None = None) -> Iterator[EvalFrame]:
    """Frames of a rosbag2: images with the camera info and GT of the same header stamp
    (``ground``: the plane of a fixed camera mount, given to every frame)."""
    from loco_ros.bags.messages import camera_info_to_K, image_msg_to_rgb, pose_array_to_people
    from loco_ros.bags.reading import open_bag, read_messages, select_connections
    from loco_ros.bags.typestore import loco_typestore
    from loco_ros.stamps import stamp_ns_of

    store = loco_typestore()
    images: dict[int, np.ndarray] = {}
    infos: dict[int, np.ndarray] = {}
    gts: dict[int, np.ndarray] = {}
    last_K = None
    with open_bag(path) as reader:
        conns = select_connections(reader, [image_topic, info_topic, gt_topic])
        for conn, _, raw in read_messages(reader, conns):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            stamp = stamp_ns_of(msg)
            if conn.topic == image_topic:
                images[stamp] = image_msg_to_rgb(msg)
            elif conn.topic == info_topic:
                infos[stamp] = camera_info_to_K(msg)
            else:
                people = pose_array_to_people(msg)
                xyz = people.xyz_m.astype(np.float64).copy()
                xyz[~people.detected] = np.nan
                gts[stamp] = xyz
    count = 0
    for stamp in sorted(images):
        if stamp not in gts:
            continue
        K = infos.get(stamp, last_K)
        if K is None:
            continue
        last_K = K
        image = images[stamp]
        gt = gts[stamp]
        h, w = image.shape[:2]
        yield EvalFrame(image, K, _in_image(gt, K, w, h), ground)
        count += 1
        if max_frames and count >= max_frames:
            return


def _in_image(xyz: np.ndarray, K: np.ndarray, w: int, h: int) -> np.ndarray:
    xyz = np.asarray(xyz, np.float64).reshape(-1, NUM_JOINTS, 3).copy()
    xyz[~in_image(xyz, K, (w, h))] = np.nan
    return xyz


# ----------------------------------------------------------------------------- evaluation


# GT heatmaps the VHA is scored on: Gaussians at the exact continuous voxels (what the
# trainers render), and at the rounded voxels (the paper's eq. 1 and Table 2).
VHA_GT_CENTRES = {"exact": "exact voxel (as trained)", "rounded": "rounded voxel (paper eq. 1)"}
_VHA_KEY_PREFIX = {"exact": "", "rounded": "paper_"}


class VhaEntry:
    """One VHA to score (label, module)."""

    def __init__(self, label: str, vha: VolumetricHeatmapAutoencoder, grid) -> None:
        self.label, self.vha, self.grid = label, vha, grid
        self.counts = {(gt, t): PeakCounts() for gt in VHA_GT_CENTRES for t in (0, 1, 2)}
        c, hc, wc = code_shape(grid, vha.version)
        self.compression = float(np.prod(vha.heatmap_shape)) / (c * hc * wc)
        self.code = (c, hc, wc)


def _gt_voxels(gt: np.ndarray, K_net: np.ndarray, grid) -> tuple[list[np.ndarray], np.ndarray]:
    joints = np.where(np.isfinite(gt), gt, np.nan)
    voxel, valid = encode_joints_to_voxels(joints, K_net, grid)
    per_joint = [np.floor(voxel[valid[:, k], k].astype(np.float64) + 0.5)
                 for k in range(NUM_JOINTS)]
    return per_joint, valid


def _score_vhas(entries: list[VhaEntry], gt: np.ndarray, K_net: np.ndarray, grid,
                peak_cfg) -> None:
    """Add one frame's VHA round-trip peak counts to every entry, for both GT centrings."""
    gt_vox, valid = _gt_voxels(gt, K_net, grid)
    joints = np.nan_to_num(np.where(valid[..., None], gt, np.nan), nan=-1.0)
    for centres in VHA_GT_CENTRES:
        hm = render_volumetric_heatmap(joints, K_net, grid, visible=valid,
                                       round_centres=centres == "rounded")
        with torch.no_grad():
            x = torch.from_numpy(hm)[None]
            for e in entries:
                peaks = find_peaks(e.vha(x)[0].numpy(), peak_cfg)
                for t in (0, 1, 2):
                    e.counts[centres, t] += peak_f1(gt_vox, peaks, t)


def _finite_or_empty(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64).reshape(-1, NUM_JOINTS, 3)


def evaluate(
    model_dir: str | Path,
    frames: Iterator[EvalFrame],
    total: int | None = None,
    extra_vhas: list[tuple[str, str, int]] = (),
    pipeline: bool = True,
    vha: bool = True,
    pck_edges: tuple[float, ...] = PCK_DISTANCE_EDGES_M,
    threads: int = 2,
    progress: bool = True,
    use_ground: bool = True,
    auto_ground: bool = False,
) -> dict:
    """All metrics over ``frames``; returns a JSON-able dict (see the module docstring).
    ``auto_ground``: the pipeline learns the ground from the frames in their order
    (ground_plane.mode auto), scored as variant ``auto``; ``result["ground_calibration"]``."""
    torch.set_num_threads(threads)
    config, network, refiner = load_model(Path(model_dir))
    grid = config.grid
    size_wh = (grid.image_width, grid.image_height)
    entries = []
    if vha:
        entries.append(VhaEntry(f"v{config.vha.version} (model)", network.vha, grid))
        for label, path, version in extra_vhas:
            m = VolumetricHeatmapAutoencoder(grid, version)
            load_weights(m, path)
            entries.append(VhaEntry(label, m.eval(), grid))
    peak_cfg = replace(config.decode, subvoxel=False)
    jta_frames_of = {k: [] for k in VARIANTS}
    mpjpe_err = {k: [] for k in VARIANTS}
    mpjpe_hip = {k: [] for k in VARIANTS}
    pck = {k: PckCounts.zero(pck_edges) for k in VARIANTS}
    times: list[dict[str, float]] = []
    n_frames = n_gt_people = 0
    frame_pipeline = evaluation_pipeline(
        network, config, refiner, GroundPlaneConfig(mode="auto") if auto_ground else None)
    calibration_log = CalibrationLog()
    for image, K, gt, ground in tqdm(frames, total=total, disable=not progress,
                                     desc="evaluate"):
        gt = _finite_or_empty(gt)
        n_frames += 1
        n_gt_people += int(np.isfinite(gt).all(-1).any(-1).sum())
        if entries:
            K_net, _, _ = letterbox_intrinsics(np.asarray(K, np.float64),
                                               (image.shape[1], image.shape[0]), size_wh)
            _score_vhas(entries, gt, K_net, grid, peak_cfg)
        if not pipeline:
            continue
        out = run_frame(frame_pipeline, image, K, ground if use_ground else None)
        times.append(out.timings_s)
        calibration_log.add(out, n_frames)
        wh = (image.shape[1], image.shape[0])
        for key, people in (("plain", out.detected), ("refined", out.refined),
                            ("grounded", out.grounded if ground is not None else None),
                            ("auto", out.people if auto_ground else None)):
            if people is None:
                continue
            pred = people_in_image(people, wh, K)
            jta_frames_of[key].append((gt, pred, out.solitary))
            pairs = match_people_hungarian(gt, pred, 1.0)
            if len(pairs):
                for store, align in ((mpjpe_err, "absolute"), (mpjpe_hip, "hips")):
                    g = gt[pairs[:, 0]]
                    p = pred[pairs[:, 1]]
                    if align == "hips":
                        g = g - g[:, [8, 11]].mean(1, keepdims=True)
                        p = p - p[:, [8, 11]].mean(1, keepdims=True)
                    err = np.linalg.norm(g - p, axis=2)
                    store[key].extend(err[np.isfinite(err)].tolist())
            pck[key] = pck[key] + pck3d(gt, pred, bin_edges_m=pck_edges, pairs=pairs)
    result: dict = {"model_dir": str(model_dir), "frames": n_frames, "gt_people": n_gt_people,
                    "config": {"grid": vars(grid) if False else _grid_dict(grid)}}
    if entries:
        result["vha"] = [
            {"label": e.label, "version": e.vha.version, "code_shape": list(e.code),
             "compression": e.compression,
             **{f"{_VHA_KEY_PREFIX[g]}{m}_{t}": getattr(c, attr)
                for (g, t), c in e.counts.items()
                for m, attr in (("f1", "f1"), ("pr", "precision"), ("re", "recall"))}}
            for e in entries
        ]
    if pipeline and n_frames:
        result["jta"] = {}
        for key, frames_list in jta_frames_of.items():
            # Scored only when every frame had a plane, so the rows average the same frames.
            if not frames_list or len(frames_list) != n_frames:
                continue
            res = jta_metric(frames_list, JTA_THRESHOLDS_M)
            result["jta"][key] = {f"{t:g}": r for t, r in res.items()}
            result.setdefault("mpjpe_mm", {})[key] = {
                "absolute": float(np.mean(mpjpe_err[key]) * 1000) if mpjpe_err[key] else math.nan,
                "hips_aligned": float(np.mean(mpjpe_hip[key]) * 1000) if mpjpe_hip[key]
                else math.nan,
                "joints": len(mpjpe_err[key]),
            }
            c = pck[key]
            result.setdefault("pck3d_150mm", {})[key] = {
                "by_distance": c.by_distance(), "by_joint": c.by_joint(),
                "by_group": c.by_group(), "people_gt": c.people_gt,
                "people_matched": c.people_matched,
            }
        keys = times[0].keys() if times else []
        mean_t = {k: float(np.mean([t[k] for t in times])) for k in keys}
        result["timing_s"] = mean_t
        result["fps"] = 1.0 / mean_t["total"] if mean_t.get("total") else math.nan
        result["threads"] = threads
    if auto_ground and frame_pipeline.calibration is not None:
        result["ground_calibration"] = calibration_log.result(frame_pipeline.calibration)
    return result


class CalibrationLog:
    """When the self-calibration of mode auto first converged and how often it started
    over, over an evaluation (frames counted from 1)."""

    def __init__(self) -> None:
        self.first_converged_frame = 0
        self.restarts = 0

    def add(self, out, frame: int) -> None:
        if out.calibration is None:
            return
        if out.calibration.converged and not self.first_converged_frame:
            self.first_converged_frame = frame
        self.restarts += bool(out.calibration_restart)

    def result(self, calibration) -> dict:
        """JSON-able: the final estimate's fields and summary, first convergence, restarts."""
        from dataclasses import asdict

        estimate = calibration.estimate
        return {**asdict(estimate), "summary": estimate.summary(),
                "first_converged_frame": self.first_converged_frame,
                "restarts": self.restarts}


def _grid_dict(grid) -> dict:
    from dataclasses import asdict

    return asdict(grid)


def markdown(result: dict) -> str:
    """Markdown tables of an :func:`evaluate` result."""
    parts = [f"Model `{result['model_dir']}`, {result['frames']} frames, "
             f"{result['gt_people']} GT people.\n"]
    if "vha" in result:
        rows = [[e["label"], "x".join(map(str, e["code_shape"])), f"{e['compression']:.0f}x",
                 name] + [100 * e[f"{_VHA_KEY_PREFIX[g]}f1_{t}"] for t in (0, 1, 2)]
                for e in result["vha"] for g, name in VHA_GT_CENTRES.items()]
        parts.append("VHA round trip on GT heatmaps, F1 of peaks (%) at 0 / 1 / 2 voxels "
                     "(paper Table 2 layout; GT peaks are the rounded voxels of the joints)\n")
        parts.append(format_markdown_table(
            ["VHA", "code", "compression", "GT Gaussians at", "F1@0", "F1@1", "F1@2"], rows))
    if "jta" in result:
        header = ["pipeline"] + [f"{m}@{t}m" for t in ("0.4", "0.8", "1.2")
                                 for m in ("PR", "RE", "F1")]
        rows = []
        for key, name in VARIANTS.items():
            if key not in result["jta"]:
                continue
            r = result["jta"][key]
            rows.append([name] + [100 * r[t][m] for t in ("0.4", "0.8", "1.2")
                                  for m in ("pr", "re", "f1")])
        parts.append("\nJTA metric (%), greedy per-frame matching averaged over frames "
                     "(paper Table 3 layout)\n")
        parts.append(format_markdown_table(header, rows))
        rows = [[name, result["mpjpe_mm"][k]["absolute"], result["mpjpe_mm"][k]["hips_aligned"],
                 result["mpjpe_mm"][k]["joints"]]
                for k, name in VARIANTS.items() if k in result["mpjpe_mm"]]
        parts.append("\nMPJPE (mm) after Hungarian person matching\n")
        parts.append(format_markdown_table(["pipeline", "absolute", "hip-aligned", "joints"],
                                           rows, ".0f"))
        for k, name in VARIANTS.items():
            if k not in result["pck3d_150mm"]:
                continue
            d = result["pck3d_150mm"][k]["by_distance"]
            parts.append(f"\n3DPCK@150mm (%) by camera distance (m), {name}\n")
            parts.append(format_markdown_table(["Dist. (m)", *d],
                                               [[name] + [100 * v for v in d.values()]], ".1f"))
            g = result["pck3d_150mm"][k]["by_joint"]
            parts.append(f"\n3DPCK@150mm (%) per joint, {name}\n")
            parts.append(format_markdown_table(["joint", *g],
                                               [[name] + [100 * v for v in g.values()]], ".1f"))
        if "ground_calibration" in result:
            g = result["ground_calibration"]
            first = g["first_converged_frame"] or "never"
            parts.append(f"\nGround self-calibration (auto): {g['summary']}; first converged "
                         f"at frame {first}; restarts {g['restarts']}\n")
        t = result["timing_s"]
        parts.append(f"\nPipeline time per frame ({result['threads']} threads, plain torch): "
                     + ", ".join(f"{k} {1000 * v:.1f} ms" for k, v in t.items())
                     + f" -> {result['fps']:.1f} fps\n")
    return "\n".join(parts) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loco evaluate", description=__doc__.split("\n")[0])
    add_model_argument(p, "model directory")
    p.add_argument("--source", choices=("synthetic", "jta", "bag", "video", "images", "real",
                                        "multiview"), default="synthetic",
                   help="video / images / real / multiview: real footage "
                        "(loco_ros.evaluation.real_footage, real_metric)")
    p.add_argument("--out", default=None, help="directory for metrics.json and metrics.md")
    p.add_argument("--frames", type=int, default=200, help="frames (synthetic: scenes)")
    p.add_argument("--seed", type=int, default=777, help="synthetic test seed")
    p.add_argument("--people", type=int, nargs=2, default=(1, 20))
    p.add_argument("--distance", type=float, nargs=2, default=(2.0, 25.0))
    p.add_argument("--focal-jitter", type=float, default=0.3)
    p.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("W", "H"),
                   help="synthetic source image size (default: the network input size)")
    p.add_argument("--jta-root", default=None)
    p.add_argument("--jta-split", default="test")
    p.add_argument("--jta-frame-step", type=int, default=10)
    p.add_argument("--jta-sequences", type=int, default=0, help="0 = all")
    p.add_argument("--bag", default=None)
    p.add_argument("--image-topic", default="/camera/image_raw")
    p.add_argument("--info-topic", default="/camera/camera_info")
    p.add_argument("--gt-topic", default="/people/poses3d_gt")
    p.add_argument("--camera-height-m", type=float, default=0.0,
                   help="bag source: a fixed camera mount this high above flat ground gives "
                        "the ground plane (with --pitch-deg, --roll-deg); 0 = none")
    p.add_argument("--pitch-deg", type=float, default=0.0, help="camera pitched down (deg)")
    p.add_argument("--roll-deg", type=float, default=0.0, help="camera roll (deg)")
    p.add_argument("--ground-plane", choices=("auto", "fixed", "tf", "none"), default=None,
                   help="bag source: fixed (--camera-height-m ...), tf (the bag's "
                        "/tf_static), auto (learnt online from the people, in bag order, as "
                        "loco_node's mode auto), none; default: fixed when "
                        "--camera-height-m is given, else the bag's /tf_static if any")
    p.add_argument("--no-ground-plane", action="store_true",
                   help="do not score the ground-plane variant")
    p.add_argument("--vha", action="append", default=[], metavar="LABEL=PATH[:VERSION]",
                   help="extra VHA weights to score (same grid), repeatable")
    p.add_argument("--no-pipeline", action="store_true", help="only the VHA round trip")
    p.add_argument("--no-vha", action="store_true", help="skip the VHA round trip")
    p.add_argument("--pck-edges", type=float, nargs="+", default=list(PCK_DISTANCE_EDGES_M))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-progress", action="store_true")
    return p


def bag_ground_plane(args: argparse.Namespace) -> GroundPlane | None:
    """The known ground plane of a bag source per ``--ground-plane``: fixed (a mount from
    the arguments), tf (the bag's /tf_static, base_footprint -> the images' frame), none or
    auto (None: auto learns it in the pipeline); by default fixed when a height is given,
    else tf if the bag has one, else None. SystemExit when the chosen one is missing."""
    mode = args.ground_plane or ("fixed" if args.camera_height_m > 0 else "")
    if mode in ("none", "auto"):
        return None
    if mode == "fixed":
        if args.camera_height_m <= 0:
            raise SystemExit("--ground-plane fixed needs --camera-height-m > 0")
        return ground_plane_from_config(GroundPlaneConfig(
            "fixed", args.camera_height_m, args.pitch_deg, args.roll_deg))
    from loco_ros.bags.transforms import ground_plane_from_bag

    plane = ground_plane_from_bag(args.bag, args.image_topic)
    if plane is None and mode == "tf":
        raise SystemExit(f"--ground-plane tf: {args.bag} has no ground transform in /tf_static")
    return plane


def main(argv: list[str] | None = None) -> dict:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--source")
    if pre.parse_known_args(argv)[0].source in ("video", "images", "real", "multiview"):
        from loco_ros.evaluation import real_footage

        return real_footage.main(argv)
    args = build_parser().parse_args(argv)
    args.model = model_dir(args.model)
    from loco_ros.config import load_yaml

    config = load_yaml(ModelConfig, Path(args.model) / "model.yaml")
    total = None
    if args.source == "synthetic":
        frames = synthetic_frames(config, args.frames, args.seed, args.people, args.distance,
                                  args.focal_jitter,
                                  tuple(args.image_size) if args.image_size else None)
        total = args.frames
    elif args.source == "jta":
        if not args.jta_root:
            raise SystemExit("--jta-root is required with --source jta")
        frames = jta_frames(args.jta_root, args.jta_split, args.jta_frame_step,
                            args.jta_sequences, args.frames if args.frames else 0)
    else:
        if not args.bag:
            raise SystemExit("--bag is required with --source bag")
        ground = bag_ground_plane(args)
        frames = bag_frames(args.bag, args.image_topic, args.info_topic, args.gt_topic,
                            args.frames, ground)
    extra = []
    for spec in args.vha:
        label, _, rest = spec.partition("=")
        path, _, version = rest.rpartition(":") if rest.count(":") else (rest, "", "")
        if not path:
            path, version = rest, ""
        extra.append((label, path, int(version) if version else config.vha.version))
    if args.ground_plane and args.source != "bag":
        raise SystemExit("--ground-plane applies to --source bag")
    t0 = time.time()
    result = evaluate(args.model, frames, total, extra, not args.no_pipeline, not args.no_vha,
                      tuple(args.pck_edges), args.threads, not args.no_progress,
                      not args.no_ground_plane, args.ground_plane == "auto")
    result["source"] = {"kind": args.source, "seed": args.seed, "people": list(args.people),
                        "distance_m": list(args.distance), "focal_jitter": args.focal_jitter}
    result["wall_s"] = time.time() - t0
    text = markdown(result)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=1, default=float))
        (out / "metrics.md").write_text(text)
    return result


if __name__ == "__main__":
    main()
