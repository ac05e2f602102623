"""Cameras and crops: projection round trips and the image <-> crop <-> heatmap maps."""
import numpy as np
import pytest

from trt_tracker.camera import (CropBox, CropTransform, Intrinsics, apply_affine, box_from_points, cam_to_2p5d,
                                compose_affine, crop_affine, grid_affine, invert_affine, p2p5d_to_cam)

INTR = Intrinsics(1145.0, 1143.0, 512.5, 515.2, 1000, 1002)


def test_project_backproject_roundtrip(rng):
    X = rng.uniform([-800, -900, 2500], [800, 900, 6000], size=(10, 17, 3))
    uv = INTR.project(X)
    assert np.allclose(INTR.backproject(uv, X[..., 2]), X)
    # By hand: a point on the optical axis lands on the principal point.
    assert np.allclose(INTR.project(np.array([0.0, 0.0, 3000.0])), [512.5, 515.2])
    assert np.allclose(INTR.project(np.array([100.0, 0.0, 1000.0])), [512.5 + 114.5, 515.2])
    with pytest.raises(ValueError, match="behind the camera"):
        INTR.project(np.array([0.0, 0.0, -1.0]))


def test_2p5d_roundtrip_with_root_depth(rng):
    X = rng.uniform([-800, -900, 2500], [800, 900, 6000], size=(6, 17, 3))
    P = cam_to_2p5d(X, INTR)
    assert np.allclose(P[:, 0, 2], 0.0)                      # root-relative depth
    assert np.allclose(p2p5d_to_cam(P, INTR, X[:, 0, 2]), X)


def test_intrinsics_helpers():
    a = INTR.as_array()
    assert Intrinsics.from_array(a) == INTR
    s = Intrinsics.from_fov(640, 480, 90.0)
    assert np.isclose(s.fx, 320.0) and np.isclose(s.cx, 319.5)
    half = INTR.scaled(0.5)
    X = np.array([[120.0, -40.0, 3000.0]])
    # Pixel-centre convention: u' = (u + 0.5) * s - 0.5.
    assert np.allclose(half.project(X), (INTR.project(X) + 0.5) * 0.5 - 0.5)
    with pytest.raises(ValueError, match="focal"):
        Intrinsics(0, 1, 0, 0, 10, 10)


def test_crop_affine_maps_box_to_crop():
    box = CropBox(300.0, 200.0, 128.0)
    M = crop_affine(box, 256)
    # Box centre -> crop centre, box edges -> crop pixel edges (-0.5 and 255.5).
    assert np.allclose(apply_affine(M, np.array([300.0, 200.0])), [127.5, 127.5])
    assert np.allclose(apply_affine(M, np.array([box.x0, box.y0])), [-0.5, -0.5])
    assert np.allclose(apply_affine(M, np.array([box.x0 + 128, box.y0 + 128])), [255.5, 255.5])
    # Depth passes through.
    assert np.allclose(apply_affine(M, np.array([300.0, 200.0, -42.0]))[2], -42.0)


def test_rotation_and_flip():
    box = CropBox(0.0, 0.0, 2.0)
    M = crop_affine(box, 2, rotation_deg=90.0)
    c = 0.5
    # A point right of the centre goes up on screen (counter-clockwise; y points down).
    assert np.allclose(apply_affine(M, np.array([1.0, 0.0])), [c, c - 1.0])
    Mf = crop_affine(box, 2, flip=True)
    assert np.allclose(apply_affine(Mf, np.array([1.0, 0.0])), [c - 1.0, c])


def test_crop_transform_roundtrips(rng):
    ct = CropTransform(CropBox(410.3, 250.7, 333.0), 256, 64, rotation_deg=17.0, flip=True)
    P = rng.uniform(100, 600, size=(5, 17, 3))
    assert np.allclose(ct.to_image(ct.to_crop(P)), P)
    assert np.allclose(ct.from_heatmap(ct.to_heatmap(P)), P)
    # Heatmap = crop scaled by 1/4 in the pixel-centre convention.
    assert np.allclose(ct.to_heatmap(P)[..., :2], (ct.to_crop(P)[..., :2] + 0.5) / 4 - 0.5)
    assert np.allclose(grid_affine(256, 64) @ np.array([127.5, 127.5, 1.0]), [31.5, 31.5])
    assert np.allclose(invert_affine(invert_affine(ct.image_to_crop)), ct.image_to_crop)


def test_axis_aligned_maps_match_the_general_composition(rng):
    """The closed-form maps of an unrotated crop (the tracker's) against composing and inverting the 2x3s."""
    for _ in range(20):
        box = CropBox(*rng.uniform([-50, -50, 8], [700, 500, 900]))
        ct = CropTransform(box, int(rng.choice([128, 160, 256])), int(rng.choice([32, 64])))
        M = crop_affine(box, ct.input_size)
        H = compose_affine(grid_affine(ct.input_size, ct.heatmap_size), M)
        assert np.allclose(ct.image_to_crop, M, rtol=1e-12, atol=1e-9)
        assert np.allclose(ct.crop_to_image, invert_affine(M), rtol=1e-12, atol=1e-9)
        assert np.allclose(ct.image_to_heatmap, H, rtol=1e-12, atol=1e-9)
        assert np.allclose(ct.heatmap_to_image, invert_affine(H), rtol=1e-12, atol=1e-9)
    with pytest.raises(ValueError, match="no heatmap_size"):
        CropTransform(CropBox(0, 0, 10), 128).image_to_heatmap


def test_warp_agrees_with_point_map():
    img = np.zeros((300, 400), np.uint8)
    img[120, 250] = 255
    ct = CropTransform(CropBox(240.0, 130.0, 64.0), 128)
    crop = ct.warp(img, interpolation="nearest")
    v, u = np.unravel_index(np.argmax(crop), crop.shape)
    expect = ct.to_crop(np.array([250.0, 120.0]))
    assert abs(u - expect[0]) <= 1 and abs(v - expect[1]) <= 1


def test_box_from_points_pair_and_errors():
    a = np.array([[10.0, 10.0], [30.0, 20.0]])
    b = np.array([[50.0, 15.0], [np.nan, np.nan]])
    box = box_from_points(np.stack([a, b]), margin=1.0)       # one box covers both frames of a pair
    assert np.isclose(box.cx, 30.0) and np.isclose(box.cy, 15.0) and np.isclose(box.size, 40.0)
    with pytest.raises(ValueError, match="no finite points"):
        box_from_points(np.full((3, 2), np.nan))
