"""The camera model: lens undistortion of peak pixels, binning and ROI, rectified images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from loco_ros.camera.intrinsics import IntrinsicsSource
from loco_ros.camera.lens import (
    CameraModel,
    LensDistortion,
    delivered_size,
    distort_pixels,
    image_camera,
    undistort_pixels,
)
from loco_ros.config import DecodeConfig, GridConfig
from loco_ros.decoding.codec import render_volumetric_heatmap
from loco_ros.decoding.lifting import (
    letterbox_intrinsics,
    lift_to_camera,
    peaks_to_candidates,
    project_to_image,
)
from loco_ros.decoding.peaks import find_peaks
from loco_ros.errors import InputError

W, H = 1280, 960
K_CAM = np.array([[900.0, 0.0, 641.5], [0.0, 905.0, 478.0], [0.0, 0.0, 1.0]])
# Realistic lenses: a wide plumb_bob (barrel), a rational_polynomial, a fisheye.
LENSES = {
    "plumb_bob": LensDistortion("plumb_bob", np.array([-0.32, 0.12, 1e-3, -8e-4, -0.02])),
    "rational_polynomial": LensDistortion("rational_polynomial", np.array(
        [0.45, -0.25, 1e-3, -8e-4, 0.04, 0.75, -0.18, 0.09])),
    "equidistant": LensDistortion("equidistant", np.array([-0.02, 0.01, -5e-3, 1e-3])),
}


def project_distorted(xyz_m: np.ndarray, K: np.ndarray, lens: LensDistortion) -> np.ndarray:
    """OpenCV's own projection of points (N, 3) through the lens -> pixels (N, 2)."""
    zero = np.zeros(3)
    if lens.model == "equidistant":
        return cv2.fisheye.projectPoints(xyz_m[:, None], zero, zero, K, lens.D)[0][:, 0]
    return cv2.projectPoints(xyz_m, zero, zero, K, lens.D)[0][:, 0]


def points_10m(count: int = 400, seed: int = 0) -> np.ndarray:
    """Points (N, 3) 10 m from the camera whose pinhole pixels cover the whole image."""
    uv = np.random.default_rng(seed).uniform([0.0, 0.0], [W - 1.0, H - 1.0], (count, 2))
    corners = np.array([[0.0, 0.0], [W - 1.0, 0.0], [0.0, H - 1.0], [W - 1.0, H - 1.0]])
    return lift_to_camera(np.concatenate([uv, corners]), np.full(count + 4, 10.0), K_CAM,
                          "distance")


# ---------------------------------------------------------------------------- distortion


@pytest.mark.parametrize("name", LENSES)
@pytest.mark.parametrize("depth_axis", ["distance", "z"])
def test_undistorted_peaks_lift_to_the_true_points(name: str, depth_axis: str) -> None:
    lens, xyz = LENSES[name], points_10m()
    uv_distorted = project_distorted(xyz, K_CAM, lens)
    assert np.abs(uv_distorted - project_to_image(xyz, K_CAM)).max() > 50.0  # a strong lens
    depth = np.linalg.norm(xyz, axis=1) if depth_axis == "distance" else xyz[:, 2]
    lifted = lift_to_camera(undistort_pixels(uv_distorted, K_CAM, lens), depth, K_CAM,
                            depth_axis)
    assert np.linalg.norm(lifted - xyz, axis=1).max() < 0.01  # 1 cm at 10 m
    naive = lift_to_camera(uv_distorted, depth, K_CAM, depth_axis)
    assert np.linalg.norm(naive - xyz, axis=1).max() > 0.5  # what ignoring the lens costs


@pytest.mark.parametrize("name", LENSES)
def test_distort_inverts_undistort_and_keeps_nan(name: str) -> None:
    lens = LENSES[name]
    uv = np.random.default_rng(1).uniform([0.0, 0.0], [W, H], (50, 2))
    uv[7] = np.nan
    back = distort_pixels(undistort_pixels(uv, K_CAM, lens), K_CAM, lens)
    assert np.isnan(back[7]).all()
    np.testing.assert_allclose(np.delete(back, 7, 0), np.delete(uv, 7, 0), atol=1e-6)
    assert undistort_pixels(np.zeros((0, 2)), K_CAM, lens).shape == (0, 2)


