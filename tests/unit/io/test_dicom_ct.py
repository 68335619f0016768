"""CT series import/export: ordering, rescale, geometry checks and clear refusals."""

from pathlib import Path

import numpy as np
import pydicom
import pytest

from ionbeam.errors import ConfigError, DicomError
from ionbeam.io.dicom import ct_datasets, read_ct_series
from ionbeam.io.dicom._files import atomic_directory, write_dataset


def test_round_trip_keeps_grid_and_rounded_hu(write_series, ct, study) -> None:
    series = read_ct_series(write_series(ct))
    assert series.ct.grid == ct.grid
    np.testing.assert_array_equal(series.ct.hu, np.rint(ct.hu))
    assert series.frame_of_reference_uid == study.frame_of_reference_uid
    assert len(series.sop_instance_uids) == ct.grid.shape[2]
    assert series.slice_z_mm == tuple(ct.grid.axes_mm()[2])


def test_slices_are_sorted_by_position_not_by_name_or_number(write_series, ct) -> None:
    def shuffle(datasets):
        for ds in datasets:
            ds.InstanceNumber = 1  # useless instance numbers
        return datasets[::-1]  # file names now in reverse z order

    series = read_ct_series(write_series(ct, shuffle))
    np.testing.assert_array_equal(series.ct.hu, np.rint(ct.hu))


def test_rescale_slope_and_intercept_are_applied(write_series, ct) -> None:
    def rescale(datasets):
        for ds in datasets:
            pixels = np.frombuffer(ds.PixelData, dtype="<i2").astype(np.int32)
            ds.PixelData = ((pixels + 1024) // 2).astype("<u2").tobytes()
            ds.PixelRepresentation = 0
            ds.RescaleSlope = 2
            ds.RescaleIntercept = -1024
        return datasets

    series = read_ct_series(write_series(ct, rescale))
    np.testing.assert_allclose(series.ct.hu, np.rint(ct.hu), atol=1.0)


def test_flipped_axial_orientation_is_reordered(write_series, ct) -> None:
    def flip_rows(datasets):
        for ds in datasets:
            nx = int(ds.Columns)
            image = np.frombuffer(ds.PixelData, dtype="<i2").reshape(int(ds.Rows), nx)
            ds.PixelData = np.ascontiguousarray(image[:, ::-1]).tobytes()
            x0 = float(ds.ImagePositionPatient[0]) + (nx - 1) * float(ds.PixelSpacing[1])
            ds.ImagePositionPatient = [x0, *ds.ImagePositionPatient[1:]]
            ds.ImageOrientationPatient = [-1, 0, 0, 0, 1, 0]
        return datasets

    series = read_ct_series(write_series(ct, flip_rows))
    assert series.ct.grid == ct.grid
    np.testing.assert_array_equal(series.ct.hu, np.rint(ct.hu))


def test_padding_below_minus_1024_is_clamped(write_series) -> None:
    def pad(datasets):
        image = np.frombuffer(datasets[0].PixelData, dtype="<i2").copy()
        image[0] = -3024
        datasets[0].PixelData = image.tobytes()
        return datasets

    assert read_ct_series(write_series(None, pad)).ct.hu.min() == -1024.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d[:1] + d[2:], "missing slices"),
        (lambda d: [*d, d[1]], "duplicated"),
        (lambda d: _move(d, 3, 0.7), "not uniformly spaced"),
        (lambda d: _tilt(d), "oblique"),
        (lambda d: _second_series(d), "mixes 2 CT series"),
        (lambda d: _shift_in_plane(d), "in-plane position"),
    ],
)
def test_bad_series_refused(write_series, edit, message: str) -> None:
    with pytest.raises(DicomError, match=message):
        read_ct_series(write_series(None, edit))


def _move(datasets, k, dz):
    ipp = [float(v) for v in datasets[k].ImagePositionPatient]
    datasets[k].ImagePositionPatient = [ipp[0], ipp[1], ipp[2] + dz]
    return datasets


def _tilt(datasets):
    for ds in datasets:
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0.9848078, 0.1736482]
    return datasets


def _second_series(datasets):
    datasets[0].SeriesInstanceUID = "1.2.3.4"
    return datasets


def _shift_in_plane(datasets):
    ipp = [float(v) for v in datasets[2].ImagePositionPatient]
    datasets[2].ImagePositionPatient = [ipp[0] + 1.0, ipp[1], ipp[2]]
    return datasets


def test_choosing_one_of_several_series(write_series, ct) -> None:
    folder = write_series(ct, _second_series)
    main = next(p for p in sorted(folder.iterdir()) if p.name != "img000.dcm")
    uid = str(pydicom.dcmread(main).SeriesInstanceUID)
    series = read_ct_series(folder, series_instance_uid=uid)
    assert series.ct.grid.shape == (6, 5, 3)  # the other series had the first slice
    np.testing.assert_array_equal(series.ct.hu, np.rint(ct.hu[:, :, 1:]))
    with pytest.raises(DicomError, match="single slice"):
        read_ct_series(folder, series_instance_uid="1.2.3.4")
    with pytest.raises(DicomError, match=r"no CT series 9\.9"):
        read_ct_series(folder, series_instance_uid="9.9")


def test_unreadable_and_empty_folders(tmp_path: Path, write_series, ct) -> None:
    """A file that is not DICOM is skipped with a warning; a damaged DICOM file (its
    header cut short) is refused, naming it."""
    folder = write_series(ct)
    (folder / "notes.txt").write_text("not dicom")
    with pytest.warns(UserWarning, match=r"notes\.txt is not a DICOM file; skipped"):
        np.testing.assert_array_equal(read_ct_series(folder).ct.hu, np.rint(ct.hu))
    (folder / "notes.txt").unlink()
    damaged = folder / "img001.dcm"
    damaged.write_bytes(damaged.read_bytes()[:300])
    with pytest.raises(DicomError, match=r"img001\.dcm .*truncated"):
        read_ct_series(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DicomError, match="no CT images"):
        read_ct_series(empty)
    with pytest.raises(DicomError, match="not a folder"):
        read_ct_series(tmp_path / "missing")


def test_atomic_directory_leaves_nothing_on_failure(tmp_path: Path, ct, study) -> None:
    out = tmp_path / "export"
    datasets, _ = ct_datasets(ct, study)
    with pytest.raises(RuntimeError), atomic_directory(out) as folder:
        write_dataset(datasets[0], folder / "CT_0001.dcm")
        raise RuntimeError("disk full")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_atomic_directory_refuses_a_non_empty_folder_unless_overwriting(tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty"), atomic_directory(out):
        pass
    assert (out / "old.txt").exists()
    with atomic_directory(out, overwrite=True) as folder:
        (folder / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
