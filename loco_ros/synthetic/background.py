"""Background of the synthetic renderer: sky / wall, far buildings, textured ground, shadows.

Sky or wall gradient by elevation, far building facades with windows, a ray-cast ground
plane (world y = 0, see :mod:`loco_ros.synthetic.camera`) with tiles / checker / stripes /
noise, anti-aliased with distance and hazed, and soft contact shadows under people. Images
are (3, H, W) float32 linear RGB in [0, 1] before the camera effects of
:func:`loco_ros.synthetic.render.render_scene`; depths and ground coordinates in metres.
Nothing is drawn from a generator: the texture noise is fixed at import, everything else is
in the Scene, so the same scene without its people renders the same background.
"""

from __future__ import annotations

import math

import numpy as np

from loco_ros.skeleton import JOINT_INDEX
from loco_ros.synthetic.scene import Scene

_J = JOINT_INDEX
_NOISE_RNG = np.random.default_rng(20200614)
_CELL_NOISE = _NOISE_RNG.random((64, 64)).astype(np.float32)  # per-tile variation
_FINE = _NOISE_RNG.random((256, 256)).astype(np.float32)
for _ in range(2):  # smooth the fine noise a little (wrap-around binomial blur)
    _FINE = 0.5 * _FINE + 0.25 * (np.roll(_FINE, 1, 0) + np.roll(_FINE, -1, 0))
    _FINE = 0.5 * _FINE + 0.25 * (np.roll(_FINE, 1, 1) + np.roll(_FINE, -1, 1))
_FINE = (_FINE - _FINE.mean()) / (_FINE.std() + 1e-6)
_FINE = np.clip(_FINE, -2.5, 2.5).astype(np.float32)


def _mix(colours: np.ndarray, fields: list) -> np.ndarray:
    """(3, h, w) = sum_k colours[:, k] * fields[k]: colour images from scalar fields.

    Plain ufunc loops on purpose: BLAS (tensordot) stalls when the cores are busy.
    """
    shape = next(f.shape for f in fields if np.ndim(f) == 2)
    out = np.empty((3, *shape), np.float32)
    tmp = np.empty(shape, np.float32)
    for c in range(3):
        o = out[c]
        np.multiply(fields[0], float(colours[c, 0]), out=o)
        for k in range(1, len(fields)):
            np.multiply(fields[k], float(colours[c, k]), out=tmp)
            o += tmp
    return out


