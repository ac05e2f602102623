"""The `trt-tracker` commands end to end (small sizes)."""

import json
from pathlib import Path

import numpy as np
import pytest

from trt_tracker.cli import main
from trt_tracker.data.sequence import load_sequence


@pytest.mark.parametrize("kind", ["body", "hand"])
def test_synth_writes_readable_sequences(tmp_path, kind, capsys):
    rc = main(["synth", "--kind", kind, "--num", "2", "--frames", "4", "--fps", "25", "--seed", "3",
               "--out", str(tmp_path)])
    assert rc == 0
    seqs = sorted(p.name for p in tmp_path.iterdir())
    assert seqs == [f"{kind}_00003", f"{kind}_00004"]
    seq = load_sequence(tmp_path / seqs[0])
    assert len(seq) == 4 and seq.fps == 25.0 and seq.info["subsample_step"] == 2
    assert seq.modality == ("rgb" if kind == "body" else "depth")
    # Deterministic from the seed: the same command writes the same data.
    main(["synth", "--kind", kind, "--num", "1", "--frames", "4", "--seed", "3", "--out", str(tmp_path / "again")])
    again = load_sequence(tmp_path / "again" / seqs[0])
    assert np.array_equal(again.joints_cam, seq.joints_cam)
    assert np.array_equal(np.asarray(again.frames), np.asarray(seq.frames))


def test_synth_refuses_to_overwrite(tmp_path, capsys):
    args = ["synth", "--kind", "hand", "--frames", "2", "--out", str(tmp_path)]
    assert main(args) == 0
    assert main(args) == 2
    assert "use --overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    assert main(["synth", "--num", "0", "--out", str(tmp_path)]) == 2
    assert main(["synth", "--fps", "0", "--out", str(tmp_path)]) == 2
    assert main(["synth", "--size", "8", "--frames", "2", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--fps must be in (0, 50]" in err and "size must be an integer side >= 16" in err
    (tmp_path / "file").write_text("")
    assert main(["synth", "--kind", "hand", "--frames", "2", "--out", str(tmp_path / "file")]) == 2


def test_preview_writes_grid_with_skeletons(tmp_path):
    import cv2

    out = tmp_path / "p.png"
    assert main(["preview", "--kind", "hand", "--seeds", "1", "2", "--frame", "3", "--skeleton", "--out", str(out)]) == 0
    img = cv2.imread(str(out))
    assert img.shape == (2 * 240, 2 * 320, 3)
    # The skeleton row differs from the plain row only where bones are drawn.
    diff = np.any(img[:240] != img[240:], axis=-1)
    assert 0.001 < diff.mean() < 0.2
    with pytest.raises(SystemExit):                  # argparse: --seeds needs values
        main(["preview", "--seeds", "--out", str(out)])


def test_card_latency_only_replaces_the_stored_latencies(tmp_path, capsys):
    """`card --latency F --latency-only` rewrites card.json's latencies and README.md, and re-reads the network
    table from the directory's weights files (a stale training command, the localiser's row; the evaluation
    does not use them), nothing else."""
    import shutil
    pytest.importorskip("torch")
    src = Path(__file__).resolve().parents[1] / "export" / "hand-lite"
    d = tmp_path / "hand-lite"
    d.mkdir()
    for f in ("card.json", "localiser.pt", "pose.pt", "spatial.pt", "temporal.pt"):
        shutil.copy(src / f, d / f)
    before = json.loads((d / "card.json").read_text())
    stale = json.loads(json.dumps(before))
    stale["networks"]["pose"]["training"]["command"] = "trt-tracker train --preset an-old-spelling"
    (d / "card.json").write_text(json.dumps(stale))
    lat = tmp_path / "lat.json"
    lat.write_text(json.dumps({"models": {"hand-lite": {"pose": 1.25, "spatial": 0.5, "temporal": 0.75}}}))
    assert main(["card", "--model", str(d), "--latency", str(lat), "--latency-only"]) == 0
    after = json.loads((d / "card.json").read_text())
    assert after["latency_ms"] == {"pose": 1.25, "spatial": 0.5, "temporal": 0.75}
    assert {k: v for k, v in after.items() if k != "latency_ms"} == {k: v for k, v in before.items()
                                                                      if k != "latency_ms"}
    assert after["networks"]["pose"]["training"]["command"].startswith("trt-tracker train --preset hand-lite-pose")
    assert "1.25" in (d / "README.md").read_text()
    (d / "localiser.pt").unlink()          # no localiser in the directory: no localiser row
    assert main(["card", "--model", str(d), "--latency", str(lat), "--latency-only"]) == 0
    after = json.loads((d / "card.json").read_text())
    assert "localiser" in before["networks"] and set(after["networks"]) == set(before["networks"]) - {"localiser"}
    assert main(["card", "--model", str(d), "--latency", str(tmp_path / "lat.json"), "--latency-only"]) == 0
    lat.write_text(json.dumps({"models": {}}))
    assert main(["card", "--model", str(d), "--latency", str(lat), "--latency-only"]) == 2
    assert "has no latencies for hand-lite" in capsys.readouterr().err
