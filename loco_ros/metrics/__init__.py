"""Evaluation metrics (pure numpy/scipy): JTA joint detection, MPJPE, 3DPCK, VHA peak F1.

Inputs use the letters of docs/CONVENTIONS.md: G ground-truth people, P predicted people,
J = 14 joints; 3D points in metres (camera optical frame), absent joints NaN.

- :mod:`.jta`: :func:`jta_frame_counts` (:func:`jta_frame_counts_at`: several thresholds) /
  :func:`jta_metric`, the LoCO paper's Table 3 metric (greedy row-then-column minimum
  matching of joints of the same type, PR/RE/F1 per frame averaged over frames).
- :mod:`.mpjpe`: :func:`match_people_hungarian` (metres), :func:`match_people_in_image`
  (pixels), :func:`mpjpe_mm`: person matching and MPJPE in millimetres.
- :mod:`.pck`: :func:`pck3d`, PandaNet's 3DPCK@150mm with distance bins and per-joint
  breakdown.
- :mod:`.pose2d`: :func:`frame_counts` / :class:`Pose2dCounts`, person precision / recall
  and PCK@0.2 of the height in pixels, against a reference on real footage;
  :func:`match_people`, which reference people a prediction finds.
- :mod:`.binned_recall`: :class:`BinnedRecall`, recall by a quantity of the reference people
  (image height on real footage, distance on renders).
- :mod:`.peak_f1`: :func:`peak_f1`, the VHA's F1 of peaks at 0/1/2 voxels (paper Table 2).
- :mod:`.tables`: :func:`format_markdown_table` and ``*_table`` helpers print the results.

Every public name is re-exported here: ``from loco_ros.metrics import jta_metric`` works.
"""

from loco_ros.metrics.binned_recall import BinnedRecall, bin_label
from loco_ros.metrics.jta import (
    JTA_THRESHOLDS_M,
    JtaCounts,
    greedy_row_column_matches,
    jta_frame_counts,
    jta_frame_counts_at,
    jta_metric,
    jta_scores,
)
from loco_ros.metrics.mpjpe import match_people_hungarian, match_people_in_image, mpjpe_mm
from loco_ros.metrics.pck import (
    JOINT_GROUPS,
    PCK_DISTANCE_EDGES_M,
    PckCounts,
    pck3d,
    person_distance_m,
)
from loco_ros.metrics.peak_f1 import PeakCounts, peak_f1
from loco_ros.metrics.pose2d import (
    SIZE_EDGES_FRAC,
    PersonMatch,
    Pose2dCounts,
    countable,
    frame_counts,
    match_people,
    visible_joints,
)
from loco_ros.metrics.tables import (
    format_markdown_table,
    jta_table,
    pck_distance_table,
    pck_joint_table,
)

__all__ = [
    "SIZE_EDGES_FRAC",
    "BinnedRecall",
    "bin_label",
    "JOINT_GROUPS",
    "JTA_THRESHOLDS_M",
    "PCK_DISTANCE_EDGES_M",
    "JtaCounts",
    "PckCounts",
    "PeakCounts",
    "PersonMatch",
    "Pose2dCounts",
    "countable",
    "format_markdown_table",
    "frame_counts",
    "greedy_row_column_matches",
    "jta_frame_counts",
    "jta_frame_counts_at",
    "jta_metric",
    "jta_scores",
    "jta_table",
    "match_people_hungarian",
    "match_people",
    "match_people_in_image",
    "mpjpe_mm",
    "pck3d",
    "pck_distance_table",
    "pck_joint_table",
    "peak_f1",
    "person_distance_m",
    "visible_joints",
]
