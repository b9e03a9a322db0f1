"""What vs-dvd finds here: versions, each backend and the one backend="auto" picks (and why), the CPU's
features that matter for speed, the CUDA GPUs and the bundled model.

Every line comes from the code Deblur itself runs: auto's choice from vs_dvd.backends.auto_choice,
OpenVINO's precision from the ov backend, the GPUs from the CUDA driver.
"""
from __future__ import annotations

import argparse
import platform


def configure(p: argparse.ArgumentParser) -> None:
    pass


def run(a: argparse.Namespace, p: argparse.ArgumentParser) -> int:
    for line in report():
        print(line)
    return 0


def report() -> list[str]:
    import vapoursynth as vs

    from .. import __version__, backends, hardware, model

    chosen, passed = backends.auto_choice()
    try:
        bundled, model_line = model.load(), None
    except vs.Error as e:
        bundled, model_line = None, f"model: {e}"
    lines = [f"vs-dvd {__version__}, VapourSynth {vs.__version__} (API {vs.__api_version__}), "
             f"Python {platform.python_version()}",
             'backends, in the order backend="auto" tries them:']
    for name in backends.NAMES:
        runtime = backends.runtime_version(name) or "not installed"
        if name == chosen:
            state = 'auto picks this' + _precision(name, bundled)
        elif name in passed:
            state = f"passed over: {passed[name]}"
        else:
            state = _usable(name, bundled)
        lines.append(f"  {name:<5} {runtime:<26} {state}")
    why = "; ".join(f"not {name}: {reason.split(';')[0]}" for name, reason in passed.items())
    lines.append(f"auto: {chosen}" + (f" ({why})" if why else ""))
    lines.append(f"CPU: {hardware.machine_line()}")
    gpus = [hardware.describe_gpu(i) for i in range(backends.cuda_devices())]
    lines.append("GPUs: " + ("; ".join(f"{i}: {g['name']}, compute capability {g['compute_capability']}"
                                       for i, g in enumerate(gpus)) or "none (the CUDA driver reports none)"))
    lines.append(model_line or f"model: {bundled.describe()}")
    return lines


def _usable(name: str, bundled) -> str:
    """'usable' for a backend auto does not reach, or why ``backend=name`` would fail (resolve's own error)."""
    import vapoursynth as vs

    from .. import backends

    try:
        backends.resolve(name, 0)
    except vs.Error as e:
        return "not usable: " + str(e).removeprefix("dvd.Deblur: ")
    return "usable" + _precision(name, bundled)


def _precision(name: str, bundled) -> str:
    """What fp16=True computes in on the host backends: ONNX Runtime always fp32; OpenVINO int8 from the
    bundled model's int8 IR where that pays, else bf16 where native."""
    if name == "cpu":
        return " (fp32)"
    if name != "ov":
        return ""
    from .. import backends
    from ..backends import ov
    from ..basics import first_line

    try:
        floats = ov.precision(ov.import_openvino().Core(), True)
        if bundled is not None and backends.use_int8(None, "ov", bundled, True):
            return f" (fp16=True computes in int8 from the bundled model's int8 IR, its float layers in {floats})"
        return f" (fp16=True computes in {floats} on this CPU)"
    except (ImportError, RuntimeError) as e:  # e.g. another OpenVINO build loaded first
        return f" (but OpenVINO cannot be loaded: {first_line(e)})"