def _background(scene: Scene) -> tuple[np.ndarray, np.ndarray, dict]:
    """Sky/wall, buildings and ground: image (3, H, W) float32, depth and ground geometry."""
    cam, env = scene.camera, scene.environment
    w, h = cam.width, cam.height
    fx, fy = float(cam.K[0, 0]), float(cam.K[1, 1])
    cx, cy = float(cam.K[0, 2]), float(cam.K[1, 2])
    R = [[float(v) for v in row] for row in cam.R_world_cam]
    f32 = np.float32
    au = ((np.arange(w, dtype=f32) - cx) * (1.0 / fx))[None, :]
    bv = ((np.arange(h, dtype=f32) - cy) * (1.0 / fy))[:, None]
    # World direction of every pixel ray (camera centre at world (0, -height, 0)).
    dwx = R[0][0] * au + R[0][1] * bv + R[0][2]
    dwy = R[1][0] * au + R[1][1] * bv + R[1][2]
    dwz = R[2][0] * au + R[2][1] * bv + R[2][2]
    norm = np.sqrt(au * au + bv * bv + 1.0)  # |ray| (the rotation keeps it)
    sky_top = env.sky_top.astype(f32)
    sky_hor = env.sky_horizon.astype(f32)
    # Sky or wall gradient by elevation, on the rows that see above the horizon (rows
    # below see only ground or buildings).
    down = dwy > 1e-6
    sky_rows = np.flatnonzero(~down.all(axis=1))
    img = np.empty((3, h, w), f32)
    if len(sky_rows):
        r1 = int(sky_rows[-1]) + 1
        elev = np.clip(dwy[:r1] / norm[:r1] * -2.5, 0.0, 1.0)
        img[:, :r1] = _mix(np.stack([sky_hor, sky_top], 1), [1.0 - elev, elev])
    depth = np.full((h, w), np.inf, f32)
    light_w = cam.R_world_cam @ env.light_dir_cam
    haze_k = -1.0 / float(env.haze_m)
    lit = float(env.ambient + env.diffuse * max(0.0, float(-light_w[2])))  # facades face -z
    # Building facades (far first).
    for x0, x1, zb, height, r, g, b, spacing in env.buildings.tolist():
        corners = np.array([[x0, -height, zb], [x1, -height, zb], [x0, 0, zb], [x1, 0, zb]])
        cc = cam.world_to_camera(corners)
        if np.any(cc[:, 2] < 0.5):
            u0, u1, v0, v1 = 0, w, 0, h
        else:
            uv = cam.project(cc)
            u0, v0 = np.floor(uv.min(axis=0)).astype(int)
            u1, v1 = np.ceil(uv.max(axis=0)).astype(int) + 1
            u0, u1, v0, v1 = max(u0, 0), min(u1, w), max(v0, 0), min(v1, h)
        if u1 <= u0 or v1 <= v0:
            continue
        sz = dwz[v0:v1, u0:u1]
        t = zb / np.maximum(sz, f32(1e-6))
        X = t * dwx[v0:v1, u0:u1]
        Y = t * dwy[v0:v1, u0:u1] - cam.height_m
        dist = t * norm[v0:v1, u0:u1]
        m = (sz > 1e-6) & (X >= x0) & (X <= x1) & (Y >= -height) & (Y <= 0.0)
        m &= dist < depth[v0:v1, u0:u1]
        if not m.any():
            continue
        col = np.array([r, g, b], f32) * f32(lit)
        haze = 1.0 - np.exp(dist * haze_k)
        if spacing > 0:
            fu = np.mod((X - x0) * (1.0 / spacing), 1.0)
            fv = np.mod(Y * (-1.0 / spacing), 1.0)
            win = ((fu > 0.25) & (fu < 0.75) & (fv > 0.3) & (fv < 0.75) & (Y < -0.5)).astype(f32)
        else:
            win = f32(0.0)
        keep = 1.0 - haze
        patch = _mix(
            np.stack([col, sky_hor], 1), [keep * (1.0 - 0.55 * win), keep * 0.25 * win + haze]
        )
        np.copyto(img[:, v0:v1, u0:u1], patch, where=m[None])
        np.copyto(depth[v0:v1, u0:u1], dist, where=m)
    # Ground plane y = 0 (world): rays going down hit it.
    t = cam.height_m / np.where(down, dwy, f32(1.0))
    t *= down
    gx, gz = t * dwx, t * dwz
    gdist = t * norm  # 0 where the ray misses the ground
    ground = down & (gdist < depth)
    geo = {"ground": ground, "gx": gx, "gz": gz}
    rows = np.flatnonzero(ground.any(axis=1))
    if len(rows):
        sl = np.s_[int(rows[0]) :, :]  # the ground occupies the rows below the horizon
        X, Z, dist = gx[sl], gz[sl], np.where(ground[sl], gdist[sl], f32(0.0))
        grazing = np.maximum(dwy[sl] / norm[sl], f32(0.02))
        foot = dist / (grazing * fx)  # metres per pixel on the ground, along depth
        tile = float(env.tile_m)
        xt, zt = X * (1.0 / tile), Z * (1.0 / tile)
        ix, iz = np.floor(xt), np.floor(zt)
        ixi, izi = ix.astype(np.int32), iz.astype(np.int32)
        cell = _CELL_NOISE.ravel()[((ixi & 63) << 6) | (izi & 63)]
        a, b2, gr = (env.ground_a.astype(f32), env.ground_b.astype(f32), env.grout.astype(f32))
        # pattern = A * F1 + B * F2 for a style-dependent pair of colours and fields.
        style = env.ground_style
        if style == 0:  # tiles with grout lines
            line = (np.minimum(xt - ix, zt - iz) < 0.05).astype(f32)
            col_a, col_b, mean = a, gr, a * 0.9 + gr * 0.1
            f1, f2 = (1.0 - line) * (cell * 0.2 + 0.9), line
        elif style == 1:  # checker
            odd = ((ixi + izi) & 1).astype(f32)
            c = cell * 0.1 + 0.95
            col_a, col_b, mean = a, b2, (a + b2) * 0.5
            f1, f2 = (1.0 - odd) * c, odd * c
        elif style == 2:  # plain with blotches
            col_a, col_b, mean = a, b2, a
            f1, f2 = cell * 0.3 + 0.85, np.zeros_like(cell)
        else:  # stripes (planks, lanes)
            odd = (ixi & 1).astype(f32)
            col_a, col_b, mean = a, b2, (a + b2) * 0.5
            f1, f2 = 1.0 - odd, odd
        flat = _FINE.ravel()
        fine = flat[(((X * 5.0).astype(np.int32) & 255) << 8) | ((Z * 5.0).astype(np.int32) & 255)]
        fine += (
            flat[
                ((((X * 23.0).astype(np.int32) + 97) & 255) << 8)
                | (((Z * 23.0).astype(np.int32) + 31) & 255)
            ]
            * 0.7
        )
        wgt = np.clip(1.5 - foot * (4.0 / tile), 0.0, 1.0)  # fade the pattern when tiny
        glit = float(env.ambient + env.diffuse * max(0.0, float(-light_w[1])))
        haze = 1.0 - np.exp(dist * haze_k)
        k1 = (1.0 - haze) * glit
        tex = (fine * float(env.texture_amp) + 1.0) * wgt * k1
        col = _mix(
            np.stack([mean, col_a, col_b, sky_hor], 1),
            [k1 * (1.0 - wgt), tex * f1, tex * f2, haze],
        )
        np.copyto(img[:, sl[0]], col, where=ground[sl][None])
        np.copyto(depth[sl], dist, where=ground[sl])
    return img, depth, geo


