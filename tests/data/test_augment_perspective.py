"""Perspective views as imgaug's PerspectiveTransform(scale, keep_size=True) makes them.

Expected behaviour from imgaug 0.4's geometric.py (the original's augmenter): every corner moves
inwards by |N(0, sigma)| (mod 1) of the image size, and the quadrilateral of the moved corners is
stretched back onto the whole image (a zoom-in: no pixel comes from outside the image).
"""

import numpy as np
import torch
from torchvision import tv_tensors

from hodor.data.augment import _perspective_points, _warp_perspective


def test_inner_quadrilateral_fills_the_output():
    H, W = 60, 80
    ys, xs = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    img = tv_tensors.Image(torch.stack([xs, ys, xs * 0]).to(torch.uint8))  # R = x, G = y
    ids = tv_tensors.Mask(torch.ones(1, H, W, dtype=torch.uint8))
    valid = tv_tensors.Mask(torch.ones(1, H, W, dtype=torch.uint8))
    start = [[8.0, 6.0], [70.0, 4.0], [72.0, 55.0], [5.0, 50.0]]  # tl, tr, br, bl inside the image
    end = [[0.0, 0.0], [W - 1.0, 0.0], [W - 1.0, H - 1.0], [0.0, H - 1.0]]
    out, out_ids, out_valid = _warp_perspective((img, ids, valid), (start, end))
    # output corners show the input pixels at the moved corners (+-1 px of resampling)
    for (x, y), (ox, oy) in zip(start, end, strict=True):
        r, g = out[0, int(oy), int(ox)].item(), out[1, int(oy), int(ox)].item()
        assert abs(r - x) <= 1.5 and abs(g - y) <= 1.5
    # zoom-in: every output pixel comes from inside the image
    assert bool(out_valid.all()) and bool(out_ids.all())


def test_corner_jitter_is_half_normal_of_the_image_size():
    rng = np.random.default_rng(0)
    H, W = 100, 200
    inward = []
    for _ in range(2000):
        start, _ = _perspective_points(H, W, (0.10, 0.12), rng)
        (tlx, tly), (trx, _), _, (_, bly) = start
        inward += [tlx / (W - 1), tly / (H - 1), 1 - trx / (W - 1), 1 - bly / (H - 1)]
    inward = np.asarray(inward)
    assert inward.min() >= 0
    # E|N(0, s)| = s * sqrt(2 / pi) with s ~ U(0.10, 0.12): 0.0878; a uniform torchvision
    # distortion_scale d would give d / 4 and never exceed d / 2
    assert abs(inward.mean() - 0.11 * np.sqrt(2 / np.pi)) < 0.003
    assert np.quantile(inward, 0.99) > 0.25  # the half-normal tail (2.6 sigma)
