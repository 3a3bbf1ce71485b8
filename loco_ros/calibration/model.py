"""The geometry of standing people seen by a camera above flat ground, and its robust fit.

Frames: the camera optical frame (x right, y down, z forward) and the *level* frame of
:func:`loco_ros.decoding.ground_plane.tilt_rotation` (the camera turned back to level, same origin:
x right, y down along gravity, z forward horizontally). The camera is ``h`` above the
ground, pitched down by ``pitch`` and rolled by ``roll``; a camera ray r becomes
``R(pitch, roll) @ r`` in the level frame, where the ground is y = h.

Two residuals per standing person (observation i: ankle centre, hip centre, head top rays):

1. **Stature.** The ankle centre is at ``alpha * T`` above the ground and the head top at
   T (the person's head-top height), straight above it. Writing d_f, d_h for the level-frame
   foot and head rays and q for their horizontal (x, z) parts, the head's horizontal point
   equals the foot's along the foot's azimuth when ``m = kappa d_h.y / d_f.y`` with
   ``kappa = |q_f|^2 / (q_h . q_f)``; then ``T = h (1 - m) / (1 - alpha m)``. So
   ``log T_i = log h + log f_i(pitch, roll)``: the implied head-top height is linear in
   log h. Its residual is ``(log T_i - log T_prior) / s_i`` with s_i^2 the stature prior's
   relative spread squared plus the relative pixel error of the person's image length.
2. **Lean.** The head top must lie on the image line from the hip centre towards the
   vertical vanishing point ``K up`` (up = the ground normal in the camera frame). The
   angle between the hip -> head vector and that line, over ``lean_sigma`` (body lean) and
   the pixel error of the torso, is the second residual. It fixes roll and, with people
   across the image, pitch; the stature residual fixes height and, with people at many
   distances, pitch again (the horizon).

This is the pedestrian autocalibration of Lv, Zhao and Nevatia (2006), Liu, Collins and
Liu ("Surveillance camera autocalibration based on pedestrian height distributions", 2011)
and Brouwers, Zanten and de With (ECCV-W 2016) written as one robust least-squares problem
in (pitch, roll, log h) with intrinsics known.

The fit: a coarse grid over pitch and roll (log h profiled out in closed form, a weighted
median) picks the start, then Levenberg-Marquardt with iteratively reweighted Cauchy
weights. Its covariance is the cluster-robust sandwich over tracklets (observations of one
person share its stature), and the variance of log h is never below the stature prior's
relative variance over the number of distinct people (the spread of human stature averages
out only over different people).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CAUCHY_C = 2.385  # 95 % efficiency at the normal distribution
INVALID_RESIDUAL = 30.0  # residual given to an observation the hypothesis cannot explain
INLIER_LIMIT = 3.0


@dataclass(frozen=True)
class Prior:
    """What is assumed about people (log units for heights, radians for lean).

    log_top_mean, log_top_std: a person's head-top height across people; log_within_std:
    the spread of one person's implied head-top height over frames (gait, pose); lean_sigma:
    a person's mean lean off the vertical across people (walkers lean into their walk);
    lean_within: one person's lean spread over frames; ankle_fraction: ankle-centre height
    over head-top height.
    """

    log_top_mean: float
    log_top_std: float
    ankle_fraction: float
    lean_sigma: float
    log_within_std: float = 0.025
    lean_within: float = 0.045


@dataclass(frozen=True)
class FitResult:
    """A fit of (pitch, roll, log h) with its covariance (radians, radians, log metres)."""

    pitch_rad: float
    roll_rad: float
    camera_height_m: float
    cov: np.ndarray  # (3, 3) of (pitch, roll, log h)
    inliers: np.ndarray  # (N,) bool
    people: int  # distinct tracklets among the inliers
    cost: float

    @property
    def std(self) -> tuple[float, float, float]:
        """1-sigma of (pitch_rad, roll_rad, camera_height_m)."""
        d = np.sqrt(np.maximum(np.diag(self.cov), 0.0))
        return float(d[0]), float(d[1]), float(self.camera_height_m * d[2])


def _rotations(pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(G, 3, 3) :func:`tilt_rotation` for arrays of angles (vectorised)."""
    cp, sp, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    z, o = np.zeros_like(pitch), np.ones_like(pitch)
    P = np.stack([np.stack([o, z, z], -1), np.stack([z, cp, sp], -1),
                  np.stack([z, -sp, cp], -1)], -2)
    Rr = np.stack([np.stack([cr, -sr, z], -1), np.stack([sr, cr, z], -1),
                   np.stack([z, z, o], -1)], -2)
    return P @ Rr


