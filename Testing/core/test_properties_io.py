"""Property-based tests (hypothesis) of the I/O and geometry layer: random headers, shapes,
dtypes, spacings, directions, origins and segment names. Every input either loads with the right world
geometry — volumes and centroids invariant to axis flips, permutations and resampling — or is refused
with a ``ValueError`` that names the input."""

import re
import warnings

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import make_image
from reactkd.io import load_case, read_image, read_mask
from reactkd.preprocess import PreprocessConfig, region_graph

SETTINGS = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FORMATS = (".nii.gz", ".nii", ".nrrd", ".mha")
DTYPES = (np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64)
NO_CLOSING = PreprocessConfig(min_tumor_ml=0.0, closing_iterations=0)


def _rotation(angles) -> np.ndarray:
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


@st.composite
def geometries(draw, max_side=9):
    """(shape zyx, spacing xyz, origin xyz, direction 3×3): a signed axis permutation times a rotation."""
    shape = tuple(draw(st.integers(2, max_side)) for _ in range(3))
    spacing = tuple(draw(st.floats(0.3, 5.0)) for _ in range(3))
    origin = tuple(draw(st.floats(-400, 400)) for _ in range(3))
    perm = draw(st.permutations([0, 1, 2]))
    signs = [draw(st.sampled_from([-1, 1])) for _ in range(3)]
    signed = np.zeros((3, 3))
    for a, p in enumerate(perm):
        signed[p, a] = signs[a]
    angles = [draw(st.floats(-np.pi, np.pi)) for _ in range(3)]
    return shape, spacing, origin, _rotation(angles) @ signed


def _image(array, spacing, origin, direction):
    return make_image(array, spacing=spacing, origin=origin, direction=direction)


def _regrid(image: sitk.Image, perm, flips) -> sitk.Image:
    """The same world object on another voxel grid: ITK axis ``a`` of the result is axis ``perm[a]`` of
    ``image``, reversed where ``flips[a]`` — direction, spacing and origin changed to keep every voxel's
    world position (computed here from first principles, not with ITK's filters)."""
    xyz = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    out = xyz.transpose(perm)
    d = np.asarray(image.GetDirection()).reshape(3, 3)
    s = np.asarray(image.GetSpacing())
    size = np.asarray(image.GetSize())
    origin = np.asarray(image.GetOrigin(), float).copy()
    new_d = np.zeros((3, 3))
    for a, p in enumerate(perm):
        new_d[:, a] = d[:, p]
        if flips[a]:
            out = np.flip(out, axis=a)
            new_d[:, a] = -d[:, p]
            origin += d[:, p] * s[p] * (size[p] - 1)
    return _image(np.ascontiguousarray(out.transpose(2, 1, 0)), s[list(perm)], origin, new_d)


def _upsample3(image: sitk.Image) -> sitk.Image:
    """Each voxel as 3×3×3 voxels of a third the size; the middle one keeps the old voxel's centre, so
    nearest-neighbour resampling back onto the old grid is exact."""
    a = sitk.GetArrayFromImage(image)
    fine = np.repeat(np.repeat(np.repeat(a, 3, 0), 3, 1), 3, 2)
    s = np.asarray(image.GetSpacing()) / 3
    d = np.asarray(image.GetDirection()).reshape(3, 3)
    return _image(fine, s, np.asarray(image.GetOrigin()) - d @ s, d)


def _box(draw, shape, lo_min=0, inside=None):
    if inside is None:
        lo = [draw(st.integers(lo_min, n - 2)) for n in shape]
        hi = [draw(st.integers(start + 1, n)) for start, n in zip(lo, shape)]
    else:
        lo = [draw(st.integers(a, b - 1)) for a, b in inside]
        hi = [draw(st.integers(start + 1, b)) for start, (_, b) in zip(lo, inside)]
    return tuple(slice(a, b) for a, b in zip(lo, hi))


