"""Treatment planning: beam geometry, ray tracing, plans (dose engine and optimizer follow)."""

from ionbeam.planning.geometry import BeamGeometry
from ionbeam.planning.plan import Beam, Plan, Prescription, SpotMap
from ionbeam.planning.raytrace import RayPath, trace_ray, wepl_along_rays, wepl_map

__all__ = [
    "Beam",
    "BeamGeometry",
    "Plan",
    "Prescription",
    "RayPath",
    "SpotMap",
    "trace_ray",
    "wepl_along_rays",
    "wepl_map",
]
