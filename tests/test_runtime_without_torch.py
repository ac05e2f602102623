"""The live path needs no PyTorch: `trt-tracker track` on ONNX Runtime runs with torch unimportable.

Runs in a fresh interpreter where ``import torch`` raises ImportError (``sys.modules["torch"] = None``),
so it holds whether or not torch is installed here, and fails if any module on the tracking path
(CLI, sources, pipeline, tracker, model loading, ONNX Runtime backend) imports torch or the training
code (train, card, export, evaluate) at all.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ("trt_tracker.train", "trt_tracker.card", "trt_tracker.export", "trt_tracker.evaluate",
            "trt_tracker.models")

SCRIPT = """
import json, sys
sys.modules["torch"] = None          # `import torch` now raises ImportError
from trt_tracker.cli import main
rc = main(["track", "--source", sys.argv[1], "--model", sys.argv[2], "--out", sys.argv[3], "--backend",
           "onnxruntime", "--threads", "1", "--no-video", "--quiet"])
print(json.dumps({"rc": rc, "modules": sorted(m for m in sys.modules if m.startswith("trt_tracker"))}))
"""


@pytest.mark.parametrize("kind", ["body", "hand"])
def test_track_on_onnxruntime_without_torch(kind, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-c", SCRIPT, f"synthetic:{kind}:3:12", str(ROOT / "export" / f"{kind}-lite"),
                        str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["rc"] == 0, p.stdout + p.stderr
    loaded = [m for m in res["modules"] if m.startswith(TRAINING)]
    assert not loaded, f"the live path imported training code: {loaded}"
    run = json.loads((out / "run.json").read_text())
    assert run["backend"] == "onnxruntime" and run["summary"]["frames"] == 12
    assert run["summary"]["tracked"] >= 10
    lines = (out / "track.jsonl").read_text().splitlines()
    assert len(lines) >= 12


def _imports(path: Path, module: str) -> set[str]:
    """Every trt_tracker module the file of ``module`` imports, anywhere in it (lazy imports included)."""
    import ast

    mods = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            mods |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:                     # relative: drop the module name, then one package per extra dot
                parts = module.split(".")
                base = parts[: len(parts) - node.level]
                mods.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                mods.add(node.module)
    return {m for m in mods if m.startswith("trt_tracker")}


def test_runtime_sources_never_import_training_code():
    """The rule of DESIGN §3, read from the source (a lazy import in a rarely taken branch counts too): the
    live path (stream/, runtime/, manifests) and the math core import nothing from training, evaluation,
    cards or export; the PyTorch backend builds its graphs from trt_tracker.models.graphs."""
    pkg = ROOT / "trt_tracker"
    files = [*sorted((pkg / "stream").glob("*.py")), *sorted((pkg / "runtime").glob("*.py")),
             *(pkg / f"{n}.py" for n in ("skeleton", "camera", "solver", "metrics", "codec"))]
    forbidden = TRAINING[:-1]          # models.graphs is allowed: the PyTorch backend's loader
    bad = {}
    for f in files:
        module = "trt_tracker." + ".".join(f.relative_to(pkg).with_suffix("").parts)
        hits = sorted(m for m in _imports(f, module) if m.startswith(forbidden))
        if hits:
            bad[str(f.relative_to(ROOT))] = hits
    assert not bad, f"runtime files import training/evaluation/cards/export: {bad}"
