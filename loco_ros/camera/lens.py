"""The camera of an image: K, lens distortion D, P, binning and ROI of a CameraInfo (no ROS).

Shape letters: N points. Pixels ``(u, v)`` have the top-left pixel centre at (0, 0); the
distortion coefficients act on normalised coordinates ``((u - cx) / fx, (v - cy) / fy)``, so
they are dimensionless and the same for every binning, ROI or resize of the image.

A CameraInfo gives K (raw image) and P (rectified image) at the calibration resolution
``width x height``. The image a camera delivers may be a ROI of the sensor and binned; the
intrinsics of that image follow ROS image_geometry's PinholeCameraModel: binning 0 means 1, an
all-zero ROI means the full image, ``fx' = fx / binning_x``, ``cx' = (cx - roi.x_offset) /
binning_x`` (same in y, same for P), and the delivered size is ``roi.width // binning_x`` by
``roi.height // binning_y``. Any remaining size difference is a resize (half-pixel rule).

Raw images (``image_raw``): the lens distortion ``plumb_bob`` or ``rational_polynomial``
(OpenCV's standard model) or ``equidistant`` (OpenCV's fisheye model) maps the pixels of the
image to those of the pinhole image with the same K (:func:`undistort_pixels`), along whose
rays points are lifted. Rectified images (``image_rect``): P's left 3x3 is the pinhole
intrinsics and there is no distortion; rays are then in the rectified frame, which for a
monocular camera (R = I) is the optical frame. The stereo baseline P[0, 3] is not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from loco_ros.decoding.lifting import check_intrinsics, scale_intrinsics
from loco_ros.errors import InputError

# Coefficient counts each ROS distortion model may carry (OpenCV's standard model takes 4, 5,
# 8, 12 or 14: plumb_bob publishes 5, rational_polynomial 8; fisheye takes exactly 4).
DISTORTION_MODELS: dict[str, tuple[int, ...]] = {
    "plumb_bob": (4, 5, 8, 12, 14),
    "rational_polynomial": (4, 5, 8, 12, 14),
    "equidistant": (4,),
}
# Fixed-point undistortion: converge to 1e-10 (normalised units) rather than OpenCV's default 5
# iterations, which leave pixels of error at the edges of a strong lens.
_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
REASON = "camera_model"


@dataclass(frozen=True)
class LensDistortion:
    """A lens's distortion: ROS model name and coefficients D (N,) float64, dimensionless."""

    model: str
    D: np.ndarray

    def undistort_px(self, uv_px: np.ndarray, K: np.ndarray) -> np.ndarray:
        """See :func:`undistort_pixels`."""
        return undistort_pixels(uv_px, K, self)

    def distort_px(self, uv_px: np.ndarray, K: np.ndarray) -> np.ndarray:
        """See :func:`distort_pixels`."""
        return distort_pixels(uv_px, K, self)


@dataclass(frozen=True)
class CameraModel:
    """A camera as a CameraInfo describes it (full-resolution calibration, pixels).

    K: (3, 3) raw-image intrinsics; width, height: calibration size (0 = any image size, K
    used as given); distortion_model, D: the lens (``""`` with D empty or zero = none);
    P: (3, 4) rectified projection or None; binning_x, binning_y: 0 or 1 = none;
    roi: (x_offset, y_offset, width, height) of the sensor window, all zero = full image.
    InputError (reason ``camera_model``) for invalid values or an unknown distortion model.
    """

    K: np.ndarray
    width: int = 0
    height: int = 0
    distortion_model: str = ""
    D: np.ndarray = field(default_factory=lambda: np.zeros(0))
    P: np.ndarray | None = None
    binning_x: int = 0
    binning_y: int = 0
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "K", check_intrinsics(self.K))
        object.__setattr__(self, "D", _check_distortion(self.distortion_model, self.D))
        if self.P is not None:
            P = np.array(self.P, dtype=np.float64)
            if P.shape != (3, 4) or not np.all(np.isfinite(P)):
                raise InputError(f"P must be a finite (3, 4) matrix, got {P.shape}", REASON)
            object.__setattr__(self, "P", P)
        if min(self.width, self.height, self.binning_x, self.binning_y, *self.roi) < 0:
            raise InputError("size, binning and ROI must be >= 0", REASON)


