"""Delivery: a plan spill by spill on the synchrotron, as the dose delivery system does it.

The front door is :func:`deliver_plan` (plan, machine, options, rng →
:class:`DeliveryRecord`): energy layers from high to low energy, an
optimised scan path per layer, integer particle counts per spot, two
monitor chambers and an interlock, a chopper, intensity per layer, cycles
and spills from the machine's reduced spill model, spot or raster
scanning. Writers put the record into CSV, JSON or Parquet files, and
:func:`plot_timeline` draws it against time.
"""

from ionbeam.delivery.monitors import InterlockTrip, MonitorReadings, find_interlock, read_monitors
from ionbeam.delivery.options import DeliveryOptions, MonitorChamber, MonitorSystem
from ionbeam.delivery.record import (
    DeliveryRecord,
    FieldSummary,
    Interlock,
    LayerRecord,
    SpillRecord,
    SpotRecord,
)
from ionbeam.delivery.ripple import SpillRipple, mains_ripple, spot_count_errors
from ionbeam.delivery.scan_path import ScanPath, path_move_times_s, scan_path, serpentine_order
from ionbeam.delivery.sequence import DeliverySequence, delivery_sequence
from ionbeam.delivery.simulate import deliver_plan, resolve_options
from ionbeam.delivery.spot_counts import SpotCounts, spot_counts

__all__ = [
    "DeliveryOptions",
    "DeliveryRecord",
    "DeliverySequence",
    "FieldSummary",
    "Interlock",
    "InterlockTrip",
    "LayerRecord",
    "MonitorChamber",
    "MonitorReadings",
    "MonitorSystem",
    "ScanPath",
    "SpillRecord",
    "SpillRipple",
    "SpotCounts",
    "SpotRecord",
    "deliver_plan",
    "delivery_sequence",
    "find_interlock",
    "mains_ripple",
    "path_move_times_s",
    "read_monitors",
    "resolve_options",
    "scan_path",
    "serpentine_order",
    "spot_count_errors",
    "spot_counts",
]
