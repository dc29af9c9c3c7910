"""grokphase.results: netCDF round trips keep types exactly, flags decode, bad files are named."""

import numpy as np
import pytest
import xarray as xr

from grokphase.results import BOOL_ATTRS, flag_array, flag_labels, load_dataset, save_dataset


def _dataset():
    return xr.Dataset(
        {"c": (("L", "beta"), np.arange(6.0).reshape(2, 3) / 7, {"long_name": "copy weight", "units": "1"}),
         "n": ("L", np.array([3, -4], dtype=np.int64), {"long_name": "count", "is_count": True}),
         "ok": ("L", np.array([True, False])),
         "label": ("L", np.array(["uniform", "copy"])),
         "order": flag_array([["first", "crossover", "first"], ["second", "first", "first"]],
                             ("crossover", "first", "second"), ("L", "beta"), long_name="order")},
        coords={"L": ("L", [8.0, 4.0], {"long_name": "sequence length", "units": "1"}),
                "beta": ("beta", [1.0, 2.5, 13.0], {"long_name": "beta", "units": "1"})},
        attrs={"kind": "softmax", "s_uv": 9.0, "s_qk": 0.25, "n_iter": 2000, "seed": 0, "converged": True,
               "fresh": False, "big": 2**62, "tiny": 5e-324, "f32": np.float32(0.1),
               "edges": np.array([0.5, 1.5]), "empty_str": ""})


def test_round_trip_keeps_every_type(tmp_path):
    ds = _dataset()
    path = save_dataset(ds, tmp_path / "sub" / "r.nc")
    assert path == tmp_path / "sub" / "r.nc" and sorted(p.name for p in path.parent.iterdir()) == ["r.nc"]
    back = load_dataset(path)
    xr.testing.assert_identical(back, ds)
    for k, v in ds.attrs.items():
        assert type(back.attrs[k]) is type(v), k
    assert back.attrs["s_uv"] == 9.0 and back.attrs["n_iter"] == 2000 and back.attrs["big"] == 2**62
    assert back.attrs["converged"] is True and back.attrs["fresh"] is False
    assert back.attrs["tiny"] == 5e-324 and back.attrs["f32"] == np.float32(0.1)
    assert back.n.attrs["is_count"] is True and BOOL_ATTRS not in back.attrs
    for name in ds.variables:
        assert back[name].dtype == ds[name].dtype, name
    assert back.c.values.tobytes() == ds.c.values.tobytes()    # bit for bit


def test_the_file_is_plain_netcdf4_with_bools_as_int8(tmp_path):
    """What another netCDF reader sees: int8 booleans listed in grokphase_bool_attrs."""
    import h5netcdf

    save_dataset(_dataset(), tmp_path / "r.nc")
    with h5netcdf.File(tmp_path / "r.nc", "r") as f:
        assert f.attrs["converged"] == 1 and f.attrs[BOOL_ATTRS].split() == ["converged", "fresh"]
        assert f.variables["order"].dtype == np.int8
        assert f.variables["order"].attrs["flag_meanings"] == "crossover first second"


@pytest.mark.parametrize("value", [None, {"a": 1}, ["x", "y"], np.zeros((2, 2)), object()])
def test_unstorable_attribute_is_named_and_nothing_is_written(tmp_path, value):
    path = save_dataset(_dataset(), tmp_path / "r.nc")
    before = path.read_bytes()
    ds = _dataset()
    ds.attrs["params"] = value
    with pytest.raises(ValueError, match="'params'"):
        save_dataset(ds, path)
    ds = _dataset()
    ds.c.attrs["bad"] = value
    with pytest.raises(ValueError, match="variable 'c'.*'bad'"):
        save_dataset(ds, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def test_reserved_attribute_name_is_refused(tmp_path):
    ds = _dataset()
    ds.attrs[BOOL_ATTRS] = "s_uv"
    with pytest.raises(ValueError, match="reserved"):
        save_dataset(ds, tmp_path / "r.nc")


def test_bad_files_name_the_file_and_the_remedy(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.nc"):
        load_dataset(tmp_path / "nothing.nc")
    good = save_dataset(_dataset(), tmp_path / "good.nc").read_bytes()
    for name, data in (("truncated.nc", good[: len(good) // 2]), ("garbage.nc", b"\x00garbage" * 50),
                       ("old.npz", b"PK\x03\x04" + bytes(100))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=rf"{name}.*not a readable netCDF-4.*delete it and recompute"):
            load_dataset(tmp_path / name)
    with pytest.raises(ValueError, match="Dataset"):
        save_dataset({"c": 1}, tmp_path / "x.nc")


def test_flags_encode_and_decode():
    da = flag_array(np.array(["b", "a", "c", "a"]), ("a", "b", "c"), "x", long_name="letters")
    assert da.dtype == np.int8 and da.values.tolist() == [1, 0, 2, 0]
    assert da.attrs["flag_values"].tolist() == [0, 1, 2] and da.attrs["flag_meanings"] == "a b c"
    assert flag_labels(da).values.tolist() == ["b", "a", "c", "a"]
    assert flag_labels(da.rename("v")).name == "v"
    empty = flag_array([], ("a",), "x", long_name="none")
    assert empty.shape == (0,) and flag_labels(empty).shape == (0,)
    with pytest.raises(ValueError, match=r"\['d'\]"):
        flag_array(["a", "d"], ("a", "b"), "x", long_name="bad")
    with pytest.raises(ValueError, match="single words"):
        flag_array(["a"], ("a", "two words"), "x", long_name="bad")
    with pytest.raises(ValueError, match="not a flag variable"):
        flag_labels(xr.DataArray([0, 1], dims="x", name="plain"))
    bad = da.copy()
    bad.values[0] = 7
    with pytest.raises(ValueError, match=r"codes \[7\]"):
        flag_labels(bad)
