"""Model weights as safetensors files (never pickles).

Every failure (missing file, unreadable or truncated file, keys or shapes that do not match the
module) raises :class:`loco_ros.errors.WeightsError` with the path and what is wrong.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from loco_ros.errors import WeightsError

_MAX_LISTED = 5


def _listed(names: list[str]) -> str:
    more = f" (+{len(names) - _MAX_LISTED} more)" if len(names) > _MAX_LISTED else ""
    return ", ".join(names[:_MAX_LISTED]) + more


def save_weights(
    module_or_dict: nn.Module | Mapping[str, torch.Tensor],
    path: str | Path,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write a module's state dict (or a tensor dict) and string ``metadata`` to ``path``.

    Tensors are copied to CPU and made contiguous; the file is written to a temporary name in
    the same directory and renamed, so a reader never sees a partial file.
    """
    if isinstance(module_or_dict, nn.Module):
        state: Mapping[str, torch.Tensor] = module_or_dict.state_dict()
    else:
        state = module_or_dict
    tensors: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"cannot save {path}: entry {name!r} is not a tensor")
        tensors[name] = value.detach().to("cpu").contiguous().clone()
    meta = dict(metadata or {})
    bad = [k for k, v in meta.items() if not (isinstance(k, str) and isinstance(v, str))]
    if bad:
        raise WeightsError(f"cannot save {path}: metadata must map str to str, bad keys {bad}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; weights are shared files
        os.replace(tmp, path)
    except Exception as err:
        Path(tmp).unlink(missing_ok=True)
        raise WeightsError(f"cannot write weights {path}: {err}") from err


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors (on CPU) and metadata stored in the safetensors file ``path``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as err:  # safetensors raises its own error type (and others) on bad files
        raise WeightsError(
            f"weights file {path} is corrupt, truncated or not safetensors: {err}"
        ) from err
    return tensors, metadata


def load_weights(module: nn.Module, path: str | Path, prefix: str = "") -> dict[str, str]:
    """Load ``path`` into ``module``; returns the metadata.

    Every key and shape must match. With ``prefix`` (e.g. ``"backbone."``) only the tensors
    whose names start with it are loaded, on both sides, and the rest of ``module`` is left
    as it is: how a predictor starts from another model's backbone.
    """
    tensors, metadata = read_weights(path)
    tensors = {k: v for k, v in tensors.items() if k.startswith(prefix)}
    expected = {k: v for k, v in module.state_dict().items() if k.startswith(prefix)}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(
        f"{name} {tuple(tensors[name].shape)} != {tuple(expected[name].shape)}"
        for name in set(expected) & set(tensors)
        if tensors[name].shape != expected[name].shape
    )
    problems = []
    if not expected:
        problems.append(f"no tensors named {prefix}*")
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(unexpected)}")
    if wrong:
        problems.append(f"shape mismatch (file != model): {_listed(wrong)}")
    if problems:
        raise WeightsError(
            f"weights {path} do not match {type(module).__name__}: " + "; ".join(problems)
        )
    try:
        module.load_state_dict(tensors, strict=not prefix)
    except RuntimeError as err:
        raise WeightsError(f"cannot load weights {path}: {err}") from err
    return metadata
