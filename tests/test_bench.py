"""The benchmark scripts run end to end on the CPU in their tiny modes and print what the README quotes."""
import os
import re
import subprocess
import sys
from pathlib import Path

import vapoursynth as vs

ROOT = Path(__file__).resolve().parents[1]


def bench(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          env=env, timeout=600)


def test_plumbing_prints_today_the_device_path_and_its_host_share_in_ms_per_frame():
    done = bench("plumbing.py", "--size", "64x48", "--rounds", "1", "--frames", "1")
    assert done.returncode == 0, done.stderr
    rows = re.findall(r"^\| (today|new, all of it|new, the host's share|of which)[^|]*\| [\d.]+ \| [\d.]+ \|$",
                      done.stdout, re.M)
    assert rows == ["today", "new, all of it", "new, the host's share", "of which"]
    assert re.search(r"host's share on a GPU between [\d.-]+ .* and [\d.]+ .*target <= 0.2. Device operations "
                     r"per frame \(no views\): [1-9]\d*", done.stdout)
    assert "flags:" in done.stdout


def test_the_gpu_bench_runs_its_whole_table_and_the_peer_on_the_cpu_device(model_path):
    done = bench("gpu.py", "--device", "cpu", "--sizes", "64x64", "--warmup", "1", "--frames", "3",
                 "--rounds", "1", "--model", str(model_path))
    assert done.returncode == 0, done.stdout + done.stderr
    row = re.search(r"^\| 64x64 \| cpu fp32 \|(.*)\|$", done.stdout, re.M)
    assert row and "failed" not in row[1]
    assert len([cell for cell in row[1].split("|") if cell.strip()]) == 8  # every column measured (n/a: no peak)
    if hasattr(vs.core, "ort"):
        assert re.search(r"peer at 64x64: .* \(agree", done.stdout)
