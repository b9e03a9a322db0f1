"""Reliability, security (issue #6, item 4): no code of the project unpickles a file. Weights are
safetensors or ONNX; the one ``torch.load`` (training's optimizer state) passes ``weights_only=True``.
Read from the syntax trees of every Python file, so a comment or string that names pickle is no hit."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["vs_dvd", "training", "demo", "bench", "tests"]
UNPICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
SOURCES = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def keyword(call: ast.Call, name: str):
    """The constant value of keyword argument ``name`` (None when absent or not a constant)."""
    values = [k.value.value for k in call.keywords if k.arg == name and isinstance(k.value, ast.Constant)]
    return values[0] if values else None


def unsafe_loads(text: str) -> list[tuple[int, str]]:
    """(line, what) for each import of an unpickling module and each call that may unpickle."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] in UNPICKLERS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNPICKLERS:
            found.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            call = ast.unparse(node.func)
            if call == "torch.load" and keyword(node, "weights_only") is not True:
                found.append((node.lineno, "torch.load without weights_only=True"))
            elif call in {"torch.jit.load", "pd.read_pickle", "pandas.read_pickle"}:
                found.append((node.lineno, call))
            elif call.endswith(".load") and keyword(node, "allow_pickle") is True:
                found.append((node.lineno, f"{call}(allow_pickle=True)"))
    return sorted(found)


def test_every_package_has_python_sources_to_check():
    assert {p.relative_to(ROOT).parts[0] for p in SOURCES} == set(PACKAGES)


def test_nothing_is_unpickled():
    found = {str(p.relative_to(ROOT)): hits for p in SOURCES if (hits := unsafe_loads(p.read_text()))}
    assert found == {}


def test_the_check_finds_each_way_to_unpickle():
    sample = ("import pickle\nfrom joblib import load\nimport torch, numpy as np\n"
              "torch.load('a.pt')\ntorch.load('b.pt', weights_only=False)\n"
              "torch.load('c.pt', weights_only=True)\nnp.load('d.npy', allow_pickle=True)\n"
              "np.load('e.npy')\ntorch.jit.load('f.pt')\n")
    assert unsafe_loads(sample) == [
        (1, "import pickle"), (2, "from joblib import"), (4, "torch.load without weights_only=True"),
        (5, "torch.load without weights_only=True"), (7, "np.load(allow_pickle=True)"), (9, "torch.jit.load")]
