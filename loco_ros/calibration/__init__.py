"""Ground-plane self-calibration of a fixed camera from the people it sees (ROS-free).

- :mod:`loco_ros.calibration.observations`: which detected people are standing, and their
  foot / hip / head rays (one observation per person and frame), linked into tracklets.
- :mod:`loco_ros.calibration.model`: the geometry (implied stature, lean off the vertical)
  and the robust fit of camera height, pitch and roll with its uncertainty.
- :mod:`loco_ros.calibration.estimator`: the online estimator (bounded buffer, refits,
  convergence rule, persistent-misfit reset) and its YAML-saved estimate.

Typical use, one call per frame (see ``docs/self_calibration.md``)::

    calibrator = SelfCalibrator(SelfCalibrationConfig())
    estimate = calibrator.update(people, K)
    if estimate.converged:
        people = snap_with_config(people, estimate.ground_plane(), ground_config)
"""

from loco_ros.calibration.estimator import (
    CalibrationEstimate,
    SelfCalibrationConfig,
    SelfCalibrator,
    load_estimate,
    save_estimate,
)
from loco_ros.calibration.model import FitResult, fit_ground
from loco_ros.calibration.observations import Observations, standing_observations

__all__ = [
    "CalibrationEstimate",
    "FitResult",
    "Observations",
    "SelfCalibrationConfig",
    "SelfCalibrator",
    "fit_ground",
    "load_estimate",
    "save_estimate",
    "standing_observations",
]
