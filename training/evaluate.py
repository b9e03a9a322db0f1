"""Measure a model on dataset clips through ONNX Runtime (or OpenVINO), the way the plugin runs it.

``python -m training.evaluate MODEL DATASET_DIR... --out DIR``: for every frame of every clip of a
split, the model sees the five blurry frames around it (clip ends repeated, reflect-padded to a
multiple of 8 and cropped back) and its output is compared with the sharp frame, as is the blurry
centre frame itself. Writes ``frames.csv``, ``clips.csv``, ``summary.json``, ``report.md`` and
``gain_vs_input.png`` (PSNR gain over input PSNR, the article's Fig. 4/5): a deblurrer should gain
on blurry frames and leave sharp ones (input PSNR >= 35 dB) alone. A model trained on aligned
windows (sidecar ``align``) sees its neighbours warped onto the centre, as in the plugin. With
``--runtime openvino [--fp16] [--int8]`` the model runs as ``backend="ov"`` runs it, bfloat16 and int8 included.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity
from tqdm import tqdm

from vs_dvd.align import align_window
from vs_dvd.basics import MULTIPLE, dataset_clips, neighbours, psnr
from vs_dvd.model import int8_files, sidecar_path

log = logging.getLogger(__name__)

SHARP_PSNR = 35.0  # input PSNR from which a frame counts as already sharp
BANDS = (0.0, 25.0, 30.0, SHARP_PSNR, 45.0, float("inf"))  # input-PSNR bands of the report's "gain by input" table
METRICS = ("input_psnr", "output_psnr", "gain", "input_ssim", "output_ssim")
RUNTIMES = ("onnxruntime", "openvino")


def load_model_bytes(model: Path | str | bytes) -> tuple[bytes, str, str | None]:
    """(ONNX bytes, description, alignment method) for an ONNX file (its sidecar says the method), or a
    checkpoint exported in memory (its training arguments say it)."""
    if isinstance(model, bytes):
        return model, "in-memory ONNX", None
    path = Path(model)
    if path.is_file():
        side = sidecar_path(path)
        align = json.loads(side.read_text()).get("align") if side.is_file() else None
        return path.read_bytes(), str(path), align
    from training import checkpoint
    from training.export import onnx_bytes

    net, folder, args = checkpoint.load(path)
    return onnx_bytes(net), f"{folder} (exported in memory)", args.get("align")


def int8_ir(model: Path | str | bytes) -> Path:
    """The checked int8 IR of an exported ONNX file, as ``backend="ov", int8=True`` would load it."""
    if isinstance(model, bytes) or not Path(model).is_file():
        raise ValueError(f"{'in-memory ONNX' if isinstance(model, bytes) else model}: int8 needs an exported "
                         ".onnx file quantised by training.quantise")
    from vs_dvd.model import load

    info = load(model)
    if info.int8 is None:
        raise ValueError(f"model {model} {info.int8_problem}; make it with python -m training.quantise")
    return info.int8


def pad_to_multiple(x: np.ndarray, multiple: int = MULTIPLE) -> np.ndarray:
    """N x C x H x W reflect-padded at the bottom and right to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    return np.pad(x, ((0, 0), (0, 0), (0, -h % multiple), (0, -w % multiple)), mode="reflect")


def ssim(reference: np.ndarray, image: np.ndarray) -> float:
    return float(structural_similarity(reference, image, channel_axis=-1, data_range=1.0))


def runner(data: bytes, runtime: str = "onnxruntime", fp16: bool = False,
           int8: Path | None = None) -> tuple[Callable, str]:
    """(N x 15 x H x W batch -> N x 3 x H x W output, what runs it): ONNX Runtime in fp32, or OpenVINO on
    the CPU in the precision that ``backend="ov"`` would pick for ``fp16``, from the int8 IR ``int8`` if given."""
    if runtime == "openvino":
        from vs_dvd.backends.ov import compile_for_cpu, import_openvino, runtime_version

        core = import_openvino().Core()
        network = core.read_model(str(int8)) if int8 else core.read_model(data, b"")
        compiled, chosen = compile_for_cpu(core, network, fp16)
        request = compiled.create_infer_request()
        return (lambda x: request.infer({0: x})[0]), f"{runtime_version()} ({'int8, ' if int8 else ''}{chosen})"
    import onnxruntime as ort

    from vs_dvd.backends.cpu import runtime_version

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return (lambda x: session.run(None, {name: x})[0]), f"{runtime_version()} (f32)"


