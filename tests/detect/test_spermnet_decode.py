"""SpermNet's input normalisation, target encoding and peak decoding, checked by hand."""

import numpy as np
import pytest

from spermlab.detect.learned.preprocess import normalise, pad_to_multiple, to_grey
from spermlab.detect.learned.spermnet import SIZE_UNIT, decode
from spermlab.tables import DETECTIONS, validate


def _maps(gh=12, gw=16):
    return np.zeros((5, gh, gw), dtype=np.float32)


def test_decode_places_each_peak_at_cell_plus_offset_times_stride():
    m = _maps()
    m[0, 3, 5], m[1, 3, 5], m[2, 3, 5] = 0.9, 0.25, 0.75  # x = (5 + .25)*4, y = (3 + .75)*4
    m[3, 3, 5], m[4, 3, 5] = 0.0, np.log(0.5)  # w = 16, h = 8
    m[0, 8, 10] = 0.4
    det = validate(decode(m, 0.5, stride=4, frame=7), DETECTIONS)
    assert len(det) == 1
    row = det.iloc[0]
    assert (row.frame, row.x, row.y, row.w, row.cls) == (7, 21.0, 15.0, SIZE_UNIT, 0)
    assert row.h == pytest.approx(8.0)  # float32 log
    assert row.score == pytest.approx(0.9)
    assert len(decode(m, 0.3)) == 2  # the threshold decides


def test_decode_keeps_only_local_maxima_so_two_peaks_two_cells_apart_stay_two():
    m = _maps()
    m[0, 5, 4:9] = [0.2, 0.8, 0.6, 0.7, 0.2]  # peaks at columns 5 and 7, a saddle between
    det = decode(m, 0.5)
    assert sorted(det["x"].tolist()) == [20.0, 28.0]


def test_decode_drops_padding_and_clips_boxes_to_the_image():
    m = _maps()
    m[0, 0, 0], m[3, 0, 0], m[4, 0, 0] = 0.9, np.log(2), np.log(2)  # centre (0, 0) + 32x32 box
    m[0, 11, 15] = 0.9  # centre x = 60, y = 44: in the padding of a 50x40 image
    det = decode(m, 0.5, height=40, width=50)
    assert len(det) == 1 and det["w"].iloc[0] == 0.0 and det["h"].iloc[0] == 0.0
    m[1, 0, 0] = m[2, 0, 0] = 0.5  # centre (2, 2): box clipped to 4x4
    det = decode(m, 0.5, height=40, width=50)
    assert det[["x", "y", "w", "h"]].to_numpy().tolist() == [[2, 2, 4, 4]]


def test_decode_of_nothing_is_an_empty_detections_table():
    assert validate(decode(_maps(), 0.5), DETECTIONS).empty


def test_normalise_removes_exposure_and_gain_but_keeps_polarity(rng):
    img = rng.normal(100, 8, (64, 80))
    img[30:34, 40:44] += 80  # a bright head
    a = normalise(img)
    b = normalise(2.0 * img + 17)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert a[32, 42] > 5 and normalise(255 - img)[32, 42] < -5
    assert a.dtype == np.float32 and abs(float(np.median(a[::4, ::4]))) < 1e-6


def test_normalise_of_a_flat_frame_uses_a_spread_of_one_grey_level():
    out = normalise(np.full((16, 16), 90, dtype=np.uint8))
    assert np.all(out == 0)


def test_colour_is_converted_with_bt601_luma():
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 1] = 100
    assert to_grey(rgb)[0, 0] == pytest.approx(58.7, abs=1e-4)
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2\)"):
        to_grey(np.zeros((2, 2, 2)))


def test_pad_to_multiple_pads_bottom_right_with_zeros():
    x = np.ones((1, 10, 17), dtype=np.float32)
    p = pad_to_multiple(x, 8)
    assert p.shape == (1, 16, 24) and p[0, :10, :17].all() and p[0, 10:].sum() == 0
    assert pad_to_multiple(np.ones((8, 16))).shape == (8, 16)