def log_scale_and_lean(pitch: np.ndarray, roll: np.ndarray, foot: np.ndarray, hip: np.ndarray,
                       head: np.ndarray, ankle_fraction: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For G hypotheses (pitch, roll (G,) rad) and N observations (normalised (N, 2)):
    log f (G, N) with head-top height T = h f, the lean angle (G, N) rad, and valid (G, N)
    (the foot ray goes down and the head is above the foot under that hypothesis).

    Written out for the rotation of :func:`_rotations` (``R = P(pitch) Rr(roll)``): a ray
    (x, y, 1) becomes ``(cr x - sr y, cp a + sp, cp - sp a)`` with ``a = sr x + cr y``;
    the up direction in the camera frame is ``-(cp sr, cp cr, sp)``."""
    pitch = np.atleast_1d(np.asarray(pitch, np.float64))[:, None]
    roll = np.atleast_1d(np.asarray(roll, np.float64))[:, None]
    cp, sp, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)

    def level(ray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y = ray[:, 0], ray[:, 1]
        a = sr * x + cr * y
        return cr * x - sr * y, cp * a + sp, cp - sp * a

    fx, fy, fz = level(foot)
    hx, hy, hz = level(head)
    dot = fx * hx + fz * hz
    valid = (fy > 1e-6) & (dot > 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = (fx * fx + fz * fz) / dot * hy / fy
        valid &= m < 1.0 - 1e-6
        logf = np.log((1.0 - m) / (1.0 - ankle_fraction * m))
    valid &= np.isfinite(logf)
    # Lean: towards the vertical vanishing point of up = -(cp sr, cp cr, sp) from the hip.
    u0, u1, u2 = -cp * sr, -cp * cr, -sp  # (G, 1)
    d0 = u0 - hip[:, 0] * u2  # (G, N)
    d1 = u1 - hip[:, 1] * u2
    e0, e1 = head[:, 0] - hip[:, 0], head[:, 1] - hip[:, 1]
    lean = np.arctan2(d0 * e1 - d1 * e0, d0 * e0 + d1 * e1)
    return np.where(valid, logf, 0.0), lean, valid


def _sigmas(foot, hip, head, noise, prior: Prior) -> tuple[np.ndarray, np.ndarray]:
    """Per-observation 1-sigma of the within-person stature (log) and lean (rad) residuals:
    the person's own variation plus the pixel error over the image length."""
    length = np.maximum(np.linalg.norm(head - foot, axis=1), 1e-9)
    torso = np.maximum(np.linalg.norm(head - hip, axis=1), 1e-9)
    s_stature = np.sqrt(prior.log_within_std ** 2 + 2.0 * (noise / length) ** 2)
    s_lean = np.sqrt(prior.lean_within ** 2 + 2.0 * (noise / torso) ** 2)
    return s_stature, s_lean


def _rho(r: np.ndarray) -> np.ndarray:
    return 0.5 * CAUCHY_C ** 2 * np.log1p((r / CAUCHY_C) ** 2)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted median along the last axis (G, N) -> (G,)."""
    order = np.argsort(values, axis=-1)
    v = np.take_along_axis(values, order, -1)
    w = np.take_along_axis(weights, order, -1)
    c = np.cumsum(w, -1)
    half = 0.5 * c[..., -1:]
    idx = np.minimum(np.sum(c < half, -1), values.shape[-1] - 1)
    return np.take_along_axis(v, idx[..., None], -1)[..., 0]


class _Problem:
    """Residuals with a random effect per tracklet: each person has its own stature and its
    own mean lean (shrunk towards the prior), profiled out in closed form. Rows: N
    within-person stature residuals, N within-person lean residuals, C person stature
    residuals, C person lean residuals."""

    def __init__(self, foot, hip, head, noise, prior: Prior, tracklet=None):
        self.foot, self.hip, self.head = foot, hip, head
        self.prior = prior
        self.s_stature, self.s_lean = _sigmas(foot, hip, head, noise, prior)
        n = foot.shape[0]
        tracklet = np.arange(n) if tracklet is None else np.asarray(tracklet)
        self.labels, self.cluster = np.unique(tracklet, return_inverse=True)
        self.C = self.labels.size
        self.row_cluster = np.concatenate([self.cluster, self.cluster, np.arange(self.C),
                                           np.arange(self.C)])

    def _shrunk_mean(self, values: np.ndarray, w: np.ndarray, prior_var: float) -> np.ndarray:
        """(G, C) per-cluster mean of values (G, N) with weights w (G, N), shrunk to 0."""
        G = values.shape[0]
        idx = (np.arange(G)[:, None] * self.C + self.cluster[None]).ravel()
        num = np.bincount(idx, (w * values).ravel(), G * self.C).reshape(G, self.C)
        den = np.bincount(idx, w.ravel(), G * self.C).reshape(G, self.C)
        return num / (den + 1.0 / prior_var)

    def geometry(self, pitch, roll) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`log_scale_and_lean` of the observations for G hypotheses."""
        return log_scale_and_lean(pitch, roll, self.foot, self.hip, self.head,
                                  self.prior.ankle_fraction)

    def residuals(self, pitch, roll, logh, geometry=None) -> tuple[np.ndarray, np.ndarray]:
        """(G, 2N + 2C) residuals (INVALID_RESIDUAL where invalid) and valid (G, N);
        ``geometry``: :meth:`geometry` of (pitch, roll) when already known."""
        logf, lean, valid = self.geometry(pitch, roll) if geometry is None else geometry
        logh = np.atleast_1d(np.asarray(logh, np.float64))[:, None]
        dev = logf + logh - self.prior.log_top_mean  # log(implied / prior head-top height)
        ws = np.where(valid, 1.0 / self.s_stature ** 2, 0.0)
        wl = np.where(valid, 1.0 / self.s_lean ** 2, 0.0)
        b_stature = self._shrunk_mean(dev, ws, self.prior.log_top_std ** 2)
        b_lean = self._shrunk_mean(lean, wl, self.prior.lean_sigma ** 2)
        rs = np.where(valid, (dev - b_stature[:, self.cluster]) / self.s_stature,
                      INVALID_RESIDUAL)
        rl = np.where(valid, (lean - b_lean[:, self.cluster]) / self.s_lean, INVALID_RESIDUAL)
        return np.concatenate([rs, rl, b_stature / self.prior.log_top_std,
                               b_lean / self.prior.lean_sigma], axis=1), valid

    def profiled_logh(self, pitch, roll, geometry=None) -> np.ndarray:
        logf, _, valid = self.geometry(pitch, roll) if geometry is None else geometry
        w = np.where(valid, 1.0 / self.s_stature ** 2, 0.0) + 1e-12
        return _weighted_median(self.prior.log_top_mean - logf, w)

    def cost(self, pitch, roll, logh, geometry=None) -> np.ndarray:
        r, _ = self.residuals(pitch, roll, logh, geometry)
        return np.sum(_rho(r), -1)


def grid_start(problem: _Problem, pitch_range_deg: tuple[float, float],
               roll_range_deg: tuple[float, float], pitch_step_deg: float = 4.0,
               roll_step_deg: float = 3.0) -> tuple[float, float, float]:
    """(pitch, roll, log h) of the lowest robust cost on a coarse grid."""
    pitches = np.radians(np.arange(pitch_range_deg[0], pitch_range_deg[1] + 1e-9,
                                   pitch_step_deg))
    rolls = np.radians(np.arange(roll_range_deg[0], roll_range_deg[1] + 1e-9, roll_step_deg))
    P, Rr = np.meshgrid(pitches, rolls, indexing="ij")
    P, Rr = P.ravel(), Rr.ravel()
    geometry = problem.geometry(P, Rr)  # shared by the profiled height and the cost
    logh = problem.profiled_logh(P, Rr, geometry)
    cost = problem.cost(P, Rr, logh, geometry)
    best = int(np.argmin(cost))
    return float(P[best]), float(Rr[best]), float(logh[best])


def _refine(problem: _Problem, start: tuple[float, float, float], iterations: int = 10
            ) -> tuple[np.ndarray, float]:
    """Levenberg-Marquardt with Cauchy IRLS weights from ``start``; (params, cost)."""
    p = np.array(start, np.float64)
    cost = float(problem.cost(p[0], p[1], p[2])[0])
    lam = 1e-3
    for _ in range(iterations):
        r, J, w = _linearise(problem, p)
        A = J.T @ (w[:, None] * J)
        g = J.T @ (w * r)
        improved = False
        for _try in range(6):
            step = -np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-9), g)
            q = p + step
            q[:2] = np.clip(q[:2], -1.4, 1.4)
            c = float(problem.cost(q[0], q[1], q[2])[0])
            if c < cost:
                gain = cost - c
                p, cost, lam, improved = q, c, max(lam / 3.0, 1e-7), gain > 1e-6 * cost
                break
            lam *= 4.0
        if not improved or np.max(np.abs(step)) < 1e-7:
            break
    return p, cost


