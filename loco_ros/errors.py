"""Exceptions of the loco_ros core."""


class LocoError(Exception):
    """Base class of every error the package raises on purpose."""


class ConfigError(LocoError):
    """A configuration value is unknown, missing or invalid."""


class WeightsError(LocoError):
    """A weights or engine file is missing, corrupt or does not match the model."""


class InputError(LocoError):
    """An input (image, intrinsics, volume) is malformed; the caller skips this frame.

    ``reason`` is a short snake_case category for counters (e.g. ``encoding``, ``too_large``).
    """

    def __init__(self, message: str, reason: str = "input") -> None:
        super().__init__(message)
        self.reason = reason
