"""Real photographs in training: backgrounds behind rendered people, textures on them, and
pure negatives (nobody there: an empty heatmap).

Object cut-outs (:func:`loco_ros.data.real_material.object_cutouts`: photographs of single
things, alpha-masked) are pasted into backgrounds and negatives, at sizes people have, so
that tall thin things, animals and vehicles are seen as not people.

The photographs are the wallpapers of :func:`loco_ros.data.real_material.background_photos`,
never the held-out "nobody there" stills of opencv-doc / scikit-image. Every draw comes from
the ``rng`` passed in, so a sample stays a pure function of (seed, index).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MAX_SIDE_PX = 1280  # photographs are kept in memory at most this large
OBJECT_MAX_SIDE_PX = 512  # and object cut-outs this large


def background_plate(frames: Iterable[np.ndarray]) -> np.ndarray:
    """The static scene of a fixed camera, its moving people gone: the per-pixel median of
    ``frames`` ((H, W, 3) uint8 each) -> (H, W, 3) uint8. People who stand still for most
    of the frames stay in it: use frames spread over a long stretch of video."""
    stack = np.stack(list(frames))
    if stack.ndim != 4 or stack.shape[0] < 3:
        raise ValueError(f"background_plate needs >= 3 (H, W, 3) frames, got {stack.shape}")
    return np.median(stack, axis=0).astype(np.uint8)


class _LazyImages:
    """Images of ``paths`` loaded on first use (by the subclass's ``_load``) and kept."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        if not paths:
            raise ValueError(f"{type(self).__name__} needs at least one image")
        self.paths = [Path(p) for p in paths]
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def image(self, i: int) -> np.ndarray:
        if i not in self._cache:
            self._cache[i] = self._load(self.paths[i])
        return self._cache[i]

    def _load(self, path: Path) -> np.ndarray:
        raise NotImplementedError


def _read_capped(path: Path, flags: int, max_side_px: int | None) -> np.ndarray:
    """cv2.imread of ``path`` shrunk to at most ``max_side_px`` on its longest side (None:
    as stored)."""
    image = cv2.imread(str(path), flags)
    if image is None:
        raise OSError(f"cannot read image {path}")
    scale = max_side_px / max(image.shape[:2]) if max_side_px else 1.0
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image


def read_rgba(path: str | Path, max_side_px: int | None = None) -> np.ndarray:
    """A cut-out image file as (h, w, 4) uint8 RGBA (opaque where it has no alpha), shrunk
    to at most ``max_side_px`` on its longest side (None: as stored)."""
    image = _read_capped(Path(path), cv2.IMREAD_UNCHANGED, max_side_px)
    if image.ndim == 2 or image.shape[2] != 4:  # no alpha: an opaque rectangle
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA if image.ndim == 2
                             else cv2.COLOR_BGR2BGRA)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)


class PhotoBank(_LazyImages):
    """Photographs (RGB uint8, longest side <= MAX_SIDE_PX) loaded on first use, and the
    background plates of training videos (:func:`background_plate`), kept as given."""

    def __init__(self, paths: Sequence[str | Path], plates: Sequence[np.ndarray] = (),
                 objects: ObjectBank | None = None) -> None:
        super().__init__(paths)
        self.plates = list(plates)
        self.objects = objects

    def _load(self, path: Path) -> np.ndarray:
        bgr = _read_capped(path, cv2.IMREAD_COLOR, MAX_SIDE_PX)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def crop(self, rng: np.random.Generator, size_wh: tuple[int, int],
             min_fraction: float = 0.15) -> np.ndarray:
        """A random crop of a random photograph resized to ``size_wh``: (H, W, 3) uint8.

        The crop keeps the output's aspect ratio and covers between ``min_fraction`` and all
        of the photograph's largest such window (by side length); flipped at random.
        """
        return _crop(self.image(int(rng.integers(len(self)))), rng, size_wh, min_fraction)

    def backdrop(self, rng: np.random.Generator, size_wh: tuple[int, int],
                 plate_share: float = 0.0, object_share: float = 0.0) -> np.ndarray:
        """A background for a training sample: with ``plate_share`` (when there are plates)
        a crop of a background plate, else of a photograph; with ``object_share`` (when
        there are objects) with object cut-outs pasted in. (H, W, 3) uint8."""
        if self.plates and plate_share > 0 and rng.random() < plate_share:
            out = _crop(self.plates[int(rng.integers(len(self.plates)))], rng, size_wh, 0.3)
        else:
            out = self.crop(rng, size_wh)
        if self.objects is not None and object_share > 0 and rng.random() < object_share:
            out = self.objects.paste(out, rng)
        return out


class ObjectBank(_LazyImages):
    """Object cut-outs (RGBA uint8, longest side <= OBJECT_MAX_SIDE_PX) loaded on first use."""

    def _load(self, path: Path) -> np.ndarray:
        return read_rgba(path, OBJECT_MAX_SIDE_PX)

    def paste(self, image: np.ndarray, rng: np.random.Generator,
              count: tuple[int, int] = (1, 4), height_frac: tuple[float, float] = (0.1, 0.8)
              ) -> np.ndarray:
        """``image`` (H, W, 3) uint8 with ``count`` (inclusive range) random cut-outs pasted
        at random places, each ``height_frac`` of the image tall (log-uniform), stretched
        by up to 1.5x either way, flipped and dimmed or brightened at random."""
        out = image
        for _ in range(int(rng.integers(count[0], count[1] + 1))):
            rgba = self.image(int(rng.integers(len(self))))
            height_px = image.shape[0] * float(np.exp(rng.uniform(*np.log(height_frac))))
            stretch = float(np.exp(rng.uniform(np.log(1 / 1.5), np.log(1.5))))
            width_px = height_px * rgba.shape[1] / rgba.shape[0] * stretch
            centre_xy = (rng.uniform(0, image.shape[1]), rng.uniform(0, image.shape[0]))
            rgba = rgba[:, ::-1] if rng.random() < 0.5 else rgba
            out = paste_cutout(out, rgba, centre_xy, (width_px, height_px),
                               float(rng.uniform(0.6, 1.3)))
        return out


