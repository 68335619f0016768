"""Helper of ``bench/dvh_agreement.py``, run by a Python that has dicompyler-core
(``pip install dicompyler-core``; not an ionbeam dependency): prints, as JSON, each
named ROI's D98, D95, maximum (Gy) and volume (cm³) from an RTSTRUCT and an RT Dose,
computed by dicompyler-core (voxel centres inside the contour, 0.01 Gy bins)."""

from __future__ import annotations

import json
import sys

from dicompylercore import dicomparser, dvhcalc


def main(rs_path: str, rd_path: str, names: list[str]) -> None:
    structures = dicomparser.DicomParser(rs_path).GetStructures()
    out = {}
    for number, structure in structures.items():
        if structure["name"] not in names:
            continue
        dvh = dvhcalc.get_dvh(rs_path, rd_path, number)
        out[structure["name"]] = {
            "d98_gy": float(dvh.statistic("D98").value),
            "d95_gy": float(dvh.statistic("D95").value),
            "max_gy": float(dvh.max),
            "volume_cm3": float(dvh.volume),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(","))
