"""3D training targets from 2D teacher labels: exact pixels, depth from the stature prior.

Real footage has no depth ground truth. BlazePose gives each person's joints in pixels and a
metric 3D shape (world landmarks, metres, hip-centred, axes along the image's). A person's
distance then follows from apparent size as it would for our own image-only depth: the
weak-perspective scale ``s`` (pixels per metre) that maps the shape's x-y spread onto the
pixel spread gives the hip-centre depth ``z0 = fx / s``; each joint's depth is ``z0`` plus its
own world-landmark depth, and it is lifted along its own pixel ray. So the 2D of the target
is the teacher's exactly; its depth is as good as BlazePose's metric body size (an average
stature), which is all a single uncalibrated image can say.

BlazePose's metric body is smaller than our rendered people: its head-top -> ankle chain is
1.54 m (median over the vtest and Sports2D labels) against 1.63 m for the renders' adults
(mean stature 1.70 m), which put real people about 6 % too close. Each person's world shape
is therefore rescaled to the renders' chain length first (:func:`body_chain_m`), so real and
rendered targets share one stature prior.
"""

from __future__ import annotations

import numpy as np

MIN_VISIBILITY = 0.1  # teacher joints less visible than this are left out of the target
# Mean body_chain_m of the renders' adults (loco_ros.synthetic.skeletons.sample_body, any pose
# of a rigid-limbed body has the same chain); test_teacher checks it against the sampler.
RENDERED_CHAIN_M = 1.632


def body_chain_m(joints_m: np.ndarray) -> float:
    """Pose-independent body length (m) of one skeleton (14, 3) in metres: head_top -> neck
    -> hip centre, plus the mean over both legs of hip -> knee -> ankle."""
    j = np.asarray(joints_m, np.float64)
    hip = (j[8] + j[11]) / 2.0

    def leg(h: int, k: int, a: int) -> float:
        return float(np.linalg.norm(j[h] - j[k]) + np.linalg.norm(j[k] - j[a]))

    return float(np.linalg.norm(j[0] - j[1]) + np.linalg.norm(j[1] - hip)
                 + (leg(8, 9, 10) + leg(11, 12, 13)) / 2.0)


def pseudo_3d_people(joints_px: np.ndarray, visibility: np.ndarray, joints_world_m: np.ndarray,
                     K: np.ndarray) -> np.ndarray:
    """(P, 14, 2) pixels, (P, 14) visibility, (P, 14, 3) world metres, K (3, 3) of the image
    -> (P, 14, 3) camera-frame metres, NaN for joints left out (people with fewer than 4
    usable joints are all NaN)."""
    uv = np.asarray(joints_px, np.float64)
    world = np.asarray(joints_world_m, np.float64)
    use = (np.asarray(visibility) >= MIN_VISIBILITY) & np.isfinite(uv).all(-1) \
        & np.isfinite(world).all(-1)
    out = np.full(world.shape, np.nan)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    for p in range(uv.shape[0]):
        m = use[p]
        if m.sum() < 4:
            continue
        chain = body_chain_m(world[p]) if np.isfinite(world[p]).all() else RENDERED_CHAIN_M
        shape_m = world[p] * (RENDERED_CHAIN_M / chain)  # (14, 3), the renders' stature
        spread_px = uv[p, m] - uv[p, m].mean(axis=0)
        spread_m = shape_m[m, :2] - shape_m[m, :2].mean(axis=0)
        denom = float(np.sum(spread_m ** 2))
        if denom <= 1e-9:
            continue
        scale = np.sqrt(float(np.sum(spread_px ** 2)) / denom)  # pixels per metre
        z = fx / scale + shape_m[m, 2]
        out[p, m, 0] = (uv[p, m, 0] - cx) * z / fx
        out[p, m, 1] = (uv[p, m, 1] - cy) * z / fy
        out[p, m, 2] = z
    out[~np.isfinite(out).all(-1)] = np.nan
    return out
