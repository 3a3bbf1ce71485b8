"""Association of 3D joint candidates into people (greedy paper heuristic and Hungarian)."""

from __future__ import annotations

import numpy as np
import pytest

from loco_ros.config import AssociationConfig
from loco_ros.decoding.association import (
    assign_candidates,
    associate_people,
    unassigned_candidates,
)
from loco_ros.errors import ConfigError, InputError
from loco_ros.skeleton import JOINT_INDEX, NUM_JOINTS, STANDING_POSE_M
from loco_ros.types import Candidates

POSE = STANDING_POSE_M.astype(np.float32)
METHODS = ("greedy", "hungarian")


def person(head: tuple[float, float, float]) -> np.ndarray:
    return (POSE + np.asarray(head, np.float32)).astype(np.float32)


def candidates_of(people: list[np.ndarray], conf: list[float], drop=()) -> Candidates:
    """Candidates of whole people; ``drop`` = (person, joint) pairs left out."""
    joint, xyz, c = [], [], []
    for p, (pose, conf_p) in enumerate(zip(people, conf, strict=True)):
        for k in range(NUM_JOINTS):
            if (p, k) in drop:
                continue
            joint.append(k)
            xyz.append(pose[k])
            c.append(conf_p)
    xyz_arr = np.asarray(xyz, np.float32).reshape(-1, 3)
    uv = xyz_arr[:, :2] / xyz_arr[:, 2:3] * 1000.0 + 500.0
    return Candidates(
        joint=np.asarray(joint, np.int64),
        xyz_m=xyz_arr,
        uv_px=uv.astype(np.float32),
        confidence=np.asarray(c, np.float32),
    )


def shuffled(c: Candidates, seed: int = 0) -> Candidates:
    order = np.random.default_rng(seed).permutation(len(c))
    return Candidates(c.joint[order], c.xyz_m[order], c.uv_px[order], c.confidence[order])


@pytest.mark.parametrize("method", METHODS)
def test_two_people_side_by_side(method):
    a, b = person((-0.5, -1.0, 5.0)), person((0.5, -1.0, 5.0))
    cands = shuffled(candidates_of([a, b], [0.9, 0.8]))
    people = associate_people(cands, AssociationConfig(method=method))
    assert len(people) == 2
    np.testing.assert_array_equal(people.xyz_m[0], a)  # strongest head first
    np.testing.assert_array_equal(people.xyz_m[1], b)
    assert people.detected.all()
    np.testing.assert_allclose(people.score, [0.9, 0.8], rtol=1e-6)
    np.testing.assert_allclose(people.confidence[1], 0.8, rtol=1e-6)
    assert people.track_id == ("", "")
    assert people.uv_px.shape == (2, NUM_JOINTS, 2) and np.isfinite(people.uv_px).all()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("front_first", [True, False])
def test_person_in_front_of_another_on_the_same_ray(method, front_first):
    front = person((0.2, -1.0, 5.0))
    back = person((0.2 * 7.0 / 5.0, -1.0 * 7.0 / 5.0, 7.0))  # same head pixel, 2 m deeper
    conf = [0.9, 0.7] if front_first else [0.7, 0.9]
    people = associate_people(shuffled(candidates_of([front, back], conf), 3),
                              AssociationConfig(method=method))
    assert len(people) == 2
    first, second = (front, back) if front_first else (back, front)
    np.testing.assert_array_equal(people.xyz_m[0], first)
    np.testing.assert_array_equal(people.xyz_m[1], second)


@pytest.mark.parametrize("method", METHODS)
def test_missing_joints_leave_holes(method):
    a = person((0.0, -1.0, 4.0))
    wrist, knee = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_knee"]
    cands = candidates_of([a], [0.5], drop={(0, wrist), (0, knee)})
    people = associate_people(cands, AssociationConfig(method=method))
    assert len(people) == 1
    for k in (wrist, knee):
        assert np.isnan(people.xyz_m[0, k]).all()
        assert np.isnan(people.uv_px[0, k]).all()
        assert people.confidence[0, k] == 0.0
        assert not people.detected[0, k]
    assert people.detected[0].sum() == NUM_JOINTS - 2
    assert people.score[0] == pytest.approx(0.5 * 12 / 14)


