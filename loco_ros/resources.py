"""Where the package's data lives: the source checkout or an install's share/loco_ros."""

from __future__ import annotations

from pathlib import Path

from loco_ros.errors import LocoError


def find_data_path(relative: str, marker: str | None = None) -> Path:
    """Path of ``relative`` (e.g. "msg", "weights/demo") in the checkout or share/loco_ros.

    Looks next to the package's real location first (a source checkout, also through a
    colcon --symlink-install), then in ``<prefix>/share/loco_ros`` of a regular install.
    ``marker``: a file that must exist inside the directory for it to count.
    """
    here = Path(__file__)
    candidates = [here.resolve().parents[1] / relative]
    candidates += [p / "share" / "loco_ros" / relative for p in here.parents]
    for candidate in candidates:
        if candidate.exists() and (marker is None or (candidate / marker).exists()):
            return candidate
    raise LocoError(f"cannot find {relative!r} in the source tree or share/loco_ros")
