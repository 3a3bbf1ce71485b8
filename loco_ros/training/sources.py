"""Training data sources other than on-the-fly synthetic scenes.

Every source maps a sample index to ``(image (H, W, 3) uint8 or None, K (3, 3) of that
image, joints (P, 14, 3) metres camera frame with NaN for absent joints)``. Indices wrap
around the source (epochs) through a seeded permutation, so a sample is still a pure
function of (seed, index).

- :class:`ShardSource`: npz shards written by ``loco generate shards``
  (loco_ros.synthetic.dataset), e.g. to pay the rendering once for several runs.
- :class:`JtaSource`: the JTA dataset (loco_ros.data.jta), annotations of a split and, for
  images, its videos (``ROOT/videos/SPLIT/seq_N.mp4``, frame n = decoded frame n - 1). All
  annotated joints are used for the heatmaps (occluded ones too, as the authors; the codec
  drops joints outside the image).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class _Permuted:
    def __init__(self, size: int, seed: int) -> None:
        if size <= 0:
            raise ValueError("empty data source")
        self.size = size
        self.seed = seed
        self._perms: dict[int, np.ndarray] = {}

    def item(self, index: int) -> int:
        epoch, offset = divmod(int(index), self.size)
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(
                self.size)}
        return int(self._perms[epoch][offset])


class ShardSource:
    """Samples of ``loco generate shards`` output (SyntheticShardDataset)."""

    def __init__(self, root: str | Path, seed: int = 0) -> None:
        from loco_ros.synthetic.dataset import SyntheticShardDataset

        self.dataset = SyntheticShardDataset(root)
        self.order = _Permuted(len(self.dataset), seed)

    def __len__(self) -> int:
        return len(self.dataset)

    def __call__(self, index: int, need_image: bool = True):
        item = self.dataset[self.order.item(index)]
        n = int(item["num_people"])
        joints = item["joints"].numpy()[:n]
        image = item["image"].numpy().transpose(1, 2, 0) if need_image else None
        return image, item["K"].numpy(), joints


class JtaSource:
    """Frames of a JTA split (every ``frame_step``-th annotated frame of every sequence)."""

    def __init__(self, root: str | Path, split: str = "train", frame_step: int = 1,
                 seed: int = 0) -> None:
        from loco_ros.data import jta

        self.root, self.split = Path(root), split
        self.paths = jta.sequence_paths(root, split)
        self.items: list[tuple[int, int]] = []
        self._sequences: dict[int, object] = {}
        for s, path in enumerate(self.paths):
            seq = jta.load_sequence(path)
            self.items += [(s, int(f)) for f in seq.frames[::frame_step]]
        self.order = _Permuted(len(self.items), seed)
        self._video = None

    def __len__(self) -> int:
        return len(self.items)

    def _sequence(self, s: int):
        from loco_ros.data import jta

        if s not in self._sequences:
            self._sequences = {s: jta.load_sequence(self.paths[s])}  # one cached
        return self._sequences[s]

    def _frame_image(self, s: int, frame: int) -> np.ndarray:
        import cv2

        from loco_ros.data import jta

        path = jta.video_path(self.root, self.split, self.paths[s].stem)
        if self._video is None or self._video[0] != path:
            if self._video is not None:
                self._video[1].release()
            self._video = (path, cv2.VideoCapture(str(path)))
        cap = self._video[1]
        cap.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
        ok, bgr = cap.read()
        if not ok:
            raise OSError(f"cannot read frame {frame} of {path}")
        return np.ascontiguousarray(bgr[:, :, ::-1])

    def __call__(self, index: int, need_image: bool = True):
        from loco_ros.data import jta

        s, frame = self.items[self.order.item(index)]
        people = self._sequence(s).frame(frame)
        image = self._frame_image(s, frame) if need_image else None
        return image, jta.jta_intrinsics(), people.xyz_m.astype(np.float64)

    def __getstate__(self) -> dict:  # DataLoader workers reopen their own video
        state = self.__dict__.copy()
        state["_video"] = None
        return state


class TeacherVideoSource:
    """Frames of a real video with teacher labels (loco_ros.teacher): pseudo-3D people
    (:func:`loco_ros.teacher.pseudo3d.pseudo_3d_people`) at nominal intrinsics (focal = the
    image width, centred). Only the frames in ``frame_range`` [first, end) are ever read;
    they are decoded once and kept JPEG-compressed in memory."""

    def __init__(self, video: str | Path, labels: str | Path, frame_range: tuple[int, int],
                 seed: int = 0, people: int | None = None) -> None:
        """``people``: keep only the frames with exactly this many labelled people (the
        number a person counted in that view): frames where the teacher missed someone or
        took something for a person are left out."""
        import cv2

        from loco_ros.data.video import nominal_K, video_frames
        from loco_ros.teacher.labels import load_labels

        found = load_labels(labels)
        self.frames = {f.index: f for f in found.frames if frame_range[0] <= f.index
                       < frame_range[1] and people in (None, f.num_people)}
        self.K = nominal_K(*found.image_size)
        self.jpeg: dict[int, bytes] = {}
        for index, rgb in video_frames(video, sorted(self.frames)):
            ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            self.jpeg[index] = buf.tobytes()
        self.indices = sorted(self.jpeg)
        self.order = _Permuted(len(self.indices), seed)

    def __len__(self) -> int:
        return len(self.indices)

    def background_plate(self, every: int = 4) -> np.ndarray:
        """The scene without its walkers, from every ``every``-th of the training frames only
        (:func:`loco_ros.training.real_images.background_plate`): (H, W, 3) uint8 RGB."""
        from loco_ros.training.real_images import background_plate

        return background_plate(self._rgb(i) for i in self.indices[::every])

    def _rgb(self, frame_index: int) -> np.ndarray:
        """Frame ``frame_index`` decoded from memory: (H, W, 3) uint8 RGB."""
        import cv2

        bgr = cv2.imdecode(np.frombuffer(self.jpeg[frame_index], np.uint8), cv2.IMREAD_COLOR)
        return np.ascontiguousarray(bgr[:, :, ::-1])

    def __call__(self, index: int, need_image: bool = True):
        from loco_ros.teacher.pseudo3d import pseudo_3d_people

        frame_index = self.indices[self.order.item(index)]
        f = self.frames[frame_index]
        image = self._rgb(frame_index) if need_image else None
        joints = pseudo_3d_people(f.joints_px, f.visibility, f.joints_world_m, self.K)
        return image, self.K, joints


ALL_FRAMES = (0, 1 << 30)


@dataclass(frozen=True)
class TeacherVideo:
    """One entry of a teacher set: a video (a path or a :func:`real_material.video_path`
    name), its labels, the frames [first, end) to use, the number of people every kept
    frame must have (None: any), and its share of the set's samples (relative weight)."""

    video: str
    labels: str
    frames: tuple[int, int] = ALL_FRAMES
    people: int | None = None
    weight: float = 1.0