@pytest.mark.parametrize("method", METHODS)
def test_joint_over_the_limit_is_not_attached_and_becomes_solitary(method):
    a = person((0.0, -1.0, 4.0))
    neck = JOINT_INDEX["neck"]
    a[neck] += np.array([0.0, 0.0, 0.6], np.float32)  # 0.65 m from the head > 0.5 m
    cands = candidates_of([a], [0.8])
    people = associate_people(cands, AssociationConfig(method=method))
    assert not people.detected[0, neck] and people.detected[0].sum() == 13
    solitary = unassigned_candidates(cands, people)
    assert len(solitary) == 1 and solitary.joint[0] == neck
    np.testing.assert_array_equal(solitary.xyz_m[0], a[neck])
    index = assign_candidates(cands, AssociationConfig(method=method))
    assert len(unassigned_candidates(cands, index)) == 1
    assert len(unassigned_candidates(cands, people, threshold=0.9)) == 0


def test_greedy_and_hungarian_differ():
    # Two heads; person A (stronger) lost its left ankle, so the only other left-ankle
    # candidate within reach is B's (2.6 m from A's head, under the 3 m limit).
    front = person((0.2, -1.0, 5.0))
    back = person((0.28, -1.4, 7.0))
    ankle = JOINT_INDEX["left_ankle"]
    cands = candidates_of([front, back], [0.9, 0.7], drop={(0, ankle)})
    greedy = associate_people(cands, AssociationConfig(method="greedy"))
    hung = associate_people(cands, AssociationConfig(method="hungarian"))
    # Greedy: the strongest head steals the ankle, B is left with a hole.
    np.testing.assert_array_equal(greedy.xyz_m[0, ankle], back[ankle])
    assert not greedy.detected[1, ankle]
    # Hungarian: the single candidate goes to the closer head, A keeps the hole.
    assert not hung.detected[0, ankle]
    np.testing.assert_array_equal(hung.xyz_m[1, ankle], back[ankle])


def test_hungarian_attaches_more_joints_than_greedy():
    # Neck candidates: n1 is nearest to both heads, n2 only reachable by A.
    a_head, b_head = np.array([0.0, 0, 5]), np.array([0.35, 0, 5])
    n1, n2 = np.array([0.15, 0.0, 5]), np.array([-0.3, 0, 5])
    cands = Candidates(
        joint=np.array([0, 0, 1, 1]),
        xyz_m=np.stack([a_head, b_head, n1, n2]).astype(np.float32),
        uv_px=np.zeros((4, 2), np.float32),
        confidence=np.array([0.9, 0.8, 0.5, 0.5], np.float32),
    )
    greedy = associate_people(cands, AssociationConfig(method="greedy"))
    hung = associate_people(cands, AssociationConfig(method="hungarian"))
    assert greedy.detected[:, 1].tolist() == [True, False]  # A took n1, n2 is 0.65 m from B
    assert hung.detected[:, 1].tolist() == [True, True]
    np.testing.assert_allclose(hung.xyz_m[0, 1], n2)
    np.testing.assert_allclose(hung.xyz_m[1, 1], n1)


@pytest.mark.parametrize("method", METHODS)
def test_min_joints_and_empty_inputs(method):
    lone_head = Candidates(
        joint=np.array([0]), xyz_m=np.array([[0, 0, 3]], np.float32),
        uv_px=np.zeros((1, 2), np.float32), confidence=np.array([0.9], np.float32),
    )
    assert len(associate_people(lone_head, AssociationConfig(method=method))) == 1
    assert len(associate_people(lone_head, AssociationConfig(method, min_joints=2))) == 0
    no_head = candidates_of([person((0, 0, 3))], [0.9], drop={(0, 0)})
    assert len(associate_people(no_head, AssociationConfig(method=method))) == 0
    empty = Candidates(np.zeros(0, np.int64), np.zeros((0, 3), np.float32),
                       np.zeros((0, 2), np.float32), np.zeros(0, np.float32))
    people = associate_people(empty, AssociationConfig(method=method))
    assert len(people) == 0 and people.xyz_m.shape == (0, NUM_JOINTS, 3)


