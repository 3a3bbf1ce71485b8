"""Evaluation of trained LoCO models (ROS-free): VHA peak F1, JTA metric, MPJPE, 3DPCK, real
footage, speed."""

from __future__ import annotations

import argparse


def add_model_argument(parser: argparse.ArgumentParser, help: str = "model directory") -> None:
    """``--model DIR``; :func:`model_dir` turns its absence into the bundled demo model."""
    parser.add_argument("--model", default=None,
                        help=f"{help} (default: the bundled demo model, checkout or install)")


def model_dir(value: str | None) -> str:
    """``value``, or the bundled demo model's directory when it is None."""
    if value:
        return value
    from loco_ros.runtime.estimator import default_model_dir

    return str(default_model_dir())
