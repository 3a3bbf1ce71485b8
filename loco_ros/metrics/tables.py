"""Markdown tables of the metric results, shaped like the papers' tables.

JTA (LoCO Table 3: PR / RE / F1 x100 per threshold in metres) and 3DPCK (PandaNet Tables 3
and 4: % by camera distance in metres, and per joint group); floats formatted, NaN as "-".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from loco_ros.metrics.pck import PckCounts


def _cell(value: object, float_format: str) -> str:
    if isinstance(value, (float, np.floating)):
        return "-" if np.isnan(value) else format(float(value), float_format)
    return str(value)


def format_markdown_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    float_format: str = ".2f",
) -> str:
    """A GitHub markdown table; floats printed with ``float_format``, NaN as "-"."""
    lines = [
        "| " + " | ".join(str(h) for h in header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in rows:
        if len(row) != len(header):
            raise ValueError("every row needs one cell per header column")
        lines.append("| " + " | ".join(_cell(v, float_format) for v in row) + " |")
    return "\n".join(lines)


def jta_table(results: dict[float, dict[str, float]], name: str = "model") -> str:
    """Markdown row(s) shaped like LoCO Table 3 (PR, RE, F1 at each threshold, x100)."""
    ts = sorted(results)
    header = ["method"] + [f"{m}@{t:g}m" for t in ts for m in ("PR", "RE", "F1")]
    row: list[object] = [name]
    for t in ts:
        row += [100.0 * results[t][m] for m in ("pr", "re", "f1")]
    return format_markdown_table(header, [row])


def pck_distance_table(counts: PckCounts, name: str = "model") -> str:
    """Markdown table shaped like PandaNet Table 3 (3DPCK % by camera distance, m)."""
    res = counts.by_distance()
    row = [name] + [100.0 * v for v in res.values()]
    return format_markdown_table(["Dist. (m)", *res], [row], ".1f")


def pck_joint_table(counts: PckCounts, name: str = "model", groups: bool = True) -> str:
    """Markdown table shaped like PandaNet Table 4 (3DPCK % per joint group, or per joint)."""
    res = counts.by_group() if groups else counts.by_joint()
    row = [name] + [100.0 * v for v in res.values()]
    return format_markdown_table(["Method", *res], [row], ".1f")
