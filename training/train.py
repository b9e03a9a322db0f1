"""Train DBN on synthesised blurry/sharp clips: ``python -m training.train --data DIR --out DIR``.

One loop, nanoGPT style. Settings are flags; a recipe phase is a config file of them
(``--config training/recipes/phases/17-gate-and-network.toml``; flags given beside it override it).
Adam on 128-px crops; the cosine schedule by default, the paper's (``--paper``: sigmoid head, lr
halved every 8k steps after 24k) on request. bf16 autocast where the hardware has native bf16, fp16
on older GPUs; the GPU when there is one; several GPUs or nodes through ``torchrun`` (DDP, NCCL on
CUDA, gloo on the CPU). A checkpoint (``training.checkpoint``) is written every ``--ckpt-every``
steps and at a stop, so a kill at any moment loses at most the steps since the last one;
``--resume`` continues the newest, with its network, whatever the flags say about the network.
"""
from __future__ import annotations

import argparse
import glob
import logging
import math
import os
import shutil
import signal
import time
import tomllib
from contextlib import nullcontext
from itertools import count
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from training import checkpoint
from training.data.dataset import ClipDataset, DeviceBatches
from vs_dvd.basics import psnr
from vs_dvd.network import DBN, DBNConfig, with_gate

log = logging.getLogger("training.train")
PSNR_CEILING = 80.0  # dB where the PSNR loss levels off by default: exact samples stay finite
LOG_EVERY = 25  # steps between log lines (and --fit-time-limit's re-plans)
VAL_SAMPLES = 64  # fixed centred validation crops, every --val-every steps
PAPER_DECAY = (24_000, 8_000)  # the paper's schedule: lr halved every 8k steps from step 24k
PAPER = {"head": "sigmoid", "schedule": "paper", "lr": 0.005, "iters": 80_000, "batch": 64, "crop": 128,
         "loss": "mse"}  # Su et al.'s set-up, all of it, for --paper


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability between 0 and 1, not {value}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a value above 0 (e.g. 40), not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    flag = argparse.BooleanOptionalAction
    p.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="settings from a TOML file (`sharp-frames = 0.1`, `data = [\"photos/*\"]`; paths relative "
                        "to the current folder, data globs expanded); flags given beside it override them")
    p.add_argument("--data", type=Path, nargs="+", required=True, help="dataset folders (training.data.*)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint folder (keep it outside the repo)")
    p.add_argument("--resume", action=flag, default=False, help="continue from the newest checkpoint in --out")
    p.add_argument("--init", type=Path, metavar="MODEL.onnx",
                   help="fine-tune an exported DBN (e.g. vs_dvd/data/dbn.onnx): start from its weights, with "
                        "BatchNorm folded as exported; its sidecar sets the network")
    p.add_argument("--width", type=int, default=64, help="channels of the first stage of a new network (paper: 64)")
    p.add_argument("--paper", action=flag, default=False,
                   help="Su et al.'s set-up, the sigmoid head and " + " ".join(
                       f"--{k} {v}" for k, v in PAPER.items() if k != "head") + " (flags given too override it)")
    p.add_argument("--gate", action=flag, default=False,
                   help="train only a small per-pixel gate on the --init model's change to the centre frame, "
                        "the DBN frozen (with --sharp-frames, it learns to leave sharp centres alone)")
    p.add_argument("--iters", type=int, default=80_000)
    p.add_argument("--batch", type=int, default=64, help="per process")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--loss", choices=("mse", "psnr"), default="mse",
                   help="mse: the paper's; psnr: the mean over samples of -PSNR, which weighs a sample's error "
                        "against its own scale, so nearly sharp samples count as much as very blurry ones")
    p.add_argument("--psnr-ceiling", type=_positive, default=PSNR_CEILING, metavar="DB",
                   help="with --loss psnr: the PSNR a sample's loss levels off at (an MSE floor added to each "
                        "sample's); a lower one keeps samples the model already renders nearly exactly, such "
                        "as --sharp-frames' sharp centres, from outweighing the blurry ones")
    p.add_argument("--sharp-frames", type=_probability, default=0.0, metavar="P",
                   help="chance that each frame of a training window is fed sharp instead of blurry (\"lucky "
                        "frames\")")
    p.add_argument("--data-on-device", action=flag, default=False,
                   help="hold the training clips on the GPU and cut batches there (no loader workers)")
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--schedule", choices=("cosine", "paper"), default="cosine",
                   help="cosine: --warmup steps, then cosine to 2%% of --lr at --iters; paper: halve every "
                        f"{PAPER_DECAY[1]} steps from step {PAPER_DECAY[0]}")
    p.add_argument("--warmup", type=int, default=200, help="warm-up steps of the cosine schedule")
    p.add_argument("--threads", type=int, default=0, help="CPU threads per process (0: PyTorch's default)")
    p.add_argument("--workers", type=int, default=1, help="data loader processes per training process")
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--val-every", type=int, default=500,
                   help=f"steps between validations on {VAL_SAMPLES} centred crops of the val clips (0: none)")
    p.add_argument("--time-limit", type=float, default=0,
                   help="stop after this many minutes with a checkpoint, as after SIGTERM (0: no limit)")
    p.add_argument("--fit-time-limit", action=flag, default=False,
                   help="with --time-limit and --schedule cosine: at every log line, re-plan --iters (then an upper "
                        "bound) from the measured step rate, so that the schedule ends at the deadline instead of "
                        "being cut there; the step count then depends on the machine's speed")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(head="residual")  # the network's head; sigmoid with --paper
    return p


