"""Real people cut-outs (Scratch's photographs): their teacher labels and the training source
that pastes them into real photographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import fetched

from loco_ros.data import real_material
from loco_ros.skeleton import JOINT_INDEX, JOINT_NAMES
from loco_ros.teacher.labels import (
    CutoutLabels,
    FrameLabels,
    load_cutout_labels,
    save_cutout_labels,
)
from loco_ros.training.people_cutouts import (
    CutoutPerson,
    PeopleCutoutSource,
    load_cutout_people,
    paste_person,
    place_people,
)
from loco_ros.training.real_images import PhotoBank

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "data/real/labels/scratch_people.json"


def _person_frame(index: int, rng: np.random.Generator) -> FrameLabels:
    return FrameLabels(index, rng.uniform(0, 200, (1, 14, 2)), rng.uniform(0, 1, (1, 14)),
                       rng.normal(size=(1, 14, 3)), rng.uniform(0, 200, (1, 4)),
                       rng.uniform(0, 1, 1))


def test_cutout_labels_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    nobody = FrameLabels(1, np.zeros((0, 14, 2)), np.zeros((0, 14)), np.zeros((0, 14, 3)),
                         np.zeros((0, 4)), np.zeros(0))
    labels = CutoutLabels("scratch", "teacher", JOINT_NAMES, "h", "n", ("a.gif", "b.gif"),
                          ((84, 190), (100, 150)), (_person_frame(0, rng), nobody))
    save_cutout_labels(labels, tmp_path / "c.json")
    back = load_cutout_labels(tmp_path / "c.json")
    assert back.names == ("a.gif", "b.gif") and back.sizes == ((84, 190), (100, 150))
    assert np.allclose(back.people[0].joints_px, labels.people[0].joints_px, atol=0.05)
    assert back.people[1].num_people == 0


def _marked_person() -> CutoutPerson:
    """A 40x100 opaque grey cut-out with a white pixel at each of three 'joints'."""
    rgba = np.zeros((100, 40, 4), np.uint8)
    rgba[..., :3], rgba[..., 3] = 60, 255
    joints = np.zeros((14, 2))
    joints[:] = (20, 50)
    joints[JOINT_INDEX["head_top"]] = (20, 5)
    joints[JOINT_INDEX["right_ankle"]] = (8, 95)
    joints[JOINT_INDEX["left_ankle"]] = (33, 94)
    for x, y in joints.astype(int):
        rgba[y, x, :3] = 255
    world = np.zeros((14, 3))
    world[JOINT_INDEX["right_ankle"], 0], world[JOINT_INDEX["left_ankle"], 0] = -0.1, 0.3
    return CutoutPerson(rgba, joints, np.ones(14), world)


def test_flipped_person_mirrors_pixels_and_swaps_left_and_right() -> None:
    person = _marked_person()
    flipped = person.flipped()
    right, left = JOINT_INDEX["right_ankle"], JOINT_INDEX["left_ankle"]
    # The person's right ankle is now where the mirrored left one was.
    assert np.allclose(flipped.joints_px[right], (39 - 33, 94))
    assert np.allclose(flipped.joints_px[left], (39 - 8, 95))
    assert np.allclose(flipped.joints_world_m[[right, left], 0], [-0.3, 0.1])
    for x, y in flipped.joints_px.round().astype(int):  # marks moved with the joints
        assert flipped.rgba[y, x, 0] == 255
    twice = flipped.flipped()
    assert np.allclose(twice.joints_px, person.joints_px) and np.array_equal(twice.rgba,
                                                                             person.rgba)


def test_pasted_joints_land_on_the_pasted_marks() -> None:
    person = _marked_person()
    background = np.zeros((300, 400, 3), np.uint8)
    image, joints = paste_person(background, person, np.array([101.3, 40.7, 181.3, 240.7]), 1.0)
    bright = np.argwhere(image[..., 0] > 150)[:, ::-1]  # (x, y) of the scaled-up marks
    for joint in joints[[JOINT_INDEX["head_top"], JOINT_INDEX["right_ankle"]]]:
        assert np.min(np.linalg.norm(bright - joint, axis=1)) <= 1.0
    assert image[:, :100].max() == 0 and image[:, 183:].max() == 0  # nothing outside the box


def test_placements_stand_on_one_ground_far_to_near() -> None:
    for seed in range(20):
        placed = place_people(np.random.default_rng(seed), (0.12, 0.9), (768, 432),
                              [0.4, 0.5, 0.3, 0.45])
        assert 1 <= len(placed) <= 4
        feet = [box[3] for _, box in placed]
        tall = [box[3] - box[1] for _, box in placed]
        assert feet == sorted(feet)  # pasted far to near
        assert np.all(np.diff(tall) >= -1e-9)  # nearer (lower) is taller: one horizon
        assert all(0.12 * 432 <= t <= 0.9 * 432 for t in tall)


def test_labels_cover_the_listed_real_people() -> None:
    labels = load_cutout_labels(LABELS)
    assert labels.names == tuple(f"{n}.gif" for n in real_material.REAL_PEOPLE_CUTOUTS)
    found = [f.num_people for f in labels.people]
    assert set(found) <= {0, 1} and sum(found) >= 50
    for frame, (w, h) in zip(labels.people, labels.sizes, strict=True):
        if frame.num_people:  # head above ankles, joints on the cut-out
            j = frame.joints_px[0]
            assert np.all((j > -0.2 * h) & (j < [1.2 * w, 1.2 * h]))


def test_teacher_labels_a_real_cutout_as_committed() -> None:
    pytest.importorskip("ai_edge_litert")
    from loco_ros.teacher.blazepose import BlazePose
    from loco_ros.teacher.label_cutouts import label_cutout
    from loco_ros.training.real_images import read_rgba

    paths = fetched(real_material.people_cutouts)
    model = BlazePose(fetched(real_material.teacher_models))
    committed = load_cutout_labels(LABELS)
    i = committed.names.index("jodi1.gif")  # standing, arms out
    frame = label_cutout(model, i, read_rgba(paths[i]))
    assert frame.num_people == 1
    assert np.allclose(frame.joints_px, committed.people[i].joints_px, atol=1.0)
    j = frame.joints_px[0]
    assert j[JOINT_INDEX["head_top"], 1] < j[JOINT_INDEX["neck"], 1] \
        < j[JOINT_INDEX["right_hip"], 1] < j[JOINT_INDEX["right_ankle"], 1]


def test_source_pastes_real_people_into_training_photographs() -> None:
    people = load_cutout_people(LABELS, fetched(real_material.people_cutouts))
    assert len(people) == sum(f.num_people for f in load_cutout_labels(LABELS).people)
    photos = PhotoBank(fetched(real_material.background_photos)[:20])
    source = PeopleCutoutSource(people, photos, seed=7)
    for index in range(4):
        image, K, joints = source(index)
        again, _, joints_again = source(index)
        assert np.array_equal(image, again)  # a pure function of (seed, index)
        assert np.array_equal(np.isnan(joints), np.isnan(joints_again))
        assert image.shape == (432, 768, 3) and 1 <= joints.shape[0] <= 4
        known = np.isfinite(joints).all(-1)
        assert known.sum(axis=1).min() >= 4
        uv = joints[known] @ K.T
        uv = uv[:, :2] / uv[:, 2:]
        assert np.all((uv > -0.3 * 432) & (uv < [1.3 * 768, 1.1 * 432]))
        assert np.all((joints[known][:, 2] > 1.0) & (joints[known][:, 2] < 60.0))


def test_training_with_cutouts_needs_the_photographs(tmp_path: Path) -> None:
    from loco_ros.training import train_predictor

    with pytest.raises(SystemExit, match="cutout-people-share needs"):
        train_predictor.main(["--model-config", str(ROOT / "weights/demo/model.yaml"), "--vha",
                              str(ROOT / "weights/demo/vha.safetensors"), "--out",
                              str(tmp_path / "run"), "--cutout-people-share", "0.2",
                              "--steps", "1", "--val-scenes", "0"])
