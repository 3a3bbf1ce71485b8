"""Compare a recorded run of the node with the ground truth of the bag it was fed (no ROS).

Used by `make demo`: frames in and out, people per frame, latency from the node's
diagnostics, the JTA metric (F1 at 0.4 / 0.8 / 1.2 m), identity counts, and two figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loco_ros.bags.messages import image_msg_to_rgb, pose_array_to_people
from loco_ros.bags.reading import open_bag
from loco_ros.bags.typestore import loco_typestore
from loco_ros.metrics import jta_metric
from loco_ros.metrics.tracking import evaluate_tracking
from loco_ros.skeleton import LIMBS
from loco_ros.stamps import stamp_ns_of
from loco_ros.types import People
from loco_ros.visualization import draw_people_2d, person_colour, person_key


@dataclass
class ReplayData:
    """Per stamp (ns): predicted and GT people, source images; the last diagnostics."""

    predicted: dict[int, People] = field(default_factory=dict)
    truth: dict[int, People] = field(default_factory=dict)
    images: dict[int, np.ndarray] = field(default_factory=dict)
    diagnostics: dict[str, str] = field(default_factory=dict)


def _messages(path: Path, topics: set[str]):
    store = loco_typestore()
    with open_bag(path) as reader:
        connections = [c for c in reader.connections if c.topic in topics]
        for connection, _, raw in reader.messages(connections=connections):
            yield connection.topic, store.deserialize_cdr(raw, connection.msgtype)


def load_replay(recorded: Path, source: Path, image_topic: str = "/camera/image",
                truth_topic: str = "/people/poses3d_gt", output_topic: str = "/people/poses3d",
                node_name: str = "loco_node") -> ReplayData:
    """Read the node's recorded outputs and the source bag's GT and images."""
    data = ReplayData()
    for topic, msg in _messages(recorded, {output_topic, "/diagnostics"}):
        if topic == output_topic:
            data.predicted[stamp_ns_of(msg)] = pose_array_to_people(msg)
        else:
            for status in msg.status:
                if node_name in status.name:
                    data.diagnostics = {kv.key: kv.value for kv in status.values}
    for topic, msg in _messages(source, {image_topic, truth_topic}):
        target = data.images if topic == image_topic else data.truth
        target[stamp_ns_of(msg)] = image_msg_to_rgb(msg) if topic == image_topic else (
            pose_array_to_people(msg))
    return data


def visible_truth(people: People) -> np.ndarray:
    """(G, J, 3) GT positions with NaN where the joint is not visible in the image."""
    return np.where(people.detected[..., None], people.xyz_m, np.nan)


def summarize(data: ReplayData) -> dict:
    """Frames, people per frame, latency, F1 at 0.4/0.8/1.2 m and identity counts."""
    stamps = sorted(set(data.predicted) & set(data.truth))
    frames = [(visible_truth(data.truth[s]), data.predicted[s].xyz_m) for s in stamps]
    f1 = {t: scores["f1"] for t, scores in jta_metric(frames).items()} if frames else {}
    people = [len(data.predicted[s]) for s in stamps]
    tracking = evaluate_tracking([
        (data.truth[s].track_id, visible_truth(data.truth[s]), data.predicted[s].track_id,
         data.predicted[s].xyz_m) for s in stamps])
    d = data.diagnostics
    return {
        "frames_in_bag": len(data.truth), "frames_out": len(data.predicted),
        "frames_skipped": int(d.get("frames_skipped", 0)),
        "frames_received": int(d.get("frames_in", 0)),
        "rejected": {k.removeprefix("rejected_"): int(v) for k, v in d.items()
                     if k.startswith("rejected_")},
        "people_per_frame_mean": float(np.mean(people)) if people else 0.0,
        "people_per_frame_max": max(people, default=0),
        "latency_in_node_ms": (d.get("latency_in_node_p50_ms", "nan"),
                               d.get("latency_in_node_p95_ms", "nan")),
        "latency_network_ms": (d.get("latency_network_p50_ms", "nan"),
                               d.get("latency_network_p95_ms", "nan")),
        "f1": f1,
        "id_switches": tracking.id_switches, "mota": tracking.mota,
        "backend": d.get("backend", "?"),
    }


def format_summary(summary: dict) -> str:
    """Human-readable lines of :func:`summarize`'s dict."""
    f1 = summary["f1"]
    in_node, net = summary["latency_in_node_ms"], summary["latency_network_ms"]
    return "\n".join([
        f"frames: {summary['frames_in_bag']} in the bag, {summary['frames_received']} received, "
        f"{summary['frames_out']} published, {summary['frames_skipped']} skipped while busy, "
        f"rejected {summary['rejected'] or 'none'}",
        f"people per frame: mean {summary['people_per_frame_mean']:.1f}, "
        f"max {summary['people_per_frame_max']}",
        f"latency (ms, p50/p95): image arrival to publication {in_node[0]}/{in_node[1]}, "
        f"network {net[0]}/{net[1]}",
        "F1 vs ground truth: " + ", ".join(f"{100 * v:.1f} % at {t} m" for t, v in f1.items()),
        f"tracking: {summary['id_switches']} id switches, MOTA {100 * summary['mota']:.1f} %",
        f"backend: {summary['backend']}",
    ])


def overlay_strip(data: ReplayData, path: Path, count: int = 4) -> Path:
    """PNG of ``count`` frames spread over the run with the predicted 2D skeletons drawn."""
    import cv2

    stamps = sorted(set(data.predicted) & set(data.images))
    if not stamps:
        raise ValueError("no frame has both an image and a prediction")
    picks = [stamps[i] for i in np.linspace(0, len(stamps) - 1, count).astype(int)]
    tiles = [draw_people_2d(data.images[s], data.predicted[s]) for s in picks]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(tiles, axis=0), cv2.COLOR_RGB2BGR))
    return path


def skeleton_plot(data: ReplayData, path: Path) -> Path:
    """PNG: top view (x-z) and side view (z-y) of predictions (colour) and GT (grey)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stamps = sorted(set(data.predicted) & set(data.truth))
    stamp = stamps[len(stamps) // 2]
    pred = data.predicted[stamp]

    def colour(p: int) -> tuple[float, float, float]:
        return person_colour(person_key(pred.track_id[p] if pred.track_id else "", p))

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, (a, b), title in zip(axes, ((0, 2), (2, 1)), ("top view", "side view"),
                                  strict=True):
        _draw(ax, visible_truth(data.truth[stamp]), (a, b), lambda p: (0.6, 0.6, 0.6), 3.0)
        _draw(ax, pred.xyz_m, (a, b), colour, 1.5)
        ax.set_xlabel("xyz"[a] + " (m)")
        ax.set_ylabel("xyz"[b] + " (m)")
        ax.set_title(f"{title}: prediction (colour) vs ground truth (grey)")
        ax.set_aspect("equal")
        if b == 1:
            ax.invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _draw(ax, xyz: np.ndarray, axes: tuple[int, int], colour, width: float) -> None:
    a, b = axes
    for p in range(xyz.shape[0]):
        for i, j in LIMBS:
            if np.isfinite(xyz[p, [i, j]]).all():
                ax.plot(xyz[p, [i, j], a], xyz[p, [i, j], b], color=colour(p), lw=width)
