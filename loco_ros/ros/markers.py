"""RViz markers of people: DELETEALL, then per person bones, joints and an id label."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from loco_ros.skeleton import LIMBS
from loco_ros.types import People
from loco_ros.visualization import person_colour, person_key

NAMESPACES = ("bones", "joints", "labels")


def _base_marker(header: Header, ns: str, key: int, kind: int, rgb, lifetime_s: float) -> Marker:
    marker = Marker(header=header, ns=ns, id=key, type=kind, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    marker.color = ColorRGBA(r=float(rgb[0]), g=float(rgb[1]), b=float(rgb[2]), a=1.0)
    marker.lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    return marker


def _point(xyz: np.ndarray) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def person_markers(people: People, p: int, header: Header, lifetime_s: float) -> list[Marker]:
    """Bones (LINE_LIST), joints (SPHERE_LIST) and a label (TEXT) of person ``p``."""
    track_id = people.track_id[p] if people.track_id else ""
    key = person_key(track_id, p)
    rgb = person_colour(key)
    xyz = people.xyz_m[p]
    finite = np.all(np.isfinite(xyz), axis=1)
    bones = _base_marker(header, "bones", key, Marker.LINE_LIST, rgb, lifetime_s)
    bones.scale.x = 0.03
    bones.points = [_point(xyz[j]) for a, b in LIMBS if finite[a] and finite[b] for j in (a, b)]
    joints = _base_marker(header, "joints", key, Marker.SPHERE_LIST, rgb, lifetime_s)
    joints.scale.x = joints.scale.y = joints.scale.z = 0.06
    joints.points = [_point(xyz[k]) for k in np.flatnonzero(finite)]
    label = _base_marker(header, "labels", key, Marker.TEXT_VIEW_FACING, rgb, lifetime_s)
    label.scale.z = 0.2
    label.text = track_id or f"#{p}"
    if finite[0]:
        label.pose.position = _point(xyz[0] - np.array([0.0, 0.25, 0.0]))
    return [bones, joints, label]


def people_to_markers(people: People, header: Header, lifetime_s: float) -> MarkerArray:
    """MarkerArray: a DELETEALL first, then the markers of every person (header of the image)."""
    clear = Marker(header=header, action=Marker.DELETEALL)
    markers = [clear]
    for p in range(len(people)):
        markers.extend(person_markers(people, p, header, lifetime_s))
    return MarkerArray(markers=markers)
