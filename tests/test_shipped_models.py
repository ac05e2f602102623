"""The shipped models in export/: present, small, loadable, consistent with their cards.

The full reproduction of a card (``trt-tracker card --model export/<name> --check``)
takes minutes, so it is a slow test (``--runslow``).
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trt_tracker.card import NETWORKS, check_card, load_model_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"body-lite": ("BODY17", "rgb"), "hand-lite": ("HAND21", "depth")}
MAX_BYTES = 16 * 2 ** 20


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_model_files(name):
    d = ROOT / "export" / name
    for n in NETWORKS:
        f = d / f"{n}.pt"
        assert f.is_file(), f"{f} missing"
        assert f.stat().st_size <= MAX_BYTES, f"{f} is {f.stat().st_size} bytes (> 16 MiB)"
    nets = load_model_dir(d)
    skeleton, modality = MODELS[name]
    for n, (net, cfg, saved) in nets.items():
        assert cfg.skeleton == skeleton and cfg.modality == modality and cfg.task == n
        assert not net.training
    # the tracker's spatial fusion: calibrated on many validation sequences, listed in the manifest
    from trt_tracker.card import load_fusion

    fusion = load_fusion(d, skeleton)
    assert fusion is not None and fusion.info["sequences"] >= 144
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["fusion"]["sha256"] == hashlib.sha256((d / "fusion.npz").read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_card_matches_weights(name):
    d = ROOT / "export" / name
    card = json.loads((d / "card.json").read_text())
    nets = load_model_dir(d)
    for n in NETWORKS:
        t = card["networks"][n]["training"]
        saved = nets[n][2]
        assert t["steps"] == saved["step"] and t["model"] == saved["model"]
        assert t["command"].startswith(f"trt-tracker train --preset {saved['train']['name']}")
    for fps in ("25", "8", "2.5"):
        r = card["results"][fps]
        assert np.isfinite(r["single_mpjpe"]) and r["single_mpjpe"] > 0
        for v in ("Df", "Dmf"):
            tr = r["tracker"][v]
            assert tr["reduction"] == pytest.approx(1 - tr["mpjpe"] / r["single_mpjpe"])
    assert (d / "README.md").read_text().startswith(f"# {name}")


def test_body_tracker_lowers_mpjpe_per_card():
    """The card states the tracker's effect; for body-lite the mission requires it to lower MPJPE: at every
    frame rate, the spatiotemporal tracker (displacements and bones, alpha and gamma tuned on the validation
    sequences) must beat single-frame on the test sequences.  The temporal-only rows are reported beside it."""
    card = json.loads((ROOT / "export" / "body-lite" / "card.json").read_text())
    assert card["protocol"]["test_sequences"] >= 16 and card["protocol"]["val_sequences"] >= 16
    for fps in ("25", "8", "2.5"):
        tr = card["results"][fps]["tracker"]
        assert {"Df", "Dmf", "bone", "Df+bone", "Dmf+bone"} <= set(tr)
        best = max(tr[v]["reduction"] for v in ("Df+bone", "Dmf+bone"))
        assert best > 0, f"{fps} fps: the tracker does not lower MPJPE on the card"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_card_reproduces(name):
    assert check_card(ROOT / "export" / name, rtol=0.01, progress=False) == []


def test_card_evaluation_shares_sequences_across_temporal_networks():
    """evaluate_dir renders each sequence once and runs every temporal network on it: each network's figures
    equal an evaluation of that network alone, and the pose-only figures are the same for all."""
    from trt_tracker.card import TEMPORAL_VARIANTS, evaluate_dir, load_fusion
    from trt_tracker.evaluate import VARIANTS, evaluate_model, torch_predictor
    from trt_tracker.train import TEST_SEEDS, VAL_SEEDS

    d = ROOT / "export" / "body-lite"
    protocol = {"test_sequences": 1, "val_sequences": 1, "frames_at_50fps": 60}
    figs = evaluate_dir(d, protocol, progress=False)
    assert set(figs) == {"results"} | {k for k, (f, _) in TEMPORAL_VARIANTS.items() if (d / f).is_file()}
    variant = next(k for k, (f, _) in TEMPORAL_VARIANTS.items() if (d / f).is_file())   # one shipped beside
    nets = load_model_dir(d, temporal=TEMPORAL_VARIANTS[variant][0])
    cfg = nets["pose"][1]
    alone = evaluate_model(torch_predictor(cfg, *(nets[n][0] for n in NETWORKS)), cfg.modality,
                           [TEST_SEEDS], [VAL_SEEDS + 100], 60, progress=False, fusion=load_fusion(d, cfg.skeleton))
    assert load_fusion(d, cfg.skeleton) is not None               # the shipped model is calibrated
    for fps, row in alone.items():
        got = figs[variant][fps]
        assert set(got["tracker"]) == set(VARIANTS)
        for key in ("single_mpjpe", "bone_error", "displ_error"):
            assert got[key] == pytest.approx(row[key], rel=1e-6)
            if key != "displ_error":
                assert figs["results"][fps][key] == pytest.approx(row[key], rel=1e-6)
        for v, tr in row["tracker"].items():
            assert got["tracker"][v]["mpjpe"] == pytest.approx(tr["mpjpe"], rel=1e-6)


def test_calibrate_writes_a_fusion_the_card_and_tracker_read(tmp_path):
    """`trt-tracker calibrate` on a copy of a shipped model (four short sequences): a fusion.npz with the
    cross-validated errors of every shrinkage and of the bone term, which load_fusion reads back; too few
    sequences say what to do."""
    import shutil

    from trt_tracker.card import load_fusion
    from trt_tracker.cli import main

    d = tmp_path / "hand-lite"
    d.mkdir()
    for n in NETWORKS:
        shutil.copy(ROOT / "export" / "hand-lite" / f"{n}.pt", d / f"{n}.pt")
    assert main(["calibrate", "--model", str(d), "--sequences", "4", "--fps", "8", "--quiet"]) == 0
    f = load_fusion(d, "HAND21")
    assert f.info["sequences"] == 4 and f.info["shrink"] in (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
    assert set(f.info["cross_validated_mpjpe_by_shrink"]) == {"0", "0.1", "0.2", "0.3", "0.5", "1"}
    assert f.info["cross_validated_mpjpe_bone_term"] > 0
    assert not list(d.glob("*.tmp*"))
    assert main(["calibrate", "--model", str(d), "--sequences", "2", "--quiet"]) == 2
