"""The on-disk sequence format: lossless round trips, interrupted writes, clear errors."""
import json

import numpy as np
import pytest

from trt_tracker.camera import Intrinsics
from trt_tracker.data.sequence import (SequenceFormatError, Sequence, SequenceWriter, load_sequence,
                                       save_sequence)
from trt_tracker.skeleton import BODY17, HAND21

INTR = Intrinsics(300.0, 300.0, 31.5, 23.5, 64, 48)


def _seq(rng, modality, T=6):
    sk = BODY17 if modality == "rgb" else HAND21
    J = rng.uniform([-200, -200, 1500], [200, 200, 2500], size=(T, sk.K, 3))
    if modality == "rgb":
        frames = rng.integers(0, 256, size=(T, 48, 64, 3), dtype=np.uint8)
    else:
        frames = rng.integers(0, 65535, size=(T, 48, 64), dtype=np.uint16)
    return Sequence(sk, modality, 50.0, INTR, J, frames, info={"seed": 3})


@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_roundtrip_is_lossless(tmp_path, rng, modality):
    seq = _seq(rng, modality)
    save_sequence(seq, tmp_path / "s")
    back = load_sequence(tmp_path / "s")
    assert back.skeleton is seq.skeleton and back.modality == modality and back.fps == 50.0
    assert back.intrinsics == INTR and back.info == {"seed": 3}
    assert np.array_equal(back.joints_cam, seq.joints_cam)
    assert np.array_equal(back.timestamps, seq.timestamps)
    assert np.array_equal(np.asarray(back.frames), seq.frames)          # bit-exact, colour order kept
    eager = load_sequence(tmp_path / "s", lazy=False)
    assert isinstance(eager.frames, np.ndarray) and np.array_equal(eager.frames, seq.frames)
    assert np.allclose(back.joints_uv, INTR.project(seq.joints_cam))
    meta = json.loads((tmp_path / "s" / "meta.json").read_text())
    assert meta["num_frames"] == 6 and meta["skeleton"] == seq.skeleton.name


def test_subsample_and_fps(rng, tmp_path):
    seq = _seq(rng, "rgb", T=40)
    s8 = seq.at_fps(8)
    assert s8.fps == pytest.approx(50 / 6) and len(s8) == 7
    assert np.array_equal(s8.frames[1], seq.frames[6]) and np.array_equal(s8.joints_cam[2], seq.joints_cam[12])
    save_sequence(seq, tmp_path / "s")
    lazy = load_sequence(tmp_path / "s").subsample(20)
    assert len(lazy) == 2 and np.array_equal(lazy.frames[1], seq.frames[20])


def test_interrupted_writer_leaves_valid_sequence(tmp_path, rng):
    seq = _seq(rng, "depth", T=7)
    with pytest.raises(KeyboardInterrupt):
        with SequenceWriter(tmp_path / "s", HAND21, "depth", 50.0, INTR, flush_every=2) as w:
            for i in range(7):
                if i == 5:
                    raise KeyboardInterrupt
                w.write(seq.frames[i], seq.joints_cam[i])
    back = load_sequence(tmp_path / "s")
    assert len(back) == 5 and np.array_equal(np.asarray(back.frames), seq.frames[:5])


def test_writer_rejects_bad_frames(tmp_path, rng):
    w = SequenceWriter(tmp_path / "s", BODY17, "rgb", 25.0, INTR)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        w.write(np.zeros((48, 64), np.uint8), np.zeros((17, 3)))
    with pytest.raises(ValueError, match="intrinsics say 64x48"):
        w.write(np.zeros((40, 64, 3), np.uint8), np.zeros((17, 3)))
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        w.write(np.zeros((48, 64, 3), np.uint8), np.zeros((21, 3)))
    w.close()
    with pytest.raises(FileExistsError, match="overwrite"):
        SequenceWriter(tmp_path / "s", BODY17, "rgb", 25.0, INTR)


def test_load_errors_name_the_problem(tmp_path, rng):
    with pytest.raises(SequenceFormatError, match="not a directory"):
        load_sequence(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SequenceFormatError, match="no meta.json"):
        load_sequence(tmp_path / "empty")
    save_sequence(_seq(rng, "rgb"), tmp_path / "s")
    (tmp_path / "s" / "frames" / "000005.png").unlink()
    with pytest.raises(SequenceFormatError, match="missing"):
        load_sequence(tmp_path / "s")
    save_sequence(_seq(rng, "rgb"), tmp_path / "t")
    (tmp_path / "t" / "frames" / "000002.png").write_bytes(b"not a png")
    seq = load_sequence(tmp_path / "t")
    with pytest.raises(SequenceFormatError, match="000002.png"):
        seq.frames[2]
    (tmp_path / "t" / "meta.json").write_text("{broken")
    with pytest.raises(SequenceFormatError, match="not valid JSON"):
        load_sequence(tmp_path / "t")
