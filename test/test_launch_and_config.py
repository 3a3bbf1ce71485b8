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
from loco_ros.runtime.node_config import NodeConfig, flatten, unflatten

LAUNCH_FILE = REPO_ROOT / "launch" / "loco.launch.py"
PARAMS_FILE = REPO_ROOT / "config" / "loco.yaml"


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


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
    known = set(flatten({f: 0 for f in NodeConfig.__dataclass_fields__})) | {"use_sim_time"}
    for node in _calls(launch_tree, "Node"):
        for item in getattr(_keyword(node, "parameters"), "elts", []):
            if isinstance(item, ast.Dict):
                assert {k.value for k in item.keys} <= known


def test_params_file_covers_node_config_exactly() -> None:
    params = yaml.safe_load(PARAMS_FILE.read_text())["/**"]["ros__parameters"]
    config = from_dict(NodeConfig, params)
    defaults = flatten(to_dict(NodeConfig()))
    assert set(flatten(params)) == set(defaults)
    assert config == NodeConfig(), "config/loco.yaml should state the defaults"


def test_invalid_parameters_are_named_in_the_error() -> None:
    params = flatten(yaml.safe_load(PARAMS_FILE.read_text())["/**"]["ros__parameters"])
    for name, bad in (("backend", "tensorflow"), ("input_qos", "fast"),
                      ("tracking.min_hits", 0), ("ground_plane.mode", "lidar")):
        with pytest.raises(ConfigError, match=name.split(".")[-1]):
            from_dict(NodeConfig, unflatten({**params, name: bad}))


# ----------------------------------------------------------------------------- launch logic
# launch and launch_ros are not installed here: the launch file runs against stand-ins that
# record what it builds (the real `ros2 launch` check is by hand, see the README).


class _Recorded:
    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


class _IfCondition(_Recorded):
    def evaluate(self, context) -> bool:
        name = self.args[0].args[0]
        return context.launch_configurations[name].lower() in ("true", "1")


class _Context:
    def __init__(self, **values: str) -> None:
        self.launch_configurations = values


@pytest.fixture
def launch_module(monkeypatch):
    import importlib.util
    import sys
    import types

    stubs = {
        "launch": {"LaunchDescription": _Recorded},
        "launch.actions": {"DeclareLaunchArgument": _Recorded, "OpaqueFunction": _Recorded},
        "launch.conditions": {"IfCondition": _IfCondition},
        "launch.substitutions": {"LaunchConfiguration": _Recorded,
                                 "PathJoinSubstitution": _Recorded},
        "launch_ros": {},
        "launch_ros.actions": {"Node": _Recorded},
    }
    for name, attributes in stubs.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("loco_launch_under_test", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launch_values(**change: str) -> dict[str, str]:
    values = dict(namespace="", image="image", camera_info="camera_info",
                  params_file="/tmp/user.yaml", use_sim_time="", backend="", precision="",
                  use_rviz="false", rviz_config=str(REPO_ROOT / "config" / "loco.rviz"))
    values.update(change)
    return values


def test_launch_arguments_override_the_params_file_only_when_given(launch_module,
                                                                   launch_tree) -> None:
    defaults = {c.args[0].value: _keyword(c, "default_value")
                for c in _calls(launch_tree, "DeclareLaunchArgument")}
    for name in ("backend", "precision", "use_sim_time"):
        assert defaults[name].value == "", f"{name} must default to '' (the file decides)"
    (node,) = launch_module._setup(_Context(**_launch_values()))
    assert node.kwargs["parameters"] == ["/tmp/user.yaml"]  # the user's YAML backend stands
    (node,) = launch_module._setup(_Context(**_launch_values(
        backend="torch", precision="fp32", use_sim_time="true", namespace="front")))
    assert node.kwargs["parameters"] == [
        "/tmp/user.yaml", {"backend": "torch", "precision": "fp32", "use_sim_time": True}]
    assert node.kwargs["namespace"] == "front"


def test_rviz_config_follows_the_namespace(launch_module) -> None:
    template = (REPO_ROOT / "config" / "loco.rviz").read_text()
    topics = [line.split("Value:")[1].strip() for line in template.splitlines()
              if line.strip().startswith("Value: /")]
    assert topics and all(t.startswith("/people/") for t in topics)
    assert launch_module.namespaced_rviz_config(template, "") == template
    for namespace in ("front", "/front", "/front/"):
        text = launch_module.namespaced_rviz_config(template, namespace)
        assert yaml.safe_load(text).keys() == yaml.safe_load(template).keys()
        for topic in topics:
            assert f"Value: /front{topic}" in text and f"Value: {topic}\n" not in text
    node, rviz = launch_module._setup(_Context(**_launch_values(namespace="robot/front",
                                                                use_rviz="true")))
    path = Path(rviz.kwargs["arguments"][-1])
    try:
        assert "Value: /robot/front/people/markers" in path.read_text()
        assert rviz.kwargs["parameters"] == []  # use_sim_time not given: RViz's default
    finally:
        path.unlink()


def test_params_file_loads_onto_node_config(tmp_path) -> None:
    """loco_bag process reads the node's parameters file: the shipped one gives the defaults;
    a node-named section wins over /**, dotted keys work, unknown keys are named."""
    from loco_ros.runtime.node_config import load_params_file

    assert load_params_file(PARAMS_FILE) == NodeConfig()
    path = tmp_path / "params.yaml"
    path.write_text("/**:\n  ros__parameters:\n    cpu_threads: 2\n    tracking:\n"
                    "      min_hits: 5\nloco_node:\n  ros__parameters:\n    cpu_threads: 3\n"
                    "    ground_plane.mode: fixed\n    ground_plane.camera_height_m: 1.5\n")
    config = load_params_file(path)
    assert (config.cpu_threads, config.tracking.min_hits) == (3, 5)
    assert (config.ground_plane.mode, config.ground_plane.camera_height_m) == ("fixed", 1.5)
    path.write_text("/**:\n  ros__parameters:\n    no_such_key: 1\n")
    with pytest.raises(ConfigError, match="no_such_key"):
        load_params_file(path)
