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
                 seed: int = 0) -> None:
        import cv2

        from loco_ros.data.video import nominal_K, video_frames
        from loco_ros.teacher.labels import load_labels

        found = load_labels(labels)
        self.frames = {f.index: f for f in found.frames if frame_range[0] <= f.index
                       < frame_range[1]}
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
