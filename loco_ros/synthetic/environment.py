"""Background and global lighting of a synthetic scene: sky / wall, buildings, ground, light.

Colours are RGB fractions in [0, 1]; building positions and sizes, tile size and haze
distance in metres (world frame, see :mod:`loco_ros.synthetic.camera`); the light direction
is a unit vector in the camera frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loco_ros.synthetic.appearance import _hsv_to_rgb
from loco_ros.synthetic.camera import Camera


@dataclass(frozen=True, eq=False)
class Environment:
    """Everything the background and global lighting need (colours RGB in [0, 1]).

    ``buildings`` (B, 8): x0, x1, z (world, metres), height (m), r, g, b, window spacing (m,
    0 = plain). ``light_dir_cam``: unit vector towards the light, camera frame.
    """

    sky_top: np.ndarray
    sky_horizon: np.ndarray
    ground_a: np.ndarray
    ground_b: np.ndarray
    grout: np.ndarray
    ground_style: int  # 0 tiles, 1 checker, 2 noise only, 3 stripes
    tile_m: float
    texture_amp: float
    haze_m: float
    buildings: np.ndarray
    light_dir_cam: np.ndarray
    ambient: float
    diffuse: float
    exposure: float
    tint: np.ndarray
    noise_sigma: float
    blur: int  # passes of a 3x3 binomial blur
    vignette: float


def sample_environment(rng: np.random.Generator, camera: Camera) -> Environment:
    """Random background, ground texture and lighting for ``camera``."""
    outdoor = rng.random() < 0.75
    if outdoor:
        sky_top = np.array([0.25, 0.45, 0.85]) * rng.uniform(0.6, 1.15) + rng.uniform(-0.1, 0.1, 3)
        sky_horizon = np.clip(sky_top + rng.uniform(0.15, 0.45), 0, 1)
        if rng.random() < 0.3:  # overcast
            grey = rng.uniform(0.55, 0.9)
            sky_top, sky_horizon = np.full(3, grey * 0.9), np.full(3, grey)
    else:  # indoor-like: a wall colour gradient
        wall = _hsv_to_rgb(rng.random(1), rng.uniform(0, 0.35, 1), rng.uniform(0.35, 0.9, 1))[0]
        sky_top, sky_horizon = wall * rng.uniform(0.6, 0.9), wall
    base = _hsv_to_rgb(rng.random(1), rng.uniform(0.0, 0.45, 1), rng.uniform(0.2, 0.75, 1))[0]
    ground_b = np.clip(base * rng.uniform(0.6, 1.3, 3), 0, 1)
    # Buildings (or one far wall) as vertical facades facing the camera.
    hfov = math.atan((camera.width / 2.0) / camera.K[0, 0])
    rows = []
    if outdoor:
        for _ in range(int(rng.integers(0, 9))):
            z = rng.uniform(30.0, 90.0)
            half = z * math.tan(hfov) * 1.2
            x0 = rng.uniform(-half, half)
            w = rng.uniform(6.0, 30.0)
            col = _hsv_to_rgb(rng.random(1), rng.uniform(0, 0.35, 1), rng.uniform(0.25, 0.85, 1))
            rows.append(
                [
                    x0,
                    x0 + w,
                    z,
                    rng.uniform(4.0, 40.0),
                    *col[0],
                    rng.choice([0.0, rng.uniform(2.5, 4.5)]),
                ]
            )
    else:
        z = rng.uniform(26.0, 45.0)
        col = np.clip(sky_horizon * rng.uniform(0.7, 1.1), 0, 1)
        rows.append(
            [
                -500.0,
                500.0,
                z,
                rng.uniform(3.0, 12.0),
                *col,
                rng.choice([0.0, rng.uniform(2.5, 5.0)]),
            ]
        )
    buildings = np.array(rows, np.float64).reshape(-1, 8)
    buildings = buildings[np.argsort(-buildings[:, 2])]  # far first
    # Sun/ceiling light above, from a random azimuth, in world; then into the camera frame.
    el = math.radians(rng.uniform(20.0, 80.0))
    az = rng.uniform(0.0, 2.0 * math.pi)
    light_w = np.array([math.cos(el) * math.sin(az), -math.sin(el), math.cos(el) * math.cos(az)])
    light_c = camera.R_world_cam.T @ light_w
    return Environment(
        sky_top=np.clip(sky_top, 0, 1).astype(np.float32),
        sky_horizon=np.clip(sky_horizon, 0, 1).astype(np.float32),
        ground_a=base.astype(np.float32),
        ground_b=ground_b.astype(np.float32),
        grout=np.clip(base * rng.uniform(0.4, 1.4), 0, 1).astype(np.float32),
        ground_style=int(rng.integers(0, 4)),
        tile_m=float(rng.uniform(0.3, 2.0)),
        texture_amp=float(rng.uniform(0.03, 0.18)),
        haze_m=float(rng.uniform(150.0, 600.0)),
        buildings=buildings,
        light_dir_cam=(light_c / np.linalg.norm(light_c)).astype(np.float32),
        ambient=float(rng.uniform(0.35, 0.6)),
        diffuse=float(rng.uniform(0.35, 0.75)),
        exposure=float(rng.uniform(0.7, 1.25)),
        tint=np.clip(1.0 + rng.normal(0.0, 0.05, 3), 0.85, 1.15).astype(np.float32),
        noise_sigma=float(rng.uniform(0.003, 0.03)),
        blur=int(rng.choice([0, 0, 0, 1, 2])),
        vignette=float(rng.uniform(0.0, 0.25)),
    )
