"""Synthetic training data: deterministic per-image generation, npz shards, a torch Dataset.

Image ``i`` of a run with ``seed`` is drawn from ``numpy.random.default_rng([seed, i])``
(scene first, then the render's sensor noise), so any subset, order, number of workers or
resumed run gives the same bytes for the same (seed, i, config).

Shard files ``shard_KKKKK.npz`` (uncompressed npz unless ``compress``) hold images
``[K * shard_size, min(n_images, (K + 1) * shard_size))``:

- ``images``     (N, H, W, 3) uint8 RGB
- ``K``          (N, 3, 3) float64 intrinsics (pixels of these images)
- ``joints``     (N, P_max, 14, 3) float32 camera optical frame, metres, NaN-padded
- ``visible``    (N, P_max, 14) bool: in front of the camera and inside the image
- ``num_people`` (N,) int32
- ``index``      (N,) int64 global image index i
- ``meta``       0-d str, JSON: format, seed, first, count, shard_size, max_people,
  scene_config (the full SceneConfig as a dict)

``P_max`` is ``scene_config.people[1]`` for every shard. A shard is written to a temporary
name and renamed, so a shard file that exists with matching meta is complete and is skipped
on a re-run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from loco_ros.skeleton import NUM_JOINTS
from loco_ros.synthetic.render import render_scene
from loco_ros.synthetic.scene import Scene, SceneConfig, sample_scene

SHARD_FORMAT = "loco_ros.synthetic.v1"
_SHARD_NAME = "shard_{:05d}.npz"


def image_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of image ``index`` of run ``seed`` (both >= 0)."""
    if seed < 0 or index < 0:
        raise ValueError("seed and index must be >= 0")
    return np.random.default_rng([int(seed), int(index)])


@dataclass(frozen=True)
class SyntheticSample:
    """One generated image: its global index, the scene (ground truth) and the RGB image."""

    index: int
    scene: Scene
    image: np.ndarray | None  # (H, W, 3) uint8, None when not rendered


def generate_sample(
    seed: int, index: int, config: SceneConfig | None = None, render: bool = True
) -> SyntheticSample:
    """Scene and image ``index`` of run ``seed`` (the same bytes every time)."""
    rng = image_rng(seed, index)
    scene = sample_scene(rng, config)
    image = render_scene(scene, rng) if render else None
    return SyntheticSample(index=index, scene=scene, image=image)


def iterate_scenes(
    seed: int,
    n: int,
    config: SceneConfig | None = None,
    *,
    start: int = 0,
    render: bool = True,
) -> Iterator[SyntheticSample]:
    """Images ``start .. start + n - 1`` of run ``seed``, in memory, one at a time."""
    for i in range(start, start + n):
        yield generate_sample(seed, i, config, render)


def _padded(scene: Scene, max_people: int) -> tuple[np.ndarray, np.ndarray]:
    joints = np.full((max_people, NUM_JOINTS, 3), np.nan, np.float32)
    visible = np.zeros((max_people, NUM_JOINTS), bool)
    p = min(scene.num_people, max_people)
    joints[:p] = scene.joints_xyz_m[:p]
    visible[:p] = scene.visible[:p]
    return joints, visible


def _config_dict(config: SceneConfig) -> dict[str, Any]:
    out = json.loads(json.dumps(dataclasses.asdict(config)))
    if out.get("mocap_share") == 0.0:  # off: the meta of shards written before the option
        del out["mocap_share"]
    return out


def _shard_meta(
    seed: int, first: int, count: int, shard_size: int, config: SceneConfig
) -> dict[str, Any]:
    return {
        "format": SHARD_FORMAT,
        "seed": int(seed),
        "first": int(first),
        "count": int(count),
        "shard_size": int(shard_size),
        "max_people": config.max_people,
        "scene_config": _config_dict(config),
    }


