"""ground_plane.mode auto in the frame pipeline (ROS-free): the self-calibration learns the
mount from a short synthetic pedestrian stream, people are snapped to its plane only once it
has converged, the estimate survives a save / load, a reset starts over, and the transform
published for it gives its plane back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loco_ros.calibration import CalibrationEstimate
from loco_ros.camera.lens import ImageCamera
from loco_ros.decoding.ground_plane import (
    AutoCalibrationConfig,
    GroundPlaneConfig,
    ground_plane_from_transform,
    snap_with_config,
)
from loco_ros.errors import ConfigError
from loco_ros.evaluation.self_calibration_eval import noisy_people
from loco_ros.runtime.estimator import Estimate
from loco_ros.runtime.frame_pipeline import FramePipeline, PipelineConfig
from loco_ros.runtime.ground_calibration import (
    calibration_people,
    ground_to_camera,
    load_calibration,
    save_calibration,
    self_calibration_config,
)
from loco_ros.runtime.tracking import TrackingConfig
from loco_ros.synthetic.pedestrians import PedestrianStream, StreamConfig
from loco_ros.synthetic.scene import SceneConfig

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
HEIGHT_M, PITCH_DEG, ROLL_DEG = 3.0, 15.0, 2.0
# The node's ground_plane.auto parameters: the estimator's defaults (its convergence rule,
# chosen on the tuning seeds, converges on this short stream).
AUTO = AutoCalibrationConfig()


class StreamPeople:
    """An estimator that sees the stream's people as a good detector would: their GT pixels
    with 1 px noise, some joints missed, depth from an assumed stature (image-only depth)."""

    def __init__(self, stream: PedestrianStream) -> None:
        self.frames = iter(stream.frames())
        self.stream = stream
        self.rng = np.random.default_rng(0)

    def estimate(self, image_rgb: np.ndarray, K: np.ndarray, lens=None) -> Estimate:
        people, _ = noisy_people(self.stream, next(self.frames), self.rng, 1.0, 0.0)
        return Estimate(people, {"network": 0.0})


def pedestrian_stream(frames: int = 300, seed: int = 1) -> PedestrianStream:
    scene = SceneConfig(camera_height_m=(HEIGHT_M, HEIGHT_M), pitch_deg=(PITCH_DEG, PITCH_DEG),
                        roll_deg=(ROLL_DEG, ROLL_DEG), focal_jitter=0.0,
                        principal_jitter_px=0.0, distance_m=(3.0, 14.0))
    return PedestrianStream(seed, StreamConfig(frames=frames, people=(8, 8),
                                               static_probability=0.0, scene=scene))


def run_auto(stream: PedestrianStream, pipeline: FramePipeline | None = None,
             initial: CalibrationEstimate | None = None):
    """(pipeline, FrameResults) of the whole stream in mode auto."""
    config = PipelineConfig(ground_plane=GroundPlaneConfig(mode="auto", auto=AUTO))
    if pipeline is None:
        pipeline = FramePipeline(StreamPeople(stream), config, initial_calibration=initial)
    camera = ImageCamera(stream.camera.K)
    image = np.zeros((stream.camera.height, stream.camera.width, 3), np.uint8)
    results = [pipeline.process(image, i * 100_000_000, "cam", camera=camera)
               for i in range(stream.config.frames)]
    return pipeline, results


@pytest.fixture(scope="module")
def converged_run():
    stream = pedestrian_stream()
    pipeline, results = run_auto(stream)
    return stream, pipeline, results


def test_auto_converges_and_snaps_only_once_converged(converged_run) -> None:
    stream, pipeline, results = converged_run
    final = results[-1].calibration
    assert final is not None and final.converged, final.summary()
    assert abs(final.camera_height_m / HEIGHT_M - 1) < 0.06, final.summary()
    assert abs(final.pitch_deg - PITCH_DEG) < 1.0 and abs(final.roll_deg - ROLL_DEG) < 1.0
    first = next(i for i, r in enumerate(results) if r.calibration.converged)
    assert first > 0, "nothing was loaded: it must learn first"
    for result in results[:first]:  # calibrating: image-only depth, nothing grounded
        assert result.grounded is None and not result.calibration_changed
        np.testing.assert_array_equal(result.people.xyz_m, result.estimate.people.xyz_m)
    assert results[first].calibration_changed
    assert results[first].grounded is None, "snapped from the frame after it converged"
    for before, result in zip(results[first:-1], results[first + 1:], strict=True):
        plane = before.calibration.ground_plane()  # the plane as it stood before the frame
        expected = snap_with_config(result.estimate.people, plane, GroundPlaneConfig())
        assert result.grounded is not None
        np.testing.assert_array_equal(result.people.xyz_m, expected.xyz_m)
    changes = sum(r.calibration_changed for r in results)
    assert changes <= 1 + (len(results) - first) // pipeline.calibration._calibrator.config \
        .refit_every_frames, "published when it converges or changes, not every frame"
    assert not any(r.calibration_restart for r in results)


def test_calibration_gets_the_trackers_ids() -> None:
    """With tracking (as in the node), the calibrator is fed each frame's image-only people
    carrying the ids the 3D tracker gave them, so it links people by the tracker's ids."""
    stream = pedestrian_stream(frames=40)
    config = PipelineConfig(ground_plane=GroundPlaneConfig(mode="auto", auto=AUTO),
                            tracking=TrackingConfig())
    pipeline = FramePipeline(StreamPeople(stream), config)
    fed = []
    real_update = pipeline.calibration.update

    def recording_update(people, camera):
        fed.append(people)
        return real_update(people, camera)

    pipeline.calibration.update = recording_update
    _, results = run_auto(stream, pipeline)
    assert len(fed) == len(results)
    for people, result in zip(fed, results, strict=True):
        np.testing.assert_array_equal(people.xyz_m, result.estimate.people.xyz_m)
        assert people.track_id == result.people.track_id
    with_id = sum(bool(t) for people in fed[3:] for t in people.track_id)
    assert with_id >= 0.9 * sum(len(people) for people in fed[3:]), "tracks confirm in 3"


