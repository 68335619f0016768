"""MCsquare's input files: beam data library, CT (MHD), Scanner, plan; and ionbeam → MCsquare.

Formats as MCsquare 1.1 reads them (and OpenTPS 2.0.0's ``mcsquareIO.py``
writes them); the conventions are listed in :mod:`_mcsquare`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ionbeam.patient.grid import Grid

#: MCsquare material ID of water (hard-coded in MCsquare).
WATER_MATERIAL_ID = 17


# -- beam data library -----------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class BeamDataLibrary:
    """A single-Gaussian UPenn BDL: geometry (mm) and per nominal energy (MeV, ascending)
    the mean energy (MeV), rms energy spread (% of nominal), and the phase space at the
    nozzle exit (same in x and y): ``sigma_mm``, ``divergence_rad``, ``correlation``."""

    nozzle_to_isocenter_mm: float
    smx_mm: float
    smy_mm: float
    nominal_energy_mev: np.ndarray
    mean_energy_mev: np.ndarray
    energy_spread_percent: np.ndarray
    sigma_mm: np.ndarray
    divergence_rad: np.ndarray
    correlation: np.ndarray
    description: str = ""

    def on_mev_grid(self) -> BeamDataLibrary:
        """The table linearly resampled onto whole MeV (what the 1.1 binary needs)."""
        e = np.asarray(self.nominal_energy_mev, dtype=float)
        grid = np.arange(math.floor(e[0]), math.ceil(e[-1]) + 1, 1.0)

        def at(values: np.ndarray) -> np.ndarray:
            return np.interp(grid, e, np.asarray(values, dtype=float))

        return BeamDataLibrary(
            self.nozzle_to_isocenter_mm,
            self.smx_mm,
            self.smy_mm,
            grid,
            at(self.mean_energy_mev),
            at(self.energy_spread_percent),
            at(self.sigma_mm),
            at(self.divergence_rad),
            at(self.correlation),
            self.description,
        )


def nozzle_phase_space(
    sigma_iso_mm: np.ndarray,
    divergence_rad: np.ndarray,
    correlation_iso: np.ndarray,
    distance_mm: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(σ mm, σ' rad, ρ) at ``distance_mm`` upstream of the isocentre of a beam whose
    phase space at the isocentre is (σ₀, σ', ρ₀), drifting in vacuum: the same
    σ(z)² = σ₀² + 2ρ₀σ₀σ'z + σ'²z² as ionbeam's beam line (z > 0 downstream)."""
    s0 = np.asarray(sigma_iso_mm, dtype=float)
    div = np.asarray(divergence_rad, dtype=float)
    rho = np.asarray(correlation_iso, dtype=float)
    z = -float(distance_mm)
    covariance = rho * s0 * div + div**2 * z
    sigma = np.sqrt(s0**2 + 2.0 * rho * s0 * div * z + div**2 * z**2)
    return sigma, div, covariance / (sigma * div)


def write_bdl(path: Path, bdl: BeamDataLibrary) -> None:
    """Write ``bdl`` (on whole MeV) in MCsquare's UPenn format, ProtonsMU = 1."""
    table = bdl.on_mev_grid()
    n = table.nominal_energy_mev.size
    lines = [
        "--UPenn beam model (double gaussian)--",
        f"# {bdl.description or 'written by ionbeam bench/mcsquare'}",
        "",
        "Nozzle exit to Isocenter distance",
        f"{bdl.nozzle_to_isocenter_mm:.4f}",
        "",
        "SMX to Isocenter distance",
        f"{bdl.smx_mm:.4f}",
        "",
        "SMY to Isocenter distance",
        f"{bdl.smy_mm:.4f}",
        "",
        "Beam parameters",
        f"{n} energies",
        "",
        "NominalEnergy MeanEnergy EnergySpread ProtonsMU Weight1 SpotSize1x Divergence1x "
        "Correlation1x SpotSize1y Divergence1y Correlation1y Weight2 SpotSize2x Divergence2x "
        "Correlation2x SpotSize2y Divergence2y Correlation2y",
    ]
    for i in range(n):
        s, d, r = table.sigma_mm[i], table.divergence_rad[i], table.correlation[i]
        optics = f"{s:.6f} {d:.8f} {r:.6f}"
        lines.append(
            f"{table.nominal_energy_mev[i]:.3f} {table.mean_energy_mev[i]:.4f} "
            f"{table.energy_spread_percent[i]:.6f} 1 1 {optics} {optics} 0 0 0 0 0 0 0"
        )
    path.write_text("\n".join(lines) + "\n")


