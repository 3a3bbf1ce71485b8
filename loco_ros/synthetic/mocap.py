"""Real human motion for the synthetic pose sampler: a pose bank from DeepMimic's mocap clips.

pybullet's wheel carries 15 DeepMimic motion-capture clips (``humanoid3d_*.txt``: walk, run,
jump, kick, dance, cartwheel, getting up, ...; 1,620 frames at 30 Hz) and the humanoid they
drive (``humanoid/humanoid.urdf``); :func:`loco_ros.data.real_material.motion_clips` fetches
them. This module turns them into 14-joint LoCO skeletons by forward kinematics.

Clip format (JSON, ``"Frames"``: one list of 44 numbers per frame; DeepMimic's world has
y up and the ground at y = 0; quaternions are stored **w x y z**):

====  ==================================================
0     duration of the frame (s)
1-3   root (pelvis) position (m)
4-7   root rotation
8-11  chest          12-15 neck
16-19 right hip      20    right knee (angle, rad)
21-24 right ankle    25-28 right shoulder   29 right elbow (rad)
30-33 left hip       34    left knee (rad)
35-38 left ankle     39-42 left shoulder    43 left elbow (rad)
====  ==================================================

Spherical joints rotate their child link by the quaternion; knees and elbows are revolute
about the joint's URDF axis (z). pybullet's DeepMimic environment loads the URDF with
``globalScaling=0.25``: :data:`URDF_SCALE` turns its lengths into the metres of the clips.
The humanoid faces +x, its right is +z.

Joint rules (URDF link frame origins unless said otherwise):

- neck, shoulders, elbows, hips, knees, ankles: the origins of the links of the same name
  (``neck`` is the base of the neck, at shoulder height).
- **head_top**: the top of the neck link's head sphere, i.e. the neck link's origin plus
  its own "up" axis times (sphere centre offset + radius) = (0.70 + 0.41) URDF units
  (0.2775 m) along the head's up direction.
- **wrist**: the origin of the ``*_wrist`` link (a fixed joint at the end of the forearm,
  the centre of the hand sphere).

The stature of the humanoid upright (all joints at rest) is head_top minus the sole of the
foot box: 1.619 m (:func:`upright_stature_m`, computed from the URDF; ``PoseBank.stature_m``).

The bank (:class:`PoseBank`): every frame of every clip, in the person-local frame of
:mod:`loco_ros.synthetic.skeletons` (x right, y down, z forward, metres at the mocap scale),
turned about the vertical so the pelvis faces +z (the heading of the root's right axis; its
forward axis where the hips stand near-vertical, e.g. mid-cartwheel), its origin on the
ground under the pelvis (the clips' own ground: a jump stays in the air, a crawl on the
floor; a frame with a joint a few cm under the ground is lifted to put it on it), plus a
mirrored copy (x -> -x, left and right swapped) of each. It is cached as an ``.npz`` under
the real-material cache (``<cache>/derived/``), keyed by the pybullet version, and loaded
lazily on the first :func:`load_bank`.

:func:`sample_mocap_person` draws one person from the bank with the scene's generator: a
body (stature) as :func:`~loco_ros.synthetic.skeletons.sample_body`, a clip (uniform), a
frame of it (uniform), mirrored or not (1/2), the pose scaled uniformly to the stature.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loco_ros.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS
from loco_ros.synthetic.skeletons import Person, sample_body, yaw_matrix

URDF_SCALE = 0.25
"""pybullet's DeepMimic environment loads humanoid.urdf with globalScaling=0.25."""

BANK_FORMAT = 1
FRAME_LENGTH = 44

# Per-frame layout: (URDF joint name, first index, kind) in DeepMimic order.
FRAME_LAYOUT: tuple[tuple[str, int, str], ...] = (
    ("chest", 8, "spherical"),
    ("neck", 12, "spherical"),
    ("right_hip", 16, "spherical"),
    ("right_knee", 20, "revolute"),
    ("right_ankle", 21, "spherical"),
    ("right_shoulder", 25, "spherical"),
    ("right_elbow", 29, "revolute"),
    ("left_hip", 30, "spherical"),
    ("left_knee", 34, "revolute"),
    ("left_ankle", 35, "spherical"),
    ("left_shoulder", 39, "spherical"),
    ("left_elbow", 43, "revolute"),
)

