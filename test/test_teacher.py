"""The BlazePose teacher: person + joints on a real frame, the head-top/neck rule, label files."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fetched

from loco_ros.data import real_material
from loco_ros.skeleton import JOINT_INDEX, JOINT_NAMES
from loco_ros.teacher.blazepose import alignment_roi, roi_to_image, ssd_anchors
from loco_ros.teacher.labels import FrameLabels, VideoLabels, load_labels, save_labels
from loco_ros.teacher.to_loco import HEAD_TOP_FRACTION, NECK_FRACTION, to_loco


def test_anchors_and_roi_geometry():
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)
    assert np.allclose(anchors[0], [0.5 / 28, 0.5 / 28]) and np.allclose(anchors[2], [1.5 / 28,
                                                                                     0.5 / 28])
    # Upright person: hip at (100, 200), head point 80 px above -> no rotation, side 200 px.
    roi = alignment_roi(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert roi.angle == pytest.approx(0.0) and roi.size == pytest.approx(200.0)
    m = roi_to_image(roi, 256)
    assert np.allclose(m @ [128, 0, 1], [100, 100])  # crop's top centre is 100 px above the hip
    # Head to the image right: crop-up maps to image-right.
    roi = alignment_roi(np.array([100.0, 200.0]), np.array([180.0, 200.0]))
    assert np.allclose(roi_to_image(roi, 256) @ [128, 0, 1], [200, 200])


def test_head_top_and_neck_rule():
    # Synthetic upright BlazePose set (metres, y down): shoulders at y=0, ears 0.18 m above.
    pts = np.zeros((33, 3))
    pts[11], pts[12] = [0.2, 0.0, 0.0], [-0.2, 0.0, 0.0]
    pts[7], pts[8] = [0.08, -0.18, 0.05], [-0.08, -0.18, 0.05]
    pts[23], pts[24] = [0.1, 0.5, 0.0], [-0.1, 0.5, 0.0]
    vis = np.full(33, 0.9)
    vis[8], vis[11] = 0.2, 0.5
    joints, v = to_loco(pts, vis)
    ear_mid, sh_mid = np.array([0.0, -0.18, 0.05]), np.zeros(3)
    assert np.allclose(joints[JOINT_INDEX["head_top"]],
                       ear_mid + HEAD_TOP_FRACTION * (ear_mid - sh_mid))
    assert np.allclose(joints[JOINT_INDEX["neck"]], sh_mid + NECK_FRACTION * (ear_mid - sh_mid))
    # Order: neck above the shoulders, below the ears; head top above the ears.
    assert -0.18 < joints[1, 1] < 0.0 and joints[0, 1] < -0.18
    assert np.allclose(joints[JOINT_INDEX["right_shoulder"]], pts[12])
    assert np.allclose(joints[JOINT_INDEX["left_hip"]], pts[23])
    assert v[0] == pytest.approx(0.9) and v[1] == pytest.approx(0.7)
    # The rule is the same in pixels (2D).
    joints2d, _ = to_loco(pts[:, :2] * 100 + 300, vis)
    assert np.allclose(joints2d, joints[:, :2] * 100 + 300)


def test_labels_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    frames = (FrameLabels(0, rng.uniform(0, 500, (2, 14, 2)), rng.uniform(0, 1, (2, 14)),
                          rng.normal(size=(2, 14, 3)), rng.uniform(0, 500, (2, 4)),
                          rng.uniform(0, 1, 2)),
              FrameLabels(1, np.zeros((0, 14, 2)), np.zeros((0, 14)), np.zeros((0, 14, 3)),
                          np.zeros((0, 4)), np.zeros(0)))
    labels = VideoLabels("x.avi", (768, 576), 10.0, "teacher", JOINT_NAMES, "h", "n", frames)
    save_labels(labels, tmp_path / "x.json")
    back = load_labels(tmp_path / "x.json")
    assert back.image_size == (768, 576) and back.fps == 10.0 and len(back.frames) == 2
    a, b = frames[0], back.frames[0]
    assert np.allclose(a.joints_px, b.joints_px, atol=0.05)
    assert np.allclose(a.joints_world_m, b.joints_world_m, atol=5e-4)
    assert np.allclose(a.visibility, b.visibility, atol=5e-4)
    assert b.joints_px.shape == (2, 14, 2) and back.frames[1].joints_px.shape == (0, 14, 2)


def test_teacher_finds_the_person_on_a_real_frame():
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("ai_edge_litert")
    from loco_ros.teacher.blazepose import BlazePose
    from loco_ros.teacher.finder import FinderConfig, body_box, find_people
    from loco_ros.teacher.label_video import frame_labels

    video = fetched(real_material.sports2d_video)
    models = fetched(real_material.teacher_models)
    cap = cv2.VideoCapture(str(video))
    ok, bgr = cap.read()  # frame 0: the man standing on the box
    cap.release()
    assert ok
    model = BlazePose(models)
    people = find_people(model, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), [],
                         FinderConfig(tile_fractions=(1.0,)))
    assert len(people) >= 1
    labels = frame_labels(0, people)
    box = body_box(people[0])
    # The man stands at about x 590-715, y 95-470 of the 1768x994 frame.
    assert 560 < box[0] < 640 and 660 < box[2] < 760 and 60 < box[1] < 140
    j = labels.joints_px[0]
    assert np.all(j[:, 0] > box[0] - 30) and np.all(j[:, 0] < box[2] + 30)
    assert np.all(j[:, 1] > box[1] - 40) and np.all(j[:, 1] < box[3] + 30)
    assert j[0, 1] < j[1, 1] < j[2, 1] < j[8, 1] < j[9, 1] < j[10, 1]  # head to ankle
    assert labels.visibility[0].mean() > 0.7
    w = labels.joints_world_m[0]
    assert 1.3 < w[10, 1] - w[0, 1] < 2.1  # head top to ankle in metres


def test_pose2sim_videos_are_named_and_selected_as_a_family():
    from loco_ros.teacher.label_video import known_videos

    assert sorted(known_videos("pose2sim")) == sorted(real_material.POSE2SIM_VIDEOS)
    assert len(real_material.POSE2SIM_VIDEOS) == 8
    assert list(known_videos("vtest")) == ["vtest"]
    assert len(known_videos("all")) == 11 and known_videos("my_camera.mp4") == {}
    video = fetched(real_material.video_path, "pose2sim_multi_cam03")
    assert video.name == "cam03.mp4" and "Demo_MultiPerson" in str(video) and video.is_file()


def test_labelling_every_nth_frame_keeps_the_frame_numbers():
    pytest.importorskip("ai_edge_litert")
    from loco_ros.teacher.blazepose import BlazePose
    from loco_ros.teacher.label_video import VIDEOS, label_video

    video = fetched(real_material.video_path, "market_street")
    model = BlazePose(fetched(real_material.teacher_models))
    labels = label_video(video, model, VIDEOS["market_street"][1], max_frames=3, log_every=0,
                         frame_step=6)
    assert [f.index for f in labels.frames] == [0, 6, 12]
    assert labels.image_size == (640, 360) and abs(labels.fps - 29.97) < 0.01
    assert VIDEOS["market_street"][1].min_label_score == 0.7


def test_weak_people_are_tracked_but_not_written():
    pytest.importorskip("ai_edge_litert")
    from dataclasses import replace

    from loco_ros.teacher.blazepose import BlazePose
    from loco_ros.teacher.label_video import VIDEOS, label_video

    video, cfg = fetched(real_material.vtest_video), VIDEOS["vtest"][1]
    model = BlazePose(fetched(real_material.teacher_models))
    everyone = label_video(video, model, cfg, max_frames=2, log_every=0)
    scores = np.sort(np.concatenate([f.score for f in everyone.frames]))
    assert scores.size >= 4 and scores[0] < scores[-1]
    cut = float(scores[scores.size // 2])
    strong = label_video(video, model, replace(cfg, min_label_score=cut), max_frames=2,
                         log_every=0)
    for a, b in zip(everyone.frames, strong.frames, strict=True):
        keep = a.score >= cut
        assert np.array_equal(b.score, a.score[keep])
        assert np.allclose(b.joints_px, a.joints_px[keep])