def load_teacher_set(path: str | Path) -> list[TeacherVideo]:
    """A teacher set from YAML: a list of :class:`TeacherVideo` fields (``frames`` a pair)."""
    import yaml

    entries = yaml.safe_load(Path(path).read_text())
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty list of teacher videos")
    return [TeacherVideo(**{**e, "frames": tuple(e.get("frames", ALL_FRAMES))})
            for e in entries]


class TeacherSetSource:
    """Several teacher-labelled videos as one source: sample ``index`` picks a video by the
    entries' weights (seeded, a pure function of seed and index), then that video's next
    frame in its own permuted order."""

    def __init__(self, entries: list[TeacherVideo], seed: int = 0) -> None:
        from loco_ros.data.real_material import video_path

        self.videos = [TeacherVideoSource(video_path(e.video), e.labels, e.frames, seed + i,
                                          e.people) for i, e in enumerate(entries)]
        weights = np.array([e.weight for e in entries], np.float64)
        self.cumulative = np.cumsum(weights / weights.sum())
        self.seed = seed

    def __len__(self) -> int:
        return sum(len(v) for v in self.videos)

    def background_plate(self, every: int = 4) -> np.ndarray:
        """The first video's plate (:meth:`TeacherVideoSource.background_plate`): list the
        fixed-camera scene first."""
        return self.videos[0].background_plate(every)

    def __call__(self, index: int, need_image: bool = True):
        u = np.random.default_rng([self.seed, int(index), 31]).random()
        which = min(int(np.searchsorted(self.cumulative, u, side="right")), len(self.videos) - 1)
        return self.videos[which](index, need_image)


def make_source(kind: str, seed: int, shards: str | None = None, jta_root: str | None = None,
                jta_split: str = "train", jta_frame_step: int = 1):
    """The source named ``kind`` ("shards" or "jta"); None for "synthetic"."""
    if kind == "synthetic":
        return None
    if kind == "shards":
        if not shards:
            raise SystemExit("--shards DIR is required with --data shards")
        return ShardSource(shards, seed)
    if kind == "jta":
        if not jta_root:
            raise SystemExit("--jta-root is required with --data jta")
        return JtaSource(jta_root, jta_split, jta_frame_step, seed)
    raise SystemExit(f"unknown data source {kind!r}")


def add_source_args(parser) -> None:
    parser.add_argument("--data", choices=("synthetic", "shards", "jta"), default="synthetic",
                        help="training samples: on-the-fly synthetic scenes, npz shards of "
                             "`loco generate shards`, or the JTA dataset")
    parser.add_argument("--shards", default=None, help="shard directory (--data shards)")
    parser.add_argument("--jta-root", default=None, help="JTA root (--data jta)")
    parser.add_argument("--jta-split", default="train")
    parser.add_argument("--jta-frame-step", type=int, default=1,
                        help="use every N-th annotated frame of each sequence")