# LoCO joint -> URDF link whose origin it is (head_top is special, see module docstring).
LINK_OF_JOINT: dict[str, str] = {
    "neck": "neck",
    "right_shoulder": "right_shoulder",
    "right_elbow": "right_elbow",
    "right_wrist": "right_wrist",
    "left_shoulder": "left_shoulder",
    "left_elbow": "left_elbow",
    "left_wrist": "left_wrist",
    "right_hip": "right_hip",
    "right_knee": "right_knee",
    "right_ankle": "right_ankle",
    "left_hip": "left_hip",
    "left_knee": "left_knee",
    "left_ankle": "left_ankle",
}

# Left/right swap of the 14 LoCO joints (for mirroring).
MIRROR_INDEX: tuple[int, ...] = tuple(
    JOINT_INDEX[n.replace("right_", "@").replace("left_", "right_").replace("@", "left_")]
    for n in JOINT_NAMES
)


@dataclass(frozen=True)
class UrdfJoint:
    name: str
    kind: str  # "fixed", "spherical", "revolute"
    parent: str
    child: str
    xyz: np.ndarray  # (3,) URDF units
    rpy: np.ndarray  # (3,)
    axis: np.ndarray  # (3,) unit (revolute)


@dataclass(frozen=True)
class Humanoid:
    """The kinematic tree of humanoid.urdf (lengths in URDF units)."""

    joints: dict[str, UrdfJoint]  # by child link name
    head_top_offset: np.ndarray  # (3,) in the neck link frame: head sphere top
    sole_offset: np.ndarray  # (3,) in the ankle link frame: bottom of the foot box

    def chain(self) -> list[UrdfJoint]:
        """Joints ordered parents first."""
        out, done = [], {j.parent for j in self.joints.values()} - set(self.joints)
        pending = list(self.joints.values())
        while pending:
            ready = [j for j in pending if j.parent in done]
            if not ready:
                raise ValueError("humanoid.urdf: the joints do not form a tree")
            for j in ready:
                out.append(j)
                done.add(j.child)
                pending.remove(j)
        return out


def _floats(text: str | None, n: int = 3) -> np.ndarray:
    values = np.array([float(v) for v in (text or "").split()], np.float64)
    if values.shape != (n,):
        raise ValueError(f"expected {n} numbers, got {text!r}")
    return values


def parse_urdf(path: Path) -> Humanoid:
    """Joints, head sphere and foot box of DeepMimic's humanoid.urdf (xml.etree)."""
    text = Path(path).read_bytes().rstrip(b"\x00").decode("utf-8")
    root = ET.fromstring(text)
    joints: dict[str, UrdfJoint] = {}
    for j in root.iter("joint"):
        origin = j.find("origin")
        axis = j.find("axis")
        joint = UrdfJoint(
            name=j.get("name", ""),
            kind=j.get("type", ""),
            parent=j.find("parent").get("link"),
            child=j.find("child").get("link"),
            xyz=_floats(origin.get("xyz") if origin is not None else "0 0 0"),
            rpy=_floats(origin.get("rpy") if origin is not None else "0 0 0"),
            axis=_floats(axis.get("xyz")) if axis is not None else np.array([0.0, 0.0, 1.0]),
        )
        joints[joint.child] = joint
    links = {link.get("name"): link for link in root.iter("link")}

    def collision(link: str, shape: str) -> tuple[np.ndarray, ET.Element]:
        for col in links[link].iter("collision"):
            geom = col.find("geometry").find(shape)
            if geom is not None:
                return _floats(col.find("origin").get("xyz")), geom
        raise ValueError(f"humanoid.urdf: link {link} has no {shape} collision")

    head_centre, sphere = collision("neck", "sphere")
    head_top = head_centre + np.array([0.0, float(sphere.get("radius")), 0.0])
    foot_centre, box = collision("right_ankle", "box")
    sole = foot_centre - np.array([0.0, _floats(box.get("size"))[1] / 2.0, 0.0])
    sole[0] = 0.0  # under the ankle: only the height matters
    return Humanoid(joints=joints, head_top_offset=head_top, sole_offset=sole)


def _rotations(kind: str, values: np.ndarray, axis: np.ndarray):
    from scipy.spatial.transform import Rotation

    if kind == "spherical":  # w x y z -> scipy's x y z w
        return Rotation.from_quat(values[:, [1, 2, 3, 0]])
    if kind == "revolute":
        return Rotation.from_rotvec(values[:, :1] * axis[None, :])
    raise ValueError(kind)


