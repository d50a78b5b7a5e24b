import json

import pytest

from spermlab import Calibration
from spermlab.simulate import SimulationConfig, default_calibration


def test_default_calibration_is_the_visem_preset_sourced_as_simulation():
    cal = default_calibration()
    assert (cal.um_per_px, cal.fps, cal.chamber_depth_um) == (0.2475, 50.0, 20.0)
    assert set(cal.sources.values()) == {"simulation"}


def test_expected_in_field_follows_the_volume_formula():
    # N = C·1e6/mL × (W·H·u²) µm² × depth µm × 1e-12 mL/µm³, worked by hand:
    # 640·480·0.2475² = 18 818.2 µm²; × 20 µm = 376 364 µm³ = 3.76364e-7 mL; × 97e6 = 36.507
    cfg = SimulationConfig(concentration=97.0)
    assert cfg.expected_in_field == pytest.approx(36.50676, rel=1e-5)
    assert cfg.n_frames == 250


def test_round_trip_through_json():
    cfg = SimulationConfig(
        duration_s=1, concentration=12.5, mix=(0.1, 0.2, 0.3, 0.4), drift_um_s=(2, -1)
    )
    again = SimulationConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert isinstance(again.duration_s, float)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"duration_s": 0}, r"duration_s: expected a value in \(0.0, 600.0\]"),
        ({"concentration": -1}, r"concentration: expected a value in \[0.0, 1000.0\]"),
        ({"mix": (0.5, 0.5, 0.5, 0.5)}, "summing to 1"),
        ({"mix": (0.5, 0.5)}, "expected 4 fractions"),
        ({"mix": (1.2, -0.2, 0.0, 0.0)}, r"mix\[a\]"),
        ({"head_width_um": 6.0}, "head_width_um"),
        ({"look": "fluorescence"}, "expected one of \\['phase', 'brightfield'\\]"),
        ({"drift_um_s": (500.0, 0.0)}, r"\|drift_um_s\|"),
        ({"noise": float("nan")}, "noise"),
        ({"crossings": -1}, "crossings"),
        ({"calibration": Calibration(0.5, 50.0)}, "chamber_depth_um"),
    ],
)
def test_impossible_values_raise_with_the_expected_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimulationConfig(**kwargs)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="width"):
        SimulationConfig(width=640.5)
    with pytest.raises(TypeError, match="concentration"):
        SimulationConfig(concentration="high")
    with pytest.raises(TypeError, match="calibration"):
        SimulationConfig(calibration={"um_per_px": 0.5})


def test_unknown_parameter_in_dict_is_rejected():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['speed'\]"):
        SimulationConfig.from_dict({"speed": 3})
