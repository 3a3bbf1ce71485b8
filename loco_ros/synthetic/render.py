"""Fast numpy renderer of synthetic scenes: shaded volumetric people on a textured ground.

Geometry is real: every body part is a tapered capsule with a radius in metres, projected
with the scene intrinsics (apparent width = f * r / z), and drawn into a z-buffer, so nearer
people hide farther ones and an arm in front of the torso hides it. Per pixel a capsule
gives a surface normal (across its width and towards the camera), used for Lambert shading
with the scene light, and a surface depth (the axis depth minus the bulge).

Body parts (radii for a 1.75 m person, scaled by stature and build): torso (elliptic
cross-section 2 x ~0.2 m by 2 x 0.11 m, its apparent half-width computed for the view
direction), neck, head (an ellipsoid whose centre is ~0.11 m below head_top along the
neck -> head_top direction, so head_top is the top of the skull), hair cap, upper arms,
forearms, hands, thighs, shanks, shoes. Background (sky or wall, buildings, ground, contact
shadows): :mod:`loco_ros.synthetic.background`. Then global exposure, colour tint,
vignetting, optional blur and Gaussian sensor noise.

Only the sensor noise is drawn from ``rng``; everything else is in the Scene, so the same
scene without its people renders the same background.
"""

from __future__ import annotations

import math

import numpy as np

from loco_ros.skeleton import JOINT_INDEX
from loco_ros.synthetic.background import _background, _shadows
from loco_ros.synthetic.scene import Scene

_J = JOINT_INDEX

# Part radii (metres) for a 1.75 m person of build 1.
_R_UPPER_ARM = (0.050, 0.040)
_R_FOREARM = (0.038, 0.031)
_R_HAND = (0.036, 0.030)
_R_THIGH = (0.082, 0.057)
_R_SHANK = (0.054, 0.040)
_R_SHOE = (0.042, 0.040)
_R_NECK = 0.052
_R_HEAD = 0.079
_TORSO_DEPTH = 0.105
_TORSO_CAP = 0.45  # torso end caps squashed along the axis


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-9)


class _Parts:
    """Growing list of capsules: a, b (3,), ra, rb (m), cap, colour A/B, split t."""

    def __init__(self) -> None:
        self.rows: list[list[float]] = []

    def add(self, a, b, ra, rb, col_a, col_b=None, split=2.0, cap=1.0, person=0):
        col_b = col_a if col_b is None else col_b
        self.rows.append([*a, *b, ra, rb, cap, *col_a, *col_b, split, person])

    def array(self) -> np.ndarray:
        return np.array(self.rows, np.float64).reshape(-1, 17)