def forward_kinematics(frames: np.ndarray, humanoid: Humanoid) -> dict[str, np.ndarray]:
    """Positions (F, 3) in metres, DeepMimic world (y up), of every link origin plus
    ``head_top`` and ``right_sole`` / ``left_sole``, and ``root_rotation`` (a scipy Rotation
    of F) for frames (F, 44)."""
    from scipy.spatial.transform import Rotation

    frames = np.asarray(frames, np.float64).reshape(-1, FRAME_LENGTH)
    f = frames.shape[0]
    layout = {name: (start, kind) for name, start, kind in FRAME_LAYOUT}
    pos: dict[str, np.ndarray] = {}
    rot: dict[str, Rotation] = {}
    base_rot = _rotations("spherical", frames[:, 4:8], np.zeros(3))
    pos["base"], rot["base"] = frames[:, 1:4].copy(), base_rot
    for j in humanoid.chain():
        parent_pos, parent_rot = pos[j.parent], rot[j.parent]
        pos[j.child] = parent_pos + parent_rot.apply(np.tile(j.xyz * URDF_SCALE, (f, 1)))
        r = parent_rot * Rotation.from_euler("xyz", j.rpy)
        if j.kind != "fixed":
            if j.name not in layout:
                raise ValueError(f"humanoid.urdf joint {j.name} is not in the clip layout")
            start, kind = layout[j.name]
            if kind != j.kind:
                raise ValueError(f"joint {j.name}: URDF {j.kind}, clip layout {kind}")
            n = 4 if kind == "spherical" else 1
            r = r * _rotations(kind, frames[:, start:start + n], j.axis)
        rot[j.child] = r
    out = dict(pos)
    out["head_top"] = pos["neck"] + rot["neck"].apply(
        np.tile(humanoid.head_top_offset * URDF_SCALE, (f, 1)))
    for side in ("right", "left"):
        out[f"{side}_sole"] = pos[f"{side}_ankle"] + rot[f"{side}_ankle"].apply(
            np.tile(humanoid.sole_offset * URDF_SCALE, (f, 1)))
    out["root_rotation"] = rot["root"]
    return out


def loco_joints(fk: dict[str, np.ndarray]) -> np.ndarray:
    """(F, 14, 3) LoCO joints in the DeepMimic world (metres, y up)."""
    cols = [fk["head_top"] if name == "head_top" else fk[LINK_OF_JOINT[name]]
            for name in JOINT_NAMES]
    return np.stack(cols, axis=1)


def rest_frame() -> np.ndarray:
    """One frame (44,) with every joint at rest and the root at the origin."""
    frame = np.zeros(FRAME_LENGTH)
    frame[4] = 1.0
    for _name, start, kind in FRAME_LAYOUT:
        if kind == "spherical":
            frame[start] = 1.0
    return frame


def upright_stature_m(humanoid: Humanoid) -> float:
    """Head top above the soles with every joint at rest (metres)."""
    fk = forward_kinematics(rest_frame()[None], humanoid)
    return float(fk["head_top"][0, 1] - min(fk["right_sole"][0, 1], fk["left_sole"][0, 1]))


def to_person_local(joints_dm: np.ndarray, root_rotation, root_pos: np.ndarray) -> np.ndarray:
    """DeepMimic world (x forward, y up, z right) -> person-local (x right, y down, z forward)
    with the origin on the ground under the pelvis and the pelvis heading turned to +z."""
    rel = np.asarray(joints_dm, np.float64).copy()
    rel[:, :, 0] -= root_pos[:, None, 0]
    rel[:, :, 2] -= root_pos[:, None, 2]
    local = np.stack([rel[..., 2], -rel[..., 1], rel[..., 0]], axis=-1)  # proper rotation
    f = local.shape[0]
    right = root_rotation.apply(np.tile([0.0, 0.0, 1.0], (f, 1)))  # DM root right axis
    fwd = root_rotation.apply(np.tile([1.0, 0.0, 0.0], (f, 1)))
    # Person-local ground components (x = DM z, z = DM x).
    rx, rz = right[:, 2], right[:, 0]
    fx, fz = fwd[:, 2], fwd[:, 0]
    use_right = np.hypot(rx, rz) >= 0.3
    heading = np.where(use_right, np.arctan2(-rz, rx), np.arctan2(fx, fz))
    for i in range(f):
        local[i] = local[i] @ yaw_matrix(-float(heading[i])).T
    # No joint below the ground (a few cm of penetration in some clips): lift such frames.
    local[:, :, 1] -= np.maximum(local[:, :, 1].max(axis=1), 0.0)[:, None]
    return local


