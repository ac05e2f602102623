"""Pictures of sequences: a frame as BGR (RGB as is, depth in false colour) with a skeleton drawn on it."""
from __future__ import annotations

import numpy as np

from ..skeleton import Skeleton
from .hand_render import depth_to_color
from .sequence import Sequence

#: BGR colours by group (see :func:`limb_groups`): centre, right (red) / first finger, left (blue), ...
_COLOURS = [(255, 255, 255), (60, 60, 255), (255, 160, 40), (60, 220, 60), (0, 220, 255), (255, 60, 255)]


def limb_groups(skeleton: Skeleton) -> np.ndarray:
    """A colour group per joint.

    Skeletons with left/right flip pairs (bodies): 1 for right-side joints, 2
    for left-side joints, 0 for the rest, so a left/right swap shows.  Others
    (hands): the index of the root's child whose subtree holds the joint (one
    colour per finger), 0 for the root.
    """
    groups = np.zeros(skeleton.K, dtype=int)
    if skeleton.flip_pairs:
        for a, b in skeleton.flip_pairs:
            right, left = (a, b) if skeleton.names[a].startswith("r") else (b, a)
            groups[right], groups[left] = 1, 2
        return groups
    for i, c in enumerate(skeleton.children(skeleton.root)):
        stack = [c]
        while stack:
            k = stack.pop()
            groups[k] = 1 + i
            stack.extend(skeleton.children(k))
    return groups


def draw_skeleton(img: np.ndarray, uv: np.ndarray, skeleton: Skeleton, thickness: int = 1,
                  colour: tuple[int, int, int] | None = None) -> np.ndarray:
    """Draw bones and joints (pixels ``uv`` (K, 2)) on a BGR image in place; returns it."""
    import cv2

    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape != (skeleton.K, 2):
        raise ValueError(f"uv must be ({skeleton.K}, 2), got {uv.shape}")
    groups = limb_groups(skeleton)
    pts = np.rint(uv).astype(int)
    for k, p in enumerate(skeleton.parents):
        if p >= 0 and np.all(np.isfinite(uv[[k, p]])):
            c = colour or _COLOURS[groups[k] % len(_COLOURS)]
            cv2.line(img, tuple(pts[p]), tuple(pts[k]), c, thickness, cv2.LINE_AA)
    for k in range(skeleton.K):
        if np.all(np.isfinite(uv[k])):
            cv2.circle(img, tuple(pts[k]), thickness + 1, colour or _COLOURS[groups[k] % len(_COLOURS)], -1)
    return img


def frame_bgr(seq: Sequence, i: int) -> np.ndarray:
    """Frame ``i`` as a BGR uint8 image: RGB frames colour-swapped, depth in false colour around the subject."""
    if seq.frames is None:
        raise ValueError("this sequence has no frames to show (pose-only)")
    frame = np.asarray(seq.frames[i])
    if seq.modality == "rgb":
        return np.ascontiguousarray(frame[..., ::-1])
    z = seq.joints_cam[i, :, 2]
    return depth_to_color(frame, z.min() - 30.0, z.max() + 150.0)


def preview_grid(sequences: list[Sequence], frames: list[int], skeleton: bool = True, scale: float = 1.0,
                 cols: int | None = None) -> np.ndarray:
    """A grid (BGR) of frame ``frames[j]`` of ``sequences[j]``, each with its ground-truth skeleton."""
    import cv2

    if len(sequences) != len(frames) or not sequences:
        raise ValueError("need one frame index per sequence, and at least one sequence")
    tiles = []
    for seq, i in zip(sequences, frames):
        if not 0 <= i < len(seq):
            raise ValueError(f"frame {i} outside 0..{len(seq) - 1}")
        img = frame_bgr(seq, i)
        if scale != 1.0:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if skeleton:
            uv = (seq.intrinsics.project(seq.joints_cam[i]) + 0.5) * scale - 0.5
            draw_skeleton(img, uv, seq.skeleton, thickness=max(1, int(round(scale))))
        tiles.append(img)
    h, w = tiles[0].shape[:2]
    cols = cols or len(tiles)
    rows = -(-len(tiles) // cols)
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    for j, t in enumerate(tiles):
        r, c = divmod(j, cols)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = cv2.resize(t, (w, h)) if t.shape[:2] != (h, w) else t
    return grid