@dataclass(frozen=True)
class ImageCamera:
    """The camera of one received image: pinhole K (3, 3) in its pixels, and its lens (None:
    pinhole, e.g. a rectified image)."""

    K: np.ndarray
    lens: LensDistortion | None = None


def _check_distortion(model: str, D: np.ndarray) -> np.ndarray:
    """D (N,) float64 checked against the model; InputError for an unknown model."""
    coefficients = np.asarray(D, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(coefficients)):
        raise InputError("distortion coefficients D must be finite", REASON)
    if model == "" and not np.any(coefficients):
        return coefficients
    if model not in DISTORTION_MODELS:
        raise InputError(
            f"unknown distortion model {model!r} (known: {', '.join(DISTORTION_MODELS)}); "
            "rectify the images (image_proc) and set image_is_rectified", REASON)
    if coefficients.size and coefficients.size not in DISTORTION_MODELS[model]:
        raise InputError(f"{model} takes {DISTORTION_MODELS[model]} coefficients, got "
                         f"{coefficients.size}", REASON)
    return coefficients


def camera_info_to_model(msg: Any) -> CameraModel:
    """CameraModel (K (3, 3), D (N,), P (3, 4), binning, ROI; pixels) of a
    sensor_msgs/CameraInfo, rclpy's or rosbags' (the same field names).

    InputError (reason ``camera_model``) for bad values or an unknown distortion model.
    """
    roi = msg.roi
    return CameraModel(
        K=np.asarray(msg.k, np.float64).reshape(3, 3), width=int(msg.width),
        height=int(msg.height), distortion_model=msg.distortion_model,
        D=np.asarray(msg.d, np.float64), P=np.asarray(msg.p, np.float64).reshape(3, 4),
        binning_x=int(msg.binning_x), binning_y=int(msg.binning_y),
        roi=(int(roi.x_offset), int(roi.y_offset), int(roi.width), int(roi.height)),
    )


def binning(camera: CameraModel) -> tuple[int, int]:
    """Binning factors (x, y) >= 1 (CameraInfo's 0 means 1)."""
    return max(1, camera.binning_x), max(1, camera.binning_y)


def sensor_roi(camera: CameraModel) -> tuple[int, int, int, int]:
    """ROI (x_offset, y_offset, width, height) in full-resolution pixels; all zero = full."""
    if not any(camera.roi):
        return 0, 0, camera.width, camera.height
    return camera.roi


def delivered_size(camera: CameraModel) -> tuple[int, int]:
    """(width, height) in pixels of the images the camera delivers: ROI size // binning."""
    bx, by = binning(camera)
    _, _, width, height = sensor_roi(camera)
    return width // bx, height // by


def crop_and_bin(matrix: np.ndarray, offset_xy: tuple[int, int],
                 binning_xy: tuple[int, int]) -> np.ndarray:
    """Intrinsics (3, 3) or projection (3, 4) of a ROI at offset_xy, binned by binning_xy.

    ``fx' = fx / bx``, ``cx' = (cx - x_offset) / bx``, same in y (image_geometry's rule).
    """
    out = np.array(matrix, dtype=np.float64)
    for row in (0, 1):  # row 0: x, row 1: y
        offset, factor = offset_xy[row], binning_xy[row]
        out[row, row] /= factor
        out[row, 2] = (out[row, 2] - offset) / factor
    return out


def delivered_intrinsics(camera: CameraModel, rectified: bool) -> np.ndarray:
    """Pinhole K (3, 3) float64 of the delivered image (:func:`delivered_size`), pixels.

    rectified: from P's left 3x3 (InputError without a usable P), else from K.
    """
    if rectified:
        if camera.P is None or not (camera.P[0, 0] > 0 and camera.P[1, 1] > 0):
            raise InputError("rectified images need CameraInfo.p with fx, fy > 0", REASON)
        full = camera.P[:, :3]
    else:
        full = camera.K
    x_offset, y_offset, _, _ = sensor_roi(camera)
    return check_intrinsics(crop_and_bin(full, (x_offset, y_offset), binning(camera)))


