"""README's table of the bundled model's numbers, written from its evaluation summaries, never by hand.

``python -m training.report`` rewrites the table between the markers in README.md from
``docs/model/eval/<set>/summary.json`` (as ``training.evaluate --out`` writes them) and, when the bundled
model has an int8 IR, ``<set>/int8/summary.json`` (``training.evaluate --runtime openvino --fp16 --int8``).
``--from DIR`` first copies a fresh evaluation of every set, ``DIR/<set>/`` (and ``DIR/<set>/int8/``), over
the committed one. Summaries of another model than the bundled file, or of another int8 IR than its own,
are refused, so a new model cannot ship with the old one's numbers.
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
from vs_dvd.model import BUNDLED, sidecar_path

ROOT = Path(__file__).resolve().parents[1]  # the repository: README.md, docs/
EVAL = Path("docs/model/eval")  # under ROOT: one folder per held-out set
SETS = {"photos-unseen": "photos, unseen camera (walking)", "photos-val": "photos",  # folder: README label
        "footage-val": "real clips", "footage-val-2": "real clips 2"}
OUTPUTS = ("summary.json", "report.md", "frames.csv", "clips.csv", "gain_vs_input.png")  # training.evaluate's
INT8 = "int8"  # under each set: the evaluation through the model's int8 IR, where it has one
BEGIN = "<!-- numbers: written by python -m training.report from docs/model/eval/*/summary.json; do not edit -->"
END = "<!-- /numbers -->"


def int8_hashes(model: Path) -> dict | None:
    """The sidecar's hashes of ``model``'s int8 IR (None without one): what its int8 summaries must name."""
    side = sidecar_path(model)
    return (json.loads(side.read_text()).get("int8") or {}).get("sha256") if side.is_file() else None


def summary(path: Path, model: Path, sha256: str, int8: dict | None = None) -> dict:
    """The evaluation summary at ``path``; ValueError if it is missing or measured another model (or IR)."""
    try:
        s = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: no readable evaluation summary ({e}); run training.evaluate --out "
                         f"{path.parent}{' --runtime openvino --fp16 --int8' if int8 else ''}, or python -m "
                         "training.report --from DIR") from None
    if s.get("sha256") != sha256:
        raise ValueError(f"{path} measured the model with sha256 {str(s.get('sha256'))[:12]}, not {model} "
                         f"({sha256[:12]}): evaluate this model again")
    if int8 and s.get("int8_sha256") != int8:
        raise ValueError(f"{path} measured another int8 IR than {model}'s: evaluate it again with --int8")
    return s


def table(root: Path = ROOT, model: Path = BUNDLED) -> str:
    """The markdown table of every set's summary (and its int8 IR's, if the model has one); ValueError if one
    is missing or measured another model."""
    sha256, int8 = hashlib.sha256(Path(model).read_bytes()).hexdigest(), int8_hashes(model)
    gain = lambda value, n: f"{value:+.2f} dB ({n})" if n else "–"
    short = lambda value: "–" if value is None else f"{value:+.2f}"
    head = ("| held-out frames | n | input | gain | on blurry input (< {0:g} dB) | on already sharp input "
            "(≥ {0:g} dB) |".format(SHARP_PSNR))
    rows = [head + (" int8 (`int8=True`): blurry / sharp |" if int8 else ""),
            "|---|---|---|---|---|---|" + ("---|" if int8 else "")]
    for folder, label in SETS.items():
        s = summary(Path(root) / EVAL / folder / "summary.json", model, sha256)
        row = (f"| [{label}]({(EVAL / folder / 'report.md').as_posix()}) | {s['frames']} | "
               f"{s['input_psnr']:.2f} dB, SSIM {s['input_ssim']:.3f} | "
               f"**{s['gain']:+.2f} dB** (SSIM {s['output_ssim']:.3f}) | "
               f"{gain(s['gain_on_blurry_input'], s['blurry_input_frames'])} | "
               f"{gain(s['gain_on_sharp_input'], s['sharp_input_frames'])} |")
        if int8:
            q = summary(Path(root) / EVAL / folder / INT8 / "summary.json", model, sha256, int8)
            row += (f" [{short(q['gain_on_blurry_input'])} / {short(q['gain_on_sharp_input'])} dB]"
                    f"({(EVAL / folder / INT8 / 'report.md').as_posix()}) |")
        rows.append(row)
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


def copy_evaluation(source: Path, root: Path = ROOT, model: Path = BUNDLED) -> None:
    """Copy ``source/<set>/``'s evaluation outputs (and ``<set>/int8/``'s, if ``model`` has an int8 IR) over
    ``docs/model/eval/<set>/``, every set or none."""
    folders = list(SETS) + ([f"{f}/{INT8}" for f in SETS] if int8_hashes(model) else [])
    missing = [str(Path(source) / f / n) for f in folders for n in OUTPUTS if not (Path(source) / f / n).is_file()]
    if missing:
        raise ValueError(f"--from {source}: missing {', '.join(missing)}; run training.evaluate --out "
                         f"{source}/<set> (and --int8 --out {source}/<set>/{INT8}) for each of {', '.join(SETS)}")
    for folder in folders:
        (Path(root) / EVAL / folder).mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS:
            shutil.copyfile(Path(source) / folder / name, Path(root) / EVAL / folder / name)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m training.report", description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="source", type=Path, metavar="DIR",
                   help=f"first copy DIR/<set>/ (training.evaluate's outputs; DIR/<set>/{INT8}/ through the int8 IR) "
                        f"into {EVAL}/<set>/ for the sets {', '.join(SETS)}")
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