@st.composite
def cases(draw):
    """A CT with a box liver and a smaller box tumour inside it, on a random oriented grid."""
    shape, spacing, origin, direction = draw(geometries(max_side=10))
    assume(min(shape) >= 3)
    liver_box = _box(draw, shape)
    tumor_box = _box(draw, shape, inside=[(s.start, s.stop) for s in liver_box])
    liver = np.zeros(shape, np.uint8)
    liver[liver_box] = 1
    tumor = np.zeros(shape, np.uint8)
    tumor[tumor_box] = 1
    ct = np.random.default_rng(0).normal(40, 10, shape).astype(np.int16)
    geo = (spacing, origin, direction)
    perm = draw(st.permutations([0, 1, 2]))
    flips = [draw(st.booleans()) for _ in range(3)]
    return _image(ct, *geo), _image(liver, *geo), _image(tumor, *geo), perm, flips


def _nodes(ct, liver, tumor):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = region_graph(load_case(ct, liver, tumor, case_id="p"), NO_CLOSING)
    return [(n.kind, n.volume_ml, np.asarray(n.centroid_lps_mm, float)) for n in graph.nodes]


def _same_nodes(a, b, scale):
    assert [k for k, _, _ in a] == [k for k, _, _ in b]
    for (_, va, ca), (_, vb, cb) in zip(a, b):
        assert va == pytest.approx(vb, rel=1e-6, abs=1e-9)
        np.testing.assert_allclose(ca, cb, atol=1e-3 * scale)


@settings(**SETTINGS)
@given(geo=geometries(), dtype=st.sampled_from(DTYPES), fmt=st.sampled_from(FORMATS), seed=st.integers(0, 2**16))
def test_any_valid_image_reads_back_with_its_world_geometry(tmp_path_factory, geo, dtype, fmt, seed):
    shape, spacing, origin, direction = geo
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    rng = np.random.default_rng(seed)
    array = (rng.integers(info.min, info.max, shape, endpoint=True) if info
             else rng.normal(0, 1e3, shape)).astype(dtype)
    path = tmp_path_factory.mktemp("img") / f"image{fmt}"
    sitk.WriteImage(_image(array, spacing, origin, direction), str(path))
    image = read_image(path, role="CT")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), array)
    np.testing.assert_allclose(image.GetSpacing(), spacing, rtol=1e-5)
    np.testing.assert_allclose(image.GetOrigin(), origin, atol=1e-3)
    np.testing.assert_allclose(np.reshape(image.GetDirection(), (3, 3)), direction, atol=1e-4)


@settings(**SETTINGS)
@given(case=cases())
def test_volumes_and_centroids_are_invariant_to_axis_flips_and_permutations(case):
    ct, liver, tumor, perm, flips = case
    reference = _nodes(ct, liver, tumor)
    assert [k for k, _, _ in reference][0] == "liver"
    regridded = _nodes(*(_regrid(im, perm, flips) for im in (ct, liver, tumor)))
    _same_nodes(reference, regridded, max(ct.GetSpacing()))


@settings(**SETTINGS)
@given(case=cases(), crop=st.booleans())
def test_masks_on_another_grid_land_on_the_same_ct_voxels(case, crop):
    """Masks given on a flipped/permuted grid, or on a 3× finer grid (optionally cropped to the mask's
    box), resample onto exactly the CT voxels they came from."""
    ct, liver, tumor, perm, flips = case
    reference = _nodes(ct, liver, tumor)
    fine_tumor = _upsample3(tumor)
    if crop:
        hits = np.argwhere(sitk.GetArrayFromImage(fine_tumor))
        lo, hi = hits.min(0), hits.max(0) + 1
        fine_tumor = fine_tumor[int(lo[2]):int(hi[2]), int(lo[1]):int(hi[1]), int(lo[0]):int(hi[0])]
    _same_nodes(reference, _nodes(ct, _regrid(liver, perm, flips), fine_tumor), max(ct.GetSpacing()))


@settings(**SETTINGS)
@given(geo=geometries(), shear=st.floats(0.01, 2.0), axes=st.permutations([0, 1, 2]),
       fmt=st.sampled_from((".nrrd", ".mha")))