def image_camera(camera: CameraModel, width: int, height: int, rectified: bool) -> ImageCamera:
    """The ImageCamera of a received width x height image (pixels).

    A camera of size 0 (fallback intrinsics from parameters) applies K as given. Otherwise K
    is that of the delivered ROI and binning (:func:`delivered_intrinsics`), resized by
    ``scale_intrinsics`` when the image size differs from the delivered size.
    """
    has_lens = not rectified and camera.D.size > 0 and np.any(camera.D)
    lens = LensDistortion(camera.distortion_model, camera.D) if has_lens else None
    if camera.width <= 0 or camera.height <= 0:
        return ImageCamera(camera.K, lens)
    K = delivered_intrinsics(camera, rectified)
    delivered_w, delivered_h = delivered_size(camera)
    if (width, height) != (delivered_w, delivered_h) and min(delivered_w, delivered_h) > 0:
        K = scale_intrinsics(K, width / delivered_w, height / delivered_h)
    return ImageCamera(K, lens)


def _points(uv_px: np.ndarray) -> np.ndarray:
    """(..., 2) -> (N, 1, 2) float64, the point layout of OpenCV's calib3d."""
    uv = np.asarray(uv_px, dtype=np.float64)
    if uv.shape[-1:] != (2,):
        raise InputError(f"uv_px: expected (..., 2), got {uv.shape}")
    return np.ascontiguousarray(uv.reshape(-1, 1, 2))


def undistort_pixels(uv_px: np.ndarray, K: np.ndarray, lens: LensDistortion) -> np.ndarray:
    """Pixels (..., 2) of the distorted image -> pixels (..., 2) float64 of the pinhole image
    with the same K (3, 3): a point lifted there with K lies on the true ray. NaN stays NaN."""
    points, K = _points(uv_px), check_intrinsics(K)
    out = np.full(points.shape, np.nan)
    finite = np.isfinite(points).all(axis=(1, 2))
    if finite.any():
        out[finite] = _undistort(points[finite], K, lens)
    return out.reshape(np.shape(uv_px))


def _undistort(points: np.ndarray, K: np.ndarray, lens: LensDistortion) -> np.ndarray:
    """(N, 1, 2) finite distorted pixels -> (N, 1, 2) pinhole pixels (P = K)."""
    if lens.model == "equidistant":
        return cv2.fisheye.undistortPoints(points, K, lens.D, R=np.eye(3), P=K)
    iterate = getattr(cv2, "undistortPointsIter", None)  # OpenCV 4 takes criteria only here
    if iterate is not None:
        return iterate(points, K, lens.D, np.eye(3), K, _CRITERIA)
    return cv2.undistortPoints(points, K, lens.D, R=np.eye(3), P=K, criteria=_CRITERIA)


def distort_pixels(uv_px: np.ndarray, K: np.ndarray, lens: LensDistortion) -> np.ndarray:
    """Pixels (..., 2) of the pinhole image with K (3, 3) -> pixels (..., 2) float64 of the
    distorted image; the inverse of :func:`undistort_pixels`. NaN stays NaN."""
    points, K = _points(uv_px), check_intrinsics(K)
    out = np.full(points.shape, np.nan)
    finite = np.isfinite(points).all(axis=(1, 2))
    if finite.any():
        xy = (points[finite, 0] - K[[0, 1], 2]) / K[[0, 1], [0, 1]]  # (N, 2) normalised
        if lens.model == "equidistant":
            out[finite] = cv2.fisheye.distortPoints(xy[:, None], K, lens.D)
        else:
            rays = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)  # (N, 3)
            out[finite] = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, lens.D)[0]
    return out.reshape(np.shape(uv_px))


def describe_input(rectified: bool) -> str:
    """One line saying how the images are read (for the node's log)."""
    if rectified:
        return "rectified images: pinhole intrinsics from CameraInfo.p, no distortion"
    return ("raw images: CameraInfo.k, peaks undistorted by CameraInfo.d "
            f"({', '.join(DISTORTION_MODELS)}) before lifting")