def test_other_modes_carry_no_calibration() -> None:
    stream = pedestrian_stream(frames=3)
    pipeline = FramePipeline(StreamPeople(stream), PipelineConfig())
    camera = ImageCamera(stream.camera.K)
    result = pipeline.process(np.zeros((8, 8, 3), np.uint8), 0, camera=camera)
    assert pipeline.calibration is None and result.calibration is None
    assert result.grounded is None


def test_saved_estimate_starts_a_new_pipeline_converged(converged_run, tmp_path) -> None:
    _, pipeline, _ = converged_run
    path = str(tmp_path / "calib" / "ground.yaml")
    save_calibration(pipeline.calibration.estimate, path)
    loaded = load_calibration(path)
    assert loaded.error == "" and loaded.estimate == pipeline.calibration.estimate
    stream = pedestrian_stream(frames=2, seed=7)
    _, results = run_auto(stream, initial=loaded.estimate)
    assert results[0].calibration.converged and results[0].calibration_changed
    assert results[0].grounded is not None
    assert not results[1].calibration_changed


def test_missing_or_corrupt_file_starts_uncalibrated(tmp_path) -> None:
    assert load_calibration("") == load_calibration(str(tmp_path / "none.yaml"))
    assert load_calibration("").estimate is None and load_calibration("").error == ""
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera_height_m: [1, 2\n")
    loaded = load_calibration(str(bad))
    assert loaded.estimate is None and str(bad) in loaded.error


def test_reset_starts_over_and_is_counted(converged_run) -> None:
    stream = pedestrian_stream(frames=2, seed=3)
    _, pipeline, _ = converged_run
    state = pipeline.calibration.estimate
    pipeline_copy, results = run_auto(stream, initial=state)
    assert results[-1].calibration.converged
    estimate = pipeline_copy.calibration.reset()
    assert not estimate.converged and estimate.resets == state.resets + 1
    assert pipeline_copy.calibration.requested_resets == 1
    assert pipeline_copy.calibration.plane is None


def test_transform_gives_the_plane_back(converged_run) -> None:
    _, pipeline, _ = converged_run
    estimate = pipeline.calibration.estimate
    R, t = ground_to_camera(estimate)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    plane = ground_plane_from_transform(R, t)
    expected = estimate.ground_plane()
    np.testing.assert_allclose(plane.up_cam, expected.up_cam, atol=1e-12)
    assert plane.camera_height_m == pytest.approx(expected.camera_height_m)
    forward = R @ np.array([0.0, 0.0, 1.0])  # the optical axis in the ground frame
    assert forward[1] == pytest.approx(0.0, abs=1e-12) and forward[0] > 0
    assert math.degrees(math.asin(-forward[2])) == pytest.approx(estimate.pitch_deg, abs=0.5)


def test_lens_pixels_are_replaced_by_the_rays() -> None:
    stream = pedestrian_stream(frames=1)
    people, _ = noisy_people(stream, next(iter(stream.frames())), np.random.default_rng(0), 0,
                             0.0)
    K = stream.camera.K
    assert calibration_people(people, ImageCamera(K)) is people
    moved = calibration_people(people, ImageCamera(K, lens=object()))
    finite = np.isfinite(people.xyz_m).all(-1)
    xyz = people.xyz_m[finite].astype(np.float64)
    expected_u = K[0, 0] * xyz[:, 0] / xyz[:, 2] + K[0, 2]
    np.testing.assert_allclose(moved.uv_px[finite][:, 0], expected_u, rtol=1e-5)


def test_auto_parameters_map_onto_the_estimator() -> None:
    from dataclasses import replace

    from loco_ros.calibration import SelfCalibrationConfig

    assert self_calibration_config(AutoCalibrationConfig()) == SelfCalibrationConfig()
    config = self_calibration_config(AutoCalibrationConfig(min_people=3, stature_mean_m=1.5))
    assert config == replace(SelfCalibrationConfig(), min_people=3, stature_mean_m=1.5)
    for name in AutoCalibrationConfig.__dataclass_fields__:  # every one is the estimator's
        assert hasattr(SelfCalibrationConfig(), name), name
    with pytest.raises(ConfigError, match="min_people"):
        AutoCalibrationConfig(min_people=-1)
    # the convergence rule, cost and misfit fields added with the depth-based rule
    newer = {"max_depth_std_ratio": 0.5, "max_height_change": 0.02,
             "max_angle_change_deg": 0.3, "capacity": 400, "refit_every_frames": 20,
             "refit_every_converged_frames": 80, "grid_every_refits": 5, "misfit_frames": 90,
             "misfit_outlier_fraction": 0.4, "misfit_stature_bias": 0.1}
    assert self_calibration_config(AutoCalibrationConfig(**newer)) == replace(
        SelfCalibrationConfig(), **newer)
    for name in newer:  # 0 keeps the estimator's default; a bad value is named
        assert getattr(self_calibration_config(AutoCalibrationConfig(**{name: 0})), name) \
            == getattr(SelfCalibrationConfig(), name)
        with pytest.raises(ConfigError, match=name):
            AutoCalibrationConfig(**{name: -1})
    # a combination only the estimator can judge is a ConfigError at the mapping
    with pytest.raises(ConfigError, match="multiple of refit_every_frames"):
        self_calibration_config(AutoCalibrationConfig(refit_every_frames=50))
    with pytest.raises(ConfigError, match="ground_plane.mode"):
        GroundPlaneConfig(mode="magic")


def test_auto_parameters_have_descriptors() -> None:
    """Every ground_plane.auto field is a described node parameter whose range allows 0 (the
    estimator's default) and the estimator's own default value."""
    descriptors = pytest.importorskip("loco_ros.ros.param_descriptors")
    from loco_ros.calibration import SelfCalibrationConfig

    for name in AutoCalibrationConfig.__dataclass_fields__:
        text, bounds = descriptors.SPECS[f"ground_plane.auto.{name}"]
        assert text.endswith("0 = the estimator's default"), name
        default = getattr(SelfCalibrationConfig(), name)
        assert bounds[0] <= 0 and bounds[0] <= default <= bounds[1], name
        assert not descriptors.is_live(f"ground_plane.auto.{name}")