def mirror(poses: np.ndarray) -> np.ndarray:
    """Left/right mirror of person-local poses (..., 14, 3): x -> -x, sides swapped."""
    out = np.asarray(poses)[..., list(MIRROR_INDEX), :].copy()
    out[..., 0] *= -1.0
    return out


@dataclass(frozen=True, eq=False)
class PoseBank:
    """Mocap poses, person-local (x right, y down, z forward), metres at the mocap scale.

    poses (N, 14, 3) float32: the first N/2 original frames, then their mirrored copies in
    the same order. clip (N,) int: index into ``clip_names``; frame (N,) int; mirrored (N,)
    bool. ``stature_m``: the upright stature of the mocap humanoid (scale a pose by
    H / stature_m to give it stature H).
    """

    poses: np.ndarray
    clip: np.ndarray
    frame: np.ndarray
    mirrored: np.ndarray
    clip_names: tuple[str, ...]
    stature_m: float

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    def clip_rows(self, clip: int, mirrored: bool) -> np.ndarray:
        return np.flatnonzero((self.clip == clip) & (self.mirrored == mirrored))


def build_bank(clips: list[Path], urdf: Path) -> PoseBank:
    """The pose bank of ``clips`` (DeepMimic JSON) on the humanoid of ``urdf``."""
    humanoid = parse_urdf(urdf)
    stature = upright_stature_m(humanoid)
    poses, clip_ix, frame_ix, names = [], [], [], []
    for c, path in enumerate(sorted(clips, key=lambda p: Path(p).name)):
        frames = np.asarray(json.loads(Path(path).read_text())["Frames"], np.float64)
        if frames.ndim != 2 or frames.shape[1] != FRAME_LENGTH:
            raise ValueError(f"{path}: frames of {frames.shape[1:]} numbers, not {FRAME_LENGTH}")
        fk = forward_kinematics(frames, humanoid)
        poses.append(to_person_local(loco_joints(fk), fk["root_rotation"], frames[:, 1:4]))
        clip_ix.append(np.full(len(frames), c))
        frame_ix.append(np.arange(len(frames)))
        names.append(Path(path).stem.removeprefix("humanoid3d_"))
    original = np.concatenate(poses).astype(np.float32)
    clip = np.concatenate(clip_ix)
    frame = np.concatenate(frame_ix)
    return PoseBank(
        poses=np.concatenate([original, mirror(original)]).astype(np.float32),
        clip=np.concatenate([clip, clip]),
        frame=np.concatenate([frame, frame]),
        mirrored=np.repeat([False, True], len(original)),
        clip_names=tuple(names),
        stature_m=stature,
    )


def bank_path(root: Path | None = None) -> Path:
    from loco_ros.data import real_material

    version = real_material.MATERIALS["pybullet"].version
    base = root or real_material.cache_root()
    return base / "derived" / f"mocap_bank_pybullet-{version}_v{BANK_FORMAT}.npz"


def _save(bank: PoseBank, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, poses=bank.poses, clip=bank.clip, frame=bank.frame,
                 mirrored=bank.mirrored, clip_names=np.array(bank.clip_names),
                 stature_m=np.float64(bank.stature_m))
        os.replace(tmp, path)  # atomic: concurrent workers never read half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(path: Path) -> PoseBank:
    with np.load(path) as z:
        return PoseBank(poses=z["poses"], clip=z["clip"], frame=z["frame"],
                        mirrored=z["mirrored"], clip_names=tuple(str(n) for n in z["clip_names"]),
                        stature_m=float(z["stature_m"]))


_BANKS: dict[Path, PoseBank] = {}
_LOCK = threading.Lock()