def _linearise(problem: _Problem, p: np.ndarray, eps: float = 1e-6):
    """Residuals (R,), Jacobian (R, 3) and IRLS weights (R,) at p; rows of observations
    invalid at p get weight 0."""
    pitch = np.array([p[0], p[0] + eps, p[0], p[0]])
    roll = np.array([p[1], p[1], p[1] + eps, p[1]])
    logh = np.array([p[2], p[2], p[2], p[2] + eps])
    # the geometry does not depend on log h: the 4th hypothesis shares the 1st's
    logf, lean, valid3 = problem.geometry(pitch[:3], roll[:3])
    rows = [0, 1, 2, 0]
    r4, valid = problem.residuals(pitch, roll, logh, (logf[rows], lean[rows], valid3[rows]))
    r = r4[0]
    J = ((r4[1:] - r4[0]) / eps).T
    n = problem.foot.shape[0]
    ok_obs = valid.all(0)
    ok = np.concatenate([ok_obs, ok_obs, np.ones(2 * problem.C, bool)])
    w = np.where(ok, 1.0 / (1.0 + (r / CAUCHY_C) ** 2), 0.0)
    J[~ok] = 0.0
    del n
    return np.where(ok, r, 0.0), J, w


def fit_ground(foot: np.ndarray, hip: np.ndarray, head: np.ndarray, noise: np.ndarray,
               tracklet: np.ndarray, prior: Prior, start: tuple[float, float, float] | None,
               pitch_range_deg: tuple[float, float] = (-20.0, 70.0),
               roll_range_deg: tuple[float, float] = (-15.0, 15.0),
               grid_max_observations: int = 200, group: np.ndarray | None = None,
               iterations: int = 10) -> FitResult | None:
    """Robust fit of (pitch, roll, h) to N observations (see module docstring).

    The refinement starts from ``start`` (pitch_rad, roll_rad, log h) and from the best
    point of the grid search over at most ``grid_max_observations`` evenly spaced
    observations (0: no grid; then ``start`` is needed). ``group``: (N,) a conservative
    grouping of the tracklets into people (default: the tracklets): the uncertainty is
    clustered by group and the people counted by group. None with fewer than 3 observations
    or a degenerate problem.
    """
    if foot.shape[0] < 3:
        return None
    problem = _Problem(foot, hip, head, noise, prior, tracklet)
    starts = []
    if grid_max_observations > 0 or start is None:
        n = foot.shape[0]
        pick = np.unique(np.linspace(0, n - 1, min(n, max(grid_max_observations, 10)))
                         .astype(int))
        sub = _Problem(foot[pick], hip[pick], head[pick], noise[pick], prior, tracklet[pick])
        starts.append(grid_start(sub, pitch_range_deg, roll_range_deg))
    if start is not None:
        starts.append(tuple(float(v) for v in start))
    best = None
    for s in starts:
        p, cost = _refine(problem, s, iterations)
        if best is None or cost < best[1]:
            best = (p, cost)
    p, cost = best
    r, J, w = _linearise(problem, p)
    n = foot.shape[0]
    rs, rl = r[:n], r[n:2 * n]
    valid = w[:n] > 0
    inliers = valid & (np.abs(rs) < INLIER_LIMIT) & (np.abs(rl) < INLIER_LIMIT)
    A = J.T @ (w[:, None] * J)
    if not np.all(np.isfinite(A)) or np.linalg.cond(A) > 1e12:
        return None
    A_inv = np.linalg.inv(A)
    # Cluster-robust sandwich over tracklets.
    contrib = J * (w * r)[:, None]  # (R, 3)
    group = tracklet if group is None else np.asarray(group)
    # a tracklet's group (all rows of a tracklet share it)
    tracklet_group = np.zeros(problem.C, np.int64)
    tracklet_group[problem.cluster] = group
    _, row_group = np.unique(tracklet_group[problem.row_cluster], return_inverse=True)
    clusters = int(row_group.max()) + 1
    g = np.zeros((clusters, 3))
    np.add.at(g, row_group, contrib)
    B = g.T @ g * (clusters / max(clusters - 1, 1))
    sandwich = A_inv @ B @ A_inv
    var = np.maximum(np.diag(sandwich), np.diag(A_inv))
    people = int(np.unique(group[inliers]).size)
    var[2] = max(var[2], prior.log_top_std ** 2 / max(people, 1))
    cov = 0.5 * (sandwich + sandwich.T)
    d_old = np.sqrt(np.maximum(np.diag(cov), 1e-30))
    d_new = np.sqrt(var)
    cov = cov / np.outer(d_old, d_old) * np.outer(d_new, d_new)  # keep correlations
    if not np.all(np.isfinite(cov)):
        return None
    return FitResult(pitch_rad=float(p[0]), roll_rad=float(p[1]),
                     camera_height_m=float(math.exp(p[2])), cov=cov, inliers=inliers,
                     people=people, cost=float(cost))


