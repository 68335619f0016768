"""The spots of one ion beam from its Ion Control Point Sequence (DICOM C.8.8.25).

Treatment planning systems lay out modulated scanning in slightly different
ways, all of which this reader accepts:

- one pair of control points per energy layer, the spot weights in the first
  of the pair and zeros in the second (the layout of the standard, where the
  weights of control point i are delivered between i and i + 1), or the
  weights in the second and zeros in the first ("last control point"
  convention of some systems);
- one control point per layer (weights delivered up to the next one);
- ``NominalBeamEnergy`` in every control point or only where it changes;
- several paintings per layer (``NumberOfPaintings``): the weights are the
  total over all paintings, which is what the cumulative meterset counts.

Consecutive control points with the same energy and the same spot positions
are one layer: their weights add. The cumulative meterset weights must agree
with the spot weights under one of the two conventions; otherwise the plan
is refused rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from ionbeam.errors import DicomError

__all__ = ["BeamSpots", "beam_spots", "number", "numbers", "present"]

#: Relative tolerance on the agreement of spot weights and cumulative meterset weights.
METERSET_TOLERANCE = 1e-4


@dataclass(frozen=True, eq=False)
class BeamSpots:
    """The spots of a beam in delivery order: ``energy_mev_u``, ``x_mm``, ``y_mm``
    and ``meterset_weight`` (in the plan's meterset-weight units), and the
    beam's ``final_weight`` (the meterset weight of the whole beam)."""

    energy_mev_u: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    meterset_weight: np.ndarray
    final_weight: float


def present(ds: Dataset, keyword: str) -> bool:
    """Whether ``ds`` has attribute ``keyword`` with a non-empty value."""
    if keyword not in ds:
        return False
    value = ds[keyword].value
    if value is None:
        return False
    if isinstance(value, (str, bytes)):
        return bool(value.strip())
    return not (hasattr(value, "__len__") and len(value) == 0)


def numbers(ds: Dataset, keyword: str, where: str) -> np.ndarray:
    """The finite numbers of attribute ``keyword`` (one or many) as a 1-D array."""
    if not present(ds, keyword):
        raise DicomError(f"{where} lacks {keyword}; the plan is incomplete")
    try:
        values = np.atleast_1d(np.asarray(ds[keyword].value, dtype=float)).reshape(-1)
    except (TypeError, ValueError):
        raise DicomError(f"{where}: {keyword} is not numeric ({ds[keyword].value!r})") from None
    if not np.all(np.isfinite(values)):
        raise DicomError(f"{where}: {keyword} holds NaN or infinity; the plan is damaged")
    return values


def number(ds: Dataset, keyword: str, where: str) -> float:
    """The single finite number of attribute ``keyword``."""
    values = numbers(ds, keyword, where)
    if values.size != 1:
        raise DicomError(f"{where}: {keyword} should hold one value; got {values.size}")
    return float(values[0])


def beam_spots(beam: Dataset, where: str) -> BeamSpots:
    """The spots of the Ion Beam Sequence item ``beam`` (``where`` names it in errors)."""
    points = list(getattr(beam, "IonControlPointSequence", []))
    if not points:
        raise DicomError(f"{where} has no IonControlPointSequence; it cannot be delivered")
    declared = int(beam.NumberOfControlPoints) if present(beam, "NumberOfControlPoints") else None
    if declared is not None and declared != len(points):
        raise DicomError(
            f"{where}: NumberOfControlPoints is {declared} but the sequence has "
            f"{len(points)} control points; the plan is inconsistent"
        )
    segments, sums = _segments(points, where)
    if not segments:
        raise DicomError(f"{where} has no scan spots (ScanSpotPositionMap); nothing to deliver")
    final = _final_weight(beam, points, sums, where)
    layers = _merge_layers(segments)
    energy = np.concatenate([np.full(w.size, e) for e, _, w in layers])
    positions = np.concatenate([p for _, p, _ in layers])
    weights = np.concatenate([w for _, _, w in layers])
    return BeamSpots(energy, positions[:, 0], positions[:, 1], weights, final)


def _segments(
    points: list[Dataset], where: str
) -> tuple[list[tuple[float, np.ndarray, np.ndarray]], np.ndarray]:
    """(energy, positions [n, 2], weights [n]) of each control point with spots, and
    the weight sum of every control point (0 where there are no spots)."""
    segments = []
    sums = np.zeros(len(points))
    energy = None
    for i, cp in enumerate(points):
        here = f"{where}, control point {i}"
        if present(cp, "NominalBeamEnergy"):
            energy = number(cp, "NominalBeamEnergy", here)
            if energy <= 0:
                raise DicomError(f"{here}: NominalBeamEnergy must be > 0 MeV/u; got {energy}")
        if "ScanSpotPositionMap" not in cp:
            continue
        if energy is None:
            raise DicomError(f"{here} has spots but no NominalBeamEnergy before it")
        positions, weights = _spots(cp, here)
        segments.append((energy, positions, weights))
        sums[i] = weights.sum()
    return segments, sums


def _spots(cp: Dataset, where: str) -> tuple[np.ndarray, np.ndarray]:
    count = int(number(cp, "NumberOfScanSpotPositions", where))
    positions = numbers(cp, "ScanSpotPositionMap", where)
    weights = numbers(cp, "ScanSpotMetersetWeights", where)
    if positions.size != 2 * count or weights.size != count:
        raise DicomError(
            f"{where}: NumberOfScanSpotPositions is {count} but ScanSpotPositionMap holds "
            f"{positions.size} values (need {2 * count}) and ScanSpotMetersetWeights "
            f"{weights.size}; the plan is inconsistent"
        )
    if np.any(weights < 0):
        raise DicomError(f"{where}: ScanSpotMetersetWeights must be ≥ 0; found negative ones")
    if present(cp, "NumberOfPaintings") and int(cp.NumberOfPaintings) < 1:
        raise DicomError(f"{where}: NumberOfPaintings must be ≥ 1; got {cp.NumberOfPaintings}")
    return positions.reshape(count, 2), weights


def _merge_layers(
    segments: list[tuple[float, np.ndarray, np.ndarray]],
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Join consecutive control points of the same energy and spot positions (the
    two control points of a layer) by adding their weights."""
    layers = [segments[0]]
    for energy, positions, weights in segments[1:]:
        last_energy, last_positions, last_weights = layers[-1]
        if energy == last_energy and np.array_equal(positions, last_positions):
            layers[-1] = (energy, positions, last_weights + weights)
        else:
            layers.append((energy, positions, weights))
    return layers


def _final_weight(beam: Dataset, points: list[Dataset], sums: np.ndarray, where: str) -> float:
    """The beam's final cumulative meterset weight, after checking that the spot
    weights add up to it control point by control point."""
    total = float(sums.sum())
    has_cumulative = all(present(cp, "CumulativeMetersetWeight") for cp in points)
    if present(beam, "FinalCumulativeMetersetWeight"):
        final = number(beam, "FinalCumulativeMetersetWeight", where)
    elif has_cumulative:
        final = number(points[-1], "CumulativeMetersetWeight", where)
    else:
        final = total
    tolerance = METERSET_TOLERANCE * max(abs(final), total) + 1e-12
    if abs(total - final) > tolerance:
        raise DicomError(
            f"{where}: the spot meterset weights add up to {total:.7g} but "
            f"FinalCumulativeMetersetWeight is {final:.7g}; the plan is inconsistent"
        )
    if has_cumulative:
        steps = np.diff(np.array([number(cp, "CumulativeMetersetWeight", where) for cp in points]))
        if np.any(steps < -tolerance):
            raise DicomError(f"{where}: CumulativeMetersetWeight decreases; the plan is damaged")
        weights_before = np.abs(sums[:-1] - steps).max(initial=0.0) <= tolerance
        weights_after = np.abs(sums[1:] - steps).max(initial=0.0) <= tolerance
        if not (weights_before and sums[-1] <= tolerance) and not (
            weights_after and sums[0] <= tolerance
        ):
            raise DicomError(
                f"{where}: the spot weights of the control points do not match the steps of "
                "CumulativeMetersetWeight; the plan is inconsistent"
            )
    return final
