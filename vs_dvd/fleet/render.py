"""The driver: plan or resume, hand the missing chunks to Ray, record each, then concatenate.

Ray schedules each chunk as a task asking for ``gpus_per_task`` GPUs (or ``cpus_per_task`` cores)
and retries it, on any node, when it raises or its worker dies, up to ``ATTEMPTS`` runs in all.
Ray sets ``CUDA_VISIBLE_DEVICES`` to the GPUs it grants a task, so ``device_id=0`` in the script
is that task's GPU.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import ray
from tqdm import tqdm

from . import chunks, concat, manifest, probe, worker

ATTEMPTS = 3  # runs of one chunk before the render stops
POLL_S = 0.5  # how often the progress bar is refreshed while chunks are rendering
LOG_TAIL = 3000  # characters of a failed chunk's log quoted in the error


class RenderError(RuntimeError):
    """The render stopped; finished chunks are kept for a rerun. The message says why."""


@dataclass(frozen=True)
class Options:
    script: Path
    out: Path
    chunk_frames: int
    args: dict[str, str] = field(default_factory=dict)
    encode: list[str] = field(default_factory=lambda: list(worker.FFV1))
    audio_from: Path | None = None
    workers: int | None = None
    ray_address: str | None = None
    gpus_per_task: float | None = None  # None: 1 where the cluster has GPUs, else 0
    cpus_per_task: float = 1
    keep_chunks: bool = False
    restart: bool = False
    overwrite: bool = False


def render(opts: Options, say=print) -> None:
    """Render ``opts.script`` to ``opts.out``; every line for the user goes through ``say``."""
    script, out = opts.script.resolve(), opts.out.resolve()
    if not script.is_file():
        raise RenderError(f"{opts.script} is not a file; pass the .vpy script to render")
    if out.exists() and not opts.overwrite:
        raise RenderError(f"{opts.out} exists; pass -y to overwrite it, or another OUT")
    if opts.audio_from and not opts.audio_from.is_file():
        raise RenderError(f"--audio-from {opts.audio_from} is not a file")
    folder = manifest.folder_for(out)
    wanted = manifest.settings(script, opts.args, opts.encode, opts.chunk_frames)
    record = manifest.Manifest.load(folder)
    if record and opts.restart:
        _remove(record)
        record = None
    if record and record.settings != wanted:
        raise RenderError(
            f"{folder} holds {len(record.done)} chunks rendered with other settings (changed: "
            f"{', '.join(manifest.differences(record.settings, wanted))}); rerun with the same script and "
            "arguments to resume, or pass --restart to discard them")
    started = _connect(opts)
    try:
        gpus = opts.gpus_per_task
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        resources = {"num_gpus": gpus, "num_cpus": opts.cpus_per_task}
        if record is None:
            record = _plan(script, opts, wanted, folder, resources, say)
        else:
            say(f"resuming {folder}: {len(record.done)} of {len(record.ranges)} chunks recorded")
            for index, why in record.damaged().items():
                start, end = record.ranges[index]
                say(f"chunk {index} (frames {start}-{end}): {why}; rendering it again")
            record.save()
        for stale in folder.glob(".*.tmp"):  # left by a worker killed mid-chunk
            stale.unlink()
        _render_missing(script, opts, record, resources, say)
    finally:
        if started:
            ray.shutdown()
    concat.concat([record.chunk_path(i) for i in range(len(record.ranges))], out, opts.audio_from)
    say(f"wrote {opts.out}: {record.frames} frames" + (
        f", audio and metadata from {opts.audio_from}" if opts.audio_from else
        "; no audio (pass --audio-from SOURCE to copy the source's audio, chapters and metadata)"))
    if not opts.keep_chunks:
        _remove(record)


def _connect(opts: Options) -> bool:
    """Join the Ray instance already running in this process, the cluster named, or start one here;
    whether this call started it."""
    if ray.is_initialized():
        return False
    ray.init(address=opts.ray_address or "local", logging_level=logging.WARNING,
             **({} if opts.ray_address else {"include_dashboard": False}))
    return True


def _plan(script: Path, opts: Options, wanted: dict, folder: Path, resources: dict, say) -> manifest.Manifest:
    """Evaluate the script once on a worker (where its GPUs are) and cut it into chunks."""
    task = ray.remote(max_calls=1, **resources)(probe.probe)  # a fresh worker, exiting after: no model left loaded
    try:
        found = ray.get(task.remote(str(script), opts.args))
    except ray.exceptions.RayTaskError as e:
        raise RenderError(f"{opts.script} could not be evaluated: {_cause(e)}") from None
    ranges = chunks.plan(found.frames, opts.chunk_frames, found.cuts or ())
    if found.cuts is None:
        how = (f"fixed length: the script sets no output {probe.SCENE_OUTPUT} whose frames mark scene "
               "changes (_SceneChangePrev/_SceneChangeNext)")
    else:
        how = f"at {len(found.cuts)} scene changes read from output {probe.SCENE_OUTPUT}"
    say(f"{found.frames} frames in {len(ranges)} chunks of up to {opts.chunk_frames} frames, {how}")
    folder.mkdir(exist_ok=True)
    record = manifest.Manifest(folder, wanted, found.frames, ranges)
    record.save()
    return record


class Progress:
    """A Ray actor: frames done so far in each running chunk, as its worker reports them."""

    def __init__(self) -> None:
        self.frames: dict[int, int] = {}

    def update(self, index: int, frames: int) -> None:
        self.frames[index] = frames

    def read(self) -> dict[int, int]:
        return self.frames


def _chunk_task(job: worker.Job, progress) -> worker.Chunk:
    return worker.render(job, lambda frames: progress.update.remote(job.index, frames))


def _render_missing(script: Path, opts: Options, record: manifest.Manifest, resources: dict, say) -> None:
    """Render every chunk not in ``record.done``, at most ``opts.workers`` at once, recording each."""
    missing = [i for i in range(len(record.ranges)) if i not in record.done]
    if not missing:
        return
    say(f"chunks to render: {len(missing)}" + (f", at most {opts.workers} at once" if opts.workers else ""))
    task = ray.remote(_chunk_task).options(max_retries=ATTEMPTS - 1, retry_exceptions=True, **resources)
    progress = ray.remote(Progress).options(num_cpus=0).remote()
    args = tuple(sorted(opts.args.items()))

    def job(i: int) -> worker.Job:
        start, end = record.ranges[i]
        return worker.Job(i, start, end, str(script), args, tuple(opts.encode),
                          str(record.chunk_path(i)), str(record.log_path(i)))

    def length(i: int) -> int:
        return record.ranges[i][1] - record.ranges[i][0] + 1

    running: dict = {}
    with tqdm(total=record.frames, unit="frame", desc="render", dynamic_ncols=True) as bar:
        while missing or running:
            while missing and len(running) < (opts.workers or len(missing) + len(running)):
                i = missing.pop(0)
                running[task.remote(job(i), progress)] = i
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
            for ref in ready:
                i = running.pop(ref)
                try:
                    record.record(ray.get(ref))
                except ray.exceptions.RayError as e:
                    for other in running:
                        ray.cancel(other, force=True)
                    raise RenderError(_failure(record, i, e)) from None
            partial = ray.get(progress.read.remote())
            bar.n = sum(length(i) for i in record.done) + sum(partial.get(i, 0) for i in running.values())
            bar.refresh()


def _failure(record: manifest.Manifest, index: int, error: Exception) -> str:
    start, end = record.ranges[index]
    log = record.log_path(index)
    tail = log.read_text(errors="replace")[-LOG_TAIL:].strip() if log.exists() else ""
    return (f"chunk {index} (frames {start}-{end}) failed {ATTEMPTS} times, the last time: {_cause(error)}\n"
            f"the worker's messages ({log}):\n{tail or '(none)'}\n"
            f"the {len(record.done)} finished chunks are kept: fix the cause and rerun to render the rest")


def _cause(error: Exception) -> str:
    """The error a task raised, or why its worker died, in one line."""
    cause = getattr(error, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    return str(error).strip().splitlines()[0]


def _remove(record: manifest.Manifest) -> None:
    """Delete the chunk folder: only the files a render writes there, then the folder if empty."""
    for path in record.folder.iterdir():
        if path.suffix in (".mkv", ".log", ".tmp", ".txt") or path.name == manifest.NAME:
            path.unlink()
    if not any(record.folder.iterdir()):
        record.folder.rmdir()
