"""IEC 61217 beam geometry in patient (LPS) coordinates, head-first supine unless stated."""

import math

import numpy as np
import pytest

from ionbeam.errors import GeometryError, UnknownNameError
from ionbeam.planning import BeamGeometry


@pytest.mark.parametrize(
    ("gantry", "direction"),
    [
        (0.0, (0, 1, 0)),  # from the ceiling: enters anteriorly, travels posteriorly
        (90.0, (-1, 0, 0)),  # source on the patient's left, travels to the right
        (180.0, (0, -1, 0)),  # from below: travels anteriorly
        (270.0, (1, 0, 0)),  # source on the patient's right
    ],
)
def test_cardinal_gantry_angles(gantry: float, direction: tuple) -> None:
    np.testing.assert_allclose(BeamGeometry(gantry).direction, direction, atol=1e-12)


def test_bev_axes_at_gantry_zero() -> None:
    x_axis, y_axis = BeamGeometry(0.0).bev_axes
    np.testing.assert_allclose(x_axis, (1, 0, 0), atol=1e-12)  # patient left
    np.testing.assert_allclose(y_axis, (0, 0, 1), atol=1e-12)  # towards the gantry = superior


def test_couch_rotation_turns_a_lateral_beam_along_the_patient() -> None:
    # Couch 90° (counter-clockwise from above) puts the head where the left side was:
    # a gantry-90° beam then travels from the feet towards the head.
    np.testing.assert_allclose(BeamGeometry(90.0, 90.0).direction, (0, 0, 1), atol=1e-12)
    np.testing.assert_allclose(BeamGeometry(90.0, 270.0).direction, (0, 0, -1), atol=1e-12)
    # A vertical beam is unchanged by a couch rotation.
    np.testing.assert_allclose(BeamGeometry(0.0, 45.0).direction, (0, 1, 0), atol=1e-12)


def test_fixed_lines_as_at_cnao() -> None:
    horizontal = BeamGeometry.fixed_line("horizontal", couch_deg=30.0)
    assert horizontal.gantry_deg == 90.0 and horizontal.couch_deg == 30.0
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    np.testing.assert_allclose(horizontal.direction, (-c, 0, s), atol=1e-12)
    np.testing.assert_allclose(BeamGeometry.fixed_line("vertical").direction, (0, 1, 0), atol=1e-12)
    with pytest.raises(UnknownNameError):
        BeamGeometry.fixed_line("oblique")  # type: ignore[arg-type]


def test_patient_positions() -> None:
    # Prone: the anterior field from above travels anteriorly in the patient.
    np.testing.assert_allclose(
        BeamGeometry(0.0, patient_position="HFP").direction, (0, -1, 0), atol=1e-12
    )
    # Feet first supine: the gantry-90° beam travels to the patient's left.
    np.testing.assert_allclose(
        BeamGeometry(90.0, patient_position="FFS").direction, (1, 0, 0), atol=1e-12
    )


def test_bev_patient_round_trip_and_orthonormal_frame() -> None:
    geometry = BeamGeometry(37.0, 251.0, (10.0, -20.0, 5.0), (6500.0, 6000.0))
    rotation = geometry.gantry_to_patient
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    points = np.random.default_rng(0).normal(scale=80.0, size=(50, 3))
    np.testing.assert_allclose(geometry.bev_to_patient(geometry.patient_to_bev(points)), points,
                               atol=1e-9)  # fmt: skip
    bev = geometry.patient_to_bev(geometry.bev_to_patient(np.array([[3.0, -4.0]])))
    np.testing.assert_allclose(bev, [[3.0, -4.0, 0.0]], atol=1e-9)


def test_depth_increases_downstream() -> None:
    geometry = BeamGeometry(90.0, isocenter_mm=(5.0, 0.0, 0.0))
    downstream = np.asarray(geometry.isocenter_mm) + 30.0 * geometry.direction
    assert geometry.patient_to_bev(downstream)[2] == pytest.approx(30.0)


def test_virtual_sources_and_divergent_spot_rays() -> None:
    geometry = BeamGeometry(0.0, sad_mm=(6000.0, 5000.0))
    np.testing.assert_allclose(geometry.source_position_mm("x"), (0, -6000, 0), atol=1e-9)
    np.testing.assert_allclose(geometry.source_position_mm("y"), (0, -5000, 0), atol=1e-9)
    origin, direction = geometry.spot_ray(30.0, -20.0)
    # The ray passes the isocentre plane at the spot and has the magnets' slopes.
    t = (0.0 - origin[1]) / direction[1]
    np.testing.assert_allclose(origin + t * direction, (30.0, 0.0, -20.0), atol=1e-9)
    np.testing.assert_allclose(direction[0] / direction[1], 30.0 / 6000.0, rtol=1e-12)
    np.testing.assert_allclose(direction[2] / direction[1], -20.0 / 5000.0, rtol=1e-12)
    # Projecting any point of the ray back to the isocentre plane gives the spot.
    on_ray = origin + 5500.0 * direction
    np.testing.assert_allclose(geometry.project_to_isoplane(on_ray), (30.0, -20.0), atol=1e-9)


def test_parallel_beam_rays() -> None:
    geometry = BeamGeometry(90.0)
    assert geometry.is_parallel
    origins, directions = geometry.spot_ray(np.array([0.0, 10.0]), np.array([5.0, 5.0]))
    np.testing.assert_allclose(directions, [[-1, 0, 0], [-1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(origins[:, 1:], [[0.0, 5.0], [10.0, 5.0]], atol=1e-9)
    with pytest.raises(GeometryError, match="parallel"):
        geometry.source_position_mm("x")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gantry_deg": float("nan")},
        {"isocenter_mm": (0.0, 0.0)},
        {"isocenter_mm": (0.0, 0.0, float("inf"))},
        {"sad_mm": (0.0, 100.0)},
        {"sad_mm": (-5.0, 100.0)},
    ],
)
def test_bad_geometry_refused(kwargs: dict) -> None:
    with pytest.raises(GeometryError):
        BeamGeometry(**kwargs)


def test_unknown_patient_position() -> None:
    with pytest.raises(UnknownNameError, match="HFS"):
        BeamGeometry(patient_position="sitting")
