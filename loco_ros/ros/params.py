"""ROS parameters <-> frozen config dataclasses (nested sections become dotted names)."""

from __future__ import annotations

from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from loco_ros.config import from_dict, to_dict
from loco_ros.errors import ConfigError
from loco_ros.runtime.node_config import flatten, unflatten

T = TypeVar("T")
ROS_OWN_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})


def flat_defaults(cls: type, prefix: str = "") -> dict[str, Any]:
    """Dotted parameter name -> default value of every field of the dataclass ``cls``."""
    return flatten(to_dict(cls()), prefix)


def declare_config_parameters(node: Node, cls: type, describe=None) -> list[str]:
    """Declare every field of ``cls`` with ``describe(name, default[, with_range])``'s
    ParameterDescriptor (a description, a range); the value from an override (--ros-args,
    params file) wins over the default.

    A field the node already declared from an override is re-declared with its descriptor.
    An override of the wrong type or out of range is not a crash here: it is declared with
    a dynamically typed, range-free descriptor and configure then names it (NodeConfig's
    checks). Returns those names.
    """
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException

    loose: list[str] = []
    for name, default in flat_defaults(cls).items():
        descriptor = describe(name, default) if describe else ParameterDescriptor()
        if node.has_parameter(name):  # auto-declared from an override, without a descriptor
            node.undeclare_parameter(name)
        try:
            node.declare_parameter(name, default, descriptor)
        except (InvalidParameterTypeException, InvalidParameterValueException, TypeError):
            fallback = describe(name, default, False) if describe else ParameterDescriptor()
            fallback.dynamic_typing = True
            node.declare_parameter(name, default, fallback)
            loose.append(name)
    return loose


def config_with(node: Node, cls: type[T], changes: dict[str, Any]) -> T:
    """``cls`` from the node's parameters with ``changes`` (dotted name -> value) applied;
    ConfigError names an invalid value."""
    nested: dict[str, Any] = {}
    for name in flat_defaults(cls):
        *path, leaf = name.split(".")
        section = nested
        for part in path:
            section = section.setdefault(part, {})
        section[leaf] = changes[name] if name in changes else node.get_parameter(name).value
    return from_dict(cls, nested)


def unknown_parameters(node: Node, cls: type, extra: frozenset[str] = frozenset()) -> list[str]:
    """Parameters the node holds that ``cls`` does not know (typos in a params file);
    ``extra``: the node's own parameters outside ``cls``."""
    known = set(flat_defaults(cls)) | ROS_OWN_PARAMETERS | extra
    names = node.list_parameters([], 0).names
    return sorted(n for n in names if n not in known and not n.startswith("qos_overrides."))


def read_config(node: Node, cls: type[T], extra: frozenset[str] = frozenset()) -> T:
    """Build ``cls`` from the node's parameters; ConfigError names unknown or invalid ones
    (``extra``: the node's own parameters outside ``cls``)."""
    unknown = unknown_parameters(node, cls, extra)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}")
    values = {name: node.get_parameter(name).value for name in flat_defaults(cls)}
    return from_dict(cls, unflatten(values))