# -- CT and scanner --------------------------------------------------------------------------
def _corner(grid: Grid) -> np.ndarray:
    return np.asarray(grid.origin_mm) - 0.5 * np.asarray(grid.spacing_mm)


def _lengths(grid: Grid) -> np.ndarray:
    return np.asarray(grid.shape) * np.asarray(grid.spacing_mm)


def to_mcsquare_volume(volume: np.ndarray) -> np.ndarray:
    """An ionbeam ``[x, y, z]`` volume in MCsquare's storage order (x and y flipped)."""
    return np.ascontiguousarray(np.asarray(volume)[::-1, ::-1, :])


def from_mcsquare_volume(volume: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_mcsquare_volume`."""
    return np.ascontiguousarray(np.asarray(volume)[::-1, ::-1, :])


def isocenter_to_mcsquare(isocenter_mm: Sequence[float], grid: Grid) -> tuple[float, ...]:
    """MCsquare's isocentre coordinates (mm from the CT corner, y flipped) of a patient point."""
    rel = np.asarray(isocenter_mm, dtype=float) - _corner(grid)
    rel[1] = _lengths(grid)[1] - rel[1]
    return tuple(float(v) for v in rel)


def write_mhd(path: Path, volume: np.ndarray, grid: Grid) -> None:
    """Write an ionbeam ``[x, y, z]`` float volume as MCsquare's MHD/raw pair."""
    data = to_mcsquare_volume(volume).astype("<f4")
    raw = path.with_suffix(".raw")
    header = "\n".join(
        [
            "ObjectType = Image",
            "NDims = 3",
            "BinaryData = True",
            "CompressedData = False",
            "ElementByteOrderMSB = False",
            "DimSize = " + " ".join(str(n) for n in grid.shape),
            "ElementSpacing = " + " ".join(f"{s:.6f}" for s in grid.spacing_mm),
            "Offset = 0 0 0",
            "ElementType = MET_FLOAT",
            f"ElementDataFile = {raw.name}",
        ]
    )
    data.reshape(-1, order="F").tofile(raw)
    path.write_text(header + "\n")


@dataclass(frozen=True, eq=False)
class Scanner:
    """HU → density (piecewise linear) and HU → material ID (from each HU upwards), and
    the materials folder MCsquare reads (``None``: MCsquare's own)."""

    density_hu: np.ndarray
    density_g_cm3: np.ndarray
    material_hu: np.ndarray
    material_id: np.ndarray
    materials_dir: Path | None = None

    def write(self, folder: Path) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        density = folder / "HU_Density_Conversion.txt"
        material = folder / "HU_Material_Conversion.txt"
        density.write_text(
            "".join(
                f"{h:.4f} {d:.6f}\n"
                for h, d in zip(self.density_hu, self.density_g_cm3, strict=True)
            )
        )
        material.write_text(
            "".join(
                f"{h:.4f} {int(m)}\n"
                for h, m in zip(self.material_hu, self.material_id, strict=True)
            )
        )
        return density, material


def water_scanner() -> Scanner:
    """Every voxel is water of 1 g/cm³ (MCsquare's material 17): for water phantoms."""
    return Scanner(
        np.array([-5000.0, 5000.0]),
        np.array([1.0, 1.0]),
        np.array([-5000.0]),
        np.array([WATER_MATERIAL_ID]),
    )


# -- plan ------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Field:
    """One field: IEC angles (deg), isocentre (patient mm), spots (BEV x, y mm at the
    isocentre plane; nominal energy MeV; weight in protons)."""

    gantry_deg: float
    couch_deg: float
    isocenter_mm: tuple[float, float, float]
    energy_mev: np.ndarray
    x_mm: np.ndarray
    y_mm: np.ndarray
    weight: np.ndarray


def write_plan(path: Path, fields: Sequence[Field], grid: Grid) -> None:
    """Write ``fields`` as a PlanPencil: one control point per energy (highest first)."""
    total = sum(float(np.sum(f.weight)) for f in fields)
    out = [
        "#TREATMENT-PLAN-DESCRIPTION",
        "#PlanName",
        "ionbeam",
        "#NumberOfFractions",
        "1",
        "##FractionID",
        "1",
        "##NumberOfFields",
        str(len(fields)),
    ]
    for i in range(len(fields)):
        out += ["###FieldsID", str(i + 1)]
    out += ["", "#TotalMetersetWeightOfAllFields", f"{total:.6e}"]
    cumulative_field = 0.0
    for i, f in enumerate(fields):
        energies = np.unique(f.energy_mev)[::-1]
        cumulative_field += float(np.sum(f.weight))
        iso = isocenter_to_mcsquare(f.isocenter_mm, grid)
        out += [
            "",
            "#FIELD-DESCRIPTION",
            "###FieldID",
            str(i + 1),
            "###FinalCumulativeMeterSetWeight",
            f"{cumulative_field:.6e}",
            "###GantryAngle",
            f"{f.gantry_deg:.6f}",
            "###PatientSupportAngle",
            f"{f.couch_deg:.6f}",
            "###IsocenterPosition",
            f"{iso[0]:.6f}\t{iso[1]:.6f}\t{iso[2]:.6f}",
            "###NumberOfControlPoints",
            str(energies.size),
            "",
            "#SPOTS-DESCRIPTION",
        ]
        cumulative = 0.0
        for j, energy in enumerate(energies):
            index = np.flatnonzero(f.energy_mev == energy)
            cumulative += float(np.sum(f.weight[index]))
            out += [
                "####ControlPointIndex",
                str(j + 1),
                "####SpotTunnedID",
                "1",
                "####CumulativeMetersetWeight",
                f"{cumulative:.6e}",
                "####Energy (MeV)",
                f"{energy:.6f}",
                "####NbOfScannedSpots",
                str(index.size),
                "####X Y Weight",
            ]
            out += [f"{f.x_mm[k]:.4f} {f.y_mm[k]:.4f} {f.weight[k]:.6e}" for k in index]
    path.write_text("\n".join(out) + "\n")


def nozzle_distance_mm(grid: Grid, isocenter_mm: Sequence[float], direction: np.ndarray) -> float:
    """Distance upstream of the isocentre at which a plane normal to ``direction`` (unit,
    source → isocentre) clears every corner of the CT box by 1 mm."""
    low, high = grid.extent_mm
    corners = np.array(np.meshgrid(*zip(low, high, strict=True), indexing="ij")).reshape(3, -1).T
    upstream = (corners - np.asarray(isocenter_mm)) @ (-np.asarray(direction, dtype=float))
    return float(max(upstream.max(), 0.0) + 1.0)


def fields_from_plan(plan: object) -> list[Field]:
    """MCsquare fields of an ionbeam proton ``Plan`` (head-first supine, no range shifter)."""
    fields = []
    for beam in plan.beams:  # type: ignore[attr-defined]
        geometry = beam.geometry
        if geometry.patient_position != "HFS" or beam.range_shifter_wet_mm > 0:
            raise ValueError("the MCsquare harness handles HFS beams without range shifter only")
        if beam.spots.n_spots == 0:
            continue
        spots = beam.spots
        fields.append(
            Field(
                geometry.gantry_deg,
                geometry.couch_deg,
                geometry.isocenter_mm,
                np.asarray(spots.energy_mev_u),
                np.asarray(spots.x_mm),
                np.asarray(spots.y_mm),
                np.asarray(spots.weight),
            )
        )
    return fields


def body_box(
    hu: np.ndarray, grid: Grid, *, threshold_hu: float = -900.0, margin_mm: float = 4.0
) -> tuple[tuple[slice, ...], Grid]:
    """The index box (and its grid) of the voxels above ``threshold_hu``, widened by
    ``margin_mm``: MCsquare is an order of magnitude slower per proton in the air
    around a patient (it steps through low-density voxels at its maximum step), so
    simulations run on this box; the air it leaves out is crossed in vacuum with
    MCsquare's air energy loss (< 0.1 mm of water for 10 cm)."""
    inside = np.argwhere(np.asarray(hu) > threshold_hu)
    pad = np.ceil(margin_mm / np.asarray(grid.spacing_mm)).astype(int)
    low = np.maximum(inside.min(axis=0) - pad, 0)
    high = np.minimum(inside.max(axis=0) + pad + 1, grid.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
    origin = np.asarray(grid.origin_mm) + low * np.asarray(grid.spacing_mm)
    return box, Grid(tuple(int(n) for n in high - low), grid.spacing_mm, tuple(origin))