@pytest.mark.parametrize("name", LENSES)
def test_candidates_through_the_letterbox_lift_along_undistorted_rays(name: str) -> None:
    """Peaks at the distorted pixels of a letterboxed raw image: xyz on the true rays, uv_px
    the distorted pixels of the received image."""
    lens, grid = LENSES[name], GridConfig()
    K_net, scale_xy, pad_xy = letterbox_intrinsics(K_CAM, (W, H),
                                                (grid.image_width, grid.image_height))
    rng = np.random.default_rng(5)
    uv_true = rng.uniform([100.0, 80.0], [W - 100.0, H - 80.0], (1, 14, 2))
    depth = rng.uniform(3.0, 10.0, (1, 14))
    joints = lift_to_camera(uv_true, depth, K_CAM, grid.depth_axis)  # (1, 14, 3)
    uv_seen = project_distorted(joints[0], K_CAM, lens)  # (14, 2) in the raw image
    # What the network sees: each joint at its distorted pixel and its true depth.
    seen = lift_to_camera(uv_seen[None], depth, K_CAM, grid.depth_axis)
    volume = render_volumetric_heatmap(seen, K_net, grid)
    peaks = find_peaks(volume, DecodeConfig())
    candidates = peaks_to_candidates(peaks, grid, K_net, scale_xy, pad_xy,
                                     lambda uv: lens.undistort_px(uv, K_CAM))
    assert candidates.joint.tolist() == list(range(14))
    np.testing.assert_allclose(candidates.uv_px, uv_seen, atol=0.1)
    np.testing.assert_allclose(candidates.xyz_m, joints[0], atol=0.01)


# ---------------------------------------------------------------------------- binning, ROI


