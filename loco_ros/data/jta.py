"""Reader of the JTA dataset (Fabbri et al. 2018) annotations, mapped to LoCO's 14 joints.

Annotation format (one JSON file per sequence): a list of N rows of 10 numbers, one row per
(frame, person, joint)::

    frame, person_id, joint_type (0..21), x2d, y2d, x3d, y3d, z3d, occluded, self_occluded

Frames are numbered from 1 (a 30 s, 30 fps sequence has frames 1..900); x2d, y2d are pixels
of the 1920 x 1080 frame (top-left origin, taken as they are); x3d, y3d, z3d are metres in the
camera frame (x right, y down, z forward), the camera optical frame of docs/CONVENTIONS.md.
Every sequence has the intrinsics fx = fy = 1158, cx = 960, cy = 540.

Assumed directory layout (the one of the public JTA release; only the annotations are read
here)::

    ROOT/annotations/{train,val,test}/seq_N.json
    ROOT/videos/{train,val,test}/seq_N.mp4     frame n (1-based) = decoded frame n - 1

Sequences are found by globbing ``seq_*.json`` and sorted by their number; no assumption is
made about which numbers belong to which split. A pre-converted ``seq_N.npy`` (the same
N x 10 matrix, float64) next to or instead of the JSON is accepted and loads much faster.

Evaluation protocol (LoCO, paper Table 3): the test split, frames 10, 20, ..., 900 of every
sequence (:data:`TEST_FRAMES`); ground truth = every person that is not fully occluded, with
the joints that project inside the image (occluded joints included), see :func:`select_gt`.
"Fully occluded" is taken as: every one of the person's JTA joints (all 22, not only the 14
LoCO ones) has its occluded flag set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loco_ros.skeleton import JTA_TO_LOCO

JTA_WIDTH = 1920
JTA_HEIGHT = 1080
JTA_FOCAL_PX = 1158.0
JTA_CX = 960.0
JTA_CY = 540.0
JTA_FPS = 30
JTA_FRAMES_PER_SEQUENCE = 900
JTA_NUM_JOINTS = 22
JTA_JOINT_NAMES: tuple[str, ...] = (
    "head_top",
    "head_center",
    "neck",
    "right_clavicle",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_clavicle",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "spine0",
    "spine1",
    "spine2",
    "spine3",
    "spine4",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
)
SPLITS: tuple[str, ...] = ("train", "val", "test")
TEST_FRAMES: tuple[int, ...] = tuple(range(10, JTA_FRAMES_PER_SEQUENCE + 1, 10))
"""The authors' test frames of every test sequence: 10, 20, ..., 900 (90 per sequence)."""

_COLUMNS = 10
_SEQ_RE = re.compile(r"seq_(\d+)$")


def jta_intrinsics() -> np.ndarray:
    """K (3, 3) float64 of every JTA sequence (full-HD pixels)."""
    return np.array([[JTA_FOCAL_PX, 0.0, JTA_CX], [0.0, JTA_FOCAL_PX, JTA_CY], [0.0, 0.0, 1.0]])