def _person_parts(parts: _Parts, scene: Scene, p: int, small: bool) -> None:
    """Append the capsules of person ``p`` (camera frame)."""
    j = scene.joints_xyz_m[p].astype(np.float64)
    app = scene.appearance
    skin, hair, shirt = app.skin[p], app.hair[p], app.shirt[p]
    trousers, shoes = app.trousers[p], app.shoes[p]
    h = float(scene.heights_m[p])
    if not math.isfinite(h):
        h = float(np.linalg.norm(j[_J["head_top"]] - j[_J["right_ankle"]])) / 0.96
    s = h / 1.75
    g = s * float(app.build[p])  # girth scale
    up_g = scene.camera.ground_up_cam
    neck, top = j[_J["neck"]], j[_J["head_top"]]
    r_sh, l_sh = j[_J["right_shoulder"]], j[_J["left_shoulder"]]
    r_hip, l_hip = j[_J["right_hip"]], j[_J["left_hip"]]
    sh_mid, hip_mid = 0.5 * (r_sh + l_sh), 0.5 * (r_hip + l_hip)
    axis = _unit(sh_mid - hip_mid)  # up the spine
    right = _unit(r_sh - l_sh)
    fwd = _unit(np.cross(axis, right))
    right = np.cross(fwd, axis)

    # Torso: tapered capsule whose radius is the elliptic cross-section seen from here.
    def seen_radius(half_w: float, centre: np.ndarray) -> float:
        e = np.cross(axis, _unit(centre))
        n = np.linalg.norm(e)
        if n < 1e-6:  # looking along the spine: take the width
            return half_w
        e = e / n
        return float(math.hypot(half_w * np.dot(right, e), _TORSO_DEPTH * g * np.dot(fwd, e)))

    half_top = 0.5 * float(np.linalg.norm(r_sh - l_sh)) + 0.045 * g
    half_bot = 0.5 * float(np.linalg.norm(r_hip - l_hip)) + 0.075 * g
    rt, rb = seen_radius(half_top, sh_mid), seen_radius(half_bot, hip_mid)
    a = sh_mid + axis * (0.03 * s - _TORSO_CAP * rt)
    b = hip_mid - axis * (0.07 * s - _TORSO_CAP * rb)
    waist = hip_mid + axis * 0.09 * s
    length = float(np.linalg.norm(b - a))
    split = float(np.dot(a - waist, axis)) / max(length, 1e-6)
    parts.add(a, b, rt, rb, shirt, trousers, split, _TORSO_CAP, p)

    # Head: ellipsoid (capsule along the head axis), centre 0.11 m below head_top.
    hd = _unit(top - neck)
    hc = top - 0.11 * s * hd
    parts.add(hc - 0.036 * s * hd, hc + 0.031 * s * hd, _R_HEAD * s, _R_HEAD * s, skin, person=p)
    if not small:
        parts.add(neck, hc - 0.05 * s * hd, _R_NECK * g, _R_NECK * g * 0.9, skin, person=p)
        if not app.bald[p]:
            hf = _unit(fwd - np.dot(fwd, hd) * hd)
            parts.add(
                hc + (0.008 * hd - 0.016 * hf) * s,
                hc + (0.036 * hd - 0.02 * hf) * s,
                0.086 * s,
                0.084 * s,
                hair,
                person=p,
            )
    if scene.poses[p] == "sitting" and not small:  # a stool: seat disc and a post
        height = float(np.dot(up_g, hip_mid)) + scene.camera.height_m  # above the ground
        seat = hip_mid - (0.09 * s) * up_g
        half = 0.5 * float(np.linalg.norm(r_hip - l_hip)) + 0.06 * s
        rgt = _unit(right - np.dot(right, up_g) * up_g)
        parts.add(seat - half * rgt, seat + half * rgt, 0.07 * s, 0.07 * s, app.prop[p], person=-1)
        ground = seat - (height - 0.09 * s) * up_g
        parts.add(seat, ground, 0.035 * s, 0.05 * s, app.prop[p] * 0.8, person=-1)
    long_sleeves, shorts = bool(app.long_sleeves[p]), bool(app.shorts[p])
    for side in ("right", "left"):
        sh, el, wr = j[_J[f"{side}_shoulder"]], j[_J[f"{side}_elbow"]], j[_J[f"{side}_wrist"]]
        hip, kn, an = j[_J[f"{side}_hip"]], j[_J[f"{side}_knee"]], j[_J[f"{side}_ankle"]]
        ra, rb_ = _R_UPPER_ARM
        parts.add(sh, el, ra * g, rb_ * g, shirt, shirt if long_sleeves else skin, 0.45, 1.0, p)
        ra, rb_ = _R_FOREARM
        parts.add(el, wr, ra * g, rb_ * g, shirt if long_sleeves else skin, person=p)
        ra, rb_ = _R_THIGH
        parts.add(hip, kn, ra * g, rb_ * g, trousers, skin if shorts else trousers, 0.75, 1.0, p)
        ra, rb_ = _R_SHANK
        parts.add(kn, an, ra * g, rb_ * g, skin if shorts else trousers, person=p)
        if small:
            continue
        fore = _unit(wr - el)
        ra, rb_ = _R_HAND
        parts.add(wr + 0.01 * s * fore, wr + 0.07 * s * fore, ra * s, rb_ * s, skin, person=p)
        foot = fwd - np.dot(fwd, up_g) * up_g
        foot = _unit(foot) if np.linalg.norm(foot) > 1e-3 else fwd
        base = an - 0.035 * s * up_g
        ra, rb_ = _R_SHOE
        parts.add(base - 0.04 * s * foot, base + 0.14 * s * foot, ra * s, rb_ * s, shoes, person=p)


