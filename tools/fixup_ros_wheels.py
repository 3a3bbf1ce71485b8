"""Point the ROS 2 PyPI wheels' exported CMake files at this interpreter's include dirs.

The wheels were built in a container whose Python and numpy include dirs are hard-coded in
<prefix>/share/*/cmake/*.cmake; rosidl_generate_interfaces() then fails with "includes
non-existent path". Real paths are written because CMake refuses exported include dirs inside
the source tree, where the `.venv` link lives. Idempotent: rewrites only files that still name
the build container.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

import numpy

BUILD_PYTHON_INCLUDE = "/opt/python/cp311-cp311/include/python3.11"
BUILD_NUMPY_INCLUDE = "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include"


def fixup(prefix: Path) -> int:
    """Rewrite the CMake files below ``prefix``/share; returns how many changed."""
    replacements = {
        BUILD_NUMPY_INCLUDE: os.path.realpath(numpy.get_include()),
        BUILD_PYTHON_INCLUDE: os.path.realpath(sysconfig.get_paths()["include"]),
    }
    changed = 0
    for path in (prefix / "share").glob("*/cmake/*.cmake"):
        text = path.read_text()
        new = text
        for old, repl in replacements.items():
            new = new.replace(old, repl)
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


if __name__ == "__main__":
    count = fixup(Path(os.path.realpath(sys.prefix)))
    print(f"fixup_ros_wheels: {count} CMake file(s) rewritten under {sys.prefix}/share")
