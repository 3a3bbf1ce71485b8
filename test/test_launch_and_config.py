"""Static checks of the launch file and the params file (launch and ros2 CLI are absent here)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from loco_ros.config import from_dict, to_dict
from loco_ros.errors import ConfigError
from loco_ros.node_config import NodeConfig

LAUNCH_FILE = REPO_ROOT / "launch" / "loco.launch.py"
PARAMS_FILE = REPO_ROOT / "config" / "loco.yaml"


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _flat(section: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in section.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _unflatten(flat: dict) -> dict:
    nested: dict = {}
    for name, value in flat.items():
        *path, leaf = name.split(".")
        section = nested
        for part in path:
            section = section.setdefault(part, {})
        section[leaf] = value
    return nested


@pytest.fixture(scope="module")
def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH_FILE.read_text())


def _install_share() -> Path:
    prefix = next(p for p in os.environ["AMENT_PREFIX_PATH"].split(":")
                  if (Path(p) / "share" / "loco_ros").is_dir())
    return Path(prefix)


@pytest.mark.ros
def test_launch_nodes_name_installed_executables(launch_tree) -> None:
    nodes = _calls(launch_tree, "Node")
    ours = [n for n in nodes if _keyword(n, "package").value == "loco_ros"]
    assert ours, "the launch file starts no loco_ros node"
    prefix = _install_share()
    for node in ours:
        executable = _keyword(node, "executable").value
        path = prefix / "lib" / "loco_ros" / executable
        assert path.is_file() and os.access(path, os.X_OK), path


@pytest.mark.ros
def test_launch_files_exist_in_the_install(launch_tree) -> None:
    share = _install_share() / "share" / "loco_ros"
    joins = _calls(launch_tree, "PathJoinSubstitution")
    referenced = {tuple(e.value for e in j.args[0].elts[1:]) for j in joins}
    assert ("config", "loco.yaml") in referenced and ("config", "loco.rviz") in referenced
    for parts in referenced:
        assert (share.joinpath(*parts)).is_file(), parts
    assert (share / "launch" / "loco.launch.py").is_file()


def test_launch_arguments_are_declared_and_parameters_exist(launch_tree) -> None:
    declared = {c.args[0].value for c in _calls(launch_tree, "DeclareLaunchArgument")}
    used = {c.args[0].value for c in _calls(launch_tree, "LaunchConfiguration")}
    assert used <= declared, used - declared
    assert {"namespace", "image", "camera_info", "params_file", "use_sim_time", "backend",
            "precision", "use_rviz"} <= declared
    known = set(_flat({f: 0 for f in NodeConfig.__dataclass_fields__})) | {"use_sim_time"}
    for node in _calls(launch_tree, "Node"):
        for item in getattr(_keyword(node, "parameters"), "elts", []):
            if isinstance(item, ast.Dict):
                assert {k.value for k in item.keys} <= known


def test_params_file_covers_node_config_exactly() -> None:
    params = yaml.safe_load(PARAMS_FILE.read_text())["/**"]["ros__parameters"]
    config = from_dict(NodeConfig, params)
    defaults = _flat(to_dict(NodeConfig()))
    assert set(_flat(params)) == set(defaults)
    assert config == NodeConfig(), "config/loco.yaml should state the defaults"


def test_invalid_parameters_are_named_in_the_error() -> None:
    params = _flat(yaml.safe_load(PARAMS_FILE.read_text())["/**"]["ros__parameters"])
    for name, bad in (("backend", "tensorflow"), ("input_qos", "fast"),
                      ("tracking.min_hits", 0), ("ground_plane.mode", "lidar")):
        with pytest.raises(ConfigError, match=name.split(".")[-1]):
            from_dict(NodeConfig, _unflatten({**params, name: bad}))