def test_a_non_orthonormal_direction_is_refused(tmp_path_factory, geo, shear, axes, fmt):
    shape, spacing, origin, direction = geo
    sheared = direction.copy()
    sheared[:, axes[0]] += shear * direction[:, axes[1]]  # a shear: determinant unchanged
    path = tmp_path_factory.mktemp("shear") / f"ct{fmt}"
    sitk.WriteImage(_image(np.zeros(shape, np.int16), spacing, origin, sheared), str(path))
    with pytest.raises(ValueError, match=rf"CT \({re.escape(str(path))}\): direction matrix is not orthonormal"):
        read_image(path, role="CT")


@settings(**SETTINGS)
@given(shape=st.tuples(*[st.integers(2, 8)] * 3), dtype=st.sampled_from(DTYPES), cut=st.floats(0.0, 0.999),
       gz=st.booleans())
def test_a_truncated_nifti_is_refused_at_any_cut(tmp_path_factory, shape, dtype, cut, gz):
    path = tmp_path_factory.mktemp("cut") / ("pet.nii.gz" if gz else "pet.nii")
    sitk.WriteImage(make_image(np.ones(shape, dtype)), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(ValueError, match=rf"PET fdg \({re.escape(str(path))}\): (the file is truncated|cannot read)"):
        read_image(path, role="PET fdg")


@settings(**SETTINGS)
@given(shape=st.tuples(*[st.integers(2, 8)] * 3), dtype=st.sampled_from((np.float32, np.float64)),
       n_bad=st.integers(1, 5), seed=st.integers(0, 2**16), fmt=st.sampled_from(FORMATS))
def test_nan_or_inf_anywhere_is_refused_in_every_format(tmp_path_factory, shape, dtype, n_bad, seed, fmt):
    rng = np.random.default_rng(seed)
    array = rng.normal(0, 1, shape).astype(dtype)
    flat = rng.choice(array.size, size=min(n_bad, array.size), replace=False)
    array.flat[flat] = rng.choice([np.nan, np.inf, -np.inf], size=flat.size)
    path = tmp_path_factory.mktemp("nan") / f"pet{fmt}"
    sitk.WriteImage(make_image(array), str(path))
    with pytest.raises(ValueError, match=rf"{flat.size} voxel\(s\) are NaN or infinite"):
        read_image(path, role="PET fdg")


# ASCII: the NRRD header (pynrrd) holds ASCII only; ':' separates PATH:NAME on the command line.
SEGMENT_NAME = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -_.()", min_size=1,
                       max_size=12).filter(lambda s: s.strip() and not re.fullmatch(r"[+-]?\d+", s))


@settings(**{**SETTINGS, "max_examples": 15})
@given(names=st.lists(SEGMENT_NAME, min_size=1, max_size=4), pick=st.integers(0, 3), spacing=st.floats(0.5, 3.0))
def test_segments_are_found_by_any_name_or_refused_with_the_names(tmp_path_factory, names, pick, spacing):
    import slicerio

    shape = (12, 10, 4 * len(names) + 2)  # i, j, k
    ijk_to_lps = np.diag([spacing, spacing, 2 * spacing, 1.0])
    seg = slicerio.create_segmentation(shape, ijk_to_lps)
    masks = []
    for n, name in enumerate(names):
        m = np.zeros(shape, bool)
        m[2:8, 2:7, 1 + 4 * n: 4 + 4 * n] = True
        slicerio.add_segment(seg, m, {"name": name})
        masks.append(m)
    path = tmp_path_factory.mktemp("seg") / "Segmentation.seg.nrrd"
    slicerio.write_segmentation(str(path), seg)
    chosen = names[pick % len(names)]
    expected = np.zeros(shape, bool)
    for name, m in zip(names, masks):
        if name.strip().lower() == chosen.strip().lower():
            expected |= m
    mask = read_mask(f"{path}:{chosen}", role="liver")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(mask), expected.transpose(2, 1, 0))
    np.testing.assert_allclose(mask.GetSpacing(), (spacing, spacing, 2 * spacing))
    missing = "absent" + "x" * 13  # longer than any drawn name
    with pytest.raises(ValueError, match=rf"no segment named '{missing}'; segments are"):
        read_mask(f"{path}:{missing}", role="liver")