@dataclass(frozen=True, eq=False)
class JTAFrame:
    """The people of one frame, LoCO joint order (P people sorted by id).

    xyz_m (P, 14, 3) float32 camera frame metres; uv_px (P, 14, 2) float32 full-HD pixels;
    occluded / self_occluded (P, 14) bool; fully_occluded (P,) bool (all 22 JTA joints
    occluded); person_ids (P,) int64. A joint missing from the file is NaN and occluded.
    """

    sequence: str
    frame: int
    person_ids: np.ndarray
    xyz_m: np.ndarray
    uv_px: np.ndarray
    occluded: np.ndarray
    self_occluded: np.ndarray
    fully_occluded: np.ndarray

    def __len__(self) -> int:
        return int(self.person_ids.shape[0])

    @property
    def K(self) -> np.ndarray:
        return jta_intrinsics()

    @property
    def video_index(self) -> int:
        """0-based index of this frame in the sequence's video."""
        return self.frame - 1


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Ground truth of one frame for the metric (P' selected people).

    xyz_m (P', 14, 3) float32 with NaN where ``mask`` is False; uv_px likewise;
    mask (P', 14) bool: joints that count; person_ids (P',) int64.
    """

    person_ids: np.ndarray
    xyz_m: np.ndarray
    uv_px: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return int(self.person_ids.shape[0])


def parse_table(data) -> np.ndarray:
    """Validate an annotation matrix (list of rows or array) -> (N, 10) float64."""
    table = np.asarray(data, dtype=np.float64)
    if table.size == 0:
        return np.zeros((0, _COLUMNS))
    if table.ndim != 2 or table.shape[1] != _COLUMNS:
        raise ValueError(f"JTA annotations must be N x {_COLUMNS}, got shape {table.shape}")
    joint = table[:, 2]
    if np.any((joint < 0) | (joint >= JTA_NUM_JOINTS) | (joint != np.round(joint))):
        raise ValueError("JTA joint types must be integers in [0, 21]")
    if np.any(table[:, 0] < 1):
        raise ValueError("JTA frames are numbered from 1")
    return table


class JTASequence:
    """One sequence's annotations, indexed by frame number (1-based)."""

    def __init__(self, name: str, table: np.ndarray) -> None:
        table = parse_table(table)
        order = np.lexsort((table[:, 2], table[:, 1], table[:, 0]))
        self.name = name
        self._t = table[order]
        self._frame_col = self._t[:, 0].astype(np.int64)
        self.frames: np.ndarray = np.unique(self._frame_col)

    @classmethod
    def load(cls, path: str | Path) -> JTASequence:
        """Read ``seq_N.json`` (or a pre-converted ``seq_N.npy`` with the same matrix)."""
        path = Path(path)
        if path.suffix == ".npy":
            table = np.load(path, allow_pickle=False)
        else:
            npy = path.with_suffix(".npy")
            if npy.exists() and npy.stat().st_mtime >= path.stat().st_mtime:
                table = np.load(npy, allow_pickle=False)
            else:
                with open(path) as f:
                    table = json.load(f)
        return cls(path.stem, table)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def __iter__(self):
        for n in self.frames:
            yield self.frame(int(n))

    def frame(self, number: int) -> JTAFrame:
        """The people of frame ``number`` (an empty frame if it has no annotation)."""
        lo, hi = np.searchsorted(self._frame_col, [number, number + 1])
        rows = self._t[lo:hi]
        ids, person = np.unique(rows[:, 1].astype(np.int64), return_inverse=True)
        p = len(ids)
        joint = rows[:, 2].astype(np.int64)
        xyz = np.full((p, JTA_NUM_JOINTS, 3), np.nan)
        uv = np.full((p, JTA_NUM_JOINTS, 2), np.nan)
        occ = np.ones((p, JTA_NUM_JOINTS), bool)
        self_occ = np.zeros((p, JTA_NUM_JOINTS), bool)
        present = np.zeros((p, JTA_NUM_JOINTS), bool)
        xyz[person, joint] = rows[:, 5:8]
        uv[person, joint] = rows[:, 3:5]
        occ[person, joint] = rows[:, 8] != 0
        self_occ[person, joint] = rows[:, 9] != 0
        present[person, joint] = True
        fully = np.all(occ | ~present, axis=1)
        sel = list(JTA_TO_LOCO)
        return JTAFrame(
            sequence=self.name,
            frame=int(number),
            person_ids=ids,
            xyz_m=xyz[:, sel].astype(np.float32),
            uv_px=uv[:, sel].astype(np.float32),
            occluded=occ[:, sel],
            self_occluded=self_occ[:, sel],
            fully_occluded=fully,
        )


def load_sequence(path: str | Path) -> JTASequence:
    """Read one sequence's annotation file (see :meth:`JTASequence.load`)."""
    return JTASequence.load(path)


def joints_in_image(
    uv_px: np.ndarray, xyz_m: np.ndarray, width: int = JTA_WIDTH, height: int = JTA_HEIGHT
) -> np.ndarray:
    """(P, 14) bool: finite, in front of the camera, 0 <= x < width and 0 <= y < height."""
    u, v = uv_px[..., 0], uv_px[..., 1]
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(u)
            & np.isfinite(v)
            & np.all(np.isfinite(xyz_m), axis=-1)
            & (xyz_m[..., 2] > 0)
            & (u >= 0)
            & (u < width)
            & (v >= 0)
            & (v < height)
        )


def select_gt(frame: JTAFrame, width: int = JTA_WIDTH, height: int = JTA_HEIGHT) -> GroundTruth:
    """Metric ground truth: people not fully occluded, joints inside the image.

    Occluded joints count. People left with no joint inside the image are dropped.
    """
    mask = joints_in_image(frame.uv_px, frame.xyz_m, width, height)
    mask &= ~frame.fully_occluded[:, None]
    keep = mask.any(axis=1)
    mask = mask[keep]
    xyz = np.where(mask[..., None], frame.xyz_m[keep], np.nan).astype(np.float32)
    uv = np.where(mask[..., None], frame.uv_px[keep], np.nan).astype(np.float32)
    return GroundTruth(person_ids=frame.person_ids[keep], xyz_m=xyz, uv_px=uv, mask=mask)


def sequence_number(path: str | Path) -> int:
    m = _SEQ_RE.match(Path(path).stem)
    if m is None:
        raise ValueError(f"{path} is not named seq_N")
    return int(m.group(1))


def sequence_paths(root: str | Path, split: str) -> list[Path]:
    """Annotation files ``ROOT/annotations/SPLIT/seq_*.json`` sorted by sequence number."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    folder = Path(root) / "annotations" / split
    paths = [p for p in folder.glob("seq_*.json") if _SEQ_RE.match(p.stem)]
    return sorted(paths, key=sequence_number)


def annotation_path(root: str | Path, split: str, sequence: str | int) -> Path:
    name = sequence if isinstance(sequence, str) else f"seq_{sequence}"
    return Path(root) / "annotations" / split / f"{name}.json"


def video_path(root: str | Path, split: str, sequence: str | int) -> Path:
    name = sequence if isinstance(sequence, str) else f"seq_{sequence}"
    return Path(root) / "videos" / split / f"{name}.mp4"


def convert_to_npy(json_path: str | Path) -> Path:
    """Write ``seq_N.npy`` next to ``seq_N.json`` (the same matrix; loads much faster)."""
    json_path = Path(json_path)
    with open(json_path) as f:
        table = parse_table(json.load(f))
    out = json_path.with_suffix(".npy")
    np.save(out, table)
    return out
