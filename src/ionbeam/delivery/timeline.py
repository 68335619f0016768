"""The delivery timeline figure (matplotlib, Agg): spills, layers, beam on, particles vs time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ionbeam.delivery.record import DeliveryRecord
from ionbeam.delivery.writers import write_files_atomically

__all__ = ["beam_on_intervals", "plot_timeline", "timeline_figure"]


def beam_on_intervals(record: DeliveryRecord) -> np.ndarray:
    """Beam-on intervals (n, 2) in s, sorted and merged where they touch; a spot that a
    spill's end interrupted contributes its parts within spills only."""
    spots, spills = record.spots, record.spills
    chopper_s = record.options.chopper_switch_ms * 1e-3
    done = np.flatnonzero(np.isfinite(spots.end_s) & (spots.scan_position >= 0))
    whole = done[spots.spill[done] == spots.end_spill[done]]
    parts = [np.column_stack([spots.start_s[whole], spots.end_s[whole]])]
    for i in done[spots.spill[done] != spots.end_spill[done]]:
        first, last = int(spots.spill[i]), int(spots.end_spill[i])
        resumed = spills.start_s[first + 1 : last + 1] + chopper_s  # beam on after the chopper
        starts = [spots.start_s[i], *resumed]
        ends = [*spills.end_s[first:last], spots.end_s[i]]
        parts.append(np.column_stack([starts, ends]))
    intervals = np.concatenate(parts) if parts else np.empty((0, 2))
    if intervals.size == 0:
        return np.empty((0, 2))
    intervals = intervals[np.argsort(intervals[:, 0], kind="stable")]
    reach = np.maximum.accumulate(intervals[:, 1])
    new = np.r_[True, intervals[1:, 0] > reach[:-1] + 1e-9]
    merged = np.column_stack(
        [intervals[new, 0], np.maximum.reduceat(intervals[:, 1], np.flatnonzero(new))]
    )
    return merged


def timeline_figure(record: DeliveryRecord) -> Any:
    """A three-panel figure: spills and layer energies, beam-on intervals, delivered particles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spots, spills, layers = record.spots, record.spills, record.layers
    fig, (ax_e, ax_on, ax_n) = plt.subplots(
        3, 1, sharex=True, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 1, 3]}
    )
    for k in range(len(spills)):
        ax_e.axvspan(spills.start_s[k], spills.end_s[k], color="tab:blue", alpha=0.12, lw=0)
    ax_e.vlines(spills.cycle_start_s, 0, 1, transform=ax_e.get_xaxis_transform(), color="0.6",
                lw=0.6, ls=":", label="cycle start")  # fmt: skip
    shown = np.isfinite(layers.start_s)
    ax_e.hlines(layers.energy_mev_u[shown], layers.start_s[shown], layers.end_s[shown],
                color="tab:red", lw=4, label="layer (spots delivered)")  # fmt: skip
    ax_e.axvspan(np.nan, np.nan, color="tab:blue", alpha=0.12, label="spill (extraction)")
    ax_e.set(ylabel="energy (MeV/u)", title=_title(record))
    ax_e.legend(fontsize=8, loc="upper right")

    on = beam_on_intervals(record)
    ax_on.broken_barh(list(zip(on[:, 0], on[:, 1] - on[:, 0], strict=True)), (0, 1),
                      color="tab:green")  # fmt: skip
    ax_on.set(yticks=[], ylabel="beam on")

    order = np.argsort(np.where(np.isfinite(spots.end_s), spots.end_s, np.inf), kind="stable")
    finished = order[np.isfinite(spots.end_s[order])]
    ax_n.step(np.r_[0.0, spots.end_s[finished]], np.r_[0, np.cumsum(spots.delivered[finished])],
              where="post", color="k")  # fmt: skip
    ax_n.set(xlabel="time from the first cycle's start (s)", ylabel="delivered particles")
    if record.interlock is not None:
        for ax in (ax_e, ax_on, ax_n):
            ax.axvline(record.interlock.time_s, color="tab:orange", lw=1.5)
        ax_n.text(record.interlock.time_s, 0, " interlock", color="tab:orange", va="bottom")
    fig.tight_layout()
    return fig


def _title(record: DeliveryRecord) -> str:
    return (
        f"{record.machine}: {record.particle}, {record.options.scan_mode} scanning — "
        f"{record.fraction_time_s:.1f} s, {record.n_spills} spills, "
        f"beam on {record.beam_on_s:.1f} s"
    )


def plot_timeline(record: DeliveryRecord, path: str | os.PathLike[str]) -> Path:
    """Write the timeline figure to ``path`` (atomically); returns the path."""
    import matplotlib.pyplot as plt

    target = Path(path)
    fig = timeline_figure(record)
    try:
        write_files_atomically(target.parent, [(target.name, lambda p: fig.savefig(p, dpi=120))])
    finally:
        plt.close(fig)
    return target