def config_argv(path: Path, p: argparse.ArgumentParser) -> list[str]:
    """A config file's settings as the flags they stand for: ``key = value`` is ``--key value``, a list
    gives several values, ``true``/``false`` is ``--key``/``--no-key``; globs in ``data`` are expanded."""
    try:
        settings = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        p.error(f"--config {path}: not a readable TOML file ({e})")
    argv = []
    for key, value in settings.items():
        option = f"--{key}"
        if option not in p._option_string_actions or key == "config":
            p.error(f"--config {path}: {key!r} is not a setting of training.train (see --help)")
        if isinstance(value, bool):
            argv.append(option if value else f"--no-{key}")
            continue
        values = value if isinstance(value, list) else [value]
        if key == "data":
            values = [match for v in values for match in (sorted(glob.glob(str(v))) or [v])]
        argv += [option, *map(str, values)]
    return argv


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = parser()
    first = argparse.ArgumentParser(add_help=False)  # --config first: its settings go before the other flags
    first.add_argument("--config", type=Path)
    known, rest = first.parse_known_args(argv)
    argv = (config_argv(known.config, p) if known.config else []) + rest
    args = p.parse_args(argv)
    if args.paper:  # the preset sets defaults; flags given still win
        p.set_defaults(**PAPER)
        args = p.parse_args(argv)
    args.config = known.config
    if args.fit_time_limit and not (args.time_limit and args.schedule == "cosine"):
        p.error("--fit-time-limit needs --time-limit MINUTES and --schedule cosine")
    if args.psnr_ceiling != PSNR_CEILING and args.loss != "psnr":
        p.error("--psnr-ceiling shapes the PSNR loss: add --loss psnr")
    if args.gate and args.init is None:
        p.error("--gate trains a gate on a trained DBN: pass --init MODEL.onnx")
    return args


def lr_factor(step: int, args: argparse.Namespace) -> float:
    if args.schedule == "paper":
        start, every = PAPER_DECAY
        return 0.5 ** ((step - start) // every + 1) if step >= start else 1.0
    if step < args.warmup:
        return (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, args.iters - args.warmup))
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))


def fitted_iters(step: int, rate: float, seconds_left: float, cap: int) -> int:
    """The step at which a schedule should end to finish ``seconds_left`` from now at ``rate`` steps/s.

    2 % of the time is kept back for the final checkpoint; never past ``cap``, never before the next step.
    """
    return max(step + 1, min(cap, step + int(rate * seconds_left * 0.98)))


def loss_fn(out: torch.Tensor, target: torch.Tensor, kind: str, ceiling: float = PSNR_CEILING) -> torch.Tensor:
    """The training loss; ``psnr`` is -PSNR in dB averaged over the batch (the evaluation's mean gain, up to
    a constant), each sample's MSE floored smoothly at ``ceiling`` dB: exact samples stay finite, and a
    sample's weight on the gradient of its MSE (1 / its MSE) stops growing once it nears the ceiling."""
    if kind == "mse":
        return torch.nn.functional.mse_loss(out, target)
    mse = ((out - target) ** 2).flatten(1).mean(1)
    return 10.0 * torch.log10(mse + 10.0 ** (-ceiling / 10)).mean()


