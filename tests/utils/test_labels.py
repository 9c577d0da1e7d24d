"""Object ids and per-object statistics of index masks, against hand-worked masks and against the
plain definitions (every distinct value; the coordinates of every pixel) on random masks."""

import numpy as np
import pytest

from hodor.data.clips import object_stats
from hodor.utils.labels import VOID_ID, object_ids


def _hand_mask() -> np.ndarray:
    # 5x6 map: object 3 is an L of 4 pixels spanning rows 0-2 and cols 1-2; object 7 is one pixel;
    # a void border pixel (255) and background elsewhere.
    m = np.zeros((5, 6), np.int64)
    m[0, 1] = m[1, 1] = m[2, 1] = m[2, 2] = 3
    m[4, 5] = 7
    m[0, 0] = VOID_ID
    return m


def test_object_ids_hand_worked():
    assert object_ids(_hand_mask()) == [3, 7]
    assert object_ids(np.zeros((4, 4), np.uint8)) == []
    assert object_ids(np.full((2, 2), VOID_ID, np.uint8)) == []
    assert object_ids(np.zeros((0, 3), np.int64)) == []


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64])
def test_object_ids_equal_the_distinct_values(dtype):
    rng = np.random.default_rng(0)
    for _ in range(20):
        hi = int(rng.choice([3, 40, 256]))
        m = rng.integers(0, hi, size=(int(rng.integers(1, 30)), int(rng.integers(1, 30)))).astype(dtype)
        want = sorted({int(v) for v in m.ravel().tolist()} - {0, VOID_ID})
        assert object_ids(m) == want


def test_object_ids_outside_the_counting_range():
    # negative values and ids above 2^16 (e.g. a decoded RLE with large instance ids) still work
    m = np.array([[0, -4, 70000], [255, 70000, 5]], np.int64)
    assert object_ids(m) == [-4, 5, 70000]


def test_object_stats_hand_worked():
    s = object_stats(_hand_mask(), [3, 7, 9])
    assert s[3] == (4, 3, 2)  # 4 pixels, rows 0..2, cols 1..2
    assert s[7] == (1, 1, 1)
    assert s[9] == (0, 0, 0)  # absent


def test_object_stats_equal_the_pixel_coordinates():
    rng = np.random.default_rng(1)
    for _ in range(20):
        m = rng.integers(0, 4, size=(int(rng.integers(1, 25)), int(rng.integers(1, 25))))
        m[rng.random(m.shape) < 0.7] = 0
        for i, (area, h, w) in object_stats(m, [1, 2, 3]).items():
            ys, xs = np.where(m == i)
            if len(ys) == 0:
                assert (area, h, w) == (0, 0, 0)
            else:
                assert (area, h, w) == (len(ys), ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
