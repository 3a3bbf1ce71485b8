"""Inference backends behind one callable (``base.VolumeBackend``) and the choice among them
(``selection.select_backend``); see those modules.

Import from the submodules (``loco_ros.backends.selection``, ``.base``): the colcon install
leaves out sub-package ``__init__.py`` files, so these re-exports exist only in a source or
pip install.
"""

from loco_ros.backends.base import (
    BackendError,
    BackendUnavailable,
    VolumeBackend,
    squeeze_batch,
    volume_to_numpy,
)
from loco_ros.backends.selection import BACKENDS, default_cache_dir, select_backend

__all__ = [
    "BACKENDS",
    "BackendError",
    "BackendUnavailable",
    "VolumeBackend",
    "default_cache_dir",
    "select_backend",
    "squeeze_batch",
    "volume_to_numpy",
]