def residuals_at(foot, hip, head, noise, prior: Prior, pitch_rad: float, roll_rad: float,
                 camera_height_m: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Under a given mount, per observation (N,): log(implied / prior head-top height) over
    the prior's log spread (the person's own stature counts as misfit here), the lean over
    its spread, valid, and the log ratio itself."""
    logf, lean, valid = log_scale_and_lean(pitch_rad, roll_rad, foot, hip, head,
                                           prior.ankle_fraction)
    s_stature, s_lean = _sigmas(foot, hip, head, noise, prior)
    dev = logf[0] + math.log(camera_height_m) - prior.log_top_mean
    rs = dev / np.sqrt(prior.log_top_std ** 2 + s_stature ** 2)
    rl = lean[0] / np.sqrt(prior.lean_sigma ** 2 + s_lean ** 2)
    return rs, rl, valid[0], dev


def ground_depth_log_std(foot: np.ndarray, pitch_rad: float, roll_rad: float,
                         cov: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """(N,) relative 1-sigma of the depth the plane gives each foot ray (normalised (N, 2)).

    A ground point seen along the ray r is at camera depth ``h / (R r).y`` (``R`` the level
    rotation of :func:`_rotations`), so ``log depth = log h - log (R r).y``; its variance is
    ``g^T cov g`` with ``g`` its gradient in (pitch, roll, log h). NaN for rays that do not
    meet the ground under the estimate. This is what snapping a person's ankle to the
    estimated plane costs in depth, to compare with the stature cue's spread."""
    foot = np.asarray(foot, np.float64).reshape(-1, 2)
    R = _rotations(np.array([pitch_rad, pitch_rad + eps, pitch_rad]),
                   np.array([roll_rad, roll_rad, roll_rad + eps]))
    rays = np.concatenate([foot, np.ones((foot.shape[0], 1))], 1)
    y = np.einsum("gj,nj->gn", R[:, 1, :], rays)  # (3, N) level-frame y of the rays
    with np.errstate(divide="ignore", invalid="ignore"):
        logy = np.where(y > 1e-9, np.log(np.maximum(y, 1e-12)), np.nan)
        g = np.stack([-(logy[1] - logy[0]) / eps, -(logy[2] - logy[0]) / eps,
                      np.ones(foot.shape[0])], 1)  # (N, 3)
        var = np.einsum("ni,ij,nj->n", g, np.asarray(cov, np.float64), g)
    return np.where(np.isfinite(logy[0]), np.sqrt(np.maximum(var, 0.0)), np.nan)
