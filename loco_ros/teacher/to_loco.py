"""BlazePose's 33 body landmarks -> LoCO's 14 joints (:data:`loco_ros.skeleton.JOINT_NAMES`).

Limb joints are taken as they are (BlazePose's left/right are the person's own, like ours).
BlazePose has no neck and no head top, and the shoulder midpoint is not the JTA neck: JTA's
neck sits above the shoulder line and its head_top is the top of the skull. Our synthetic
people (:mod:`loco_ros.synthetic.skeletons`) use the anthropometric fractions of the stature
H: shoulder line 0.82 H, neck joint 0.865 H, head top H; the ear (tragus) sits at about
0.925 H. With ``s`` the shoulder midpoint (11, 12), ``e`` the ear midpoint (7, 8) and
``v = e - s`` (about 0.105 H long on an upright person):

- **neck** = ``s + 0.43 v``   ((0.865 - 0.82) / 0.105 = 0.43 of the way from shoulders to ears)
- **head_top** = ``e + 0.71 v``   ((1 - 0.925) / 0.105 = 0.71 beyond the ears, same direction)

The same rule is applied to the image points (pixels) and to the 3D world landmarks (metres).
Visibility: neck = mean of the two shoulders', head_top = the larger of the two ears' (one ear
is hidden in profile, the head top is not), limb joints their own.
"""

from __future__ import annotations

import numpy as np

NECK_FRACTION = 0.43
HEAD_TOP_FRACTION = 0.71
NECK_RULE = (f"neck = shoulder_mid + {NECK_FRACTION} * (ear_mid - shoulder_mid) "
             "(BlazePose 11/12 shoulders, 7/8 ears); visibility = mean of the shoulders'")
HEAD_TOP_RULE = (f"head_top = ear_mid + {HEAD_TOP_FRACTION} * (ear_mid - shoulder_mid) "
                 "(BlazePose 7/8 ears, 11/12 shoulders); visibility = max of the ears'")

# LoCO joints 2..13 from BlazePose indices (right_shoulder ... left_ankle).
LIMB_SOURCES = (12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27)


def to_loco(points: np.ndarray, visibility: np.ndarray):
    """BlazePose points (>= 33, D) and visibility (>= 33,) -> LoCO (14, D) and (14,).

    D is 2 (pixels) or 3 (metres); works for any units since the rule is affine.
    """
    p = np.asarray(points, dtype=np.float64)
    vis = np.asarray(visibility, dtype=np.float64)
    shoulder_mid = (p[11] + p[12]) / 2.0
    ear_mid = (p[7] + p[8]) / 2.0
    v = ear_mid - shoulder_mid
    out = np.empty((14, p.shape[1]))
    out[0] = ear_mid + HEAD_TOP_FRACTION * v
    out[1] = shoulder_mid + NECK_FRACTION * v
    out[2:] = p[list(LIMB_SOURCES)]
    out_vis = np.empty(14)
    out_vis[0] = max(vis[7], vis[8])
    out_vis[1] = (vis[11] + vis[12]) / 2.0
    out_vis[2:] = vis[list(LIMB_SOURCES)]
    return out, out_vis