def _frame_rows(infer: Callable, blurry: np.ndarray, sharp: np.ndarray, batch: int,
                count: int, bar, align: str | None) -> list[dict]:
    """Metrics of the first ``count`` frames of one clip (T x H x W x 3 uint8 arrays)."""
    t, h, w = sharp.shape[:3]
    rows = []
    for start in range(0, count, batch):
        ks = range(start, min(start + batch, count))
        windows = [[blurry[j] for j in neighbours(k, t)] for k in ks]
        if align:
            windows = [align_window(frames, align) for frames in windows]
        x = np.stack([np.concatenate(frames, axis=-1) for frames in windows])
        x = pad_to_multiple(x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
        out = infer(x)[:, :, :h, :w].transpose(0, 2, 3, 1)
        for k, y in zip(ks, out):
            target = sharp[k].astype(np.float64) / 255.0
            centre = blurry[k].astype(np.float64) / 255.0
            y = np.clip(y.astype(np.float64), 0.0, 1.0)
            row = {"frame": k, "input_psnr": psnr(target, centre), "output_psnr": psnr(target, y),
                   "input_ssim": ssim(target, centre), "output_ssim": ssim(target, y)}
            row["gain"] = row["output_psnr"] - row["input_psnr"]
            rows.append(row)
        bar.update(len(ks))
    return rows


def _means(rows: list[dict]) -> dict:
    return {m: float(np.mean([r[m] for r in rows])) for m in METRICS}


def _gain_between(frames: list[dict], low: float, high: float) -> tuple[int, float | None]:
    """How many frames have an input PSNR in [low, high), and their mean gain (None for none)."""
    gains = [r["gain"] for r in frames if low <= r["input_psnr"] < high]
    return len(gains), float(np.mean(gains)) if gains else None


def split_at_sharp(frames: list[dict]) -> dict:
    """Frame counts and mean gains below and from ``SHARP_PSNR``: the two quality targets of the bundled model."""
    out = {}
    for name, low, high in (("blurry", BANDS[0], SHARP_PSNR), ("sharp", SHARP_PSNR, BANDS[-1])):
        out[f"{name}_input_frames"], out[f"gain_on_{name}_input"] = _gain_between(frames, low, high)
    return out


def gain_by_input(frames: list[dict]) -> list[dict]:
    """Mean gain per input-PSNR band: a deblurrer must help the blurry frames and leave the sharp ones alone,
    and the overall mean hides which of the two it does."""
    bands = []
    for low, high in zip(BANDS, BANDS[1:]):
        count, gain = _gain_between(frames, low, high)
        bands.append({"input_from": low, "input_below": high if high != float("inf") else None,
                      "frames": count, "gain": gain})
    return bands


def shake_of(meta: dict, frame: int) -> dict:
    """The camera draw behind one frame of a clip (``training.data.motion``), as its record keeps it:
    per clip for photos, per frame for footage; {} for data made before families were recorded."""
    shakes = meta.get("shakes")
    return (shakes[frame] if shakes and frame < len(shakes) else meta.get("shake")) or {}


def by_family(frames: list[dict]) -> dict:
    """Blurry/sharp gains and input-PSNR bands per camera-motion family: generalisation is measured on the
    families a model never trained on."""
    families = sorted({r["family"] for r in frames if r.get("family")})
    return {f: {**split_at_sharp(rows), "by_input_psnr": gain_by_input(rows)}
            for f in families for rows in [[r for r in frames if r.get("family") == f]]}


def evaluate_onnx(model: Path | str | bytes, datasets: list[Path], split: str | None = "val",
                  out: Path | None = None, batch: int = 4, runtime: str = "onnxruntime", fp16: bool = False,
                  limit: int | None = None, int8: bool = False) -> dict:
    """PSNR/SSIM of input and output vs sharp, per clip and overall; writes the report to ``out`` if given.

    ``model`` is an ONNX file (or its bytes) or a checkpoint; ``limit`` evaluates at most that many
    frames per clip; ``int8`` runs the ONNX file's int8 IR (training.quantise) through OpenVINO.
    Returns the summary, with per-clip means under ``"clips"``.
    """
    data, description, align = load_model_bytes(model)
    infer, runs_on = runner(data, runtime, fp16, int8_ir(model) if int8 else None)
    clips = [(path.parent, path.name) for path in dataset_clips(datasets, split)]
    arrays = {}
    for root, name in clips:
        arrays[root, name] = (np.load(root / name / "blurry.npy", mmap_mode="r"),
                              np.load(root / name / "sharp.npy", mmap_mode="r"))
    counts = {key: min(len(s), limit) if limit else len(s) for key, (_, s) in arrays.items()}
    frames, per_clip = [], []
    with tqdm(total=sum(counts.values()), desc="evaluate", unit="frame") as bar:
        for (root, name), (blurry, sharp) in arrays.items():
            rows = _frame_rows(infer, blurry, sharp, batch, counts[root, name], bar, align)
            meta = json.loads((root / name / "meta.json").read_text())
            frames += [{"dataset": str(root), "clip": name, **r, "family": shake_of(meta, r["frame"]).get("family"),
                        "exposure": shake_of(meta, r["frame"]).get("exposure")} for r in rows]
            per_clip.append({"dataset": str(root), "clip": name, "frames": len(rows), **_means(rows)})
    summary = {
        "model": description, "sha256": hashlib.sha256(data).hexdigest(), "align": align, "runtime": runs_on,
        "split": split,
        "clips_evaluated": len(per_clip), "frames": len(frames), **_means(frames),
        **split_at_sharp(frames), "by_input_psnr": gain_by_input(frames),
        "by_family": by_family(frames), "clips": per_clip,
    }
    if int8:  # which IR was measured, as the sidecar records it: training.report refuses numbers of another
        summary["int8_sha256"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in int8_files(model)}
    if out is not None:
        write_report(Path(out), summary, frames)
    return summary


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_gain(path: Path, frames: list[dict]) -> None:
    """Per-frame PSNR gain against input PSNR over the whole range."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["input_psnr"] for r in frames]
    y = [r["gain"] for r in frames]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(x, y, s=6, alpha=0.5)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.axvline(SHARP_PSNR, color="grey", linestyle="--", linewidth=0.8, label=f"sharp input (>= {SHARP_PSNR:g} dB)")
    ax.set_xlim(min(x, default=20.0) - 1, max(max(x, default=0.0) + 1, SHARP_PSNR + 10))  # always show sharp input
    ax.set_xlabel("input PSNR (dB)")
    ax.set_ylabel("PSNR gain of the output (dB)")
    ax.set_title("Gain vs input quality, per frame")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _db(gain: float | None) -> str:
    return f"{gain:+.2f} dB" if gain is not None else "none"


def write_report(out: Path, summary: dict, frames: list[dict]) -> None:
    """frames.csv, clips.csv, summary.json, report.md and gain_vs_input.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "frames.csv", frames)
    _write_csv(out / "clips.csv", summary["clips"])
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_gain(out / "gain_vs_input.png", frames)
    lines = [f"# Evaluation of {summary['model']}", "",
             f"sha256 `{summary['sha256'][:12]}`, split `{summary['split']}`: {summary['frames']} frames in "
             f"{summary['clips_evaluated']} clips, run by {summary['runtime']}"
             + (f", neighbours aligned onto each frame ({summary['align']})." if summary.get("align") else "."), "",
             "| | PSNR (dB) | SSIM |", "|---|---|---|",
             f"| input (blurry centre frame) | {summary['input_psnr']:.2f} | {summary['input_ssim']:.4f} |",
             f"| output | {summary['output_psnr']:.2f} | {summary['output_ssim']:.4f} |", "",
             f"Mean gain: **{summary['gain']:+.2f} dB**; on the {summary['blurry_input_frames']} blurry frames "
             f"(input < {SHARP_PSNR:g} dB): **{_db(summary['gain_on_blurry_input'])}**; on the "
             f"{summary['sharp_input_frames']} frames whose input is already sharp (>= {SHARP_PSNR:g} dB): "
             f"**{_db(summary['gain_on_sharp_input'])}**.", "",
             "| input PSNR | frames | mean gain |", "|---|---|---|"]
    lines += [f"| {b['input_from']:g}" + (f"–{b['input_below']:g} dB" if b["input_below"] else " dB and up")
              + f" | {b['frames']} | {_db(b['gain'])} |" for b in summary["by_input_psnr"]]
    if summary.get("by_family"):
        lines += ["", "| camera family | blurry frames | gain on blurry | sharp frames | gain on sharp |",
                  "|---|---|---|---|---|"]
        lines += [f"| {f} | {g['blurry_input_frames']} | {_db(g['gain_on_blurry_input'])} | "
                  f"{g['sharp_input_frames']} | {_db(g['gain_on_sharp_input'])} |" for f, g in summary["by_family"].items()]
    lines += ["", "![gain vs input PSNR](gain_vs_input.png)", "",
              "| dataset | clip | frames | input PSNR | output PSNR | gain | input SSIM | output SSIM |",
              "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {Path(c['dataset']).name} | {c['clip']} | {c['frames']} | {c['input_psnr']:.2f} | "
              f"{c['output_psnr']:.2f} | {c['gain']:+.2f} | {c['input_ssim']:.4f} | {c['output_ssim']:.4f} |"
              for c in summary["clips"]]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate",
        description="PSNR/SSIM of a model's output and of its blurry input against the sharp frames of dataset "
                    "clips, through ONNX Runtime (or OpenVINO).")
    parser.add_argument("model", type=Path, help="an .onnx file, a step-NNNNNNN checkpoint or a training --out folder")
    parser.add_argument("datasets", type=Path, nargs="+", metavar="DATASET_DIR", help="dataset folders (training.data.*)")
    parser.add_argument("--split", default="val", help="clips of this split (default %(default)s; 'all' for every clip)")
    parser.add_argument("--out", type=Path, help="folder for report.md, CSVs, summary.json and gain_vs_input.png")
    parser.add_argument("--limit", type=int, help="at most this many frames per clip")
    parser.add_argument("--batch", type=int, default=4, help="frames per inference (default %(default)s)")
    parser.add_argument("--runtime", choices=RUNTIMES, default="onnxruntime",
                        help="onnxruntime (fp32, backend='cpu') or openvino (backend='ov'; default %(default)s)")
    parser.add_argument("--fp16", action="store_true",
                        help="with --runtime openvino: bfloat16 where the CPU computes it natively, as backend='ov' "
                             "does with fp16=True")
    parser.add_argument("--int8", action="store_true",
                        help="with --runtime openvino: the model's int8 IR (training.quantise), as backend='ov' "
                             "runs it with int8=True")
    args = parser.parse_args(argv)
    if args.int8 and args.runtime != "openvino":
        parser.error("--int8 needs --runtime openvino: the int8 model is an OpenVINO IR")
    if args.fp16 and args.runtime != "openvino":
        parser.error("--fp16 needs --runtime openvino: ONNX Runtime runs the model in fp32, as backend='cpu' does")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        summary = evaluate_onnx(args.model, args.datasets, None if args.split == "all" else args.split, args.out,
                                args.batch, args.runtime, args.fp16, limit=args.limit, int8=args.int8)
    except ValueError as e:
        parser.error(str(e))
    print(f"{summary['frames']} frames: input {summary['input_psnr']:.2f} dB / SSIM {summary['input_ssim']:.4f}, "
          f"output {summary['output_psnr']:.2f} dB / SSIM {summary['output_ssim']:.4f}, gain {summary['gain']:+.2f} dB; "
          f"on blurry input {_db(summary['gain_on_blurry_input'])}, on sharp input {_db(summary['gain_on_sharp_input'])}")
    if args.out:
        print(f"report: {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
