"""training/recipes/device.sh's own plumbing: the model's parts come back and are put together, checked."""
import hashlib
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "training" / "recipes" / "device.sh"


def device(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(RECIPE), *args], cwd=cwd, capture_output=True, text=True)


def came_back(tmp_path: Path, data: bytes) -> Path:
    """A folder as the train call leaves it: p21.json naming the file's hash, the file in 15 MiB parts."""
    out = tmp_path / "back"
    out.mkdir()
    (out / "p21.json").write_text(json.dumps({"sha256": hashlib.sha256(data).hexdigest()}))
    (out / "p21.onnx").write_bytes(data)
    subprocess.run(["split", "-b", "15M", "-d", "p21.onnx", "p21.onnx.part"], cwd=out, check=True)
    (out / "p21.onnx").unlink()
    return out


def test_join_puts_the_parts_together_and_checks_them_against_the_sidecar(tmp_path):
    data = bytes(range(256)) * (70_000)  # 17.9 MB: two parts
    back = came_back(tmp_path, data)
    assert len(list(back.glob("p21.onnx.part*"))) == 2
    done = device("join", str(back), str(tmp_path / "model"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model" / "p21.onnx").read_bytes() == data
    assert json.loads((tmp_path / "model" / "p21.json").read_text())["sha256"] == hashlib.sha256(data).hexdigest()


def test_join_refuses_a_damaged_part_and_writes_no_model(tmp_path):
    back = came_back(tmp_path, b"\1" * 20_000_000)
    part = back / "p21.onnx.part01"
    part.write_bytes(part.read_bytes()[:-1])
    done = device("join", str(back), str(tmp_path / "model"), cwd=tmp_path)
    assert done.returncode != 0 and "fetch them again" in done.stderr
    assert not (tmp_path / "model" / "p21.onnx").exists()


def test_train_without_a_pack_says_to_make_one(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "training" / "recipes").mkdir(parents=True)
    (checkout / "training" / "recipes" / "device.sh").write_bytes(RECIPE.read_bytes())
    done = subprocess.run(["bash", "training/recipes/device.sh", "train", str(tmp_path / "out")], cwd=checkout,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "run 'device.sh pack' here first" in done.stderr