def test_roi_and_binning_as_image_geometry() -> None:
    """fx' = fx / b, cx' = (cx - x_offset) / b (same for P); size = ROI size // binning."""
    P = np.hstack([K_CAM * [[0.98], [0.98], [1.0]], np.zeros((3, 1))])
    camera = CameraModel(K_CAM, W, H, "plumb_bob", LENSES["plumb_bob"].D, P, binning_x=2,
                         binning_y=4, roi=(320, 200, 641, 480))
    assert delivered_size(camera) == (320, 120)
    raw = image_camera(camera, 320, 120, rectified=False)
    np.testing.assert_allclose(raw.K, [[450.0, 0.0, (641.5 - 320) / 2],
                                       [0.0, 905.0 / 4, (478.0 - 200) / 4], [0.0, 0.0, 1.0]])
    assert raw.lens is not None and raw.lens.model == "plumb_bob"
    rect = image_camera(camera, 320, 120, rectified=True)
    np.testing.assert_allclose(rect.K, [[882.0 / 2, 0.0, (641.5 * 0.98 - 320) / 2],
                                        [0.0, 905.0 * 0.98 / 4, (478.0 * 0.98 - 200) / 4],
                                        [0.0, 0.0, 1.0]])
    assert rect.lens is None
    # No ROI and binning 0 = the full image; another size is a resize of the delivered one.
    full = CameraModel(K_CAM, W, H, binning_x=0, binning_y=0)
    assert delivered_size(full) == (W, H)
    np.testing.assert_allclose(image_camera(full, W, H, False).K, K_CAM)
    half = image_camera(full, W // 2, H // 2, False).K
    np.testing.assert_allclose(half[0], [450.0, 0.0, (641.5 + 0.5) / 2 - 0.5])


def test_binned_roi_pixels_lift_like_the_full_image() -> None:
    """A point seen in a binned ROI lifts to the same 3D point as in the full raw image."""
    lens = LENSES["rational_polynomial"]
    camera = CameraModel(K_CAM, W, H, lens.model, lens.D, binning_x=2, binning_y=2,
                         roi=(200, 100, 800, 600))
    sub = image_camera(camera, *delivered_size(camera), rectified=False)
    xyz = points_10m(200, seed=3)
    uv_full = project_distorted(xyz, K_CAM, lens)
    inside = ((uv_full >= [200, 100]) & (uv_full < [1000, 700])).all(1)
    uv_sub = (uv_full[inside] - [200, 100]) / 2  # image_geometry's pixel mapping
    lifted = lift_to_camera(undistort_pixels(uv_sub, sub.K, sub.lens), np.full(inside.sum(), 10.0),
                            sub.K, "distance")
    assert inside.sum() > 20
    np.testing.assert_allclose(lifted, xyz[inside], atol=0.01)


# ---------------------------------------------------------------------------- rectified


def test_rectified_images_use_p_and_no_distortion() -> None:
    P = np.array([[850.0, 0.0, 630.0, 0.0], [0.0, 850.0, 470.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    camera = CameraModel(K_CAM, W, H, "equidistant", LENSES["equidistant"].D, P)
    rect = image_camera(camera, W, H, rectified=True)
    np.testing.assert_allclose(rect.K, P[:, :3])
    assert rect.lens is None
    xyz = points_10m(50)
    uv = xyz[:, :2] / xyz[:, 2:] * 850.0 + [630.0, 470.0]  # P's projection
    np.testing.assert_allclose(lift_to_camera(uv, xyz[:, 2], rect.K, "z"), xyz, atol=1e-9)
    with pytest.raises(InputError, match="rectified images need CameraInfo.p"):
        image_camera(CameraModel(K_CAM, W, H, P=np.zeros((3, 4))), W, H, rectified=True)


# ---------------------------------------------------------------------------- input errors


def test_unknown_or_malformed_distortion_is_a_clear_input_error() -> None:
    with pytest.raises(InputError, match="unknown distortion model 'kannala_brandt'") as err:
        CameraModel(K_CAM, W, H, "kannala_brandt", np.array([0.1, 0.0, 0.0, 0.0]))
    assert err.value.reason == "camera_model"
    with pytest.raises(InputError, match="equidistant takes"):
        CameraModel(K_CAM, W, H, "equidistant", np.zeros(5) + 0.1)
    with pytest.raises(InputError, match="finite"):
        CameraModel(K_CAM, W, H, "plumb_bob", np.array([np.nan, 0, 0, 0, 0]))
    # No lens: "" with no coefficients (simulators), or a known model with all zeros.
    assert image_camera(CameraModel(K_CAM, W, H), W, H, False).lens is None
    zeros = CameraModel(K_CAM, W, H, "plumb_bob", np.zeros(5))
    assert image_camera(zeros, W, H, False).lens is None


def test_intrinsics_source_serves_raw_and_rectified_cameras() -> None:
    lens = LENSES["plumb_bob"]
    P = np.hstack([K_CAM, np.zeros((3, 1))])
    model = CameraModel(K_CAM, W, H, lens.model, lens.D, P)
    raw = IntrinsicsSource()
    raw.update_model(model, 1)
    camera = raw.lookup_camera(W, H, 1)
    np.testing.assert_allclose(camera.K, K_CAM)
    np.testing.assert_array_equal(camera.lens.D, lens.D)
    rectified = IntrinsicsSource(rectified=True)
    rectified.update_model(model, 1)
    assert rectified.lookup_camera(W, H, 1).lens is None
    with pytest.raises(InputError):  # a raw CameraInfo without P cannot serve image_rect
        rectified.update_model(CameraModel(K_CAM, W, H, P=np.zeros((3, 4))), 2)
    assert rectified.lookup(W, H, 2) is not None  # the good one stays in use


# ---------------------------------------------------------------------------- ROS message


@pytest.mark.ros
def test_camera_info_message_to_camera_model() -> None:
    from sensor_msgs import msg as sensor_msgs

    from loco_ros.camera.lens import camera_info_to_model

    lens = LENSES["rational_polynomial"]
    P = np.hstack([K_CAM, [[-45.0], [0.0], [0.0]]])
    msg = sensor_msgs.CameraInfo(
        width=W, height=H, distortion_model=lens.model, d=lens.D.tolist(),
        k=K_CAM.reshape(-1).tolist(), p=P.reshape(-1).tolist(), binning_x=2, binning_y=2,
        roi=sensor_msgs.RegionOfInterest(x_offset=64, y_offset=32, width=1024, height=768))
    camera = camera_info_to_model(msg)
    np.testing.assert_array_equal(camera.K, K_CAM)
    np.testing.assert_array_equal(camera.D, lens.D)
    np.testing.assert_array_equal(camera.P, P)
    assert (camera.distortion_model, camera.binning_x, camera.binning_y) == (
        lens.model, 2, 2)
    assert camera.roi == (64, 32, 1024, 768) and delivered_size(camera) == (512, 384)
    msg.distortion_model = "fancy_lens"
    with pytest.raises(InputError, match="fancy_lens"):
        camera_info_to_model(msg)


# ---------------------------------------------------------------------------- estimator


@pytest.mark.slow
def test_estimator_lifts_raw_image_peaks_along_undistorted_rays(random_model_dir) -> None:
    """The real pipeline (untrained model, many peaks): detected joints lie on the undistorted
    rays of their uv_px, which stay pixels of the received image; joints the refiner fills
    get distorted pixels too."""
    from loco_ros.runtime.estimator import LocoEstimator, load_model

    config, network, refiner = load_model(random_model_dir)
    lens = LENSES["plumb_bob"]
    K = K_CAM / [[2.0], [2.0], [1.0]]  # a 640 x 480 image
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    estimator = LocoEstimator(config, network, None, backend="torch", device="cpu")
    people = estimator.estimate(image, K, lens=lens).people
    detected = people.detected & np.isfinite(people.xyz_m).all(-1)  # (P, J)
    assert detected.sum() > 10
    xyz, uv = people.xyz_m[detected].astype(np.float64), people.uv_px[detected]
    rays = lift_to_camera(undistort_pixels(uv, K, lens), np.ones(len(uv)), K, "distance")
    directions = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    np.testing.assert_allclose(directions, rays, atol=1e-5)
    pinhole = lift_to_camera(uv, np.ones(len(uv)), K, "distance")
    assert np.abs(directions - pinhole).max() > 1e-2  # the lens was applied

    estimator.refiner = refiner
    people = estimator.estimate(image, K, lens=lens).people
    filled = ~people.detected & np.isfinite(people.uv_px).all(-1)
    assert filled.any()
    expected = distort_pixels(project_to_image(people.xyz_m[filled], K), K, lens)
    np.testing.assert_allclose(people.uv_px[filled], expected, atol=1e-2)