def _draw_parts(img, zbuf, label, parts: np.ndarray, scene: Scene) -> None:
    """Z-buffered, Lambert-shaded tapered capsules into img (3, H, W)."""
    if len(parts) == 0:
        return
    cam, env = scene.camera, scene.environment
    w, h = cam.width, cam.height
    fx, fy = float(cam.K[0, 0]), float(cam.K[1, 1])
    cx, cy = float(cam.K[0, 2]), float(cam.K[1, 2])
    a, b = parts[:, 0:3], parts[:, 3:6]
    keep = (a[:, 2] > 0.05) & (b[:, 2] > 0.05)
    parts, a, b = parts[keep], a[keep], b[keep]
    ua = np.stack([fx * a[:, 0] / a[:, 2] + cx, fy * a[:, 1] / a[:, 2] + cy], 1)
    ub = np.stack([fx * b[:, 0] / b[:, 2] + cx, fy * b[:, 1] / b[:, 2] + cy], 1)
    rpa = fx * parts[:, 6] / a[:, 2]
    rpb = fx * parts[:, 7] / b[:, 2]
    rmax = np.maximum(rpa, rpb) + 1.0
    lo = np.floor(np.minimum(ua, ub) - rmax[:, None]).astype(int)
    hi = np.ceil(np.maximum(ua, ub) + rmax[:, None]).astype(int) + 1
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [w, h])
    ax_, ay_ = ua[:, 0], ua[:, 1]
    ex_, ey_ = ub[:, 0] - ax_, ub[:, 1] - ay_
    length_ = np.hypot(ex_, ey_)
    short = length_ < 1e-3
    length_ = np.where(short, 1e-3, length_)
    ex_ = np.where(short, 1.0, ex_ / length_)
    ey_ = np.where(short, 0.0, ey_ / length_)
    rows = np.column_stack(
        [
            lo,
            hi,
            ax_,
            ay_,
            ex_,
            ey_,
            length_,
            rpa,
            rpb,
            parts[:, 8],
            a[:, 2],
            b[:, 2],
            parts[:, 6],
            parts[:, 7],
            parts[:, 15],
            parts[:, 16],
        ]
    ).tolist()
    cols_a = parts[:, 9:12].astype(np.float32)[:, :, None, None]
    cols_b = parts[:, 12:15].astype(np.float32)[:, :, None, None]
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)
    lx, ly, lz = (float(c) for c in env.light_dir_cam)
    amb, dif = float(env.ambient), float(env.diffuse)
    for i, row in enumerate(rows):
        x0, y0, x1, y1 = int(row[0]), int(row[1]), int(row[2]), int(row[3])
        if x1 <= x0 or y1 <= y0:
            continue
        ax, ay, ex, ey, length, ra, rb, cap, za, zb_, rma, rmb, split, person = row[4:]
        if max(ra, rb) < 0.3:
            continue
        dx = (xs[x0:x1] - ax)[None, :]
        dy = (ys[y0:y1] - ay)[:, None]
        along = dx * ex + dy * ey
        perp = dy * ex - dx * ey
        alc = np.clip(along, 0.0, length)
        tc = alc * (1.0 / length)
        inv_r = 1.0 / (tc * (rb - ra) + ra)
        qp = perp * inv_r
        qa = (along - alc) * inv_r * (1.0 / cap)
        q2 = qp * qp + qa * qa
        inside = q2 < 1.0
        if not inside.any():
            continue
        bulge = np.sqrt(np.maximum(1.0 - q2, 0.0))
        # Surface depth: the axis depth minus the bulge towards the camera.
        z = tc * (zb_ - za) + za - (tc * (rmb - rma) + rma) * bulge
        zs = zbuf[y0:y1, x0:x1]
        m = inside & (z < zs)
        if not m.any():
            continue
        # Normal: across the capsule (image plane) and towards the camera (-z); Lambert.
        nx = qa * ex - qp * ey
        ny = qa * ey + qp * ex
        lam = nx * lx + ny * ly - bulge * lz
        shade = np.maximum(lam, 0.0) * dif + amb
        shade *= bulge * 0.1 + 0.9  # a little darker at the silhouette
        if split < 1.0:
            pix = cols_a[i] + (cols_b[i] - cols_a[i]) * (tc >= split)
            pix *= shade
        else:
            pix = cols_a[i] * shade
        np.copyto(zs, z, where=m)
        np.copyto(img[:, y0:y1, x0:x1], pix, where=m)
        if label is not None:
            label[y0:y1, x0:x1][m] = int(person)


