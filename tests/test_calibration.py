import pytest

from spermlab import Calibration, CalibrationError, preset
from spermlab.calibration import PRESETS


def test_preset_records_its_source():
    cal = preset("visem")
    assert cal.fps == 50.0
    assert set(cal.sources.values()) == {"preset:visem"}
    assert set(cal.sources) == set(PRESETS["visem"])


def test_unknown_preset_lists_known():
    with pytest.raises(CalibrationError, match="known: \\['visem'\\]"):
        preset("vissem")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"um_per_px": 0, "fps": 50}, "um_per_px"),
        ({"um_per_px": float("nan"), "fps": 50}, "um_per_px"),
        ({"um_per_px": 0.5, "fps": 0.5}, "fps"),
        ({"um_per_px": 0.5, "fps": 5000}, "fps"),
        ({"um_per_px": 0.5, "fps": 50, "chamber_depth_um": -1}, "chamber_depth_um"),
    ],
)
def test_impossible_values_are_rejected(kwargs, match):
    with pytest.raises(CalibrationError, match=match):
        Calibration(**kwargs)


def test_with_values_records_sources_and_round_trips():
    cal = preset("visem").with_values(source="user", um_per_px=0.3, fps=None)
    assert cal.um_per_px == 0.3 and cal.sources["um_per_px"] == "user"
    assert cal.sources["fps"] == "preset:visem"
    assert Calibration.from_dict(cal.to_dict()) == cal
    assert cal.dt == pytest.approx(0.02)
