"""README's table of the bundled model's numbers, written from its evaluation summaries, never by hand.

``python -m training.report`` rewrites the table between the markers in README.md from
``docs/model/eval/<set>/summary.json`` (as ``training.evaluate --out`` writes them). ``--from DIR``
first copies a fresh evaluation of every set, ``DIR/<set>/`` (the outputs of ``training.evaluate``),
over the committed one. Summaries of another model than the bundled file are refused, so a new
model cannot ship with the old one's numbers.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from training.evaluate import SHARP_PSNR
from vs_dvd.trt_build.files import atomic_write_bytes  # one atomic writer
from vs_dvd.model import BUNDLED

ROOT = Path(__file__).resolve().parents[1]  # the repository: README.md, docs/
EVAL = Path("docs/model/eval")  # under ROOT: one folder per held-out set
SETS = {"photos-val": "photos", "footage-val": "real clips", "footage-val-2": "real clips 2"}  # folder: README label
OUTPUTS = ("summary.json", "report.md", "frames.csv", "clips.csv", "gain_vs_input.png")  # training.evaluate's
BEGIN = "<!-- numbers: written by python -m training.report from docs/model/eval/*/summary.json; do not edit -->"
END = "<!-- /numbers -->"


def table(root: Path = ROOT, model: Path = BUNDLED) -> str:
    """The markdown table of every set's summary; ValueError if one is missing or measured another model."""
    sha256 = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    gain = lambda value, n: f"{value:+.2f} dB ({n})" if n else "–"
    rows = ["| held-out frames | n | input | gain | on blurry input (< {0:g} dB) | on already sharp input "
            "(≥ {0:g} dB) |".format(SHARP_PSNR), "|---|---|---|---|---|---|"]
    for folder, label in SETS.items():
        path = Path(root) / EVAL / folder / "summary.json"
        try:
            s = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: no readable evaluation summary ({e}); run training.evaluate --out "
                             f"{EVAL / folder}, or python -m training.report --from DIR") from None
        if s.get("sha256") != sha256:
            raise ValueError(f"{path} measured the model with sha256 {str(s.get('sha256'))[:12]}, not {model} "
                             f"({sha256[:12]}): evaluate this model again")
        rows.append(f"| [{label}]({(EVAL / folder / 'report.md').as_posix()}) | {s['frames']} | "
                    f"{s['input_psnr']:.2f} dB, SSIM {s['input_ssim']:.3f} | "
                    f"**{s['gain']:+.2f} dB** (SSIM {s['output_ssim']:.3f}) | "
                    f"{gain(s['gain_on_blurry_input'], s['blurry_input_frames'])} | "
                    f"{gain(s['gain_on_sharp_input'], s['sharp_input_frames'])} |")
    return "\n".join(rows)


def with_table(readme: str, text: str) -> str:
    """``readme`` with ``text`` between the markers, indented as the first marker is (inside a list item);
    ValueError if they are not there once each."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise ValueError(f"README.md needs the lines {BEGIN!r} and {END!r} once each, in that order")
    head, rest = readme.split(BEGIN)
    indent = head[head.rfind("\n") + 1:]
    body = "".join(f"{line}\n{indent}" for line in text.splitlines())
    return head + BEGIN + "\n" + indent + body + END + rest.split(END, 1)[1]


def copy_evaluation(source: Path, root: Path = ROOT) -> None:
    """Copy ``source/<set>/``'s evaluation outputs over ``docs/model/eval/<set>/``, every set or none."""
    missing = [str(Path(source) / f / n) for f in SETS for n in OUTPUTS if not (Path(source) / f / n).is_file()]
    if missing:
        raise ValueError(f"--from {source}: missing {', '.join(missing)}; run training.evaluate --out "
                         f"{source}/<set> for each of {', '.join(SETS)}")
    for folder in SETS:
        (Path(root) / EVAL / folder).mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS:
            shutil.copyfile(Path(source) / folder / name, Path(root) / EVAL / folder / name)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.report", description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="source", type=Path, metavar="DIR",
                   help=f"first copy DIR/<set>/ (training.evaluate's outputs) into {EVAL}/<set>/ for the sets "
                        f"{', '.join(SETS)}")
    args = p.parse_args(argv)
    readme = ROOT / "README.md"
    try:
        if args.source:
            copy_evaluation(args.source)
        text = with_table(readme.read_text(), table())
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    atomic_write_bytes(readme, text.encode())
    print(f"wrote the numbers of {', '.join(SETS)} into {readme}")


if __name__ == "__main__":
    main()