def _shadows(img: np.ndarray, scene: Scene, geo: dict) -> None:
    """Soft contact shadows on the ground under every person (img is (3, H, W))."""
    cam = scene.camera
    n = cam.ground_up_cam
    w, h = cam.width, cam.height
    ground = geo["ground"]
    for p in range(scene.num_people):
        j = scene.joints_xyz_m[p].astype(np.float64)
        pts = j[[_J["right_ankle"], _J["left_ankle"], _J["right_hip"], _J["left_hip"]]]
        centre_c = pts.mean(axis=0)
        centre_c = centre_c - (np.dot(n, centre_c) + cam.height_m) * n  # onto the ground
        cw = cam.camera_to_world(centre_c)
        hs = float(scene.heights_m[p]) if math.isfinite(scene.heights_m[p]) else 1.7
        spread = np.ptp(cam.camera_to_world(pts)[:, [0, 2]], axis=0)
        rad = 0.3 * hs / 1.75 + 0.5 * float(spread.max())
        ring = cw + rad * np.array([[1, 0, 0], [-1, 0, 0], [0, 0, 1], [0, 0, -1.0]])
        rc = cam.world_to_camera(ring)
        if np.any(rc[:, 2] < 0.2):
            continue
        uv = cam.project(rc)
        u0, v0 = np.floor(uv.min(axis=0)).astype(int)
        u1, v1 = np.ceil(uv.max(axis=0)).astype(int) + 1
        u0, u1, v0, v1 = max(u0, 0), min(u1, w), max(v0, 0), min(v1, h)
        if u1 <= u0 or v1 <= v0:
            continue
        dx = geo["gx"][v0:v1, u0:u1] - np.float32(cw[0])
        dz = geo["gz"][v0:v1, u0:u1] - np.float32(cw[2])
        shade = 1.0 - 0.45 * np.exp((dx * dx + dz * dz) * np.float32(-2.0 / (rad * rad)))
        shade = np.where(ground[v0:v1, u0:u1], shade, np.float32(1.0))
        img[:, v0:v1, u0:u1] *= shade[None]