def paste_cutout(image: np.ndarray, rgba: np.ndarray, centre_xy: tuple[float, float],
                 size_wh_px: tuple[float, float], gain: float = 1.0) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 with ``rgba`` (h, w, 4) uint8 resized to
    ``size_wh_px``, its colour times ``gain``, alpha-blended centred at ``centre_xy`` (px);
    the parts outside the image are cut off."""
    w, h = max(1, int(round(size_wh_px[0]))), max(1, int(round(size_wh_px[1])))
    big = w > rgba.shape[1] or h > rgba.shape[0]
    obj = cv2.resize(rgba, (w, h), interpolation=cv2.INTER_LINEAR if big else cv2.INTER_AREA)
    x0, y0 = int(round(centre_xy[0] - w / 2)), int(round(centre_xy[1] - h / 2))
    ix0, iy0 = max(x0, 0), max(y0, 0)
    ix1, iy1 = min(x0 + w, image.shape[1]), min(y0 + h, image.shape[0])
    out = image.copy()
    if ix0 >= ix1 or iy0 >= iy1:
        return out
    part = obj[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0].astype(np.float32)
    alpha = part[..., 3:] / 255.0
    region = out[iy0:iy1, ix0:ix1].astype(np.float32)
    blended = np.clip(part[..., :3] * gain, 0, 255) * alpha + region * (1.0 - alpha)
    out[iy0:iy1, ix0:ix1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


def _crop(photo: np.ndarray, rng: np.random.Generator, size_wh: tuple[int, int],
          min_fraction: float) -> np.ndarray:
    ph, pw = photo.shape[:2]
    w, h = size_wh
    full = min(pw / w, ph / h)  # largest window of the output's aspect ratio
    s = full * float(rng.uniform(min_fraction, 1.0))
    cw, ch = max(2, int(w * s)), max(2, int(h * s))
    x0 = int(rng.integers(0, pw - cw + 1))
    y0 = int(rng.integers(0, ph - ch + 1))
    out = cv2.resize(photo[y0:y0 + ch, x0:x0 + cw], (w, h),
                     interpolation=cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR)
    return out[:, ::-1].copy() if rng.random() < 0.5 else out


def composite(rendered: np.ndarray, person_label: np.ndarray, background: np.ndarray
              ) -> np.ndarray:
    """Rendered people over a real background: (H, W, 3) uint8.

    ``person_label`` (H, W) int, -1 where no person: those pixels take ``background``; the
    person edge is blended over one pixel (a 3x3 box filter of the mask) so the silhouette is
    not a hard cut-out the network could key on.
    """
    mask = (person_label >= 0).astype(np.float32)
    alpha = cv2.blur(mask, (3, 3))[..., None]
    out = rendered.astype(np.float32) * alpha + background.astype(np.float32) * (1.0 - alpha)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def retexture(image: np.ndarray, person_label: np.ndarray, bank: PhotoBank,
              rng: np.random.Generator, probability: float, strength: tuple[float, float]
              = (0.5, 0.9)) -> np.ndarray:
    """Real texture on rendered people: each person, with ``probability``, gets a random
    photograph crop multiplied by its own shading (luminance over its mean), mixed in with a
    weight drawn from ``strength``. (H, W, 3) uint8 in, a new array out."""
    out = image.astype(np.float32)
    grey = out.mean(axis=2)
    for p in np.unique(person_label[person_label >= 0]):
        if rng.random() >= probability:
            continue
        ys, xs = np.nonzero(person_label == p)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        tex = bank.crop(rng, (int(x1 - x0), int(y1 - y0)), min_fraction=0.05)
        tex = tex.astype(np.float32)[ys - y0, xs - x0]
        shade = grey[ys, xs] / max(float(grey[ys, xs].mean()), 1.0)
        textured = tex * shade[:, None]
        mix = float(rng.uniform(*strength))
        out[ys, xs] = out[ys, xs] * (1.0 - mix) + textured * mix
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class RealImageMix:
    """How often a training sample uses real photographs.

    ``background``: rendered people composited over a real photograph (else the renderer's
    own background); ``negative``: a real photograph alone, empty heatmap; ``texture``: per
    composited person, the probability of a real texture on it; ``plate``: of the
    backgrounds and negatives, the share taken from a training video's background plate;
    ``objects``: of the backgrounds and negatives, the share with object cut-outs pasted in.
    """

    background: float = 0.5
    negative: float = 0.15
    texture: float = 0.5
    plate: float = 0.0
    objects: float = 0.0

    def __post_init__(self) -> None:
        for name in ("background", "negative", "texture", "plate", "objects"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"RealImageMix.{name} must be in [0, 1]")
