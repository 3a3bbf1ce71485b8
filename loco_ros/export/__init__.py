"""Export of the network (code predictor + VHA decoder) to ONNX, for ONNX Runtime and TensorRT."""

from loco_ros.export.onnx_export import (
    cached_onnx,
    export_onnx,
    onnx_metadata,
    read_onnx_metadata,
)

__all__ = ["cached_onnx", "export_onnx", "onnx_metadata", "read_onnx_metadata"]
