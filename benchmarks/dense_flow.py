"""DenseFlow: generic optical flow in place of learned joint displacements (seed 000 Table 3).

The paper computes FlowNet 2.0 between the two frames of a pair, then pools it
around each joint's position in the earlier frame with the same pixel
weighting as its temporal network.  Here the flow is OpenCV's DIS
(``cv2.DISOpticalFlow``, Kroeger et al. 2016) on the grey full frames, and the
pooling is :func:`trt_tracker.models.relation.weighting_map` + Eq. 7 on the
pair crop's heatmap grid: the flow is sampled at the heatmap pixel centres
(mapped back to the image), weighted around the related joint (the pose
network's joint in frame t-d) and averaged.  The result is the joint's
(u, v) displacement in image pixels.

Optical flow has no depth component.  The paper takes the depth displacement
from its own temporal network; :mod:`benchmarks.paper_tables` reports both
that and z = 0.  (For depth input a z displacement could be read from the two
depth maps at the flowed positions; the paper's flow comparison is on RGB
only, and so is ours.)
"""
from __future__ import annotations

import numpy as np


def dis_flow(frame0: np.ndarray, frame1: np.ndarray, preset: str = "medium", dis=None) -> np.ndarray:
    """DIS optical flow (H, W, 2) from ``frame0`` to ``frame1``: ``frame0(x) ~ frame1(x + flow(x))``.

    Frames are (H, W, 3) uint8 RGB or (H, W) grey; ``dis`` reuses an OpenCV DIS object.
    """
    import cv2

    def grey(f):
        f = np.asarray(f)
        if f.ndim == 3:
            f = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
        if f.dtype != np.uint8:
            raise ValueError(f"DIS needs 8-bit frames, got {f.dtype}")
        return np.ascontiguousarray(f)

    if dis is None:
        dis = make_dis(preset)
    return dis.calc(grey(frame0), grey(frame1), None)


def make_dis(preset: str = "medium"):
    import cv2

    presets = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
    if preset not in presets:
        raise ValueError(f"unknown DIS preset {preset!r}; choose one of {sorted(presets)}")
    return cv2.DISOpticalFlow_create(presets[preset])


def sample_on_heatmap(flow: np.ndarray, tf) -> np.ndarray:
    """Flow (H, W, 2) sampled bilinearly at the heatmap pixel centres of a crop: (h, h, 2) image pixels."""
    import cv2

    h = tf.heatmap_size
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(h, dtype=np.float64), indexing="ij")
    img = tf.from_heatmap(np.stack([xs, ys], -1))                     # (h, h, 2) image coordinates
    mx, my = img[..., 0].astype(np.float32), img[..., 1].astype(np.float32)
    return cv2.remap(np.ascontiguousarray(flow, np.float32), mx, my, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def pool_flow(flow_hm: np.ndarray, related_hm: np.ndarray, decay: str = "binary", beta: float = 2.5,
              sampling: str = "decay") -> np.ndarray:
    """Eq. 7 on a flow map: (h, h, 2) flow and (K, 2) related joints (heatmap px) -> (K, 2) pooled flow."""
    import torch

    from trt_tracker.models.relation import weighted_pool, weighting_map

    h = flow_hm.shape[0]
    rel = torch.as_tensor(np.asarray(related_hm, np.float64)[None, :, :2])
    W = weighting_map(rel, h, h, decay, beta, sampling)                          # (1, K, h, h)
    maps = torch.as_tensor(np.asarray(flow_hm, np.float64)).permute(2, 0, 1)      # (2, h, h)
    K = rel.shape[1]
    maps = maps[None, None].expand(1, K, 2, h, h)
    return weighted_pool(maps, W)[0].numpy()


def dense_flow_displacements(frame0, frame1, tf, related_hm, decay: str = "binary", beta: float = 2.5,
                             dis=None) -> np.ndarray:
    """Joint displacements (K, 2) in image pixels from DIS flow pooled around the related joints.

    ``tf`` is the pair's :class:`~trt_tracker.camera.CropTransform` (with a
    heatmap size); ``related_hm`` (K, 2) the joints of ``frame0`` in its heatmap frame.
    """
    flow = dis_flow(frame0, frame1, dis=dis)
    return pool_flow(sample_on_heatmap(flow, tf), related_hm, decay, beta)