def autocast(device: torch.device):
    """bf16 where the device computes it natively, fp16 on older GPUs, fp32 on other CPUs."""
    if device.type == "cpu":
        # bf16 pays off only with native bf16 instructions (AVX512-BF16/AMX); without them it is far slower.
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return nullcontext()
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast(device.type, dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)


class Batches:
    """Batch ``s`` of rank ``r`` holds samples (s * world + r) * batch ...: the data position is the step."""

    def __init__(self, start: int, batch: int, rank: int, world: int):
        self.start, self.batch, self.rank, self.world = start, batch, rank, world

    def __iter__(self):
        for step in count(self.start):
            first = (step * self.world + self.rank) * self.batch
            yield list(range(first, first + self.batch))


def leave_sigterm_to_the_trainer(worker_id: int) -> None:
    """Loader workers ignore SIGTERM: sent to the whole process group (a job scheduler, ``kill -- -PGID``),
    it would otherwise kill a worker first and crash the run before its final checkpoint."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def initial_model(args: argparse.Namespace) -> DBN:
    """A new DBN, or with ``--init`` the folded DBN of an exported model (``args`` then takes its width and head)."""
    if args.init is None:
        return DBN(DBNConfig(width=args.width, head=args.head))
    if not args.init.is_file():
        raise SystemExit(f"error: --init {args.init} is not a file; pass an .onnx model exported by training.export")
    try:
        model, _, settings = checkpoint.load(args.init)
    except ValueError as e:
        raise SystemExit(f"error: --init: {e}; pass an .onnx model exported by training.export, or train from "
                         "scratch without --init") from None
    if settings["align"]:
        log.warning("--init %s was trained on %s windows, this run trains on unaligned ones: its input changes, "
                    "so measure the result against the model you start from", args.init, settings["align"])
    args.width, args.head = model.config.width, model.config.head
    if args.gate:
        model = with_gate(model)
    return model


@torch.no_grad()
def validate(model: DBN, data: ClipDataset, n: int, device: torch.device) -> dict:
    """Mean PSNR of input and output on ``n`` fixed centred validation crops."""
    model.eval()
    gains, inputs = [], []
    for i in range(n):
        x, y = (t[None].to(device) for t in data[i])
        with autocast(device):
            out = model(x)
        target = y.cpu().numpy()
        inputs.append(psnr(x[:, 6:9].cpu().numpy(), target))
        gains.append(psnr(out.float().clamp(0, 1).cpu().numpy(), target) - inputs[-1])
    model.train()
    return {"input_psnr": sum(inputs) / n, "gain": sum(gains) / n}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    distributed = "RANK" in os.environ  # set by torchrun
    cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if args.threads:
        torch.set_num_threads(args.threads)
    main_process = rank == 0
    logging.basicConfig(level=logging.INFO if main_process else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.resume and checkpoint.latest(args.out) is not None:  # its pruning would delete ours
        raise SystemExit(f"error: {args.out} holds the checkpoints of another run; pass --resume to "
                         "continue it, or use a new --out")
    for stale in args.out.glob(".tmp-*"):  # a checkpoint write that was killed half-way
        shutil.rmtree(stale, ignore_errors=True)

    torch.manual_seed(args.seed)
    if args.loss == "psnr" and args.init is None and args.head == "residual":
        log.warning("--loss psnr from scratch: the residual head's zero-initialised output scale tends to stay "
                    "shut under this loss (output == input); train with --loss mse, then fine-tune with --init")
    resume_from = checkpoint.latest(args.out) if args.resume else None
    if args.resume and resume_from is None:
        log.warning("--resume: no checkpoint in %s yet, starting from %s", args.out, args.init or "scratch")
    if resume_from is not None:
        # As nanoGPT does: the network and what of it trains are the checkpoint's, whatever the flags say.
        args.gate = bool(checkpoint.config(resume_from)["args"].get("gate", False))
        model = checkpoint.load_model(resume_from)
        args.width, args.head = model.config.width, model.config.head
    else:
        model = initial_model(args)
    # channels_last: the layout oneDNN and cuDNN convolve fastest.
    model = model.train().to(device, memory_format=torch.channels_last)
    if args.gate:  # the DBN stays as it was: only the gate learns
        model.requires_grad_(False)
        model.gate.requires_grad_(True)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, args))
    step = 0
    if resume_from is not None:
        state = checkpoint.load_state(resume_from)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step = state["step"]
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        log.info("resumed from %s at step %d (its network: %s%s)", resume_from, step, model.config,
                 ", the gate alone training" if args.gate else "")
    raw = model
    if distributed:
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    train_data = ClipDataset(args.data, "train", args.crop, augment=True, seed=args.seed,
                             sharp_frames=args.sharp_frames)
    if args.data_on_device:
        cut = DeviceBatches(train_data, device)
        batches = map(cut, Batches(step, args.batch, rank, world))
    else:
        batches = iter(DataLoader(train_data, batch_sampler=Batches(step, args.batch, rank, world),
                                  num_workers=args.workers, pin_memory=device.type == "cuda",
                                  persistent_workers=args.workers > 0, worker_init_fn=leave_sigterm_to_the_trainer))
    val_data = None
    if main_process and args.val_every:
        try:
            val_data = ClipDataset(args.data, "val", args.crop, augment=False, seed=args.seed)
        except ValueError:
            log.warning("no validation clips: validation skipped")
    writer = SummaryWriter(str(args.out / "tb")) if main_process else None

    stop = False

    def request_stop(signum, frame):
        nonlocal stop
        stop = True
    signal.signal(signal.SIGTERM, request_stop)

    bar = tqdm(total=args.iters, initial=step, disable=not main_process, unit="step", dynamic_ncols=True)
    model.train()
    t0, loss_sum = time.time(), torch.zeros((), device=device)  # summed on the device: no sync per step
    deadline = time.time() + args.time_limit * 60 if args.time_limit else float("inf")
    cap, fit_from, fitted = args.iters, None, False  # --fit-time-limit; fit_from: (step, time) after start-up
    while step < args.iters and not stop:
        x, y = next(batches)
        x = x.to(device, non_blocking=True, memory_format=torch.channels_last)
        y = y.to(device, non_blocking=True)
        with autocast(device):
            out = model(x)
        loss = loss_fn(out.float(), y, args.loss, args.psnr_ceiling)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        loss_sum += loss.detach()
        bar.update(1)
        if main_process and step % LOG_EVERY == 0:
            rate = LOG_EVERY / (time.time() - t0)
            mean = loss_sum.item() / LOG_EVERY
            bar.set_postfix(loss=f"{mean:.5f}", lr=f"{sched.get_last_lr()[0]:.2e}", it_s=f"{rate:.2f}")
            writer.add_scalar("train/loss", mean, step)
            writer.add_scalar("train/lr", sched.get_last_lr()[0], step)
            writer.add_scalar("train/steps_per_s", rate, step)
            log.info("step %d loss %.5f lr %.2e %.2f step/s", step, mean, sched.get_last_lr()[0], rate)
            t0, loss_sum = time.time(), torch.zeros((), device=device)
        if args.fit_time_limit and step % LOG_EVERY == 0:
            now = time.time()
            if fit_from is None:
                fit_from = step, now
            else:
                planned = torch.tensor([fitted_iters(step, (step - fit_from[0]) / (now - fit_from[1]),
                                                     deadline - now, cap)], device=device)
                if distributed:  # every rank must plan the same last step
                    dist.all_reduce(planned, op=dist.ReduceOp.MIN)
                args.iters = bar.total = int(planned.item())
                if not fitted and main_process:
                    log.info("--fit-time-limit: the schedule ends at step %d (re-planned at every log line)",
                             args.iters)
                fitted = True
        if val_data is not None and step % args.val_every == 0:
            v = validate(raw, val_data, VAL_SAMPLES, device)
            writer.add_scalar("val/psnr_gain", v["gain"], step)
            log.info("step %d validation: input %.2f dB, gain %+.3f dB", step, v["input_psnr"], v["gain"])
        if main_process and (step % args.ckpt_every == 0 or step == args.iters):
            checkpoint.save(args.out, raw, opt, sched, step, vars(args))
        stop = stop or time.time() > deadline
        if distributed:  # every rank stops at the same step, or DDP would hang
            flag = torch.tensor([float(stop)], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
    if main_process and stop and step % args.ckpt_every:
        checkpoint.save(args.out, raw, opt, sched, step, vars(args))
    if stop:
        log.info("stopped (SIGTERM or --time-limit) at step %d; continue with --resume", step)
    bar.close()
    if writer:
        writer.close()
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
