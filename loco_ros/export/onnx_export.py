"""The network as one ONNX graph: image (1, 3, Hi, Wi) float in [0, 1] -> volume (1, J, D, H, W).

    network = ImageToVolume(predictor, vha)              # CodePredictor + VHA decoder
    export_onnx(config, predictor, vha, "model.onnx")    # fixed input size, checked, tagged

The graph has one input ``image`` and one output ``volume``, a fixed batch of 1 and the input
size of ``config.grid`` (TensorRT builds its fastest engine for a static shape). The ImageNet
normalisation is inside the predictor, so the graph takes RGB in [0, 1] as the torch module
does. The file carries ``loco_ros.*`` entries in its ``metadata_props`` (input and output
shape, grid, VHA version, predictor, versions) that backends check against the model config.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import onnx
import torch
from torch import nn
from tqdm import tqdm

from loco_ros.config import ModelConfig, to_dict
from loco_ros.decoding.grid import heatmap_shape
from loco_ros.errors import WeightsError
from loco_ros.model.network import ImageToVolume
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder

LOG = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAME = "volume"
DEFAULT_OPSET = 17
METADATA_PREFIX = "loco_ros."


def package_version() -> str:
    """loco_ros's version (the colcon install's ``loco_ros/__init__.py`` is rosidl's and has
    no ``__version__``, so ask the installed distribution first)."""
    try:
        return importlib.metadata.version("loco_ros")
    except importlib.metadata.PackageNotFoundError:
        import loco_ros

        return str(getattr(loco_ros, "__version__", "unknown"))


def onnx_metadata(model_config: ModelConfig, opset: int = DEFAULT_OPSET) -> dict[str, str]:
    """The ``metadata_props`` (str -> str) that ``export_onnx`` writes for ``model_config``."""
    grid = model_config.grid
    input_shape = (1, 3, grid.image_height, grid.image_width)
    output_shape = (1, *heatmap_shape(grid))
    return {
        f"{METADATA_PREFIX}input_shape": ",".join(map(str, input_shape)),
        f"{METADATA_PREFIX}output_shape": ",".join(map(str, output_shape)),
        f"{METADATA_PREFIX}input_size_wh": f"{grid.image_width}x{grid.image_height}",
        f"{METADATA_PREFIX}grid": json.dumps(to_dict(grid), sort_keys=True),
        f"{METADATA_PREFIX}vha_version": str(model_config.vha.version),
        f"{METADATA_PREFIX}predictor": json.dumps(to_dict(model_config.predictor),
                                                  sort_keys=True),
        f"{METADATA_PREFIX}version": package_version(),
        f"{METADATA_PREFIX}torch_version": torch.__version__,
        f"{METADATA_PREFIX}opset": str(opset),
    }


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of the ONNX file ``path`` (weights not loaded); WeightsError if
    the file is missing or not ONNX."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"ONNX file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx raises DecodeError and others on bad files
        raise WeightsError(f"ONNX file {path} is corrupt or not ONNX: {err}") from err
    return {prop.key: prop.value for prop in model.metadata_props}


def check_onnx_metadata(path: str | Path, model_config: ModelConfig) -> dict[str, str]:
    """WeightsError unless the ONNX file was exported for ``model_config``'s input size and
    output grid; returns its metadata."""
    found = read_onnx_metadata(path)
    expected = onnx_metadata(model_config)
    for key in ("input_shape", "output_shape", "vha_version"):
        name = METADATA_PREFIX + key
        if found.get(name) != expected[name]:
            raise WeightsError(f"ONNX file {path} does not match the model config: {name} is "
                               f"{found.get(name)!r}, expected {expected[name]!r}")
    return found


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode for the block, every submodule's training flag restored."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in flags:
            m.training = training


def _set_static_shape(value_info: onnx.ValueInfoProto, shape: tuple[int, ...]) -> None:
    """Declare ``shape`` on a graph input/output (the traced reshape leaves the batch
    symbolic; the graph is traced for batch 1, and TensorRT wants static shapes)."""
    dims = value_info.type.tensor_type.shape.dim
    del dims[:]
    for size in shape:
        dims.add().dim_value = int(size)


def _export_bytes(network: ImageToVolume, opset: int) -> bytes:
    """The serialized ONNX graph of ``network`` traced on one zero image (no metadata)."""
    param = next(network.parameters())
    dummy = torch.zeros((1, *network.input_shape), dtype=param.dtype, device=param.device)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The shape checks in forward() are constant for a fixed size (TracerWarning), and the
        # TorchScript exporter is the one that needs no onnxscript (DeprecationWarning).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network, (dummy,), buffer, dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], do_constant_folding=True,
        )
    return buffer.getvalue()


def _write_atomically(model: onnx.ModelProto, path: Path) -> None:
    """Save ``model`` to ``path`` through a temporary file in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        onnx.save(model, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; an export is an ordinary readable file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_onnx(
    model_config: ModelConfig,
    predictor: CodePredictor,
    vha: VolumetricHeatmapAutoencoder,
    path: str | Path,
    opset: int = DEFAULT_OPSET,
    progress: bool = True,
) -> Path:
    """Export predictor + VHA decoder as one ONNX graph with a fixed (1, 3, Hi, Wi) input.

    Traces on the modules' device and dtype (eval mode, restored after), validates the graph
    with ``onnx.checker`` (full check, shape inference included), adds
    ``onnx_metadata(model_config, opset)`` to ``metadata_props`` and writes ``path``
    atomically. ``progress`` shows a tqdm bar of the four stages on a terminal (and a log line
    at the end in any case). Returns ``path``.
    """
    path = Path(path)
    network = ImageToVolume(predictor, vha)
    if network.input_shape != (3, model_config.grid.image_height, model_config.grid.image_width):
        raise WeightsError(f"predictor input {network.input_shape} does not match the grid of "
                           "the model config")
    stages = ("trace", "check", "metadata", "write")
    with tqdm(total=len(stages), desc=f"ONNX export {path.name}", leave=False,
              disable=None if progress else True) as bar:  # None: off when not a terminal
        bar.set_postfix_str(stages[0])
        with _eval_mode(network):
            model = onnx.load_from_string(_export_bytes(network, opset))
        _set_static_shape(model.graph.output[0], (1, *network.output_shape))
        bar.update()
        bar.set_postfix_str(stages[1])
        onnx.checker.check_model(model, full_check=True)
        bar.update()
        bar.set_postfix_str(stages[2])
        onnx.helper.set_model_props(model, onnx_metadata(model_config, opset))
        model.doc_string = "loco_ros: image (1,3,Hi,Wi) RGB [0,1] -> volume (1,J,D,H,W)"
        bar.update()
        bar.set_postfix_str(stages[3])
        _write_atomically(model, path)
        bar.update()
    LOG.info("exported ONNX %s (input %s, opset %d)", path, (1, *network.input_shape), opset)
    return path


def weights_digest(model_config: ModelConfig, module: nn.Module, opset: int) -> str:
    """sha256 (hex) of the config, every tensor of ``module``'s state dict, the opset and the
    loco_ros and torch versions: names an exported graph."""
    digest = hashlib.sha256()
    digest.update(json.dumps(to_dict(model_config), sort_keys=True).encode())
    digest.update(f"{opset}|{package_version()}|{torch.__version__}".encode())
    for name, tensor in sorted(module.state_dict().items()):
        data = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{tuple(data.shape)}|{data.dtype}".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def cached_onnx(
    model_config: ModelConfig,
    predictor: CodePredictor,
    vha: VolumetricHeatmapAutoencoder,
    cache_dir: str | Path,
    opset: int = DEFAULT_OPSET,
    progress: bool = True,
) -> Path:
    """The ONNX export of these weights in ``cache_dir`` (``loco_<digest>.onnx``), exported
    only when no file for the same config, weights, opset and versions is there yet."""
    digest = weights_digest(model_config, ImageToVolume(predictor, vha), opset)
    path = Path(cache_dir) / f"loco_{digest[:20]}.onnx"
    if path.is_file():
        LOG.info("using cached ONNX export %s", path)
        return path
    return export_onnx(model_config, predictor, vha, path, opset=opset, progress=progress)
