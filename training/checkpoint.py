"""Training checkpoints, in one place for train, export and evaluate.

A checkpoint is a folder ``step-NNNNNNN``: weights in ``model.safetensors`` (nothing is unpickled to read
them), optimizer/scheduler/RNG/step in ``state.pt``, the network and the run's settings in ``config.json``.
It is written under a temporary name and renamed, and ``latest`` names the newest complete one, so a kill
at any moment loses at most the steps since the last checkpoint. An exported ``.onnx`` (with its sidecar)
loads like a checkpoint too, BatchNorm folded: ``--init`` fine-tunes it, and export averages it.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from vs_dvd.trt_build.files import atomic_write_bytes  # one atomic writer for engines, models and checkpoints
from vs_dvd.network import DBN, DBNConfig, exported_sidecar

KEEP = 2  # complete checkpoints kept on disk


def save(out: Path, model: DBN, opt, sched, step: int, settings: dict) -> Path:
    """Write ``step-NNNNNNN`` atomically, point ``latest`` at it and prune old ones."""
    final = out / f"step-{step:07d}"
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".tmp-"))
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                  tmp / "model.safetensors")
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "step": step, "rng": rng},
                   tmp / "state.pt")
        config = {"model": {**model.config.to_dict(), "folded": model.folded},
                  "args": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()}}
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=str))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():  # this step is on disk already, maybe named by `latest`: never remove it
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_bytes(out / "latest", final.name.encode())
    for old in sorted(out.glob("step-*"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest(out: Path) -> Path | None:
    """The newest complete checkpoint of a training ``--out`` folder, None before the first."""
    pointer = Path(out) / "latest"
    return Path(out) / pointer.read_text().strip() if pointer.is_file() else None


def resolve(path: Path) -> Path:
    """A ``step-NNNNNNN`` folder as given, or the newest one of a training ``--out`` folder."""
    path = Path(path)
    if (path / "config.json").is_file() and (path / "model.safetensors").is_file():
        return path
    newest = latest(path) if path.is_dir() else None
    if newest is None or not newest.is_dir():
        raise ValueError(f"{path} is neither a checkpoint folder (step-NNNNNNN with model.safetensors and "
                         "config.json) nor a training --out folder with a 'latest' checkpoint; pass one of those")
    return newest


def config(checkpoint: Path) -> dict:
    """``{"model": the network's config, "args": the run's settings}`` of a checkpoint."""
    return json.loads((Path(checkpoint) / "config.json").read_text())


def load_model(checkpoint: Path) -> DBN:
    """The DBN a checkpoint holds, its architecture as the checkpoint says."""
    saved = config(checkpoint)["model"]
    model = DBN(DBNConfig(width=saved["width"], head=saved["head"], gate=saved.get("gate", False)),
                folded=saved.get("folded", False))
    model.load_state_dict(load_file(Path(checkpoint) / "model.safetensors"))
    return model


def load_state(checkpoint: Path) -> dict:
    """Optimizer, scheduler, RNG and step of a checkpoint, for ``--resume``."""
    return torch.load(Path(checkpoint) / "state.pt", weights_only=True, map_location="cpu")


def load(path: Path) -> tuple[DBN, Path, dict]:
    """(model in eval mode, the checkpoint, its training settings) for a checkpoint, a training ``--out``
    folder or an exported ``.onnx`` (whose settings are its sidecar's ``align``); ValueError if none of those."""
    path = Path(path)
    if path.suffix == ".onnx":
        sidecar = exported_sidecar(path)
        return DBN.from_onnx(path, sidecar.get("architecture")), path, {"align": sidecar.get("align")}
    checkpoint = resolve(path)
    return load_model(checkpoint).eval(), checkpoint, config(checkpoint).get("args", {})


def average(paths: list[Path]) -> tuple[DBN, list[Path], list[dict]]:
    """The uniform weight average of checkpoints of one network (a "model soup", Wortsman et al. 2022):
    two fine-tunings of one model, averaged, often keep the strengths of both. One path loads as is."""
    loaded = [load(p) for p in paths]
    model, first, _ = loaded[0]
    states = [m.state_dict() for m, _, _ in loaded]
    shapes = lambda state: {k: v.shape for k, v in state.items()}
    for (other, checkpoint, _), state in zip(loaded[1:], states[1:]):
        if other.config != model.config or shapes(state) != shapes(states[0]):
            raise ValueError(f"{checkpoint} is not the same network as {first} ({other.config} vs {model.config}, "
                             "or BatchNorm folded in one only): average checkpoints of one architecture")
    aligns = {a.get("align") for _, _, a in loaded}
    if len(aligns) > 1:
        raise ValueError(f"{', '.join(str(c) for _, c, _ in loaded)} were trained on windows aligned in different "
                         f"ways ({', '.join(map(str, aligns))}): average checkpoints trained on the same input")
    if len(loaded) > 1:
        model.load_state_dict({k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype)
                               if v.is_floating_point() else v for k, v in states[0].items()})
    return model, [c for _, c, _ in loaded], [a for _, _, a in loaded]
