"""Per-person appearance of the synthetic people: skin, hair and clothing colours, flags.

Colours are RGB fractions in [0, 1] (float32); ``build`` is a unitless limb-radius scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Appearance:
    """Per-person colours (RGB in [0, 1], float32 (P, 3)) and clothing flags (P,)."""

    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    trousers: np.ndarray
    shoes: np.ndarray
    bald: np.ndarray  # bool
    long_sleeves: np.ndarray  # bool
    shorts: np.ndarray  # bool
    build: np.ndarray  # float32 limb-radius scale, ~0.85-1.25
    prop: np.ndarray  # colour of the stool under a sitting person

    def subset(self, index: np.ndarray) -> Appearance:
        return Appearance(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})

    def __len__(self) -> int:
        return int(self.skin.shape[0])


_SKIN = np.array(
    [
        [0.98, 0.85, 0.74],
        [0.95, 0.77, 0.64],
        [0.88, 0.68, 0.54],
        [0.80, 0.58, 0.43],
        [0.66, 0.46, 0.32],
        [0.52, 0.35, 0.24],
        [0.38, 0.25, 0.17],
        [0.28, 0.19, 0.13],
    ]
)
_HAIR = np.array(
    [
        [0.06, 0.05, 0.05],
        [0.20, 0.13, 0.08],
        [0.40, 0.27, 0.15],
        [0.78, 0.65, 0.42],
        [0.55, 0.25, 0.12],
        [0.62, 0.62, 0.62],
    ]
)
_TROUSERS = np.array(
    [
        [0.20, 0.28, 0.45],
        [0.10, 0.12, 0.20],
        [0.08, 0.08, 0.08],
        [0.35, 0.35, 0.37],
        [0.70, 0.62, 0.48],
        [0.35, 0.25, 0.18],
        [0.28, 0.33, 0.22],
        [0.55, 0.62, 0.75],
    ]
)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6.0).astype(int) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack(
        [
            np.stack(c, -1)
            for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))
        ]
    )  # (6, P, 3)
    return table[i, np.arange(len(h))]


def sample_appearance(rng: np.random.Generator, n: int) -> Appearance:
    """Random skin, hair, clothing colours and flags for ``n`` people."""
    skin = _SKIN[rng.integers(0, len(_SKIN), n)] * rng.uniform(0.92, 1.06, (n, 1))
    hair = _HAIR[rng.integers(0, len(_HAIR), n)] * rng.uniform(0.8, 1.2, (n, 1))
    shirt = _hsv_to_rgb(rng.random(n), rng.uniform(0.0, 0.9, n) ** 0.8, rng.uniform(0.12, 0.95, n))
    free = _hsv_to_rgb(rng.random(n), rng.uniform(0.0, 0.8, n), rng.uniform(0.1, 0.8, n))
    trousers = np.where(
        rng.random((n, 1)) < 0.7,
        _TROUSERS[rng.integers(0, len(_TROUSERS), n)] * rng.uniform(0.85, 1.15, (n, 1)),
        free,
    )
    shoes = np.where(
        rng.random((n, 1)) < 0.75, rng.uniform(0.03, 0.25, (n, 1)), rng.uniform(0.6, 0.95, (n, 1))
    ) * np.ones((1, 3))
    f32 = np.float32
    return Appearance(
        skin=np.clip(skin, 0, 1).astype(f32),
        hair=np.clip(hair, 0, 1).astype(f32),
        shirt=np.clip(shirt, 0, 1).astype(f32),
        trousers=np.clip(trousers, 0, 1).astype(f32),
        shoes=np.clip(shoes, 0, 1).astype(f32),
        bald=rng.random(n) < 0.08,
        long_sleeves=rng.random(n) < 0.5,
        shorts=rng.random(n) < 0.2,
        build=rng.uniform(0.85, 1.25, n).astype(f32),
        prop=np.clip(
            _TROUSERS[rng.integers(0, len(_TROUSERS), n)][:, ::-1] * rng.uniform(0.6, 1.3, (n, 1)),
            0,
            1,
        ).astype(f32),
    )
