"""The JTA annotation reader, on small JTA-format files written here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loco_ros.data.jta import (
    JTA_NUM_JOINTS,
    TEST_FRAMES,
    JTASequence,
    annotation_path,
    convert_to_npy,
    jta_intrinsics,
    load_sequence,
    parse_table,
    select_gt,
    sequence_paths,
    video_path,
)
from loco_ros.skeleton import JTA_TO_LOCO, NUM_JOINTS


def _rows(frame, pid, *, occluded=(), all_occluded=False, shift_u=0.0):
    """22 rows of one person: coordinates encode (person, joint) so the mapping shows."""
    rows = []
    for j in range(JTA_NUM_JOINTS):
        x2d, y2d = 100.0 * pid + j + shift_u, 50.0 + 10.0 * j
        x3d, y3d, z3d = pid + 0.01 * j, -1.0 + 0.1 * j, 5.0 + pid
        occ = 1 if (all_occluded or j in occluded) else 0
        rows.append([frame, pid, j, x2d, y2d, x3d, y3d, z3d, occ, int(j == 5)])
    return rows


@pytest.fixture
def jta_root(tmp_path):
    """ROOT/annotations/test/seq_{2,10}.json with frames 1 and 10 (shuffled rows)."""
    rows = (
        _rows(1, 7)
        + _rows(1, 3, occluded=(4, 8))
        + _rows(10, 3)
        + _rows(10, 7, all_occluded=True)
        # Person 9 at the right border: u = 1900 + j, joints 20-21 outside (u >= 1920).
        + _rows(10, 9, shift_u=1000.0)
    )
    rng = np.random.default_rng(0)
    rows = [rows[i] for i in rng.permutation(len(rows))]
    folder = tmp_path / "annotations" / "test"
    folder.mkdir(parents=True)
    for name in ("seq_10", "seq_2"):
        (folder / f"{name}.json").write_text(json.dumps(rows))
    (folder / "notes.json").write_text("[]")
    return tmp_path


def test_layout_and_protocol_constants(jta_root):
    paths = sequence_paths(jta_root, "test")
    assert [p.name for p in paths] == ["seq_2.json", "seq_10.json"]
    assert annotation_path(jta_root, "test", 10) == paths[1]
    assert video_path(jta_root, "val", "seq_3") == jta_root / "videos" / "val" / "seq_3.mp4"
    assert sequence_paths(jta_root, "train") == []
    with pytest.raises(ValueError):
        sequence_paths(jta_root, "training")
    assert len(TEST_FRAMES) == 90 and TEST_FRAMES[0] == 10 and TEST_FRAMES[-1] == 900
    K = jta_intrinsics()
    np.testing.assert_array_equal(K, [[1158, 0, 960], [0, 1158, 540], [0, 0, 1]])
    assert K.dtype == np.float64


def test_frames_people_and_joint_mapping(jta_root):
    seq = load_sequence(sequence_paths(jta_root, "test")[0])
    assert seq.name == "seq_2"
    assert list(seq.frames) == [1, 10] and len(seq) == 2
    f1 = seq.frame(1)
    assert f1.frame == 1 and f1.video_index == 0
    np.testing.assert_array_equal(f1.person_ids, [3, 7])  # sorted by id
    assert f1.xyz_m.shape == (2, NUM_JOINTS, 3) and f1.xyz_m.dtype == np.float32
    assert f1.uv_px.shape == (2, NUM_JOINTS, 2)
    jta = np.array(JTA_TO_LOCO)
    for i, pid in enumerate(f1.person_ids):
        np.testing.assert_allclose(f1.xyz_m[i, :, 0], pid + 0.01 * jta, rtol=1e-6)
        np.testing.assert_allclose(f1.xyz_m[i, :, 2], 5.0 + pid)
        np.testing.assert_allclose(f1.uv_px[i, :, 0], 100.0 * pid + jta)
        np.testing.assert_allclose(f1.uv_px[i, :, 1], 50.0 + 10.0 * jta)
    # Person 3 has JTA joints 4 (right_shoulder = LoCO 2) and 8 (left_shoulder = LoCO 5)
    # occluded; JTA joint 5 (right_elbow = LoCO 3) self-occluded for everybody.
    np.testing.assert_array_equal(np.flatnonzero(f1.occluded[0]), [2, 5])
    assert not f1.occluded[1].any()
    assert np.all(np.flatnonzero(f1.self_occluded.any(axis=0)) == [3])
    assert not f1.fully_occluded.any()
    # A frame without annotation is empty, not an error.
    empty = seq.frame(2)
    assert len(empty) == 0 and empty.xyz_m.shape == (0, NUM_JOINTS, 3)
    assert [f.frame for f in seq] == [1, 10]


def test_ground_truth_selection(jta_root):
    seq = load_sequence(annotation_path(jta_root, "test", 2))
    f10 = seq.frame(10)
    np.testing.assert_array_equal(f10.person_ids, [3, 7, 9])
    np.testing.assert_array_equal(f10.fully_occluded, [False, True, False])
    gt = select_gt(f10)
    np.testing.assert_array_equal(gt.person_ids, [3, 9])  # 7 is fully occluded
    assert gt.mask[0].all()
    # Person 9: u = 100 * 9 + j + 1000 = 1900 + j, so JTA joints 0..19 are inside.
    jta = np.array(JTA_TO_LOCO)
    np.testing.assert_array_equal(gt.mask[1], 1900 + jta < 1920)
    assert np.all(np.isnan(gt.xyz_m[1][~gt.mask[1]]))
    np.testing.assert_allclose(gt.xyz_m[1][gt.mask[1], 2], 14.0)
    # Partly occluded joints still count (frame 1, person 3).
    gt1 = select_gt(seq.frame(1))
    assert gt1.mask.all()


def test_npy_cache_matches_json(jta_root):
    path = annotation_path(jta_root, "test", 10)
    npy = convert_to_npy(path)
    a, b = JTASequence.load(path), load_sequence(npy)
    for n in (1, 10):
        fa, fb = a.frame(n), b.frame(n)
        np.testing.assert_array_equal(fa.xyz_m, fb.xyz_m)
        np.testing.assert_array_equal(fa.occluded, fb.occluded)


def test_malformed_tables_are_rejected():
    with pytest.raises(ValueError):
        parse_table([[1, 2, 3]])
    good = _rows(1, 1)
    bad_joint = [r[:] for r in good]
    bad_joint[0][2] = 22
    with pytest.raises(ValueError):
        parse_table(bad_joint)
    bad_frame = [r[:] for r in good]
    bad_frame[0][0] = 0
    with pytest.raises(ValueError):
        parse_table(bad_frame)
    assert parse_table([]).shape == (0, 10)
    # A person with missing joint rows: NaN and occluded there, still not "fully occluded".
    partial = [r for r in good if r[2] != 18]
    f = JTASequence("x", partial).frame(1)
    k = JTA_TO_LOCO.index(18)
    assert np.all(np.isnan(f.xyz_m[0, k])) and f.occluded[0, k]
    assert not f.fully_occluded[0]
    assert not select_gt(f).mask[0, k]
