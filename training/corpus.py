"""Gather real photographs that package registries serve, for camera-shake synthesis.

Nothing is committed: ``python -m training.corpus`` downloads two Debian wallpaper packages with
``apt-get download`` (no system install), unpacks them with ``dpkg -x`` into a cache folder, and
lists the photographs it uses together with scikit-image's bundled photos. Only files checked by
eye to be real photographs are listed (the packages also hold abstract and drawn art). The
validation split is held out by source image. The ``lomiri-wallpapers-*`` packages are reserved
for an independent evaluation and are never used here.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_DIR = Path.home() / ".cache" / "vs-dvd" / "corpus"

# package -> (licence, {photo name: path inside the package}); every one was checked to be a photograph.
_MATE = "usr/share/backgrounds/mate/nature/{}.jpg"
_PLASMA = "usr/share/wallpapers/{}/contents/images/2560x1440.jpg"
DEBIAN_PHOTOS: dict[str, tuple[str, dict[str, str]]] = {
    "mate-backgrounds": ("GPL-2+", {n: _MATE.format(n) for n in (
        "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops",
        "Storm", "TwoWings", "Wood", "YellowFlower")}),
    "plasma-workspace-wallpapers": ("GPL-2+", {
        **{n: _PLASMA.format(n) for n in (
            "BytheWater", "ColdRipple", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
            "OneStandsOut", "Path", "summer_1am")},
        "ColorfulCups": "usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg",
        "Volna": "usr/share/wallpapers/Volna/contents/images/5120x2880.jpg",
    }),
}
# scikit-image's bundled colour photographs (its README gives each one's licence).
SKIMAGE_PHOTOS = {
    "astronaut": ("astronaut.png", "public domain (NASA)"),
    "coffee": ("coffee.png", "CC0 (Rachel Michetti)"),
    "chelsea": ("chelsea.png", "CC0 (Stefan van der Walt)"),
    "rocket": ("rocket.jpg", "public domain (SpaceX)"),
    "motorcycle": ("motorcycle_left.png", "Middlebury stereo data set (research use)"),
}
# Held out by source image: never seen in training.
VALIDATION = {"Storm", "LadyBird", "Path", "EveningGlow", "coffee"}


@dataclass(frozen=True)
class Photo:
    name: str
    path: str
    source: str
    licence: str
    split: str


def _unpack(package: str, cache: Path) -> Path:
    """Download and unpack a Debian package once; returns the unpacked root."""
    root = cache / package
    if (root / ".done").exists():
        return root
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        subprocess.run(["apt-get", "download", package], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deb = next(Path(tmp).glob(f"{package}_*.deb"))
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    (root / ".done").touch()
    return root


def gather(cache: Path = DEFAULT_DIR) -> list[Photo]:
    """All corpus photos, downloading what is missing; files that cannot be found are skipped with a warning."""
    cache.mkdir(parents=True, exist_ok=True)
    photos = []
    for package, (licence, files) in DEBIAN_PHOTOS.items():
        try:
            root = _unpack(package, cache)
        except (subprocess.CalledProcessError, StopIteration, OSError) as e:
            log.warning("skipping Debian package %s: %s (run 'apt-get update' first?)", package, e)
            continue
        for name, rel in files.items():
            photos.append(Photo(name, str(root / rel), f"debian:{package}", licence,
                                "val" if name in VALIDATION else "train"))
    import skimage.data
    data_dir = Path(skimage.data.__file__).parent
    for name, (file, licence) in SKIMAGE_PHOTOS.items():
        photos.append(Photo(name, str(data_dir / file), "pypi:scikit-image", licence,
                            "val" if name in VALIDATION else "train"))
    present = [p for p in photos if Path(p.path).is_file()]
    for p in set(photos) - set(present):
        log.warning("corpus photo missing: %s (%s)", p.name, p.path)
    return present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_DIR, help="download folder (default: %(default)s)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    print(json.dumps([asdict(p) for p in gather(args.cache)], indent=2))


if __name__ == "__main__":
    main()