def read_shard_meta(path: str | Path) -> dict[str, Any] | None:
    """The meta dict of a shard, or None when the file is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None


def _write_shard(
    out_dir: Path,
    k: int,
    seed: int,
    first: int,
    count: int,
    shard_size: int,
    config: SceneConfig,
    compress: bool,
    tick: Callable[[], None] | None = None,
) -> Path:
    w, h, pm = config.image_width, config.image_height, config.max_people
    images = np.zeros((count, h, w, 3), np.uint8)
    ks = np.zeros((count, 3, 3), np.float64)
    joints = np.full((count, pm, NUM_JOINTS, 3), np.nan, np.float32)
    visible = np.zeros((count, pm, NUM_JOINTS), bool)
    num = np.zeros(count, np.int32)
    for j in range(count):
        sample = generate_sample(seed, first + j, config)
        images[j] = sample.image
        ks[j] = sample.scene.K
        joints[j], visible[j] = _padded(sample.scene, pm)
        num[j] = min(sample.scene.num_people, pm)
        if tick is not None:
            tick()
    meta = _shard_meta(seed, first, count, shard_size, config)
    path = out_dir / _SHARD_NAME.format(k)
    tmp = out_dir / f".{path.name}.{os.getpid()}.tmp.npz"
    save = np.savez_compressed if compress else np.savez
    save(
        tmp,
        images=images,
        K=ks,
        joints=joints,
        visible=visible,
        num_people=num,
        index=np.arange(first, first + count, dtype=np.int64),
        meta=np.array(json.dumps(meta)),
    )
    os.replace(tmp, path)
    return path


def _shard_job(args: tuple) -> tuple[int, str]:
    k = args[1]
    return k, str(_write_shard(*args))


def generate_shards(
    out_dir: str | Path,
    n_images: int,
    seed: int,
    scene_config: SceneConfig | None = None,
    image_size: tuple[int, int] | None = None,
    shard_size: int = 256,
    *,
    workers: int = 1,
    compress: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Write images ``0 .. n_images - 1`` of run ``seed`` as shards; returns all shard paths.

    ``image_size`` (width, height) overrides the config's image size (the focal length in
    ``scene_config`` is in pixels of the generated images and is not rescaled). Shards that
    already exist with the same seed, range and config are skipped (resume). ``workers`` > 1
    writes shards in parallel processes; the output is identical.
    """
    if n_images < 0 or shard_size < 1:
        raise ValueError("need n_images >= 0 and shard_size >= 1")
    config = SceneConfig() if scene_config is None else scene_config
    if image_size is not None:
        config = dataclasses.replace(
            config, image_width=int(image_size[0]), image_height=int(image_size[1])
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs, paths = [], []
    for k, first in enumerate(range(0, n_images, shard_size)):
        count = min(shard_size, n_images - first)
        path = out / _SHARD_NAME.format(k)
        paths.append(path)
        want = _shard_meta(seed, first, count, shard_size, config)
        if read_shard_meta(path) == want:
            continue
        jobs.append((out, k, seed, first, count, shard_size, config, compress))
    todo = sum(j[4] for j in jobs)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=todo, desc=f"synthetic shards -> {out}", unit="img")
    try:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                _write_shard(*job, tick=(bar.update if bar is not None else None))
        else:
            import multiprocessing as mp

            # fork (Linux) reuses the imported modules; workers touch no torch state.
            methods = mp.get_all_start_methods()
            ctx = mp.get_context("fork" if "fork" in methods else "spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = {pool.submit(_shard_job, job): job for job in jobs}
                for fut in as_completed(futures):
                    fut.result()
                    if bar is not None:
                        bar.update(futures[fut][4])
    finally:
        if bar is not None:
            bar.close()
    return paths


def _npz_member_memmap(path: Path, name: str) -> np.ndarray | None:
    """Memory-map an uncompressed array of an npz file (None when not possible)."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(name + ".npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            if local[:4] != b"PK\x03\x04":
                return None
            n_name = int.from_bytes(local[26:28], "little")
            n_extra = int.from_bytes(local[28:30], "little")
            f.seek(info.header_offset + 30 + n_name + n_extra)
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
        if dtype.hasobject:
            return None
        return np.memmap(
            path, dtype=dtype, mode="r", shape=shape, offset=offset, order="F" if fortran else "C"
        )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


class SyntheticShardDataset(Dataset):
    """Reads the shards of a directory written by :func:`generate_shards`.

    Item ``i`` (shard order, then image order) is a dict of tensors:
    ``image`` (3, H, W) uint8 RGB, ``K`` (3, 3) float64, ``joints`` (P_max, 14, 3) float32
    (NaN padding), ``visible`` (P_max, 14) bool, ``num_people`` and ``index`` int64.
    Uncompressed shards are memory-mapped (cheap random access); compressed ones are loaded
    whole, ``cache_shards`` at a time. ``transform`` maps the dict to whatever you need.
    """

    def __init__(
        self,
        root: str | Path,
        transform: Callable[[dict], Any] | None = None,
        cache_shards: int = 2,
    ) -> None:
        self.root = Path(root)
        self.paths = sorted(self.root.glob("shard_*.npz"))
        if not self.paths:
            raise FileNotFoundError(f"no shard_*.npz under {self.root}")
        self.metas = []
        for p in self.paths:
            meta = read_shard_meta(p)
            if meta is None or meta.get("format") != SHARD_FORMAT:
                raise ValueError(f"{p} is not a complete {SHARD_FORMAT} shard")
            self.metas.append(meta)
        counts = np.array([m["count"] for m in self.metas], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.transform = transform
        self.cache_shards = max(1, int(cache_shards))
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _shard(self, k: int) -> dict[str, np.ndarray]:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        names = ("images", "K", "joints", "visible", "num_people", "index")
        arrays = {n: _npz_member_memmap(self.paths[k], n) for n in names}
        if any(a is None for a in arrays.values()):
            with np.load(self.paths[k], allow_pickle=False) as z:
                arrays = {n: z[n] for n in names}
        self._cache[k] = arrays
        while len(self._cache) > self.cache_shards:
            self._cache.popitem(last=False)
        return arrays

    def __getitem__(self, i: int) -> Any:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        s = self._shard(k)
        j = i - int(self.offsets[k])
        item = {
            "image": torch.from_numpy(np.ascontiguousarray(s["images"][j].transpose(2, 0, 1))),
            "K": torch.from_numpy(np.array(s["K"][j], np.float64)),
            "joints": torch.from_numpy(np.array(s["joints"][j], np.float32)),
            "visible": torch.from_numpy(np.array(s["visible"][j], bool)),
            "num_people": torch.tensor(int(s["num_people"][j]), dtype=torch.int64),
            "index": torch.tensor(int(s["index"][j]), dtype=torch.int64),
        }
        return self.transform(item) if self.transform is not None else item

    def __getstate__(self) -> dict:  # DataLoader workers: no open memmaps across processes
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        return state