_NOISE_BANK = np.random.default_rng(7).standard_normal(1 << 21, dtype=np.float32)


def render_scene(
    scene: Scene, rng: np.random.Generator, *, return_maps: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render ``scene`` to an (H, W, 3) uint8 RGB image.

    ``rng`` only draws the sensor noise. With ``return_maps`` also returns the person depth
    (H, W) float32 (surface z in metres, +inf where no person) and the person index map
    (H, W) int16 (-1 where no person), which tell who is visible where.
    """
    img, _, geo = _background(scene)
    _shadows(img, scene, geo)
    cam, env = scene.camera, scene.environment
    w, h = cam.width, cam.height
    zbuf = np.full((h, w), np.inf, np.float32)
    label = np.full((h, w), -1, np.int16) if return_maps else None
    parts = _Parts()
    fx = cam.K[0, 0]
    for p in range(scene.num_people):
        z = float(np.nanmax(scene.joints_xyz_m[p, :, 2]))
        if not (z > 0.1):
            continue
        hs = float(scene.heights_m[p]) if math.isfinite(scene.heights_m[p]) else 1.7
        small = fx * hs / max(z, 0.1) < 40.0  # under 40 px tall: skip the small parts
        _person_parts(parts, scene, p, small)
    _draw_parts(img, zbuf, label, parts.array(), scene)
    # Camera: exposure, tint, vignetting, blur, sensor noise.
    gain = (env.exposure * env.tint).astype(np.float32)[:, None, None]
    if env.vignette > 0:
        u = (np.arange(w, dtype=np.float32) - (w - 1) / 2) * (2.0 / w)
        v = (np.arange(h, dtype=np.float32) - (h - 1) / 2) * (2.0 / w)
        vig = 1.0 - (u[None, :] ** 2 + v[:, None] ** 2) * (0.5 * env.vignette)
        img *= gain * vig[None]
    else:
        img *= gain
    for _ in range(env.blur):
        img[:, 1:-1] = img[:, 1:-1] * 0.5 + (img[:, :-2] + img[:, 2:]) * 0.25
        img[:, :, 1:-1] = img[:, :, 1:-1] * 0.5 + (img[:, :, :-2] + img[:, :, 2:]) * 0.25
    n = img.size
    if n <= _NOISE_BANK.size // 2:  # a random window of a fixed bank of N(0, 1) samples
        start = int(rng.integers(0, _NOISE_BANK.size - n))
        noise = _NOISE_BANK[start : start + n].reshape(img.shape)
    else:
        noise = rng.standard_normal(img.shape, dtype=np.float32)
    img += noise * np.float32(env.noise_sigma)
    img *= 255.0
    img += 0.5
    np.clip(img, 0.0, 255.0, out=img)
    out = np.ascontiguousarray(img.astype(np.uint8).transpose(1, 2, 0))
    if return_maps:
        return out, zbuf, label
    return out
