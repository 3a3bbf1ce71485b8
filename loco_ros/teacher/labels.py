"""Teacher labels of a video (and of person cut-outs, :class:`CutoutLabels`): the JSON file
formats and their loaders.

File (one per video, ``data/real/labels/<video>.json``)::

    {"source": "vtest.avi", "image_size": [W, H], "fps": 10.0, "teacher": "...",
     "joint_names": [14 names], "head_top_rule": "...", "neck_rule": "...",
     "frames": [{"index": 0, "people": [{"joints_px": [[x, y] x 14],
                 "visibility": [14 floats 0..1], "joints_world_m": [[x, y, z] x 14],
                 "box_px": [x0, y0, x1, y1], "score": float}]}]}

``index`` is the 0-based decoded frame number (cv2.VideoCapture order); every labelled frame
has an entry (``people`` may be empty): all of them, or every N-th (``label_video
--frame-step``). ``joints_px`` are frame pixels (x right, y down);
``joints_world_m`` BlazePose's world frame (metres, origin at the hip centre, x/y along the
image axes, z towards/away from the camera, relative).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loco_ros.skeleton import JOINT_NAMES, NUM_JOINTS


@dataclass(frozen=True)
class FrameLabels:
    """People of one frame: ``joints_px`` (P, 14, 2), ``visibility`` (P, 14),
    ``joints_world_m`` (P, 14, 3), ``box_px`` (P, 4), ``score`` (P,), all float."""

    index: int
    joints_px: np.ndarray
    visibility: np.ndarray
    joints_world_m: np.ndarray
    box_px: np.ndarray
    score: np.ndarray

    @property
    def num_people(self) -> int:
        return int(self.score.shape[0])


@dataclass(frozen=True)
class VideoLabels:
    source: str
    image_size: tuple[int, int]  # (width, height) px
    fps: float
    teacher: str
    joint_names: tuple[str, ...]
    head_top_rule: str
    neck_rule: str
    frames: tuple[FrameLabels, ...]


def frame_from_people(index: int, people: list[dict]) -> FrameLabels:
    """A :class:`FrameLabels` from the JSON ``people`` list."""
    def arr(key: str, shape: tuple[int, ...]) -> np.ndarray:
        return np.array([p[key] for p in people], dtype=np.float64).reshape((len(people),) + shape)

    return FrameLabels(index=int(index), joints_px=arr("joints_px", (NUM_JOINTS, 2)),
                       visibility=arr("visibility", (NUM_JOINTS,)),
                       joints_world_m=arr("joints_world_m", (NUM_JOINTS, 3)),
                       box_px=arr("box_px", (4,)), score=arr("score", ()))


def _frame_json(frame: FrameLabels) -> dict:
    r = lambda a, d: np.round(np.asarray(a, dtype=np.float64), d).tolist()  # noqa: E731
    return {"index": frame.index, "people": [
        {"joints_px": r(frame.joints_px[i], 1), "visibility": r(frame.visibility[i], 3),
         "joints_world_m": r(frame.joints_world_m[i], 3), "box_px": r(frame.box_px[i], 1),
         "score": round(float(frame.score[i]), 3)} for i in range(frame.num_people)]}


def save_labels(labels: VideoLabels, path: str | Path) -> None:
    """Write ``labels`` as JSON (pixels to 0.1 px, metres to 1 mm, scores to 1e-3)."""
    doc = {"source": labels.source, "image_size": list(labels.image_size), "fps": labels.fps,
           "teacher": labels.teacher, "joint_names": list(labels.joint_names),
           "head_top_rule": labels.head_top_rule, "neck_rule": labels.neck_rule,
           "frames": [_frame_json(f) for f in labels.frames]}
    _write_items(path, {k: v for k, v in doc.items() if k != "frames"}, "frames", doc["frames"])


def _write_items(path: str | Path, head: dict, key: str, items: list[dict]) -> None:
    """``head`` with ``key``: ``items`` as JSON, one item per line (readable diffs, small)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ",\n".join(json.dumps(item, separators=(",", ":")) for item in items)
    path.write_text(f'{json.dumps(head)[:-1]}, "{key}": [\n{lines}\n]}}\n')


def _read_checked(path: str | Path) -> tuple[dict, tuple[str, ...]]:
    """A labels file's JSON and its joint names (ValueError unless LoCO's)."""
    doc = json.loads(Path(path).read_text())
    names = tuple(doc["joint_names"])
    if names != JOINT_NAMES:
        raise ValueError(f"{path}: joint_names {names} are not LoCO's {JOINT_NAMES}")
    return doc, names


def load_labels(path: str | Path) -> VideoLabels:
    """Read a labels file written by :func:`save_labels` (or by hand in the same format)."""
    doc, names = _read_checked(path)
    return VideoLabels(source=doc["source"], image_size=tuple(int(v) for v in doc["image_size"]),
                       fps=float(doc["fps"]), teacher=doc["teacher"], joint_names=names,
                       head_top_rule=doc["head_top_rule"], neck_rule=doc["neck_rule"],
                       frames=tuple(frame_from_people(f["index"], f["people"])
                                    for f in doc["frames"]))


@dataclass(frozen=True)
class CutoutLabels:
    """Teacher labels of person cut-outs (``data/real/labels/scratch_people.json``): per
    cut-out its file name, its size (W, H) px and its one person as a :class:`FrameLabels`
    (``index`` = position in the file; pixels in the cut-out's own image)."""

    source: str
    teacher: str
    joint_names: tuple[str, ...]
    head_top_rule: str
    neck_rule: str
    names: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]
    people: tuple[FrameLabels, ...]


def save_cutout_labels(labels: CutoutLabels, path: str | Path) -> None:
    """Write ``labels`` as JSON, one cut-out per line (rounded as :func:`save_labels`)."""
    head = {"source": labels.source, "teacher": labels.teacher,
            "joint_names": list(labels.joint_names), "head_top_rule": labels.head_top_rule,
            "neck_rule": labels.neck_rule}
    _write_items(path, head, "cutouts", [
        {"name": n, "size": list(s), **_frame_json(f)}
        for n, s, f in zip(labels.names, labels.sizes, labels.people, strict=True)])


def load_cutout_labels(path: str | Path) -> CutoutLabels:
    """Read a file written by :func:`save_cutout_labels`."""
    doc, names = _read_checked(path)
    cutouts = doc["cutouts"]
    return CutoutLabels(source=doc["source"], teacher=doc["teacher"], joint_names=names,
                        head_top_rule=doc["head_top_rule"], neck_rule=doc["neck_rule"],
                        names=tuple(c["name"] for c in cutouts),
                        sizes=tuple((int(c["size"][0]), int(c["size"][1])) for c in cutouts),
                        people=tuple(frame_from_people(c["index"], c["people"])
                                     for c in cutouts))
