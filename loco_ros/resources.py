"""Where the package's data lives: the source checkout or an install's share/loco_ros.

The demo model (``weights/demo``: model.yaml and the safetensors), the message definitions
(``msg``) and the model configurations (``config/models``) are found

- in a source checkout, next to the ``loco_ros`` directory (also through a colcon
  ``--symlink-install``, whose files link back to the checkout);
- in ``<prefix>/share/loco_ros`` of an install: colcon's install space, or the prefix that
  ``pip install .`` (or its wheel) installed into, a virtual environment, ``~/.local``,
  ``/usr/local`` or a ``--target`` directory.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

from loco_ros.errors import LocoError

SHARE = Path("share") / "loco_ros"


def data_roots() -> list[Path]:
    """Directories that may hold the data, most specific first, without duplicates."""
    here = Path(__file__)
    roots = [here.resolve().parents[1]]  # the checkout (a symlink install resolves into it)
    prefixes = list(here.parents)  # <prefix>/lib/pythonX.Y/site-packages/loco_ros/...
    prefixes += [Path(sysconfig.get_path("data")), Path(sys.prefix)]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        prefixes.append(Path(user_base))
    roots += [prefix / SHARE for prefix in prefixes]
    unique: list[Path] = []
    for root in roots:
        if root not in unique:
            unique.append(root)
    return unique


def find_data_path(relative: str, marker: str | None = None) -> Path:
    """Path of ``relative`` (e.g. "msg", "weights/demo") in the checkout or share/loco_ros.

    ``marker``: a file that must exist inside the directory for it to count. Raises LocoError
    naming the places looked in when none has it.
    """
    roots = data_roots()
    for root in roots:
        candidate = root / relative
        if candidate.exists() and (marker is None or (candidate / marker).exists()):
            return candidate
    looked = ", ".join(str(root) for root in roots[:1] + roots[-3:])
    raise LocoError(f"cannot find {relative!r} in the source tree or share/loco_ros "
                    f"(looked in {looked} and the other parents of {Path(__file__).parent})")