def load_bank(root: Path | None = None) -> PoseBank:
    """The pose bank: from memory, else the cached .npz, else fetched and built (then cached).

    Raises :class:`loco_ros.data.real_material.FetchError` where pybullet cannot be fetched.
    """
    path = bank_path(root)
    with _LOCK:
        if path in _BANKS:
            return _BANKS[path]
        if path.exists():
            bank = _load(path)
        else:
            from loco_ros.data import real_material

            clips = real_material.motion_clips(root)
            if not clips:
                raise real_material.FetchError("pybullet holds no humanoid3d_*.txt clips")
            urdf = real_material.fetch("pybullet", root) / "pybullet_data/humanoid/humanoid.urdf"
            bank = build_bank(clips, urdf)
            _save(bank, path)
        _BANKS[path] = bank
        return bank


def sample_mocap_person(
    rng: np.random.Generator,
    child_probability: float = 0.0,
    height_m: float | None = None,
    bank: PoseBank | None = None,
) -> Person:
    """A person in a mocap pose: stature as ``sample_body``, a uniform clip, a uniform frame
    of it, mirrored with probability 1/2, scaled uniformly to the stature.

    ``pose`` is ``"mocap_<clip>"``; ``params`` hold clip, frame and mirrored (as floats).
    The body's segment lengths are not used: the proportions are the mocap humanoid's.
    """
    bank = load_bank() if bank is None else bank
    body = sample_body(rng, height_m=height_m, child_probability=child_probability)
    clip = int(rng.integers(len(bank.clip_names)))
    mirrored = bool(rng.integers(2))
    rows = bank.clip_rows(clip, mirrored)
    row = int(rows[int(rng.integers(len(rows)))])
    joints = bank.poses[row].astype(np.float64) * (body.height_m / bank.stature_m)
    return Person(
        body=body,
        pose=f"mocap_{bank.clip_names[clip]}",
        params={"clip": float(clip), "frame": float(bank.frame[row]),
                "mirrored": float(mirrored)},
        joints_local=joints.reshape(NUM_JOINTS, 3),
    )


def draw_bank(path: Path, bank: PoseBank | None = None, fraction: float = 0.4) -> Path:
    """A figure of one pose per clip (frame at ``fraction`` of the clip), each drawn from the
    front (left panel half: the person's right on the viewer's left) and from its right side
    (right half: facing right); right limbs red, left blue."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from loco_ros.skeleton import LIMBS

    bank = load_bank() if bank is None else bank
    n = len(bank.clip_names)
    cols = 5
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows))
    for c, ax in enumerate(np.ravel(axes)):
        ax.set_axis_off()
        if c >= n:
            continue
        clip_rows = bank.clip_rows(c, False)
        row = int(clip_rows[int(fraction * (len(clip_rows) - 1))])
        pose = bank.poses[row].astype(np.float64)
        views = ((-pose[:, 0], -0.9), (pose[:, 2], 0.9))  # front (mirror image), right side
        for horizontal, shift in views:
            h, v = horizontal + shift, -pose[:, 1]
            for a, b in LIMBS:
                right = "right" in JOINT_NAMES[b] and "right" in JOINT_NAMES[a] or (
                    "right" in JOINT_NAMES[b] and JOINT_NAMES[a] == "neck")
                left = "left" in JOINT_NAMES[b] and ("left" in JOINT_NAMES[a]
                                                     or JOINT_NAMES[a] == "neck")
                color = "tab:red" if right else "tab:blue" if left else "0.2"
                ax.plot([h[a], h[b]], [v[a], v[b]], color=color, lw=2)
            ax.plot(h, v, "o", color="0.2", ms=2.5)
        ax.axhline(0.0, color="0.6", lw=1)
        ax.set_xlim(-1.9, 1.9)
        ax.set_ylim(-0.1, 2.2)
        ax.set_aspect("equal")
        ax.set_title(f"{bank.clip_names[c]}  frame {int(bank.frame[row])}", fontsize=9)
        ax.text(-0.9, 2.05, "front", ha="center", fontsize=7, color="0.4")
        ax.text(0.9, 2.05, "side (faces right)", ha="center", fontsize=7, color="0.4")
    fig.suptitle(f"DeepMimic mocap pose bank ({len(bank)} poses incl. mirrored; "
                 f"humanoid stature {bank.stature_m:.3f} m; right limbs red, left blue)",
                 fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


if __name__ == "__main__":  # python -m loco_ros.synthetic.mocap docs/mocap_poses.png
    import sys

    print(draw_bank(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/mocap_poses.png")))