def test_non_finite_candidates_are_ignored():
    a = person((0.0, -1.0, 4.0))
    cands = candidates_of([a], [0.8])
    xyz = cands.xyz_m.copy()
    xyz[3] = np.nan
    cands = Candidates(cands.joint, xyz, cands.uv_px, cands.confidence)
    people = associate_people(cands, AssociationConfig())
    assert not people.detected[0, 3] and people.detected[0].sum() == 13


def test_malformed_candidates_raise():
    bad = Candidates(np.array([0, 1]), np.zeros((3, 3), np.float32),
                     np.zeros((2, 2), np.float32), np.ones(2, np.float32))
    with pytest.raises(InputError):
        associate_people(bad, AssociationConfig())
    bad_type = Candidates(np.array([14]), np.zeros((1, 3), np.float32),
                          np.zeros((1, 2), np.float32), np.ones(1, np.float32))
    with pytest.raises(InputError):
        associate_people(bad_type, AssociationConfig())


@pytest.mark.parametrize("method", METHODS)
def test_hundred_people_correct(method):
    """Correctness only: the speed of association is measured by the benchmarks (a time
    bound here fails on a loaded machine and checks nothing on a fast one)."""
    rng = np.random.default_rng(1)
    heads = [(1.5 * i - 7.0, -1.0, 4.0 + 1.5 * j) for i in range(10) for j in range(10)]
    poses = [person(h) + rng.normal(0, 0.02, (NUM_JOINTS, 3)).astype(np.float32)
             for h in heads]
    conf = list(rng.uniform(0.3, 1.0, len(poses)))
    cands = shuffled(candidates_of(poses, conf), 5)
    assert len(cands) == 1400
    config = AssociationConfig(method=method)
    people = associate_people(cands, config)
    assert len(people) == 100 and people.detected.all()
    order = np.argsort(-np.asarray(conf), kind="stable")
    for p, src in enumerate(order):
        np.testing.assert_array_equal(people.xyz_m[p], poses[src])


def _naive_greedy(dist: np.ndarray, limit: float) -> np.ndarray:
    work = dist.copy()
    chosen = np.full(dist.shape[0], -1)
    for p in range(dist.shape[0]):
        if work.shape[1] and work[p].min() < limit:
            chosen[p] = int(np.argmin(work[p]))
            work[:, chosen[p]] = np.inf
    return chosen


def test_vectorised_greedy_equals_the_sequential_loop():
    from loco_ros.decoding.association import _greedy_type

    rng = np.random.default_rng(7)
    for _ in range(300):
        rows, cols = rng.integers(0, 12, size=2)
        dist = rng.uniform(0.0, 2.0, (rows, cols))
        np.testing.assert_array_equal(_greedy_type(dist, 1.0), _naive_greedy(dist, 1.0))


@pytest.mark.parametrize("method", METHODS)
def test_duplicate_frac_drops_a_person_found_again_at_another_depth(method):
    near = person((0.2, -1.0, 5.0))
    far = near * np.float32(7.0 / 5.0)  # every joint on the same ray, 40 % deeper
    other = person((2.0, -1.0, 5.0))  # a real second person beside them
    cands = shuffled(candidates_of([near, far, other], [0.6, 0.8, 0.7]), 5)
    assert len(associate_people(cands, AssociationConfig(method=method))) == 3
    people = associate_people(cands, AssociationConfig(method=method, duplicate_frac=0.2))
    assert len(people) == 2  # the weaker of the two on the same rays went
    np.testing.assert_array_equal(people.xyz_m[0], far)
    np.testing.assert_array_equal(people.xyz_m[1], other)
    with pytest.raises(ConfigError):
        AssociationConfig(duplicate_frac=1.0)
