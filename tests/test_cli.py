"""The `trt-tracker` commands end to end (small sizes)."""

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
