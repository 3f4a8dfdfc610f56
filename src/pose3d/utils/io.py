"""Reading pictures, pickled and MATLAB dataset files safely.

:func:`read_image` is the one image reader of the datasets and the demo: it decodes the file's
bytes (optionally at 1/2, 1/4 or 1/8 resolution) and turns a missing or undecodable file into a
one-line :class:`DataFormatError`.

Several dataset formats are pickles (the Human3.6M ``msra_cache``, Occlusion-Person's
``unrealcv_*.pkl``, the VIBE ``*_db.pt`` joblib dumps). A plain ``pickle.load`` runs whatever
callable the file names, so every pickle is read through an *allowlist* unpickler: a file may
build numpy arrays, dtypes and scalars, builtin containers and scalars, and ``OrderedDict`` /
``defaultdict``; a request for any other global (``os.system``, ``subprocess.Popen``,
``builtins.eval``, ...) stops the load before anything runs and raises a one-line
:class:`DataFormatError` naming the file and the global. Joblib dumps go through joblib's own
unpickler (which reads its arrays straight from the file) with the same allowlist.

Pickles are also read only from inside the folder the user named with ``--data_dir``
(:func:`require_inside`), a second line of defence against a path that an annotation, a relative
``..`` or a stray absolute path leads elsewhere. The check is lexical (no symlink resolution):
linking a dataset folder inside the data root to another disk is a legitimate setup.

:func:`load_mat` reads MATLAB files of every version: scipy for v4-v7.2, h5py for v7.3 (HDF5).
Checkpoints are not read here: :func:`pose3d.utils.checkpoint.load_checkpoint` uses
``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import _compat_pickle
import functools
import os
import pickle
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np

from pose3d.utils.errors import DataFormatError

_DAMAGED = "the file is damaged or truncated; re-download or rewrite it"
_NOT_DATA = ("only numpy arrays and builtin containers are allowed); the file is not a plain "
             "dataset annotation, so nothing was run: re-download it from the dataset's source")

# (module, name) pairs a dataset pickle may ask for, after Python-2 names are mapped to Python 3.
_NUMPY_GLOBALS = {
    (mod, name)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}
_BUILTIN_GLOBALS = {("builtins", name) for name in (
    "dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int", "float",
    "complex", "bool", "slice")}
ALLOWED_GLOBALS = frozenset(
    _NUMPY_GLOBALS | _BUILTIN_GLOBALS
    | {("collections", "OrderedDict"), ("collections", "defaultdict"),
       # protocol 0-2 pickles written by Python 3 store bytes as _codecs.encode(text, 'latin1')
       ("_codecs", "encode")})
# Joblib's placeholder for an array stored raw after its pickle (read by joblib, not called).
JOBLIB_GLOBALS = frozenset({("joblib.numpy_pickle", "NumpyArrayWrapper")})
# Decode flags of read_image's reduce factors (JPEG DCT scaling: cheap for large pictures).
_REDUCED_FLAGS = MappingProxyType({2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                                   8: cv2.IMREAD_REDUCED_COLOR_8})
_IMAGE_MISSING_FIX = "check that the dataset's images/ folder is complete"
_IMAGE_DAMAGED_FIX = "re-extract or delete this image"


def read_image(path: str | os.PathLike, reduce: int = 1, missing_fix: str = _IMAGE_MISSING_FIX,
               damaged_fix: str = _IMAGE_DAMAGED_FIX) -> np.ndarray:
    """Read a picture as (H, W, 3) uint8 BGR, optionally decoded at 1/``reduce`` resolution.

    Decoded from the bytes (``cv2.imdecode``, the same pixels as ``cv2.imread``) so a bad file
    gives our message only, not OpenCV's own warning as well.

    Args:
        path: the picture.
        reduce: 1, 2, 4 or 8 (other values decode at full resolution).
        missing_fix, damaged_fix: the advice of the message for a missing or unreadable file
            and for a file that does not decode.

    Raises:
        DataFormatError: the file is missing, unreadable, empty or not an image.
    """
    if not os.path.isfile(path):
        raise DataFormatError(path, "image file is missing", missing_fix)
    try:
        data = np.fromfile(os.fspath(path), dtype=np.uint8)
    except OSError as err:
        raise DataFormatError(path, f"cannot read the file ({err.strerror})", missing_fix) from None
    flag = _REDUCED_FLAGS.get(reduce, cv2.IMREAD_COLOR)
    image = cv2.imdecode(data, flag) if data.size else None
    if image is None:
        raise DataFormatError(path, "not a readable image (empty, corrupt or another format)",
                              damaged_fix)
    return image


class ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the allowlist; ``name`` is ``module.name``."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _python3_name(module: str, name: str) -> tuple[str, str]:
    """Map a Python-2 global (``__builtin__.set``, ``copy_reg``...) to its Python-3 name."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def check_global(module: str, name: str, extra: frozenset = frozenset()) -> tuple[str, str]:
    """The Python-3 ``(module, name)`` of an allowed global.

    Raises:
        ForbiddenGlobal: the pair is neither in :data:`ALLOWED_GLOBALS` nor in ``extra``.
    """
    pair = _python3_name(module, name)
    if pair not in ALLOWED_GLOBALS and pair not in extra:
        raise ForbiddenGlobal(".".join(pair))
    return pair


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(*check_global(module, name))


@functools.cache
def _joblib_unpickler_class() -> type:
    """joblib's ``NumpyUnpickler`` restricted to the allowlist (joblib imported on first use)."""
    from joblib.numpy_pickle import NumpyUnpickler

    class SafeNumpyUnpickler(NumpyUnpickler):
        # joblib >= 1.5 hands this find_class to the unpickler of object arrays as well.
        def find_class(self, module: str, name: str) -> Any:
            return super().find_class(*check_global(module, name, JOBLIB_GLOBALS))

    return SafeNumpyUnpickler


def _open_joblib(f, filename: str):
    """joblib's context manager that undoes its compression (its name changed across versions)."""
    from joblib import numpy_pickle_utils as utils

    if hasattr(utils, "_validate_fileobject_and_memmap"):
        return utils._validate_fileobject_and_memmap(f, filename, None)
    return utils._read_fileobject(f, filename, None)


def unpickle_joblib(path: str | os.PathLike, encoding: str = "ASCII") -> Any:
    """Load a ``joblib.dump`` file through the allowlist.

    Raises:
        ForbiddenGlobal: the file asks for a global outside the allowlist.
        pickle.UnpicklingError: a joblib < 0.10 dump (arrays in companion files).
    """
    path = os.fspath(path)
    with open(path, "rb") as f, _open_joblib(f, path) as opened:
        fobj = opened[0] if isinstance(opened, tuple) else opened
        if isinstance(fobj, str):
            raise pickle.UnpicklingError("a joblib < 0.10 dump with companion files is not "
                                         "supported")
        unpickler = _joblib_unpickler_class()(path, fobj, ensure_native_byte_order=True)
        unpickler.encoding = encoding
        return unpickler.load()


def require_inside(path: str | os.PathLike, data_dir: str | os.PathLike) -> Path:
    """``path`` as an absolute Path, provided it lies inside ``data_dir``.

    Args:
        path: a file the program is about to unpickle.
        data_dir: the data root (``--data_dir``).

    Raises:
        DataFormatError: ``path`` is outside ``data_dir`` (after resolving ``..``).
    """
    root = os.path.abspath(data_dir)
    target = os.path.abspath(path)
    if os.path.commonpath([root, target]) != root:
        raise DataFormatError(target, f"is outside the data directory {root}; pickled files are "
                              "read only from --data_dir",
                              "move the file under --data_dir or point --data_dir at its root")
    return Path(target)


def _one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"


def _read_with_retry(target: Path, read) -> Any:
    """``read(target, encoding)``: Python-3 text first, then Python-2 ``str`` as latin1."""
    try:
        return read(target, "ASCII")
    except UnicodeDecodeError:
        return read(target, "latin1")


def _read_pickle(target: Path, encoding: str) -> Any:
    with open(target, "rb") as f:
        return SafeUnpickler(f, encoding=encoding).load()


def load_pickle(path: str | os.PathLike, data_dir: str | os.PathLike, fix: str = "") -> Any:
    """Unpickle an annotation file inside ``data_dir`` through the allowlist.

    Python-2 pickles (``str`` stored as bytes) are retried with ``encoding='latin1'``.

    Args:
        path: the pickle.
        data_dir: the data root the file must be in.
        fix: what to do when the file is missing (the message's advice).

    Raises:
        DataFormatError: outside ``data_dir``, missing, not unpicklable, or asking for a global
            outside the allowlist.
    """
    return read_pickle(require_inside(path, data_dir), fix)


def read_pickle(path: str | os.PathLike, fix: str = "") -> Any:
    """A pickle through the allowlist; the caller has checked where the file lies.

    Raises:
        DataFormatError: missing, not unpicklable, or asking for a global outside the allowlist.
    """
    return _read_safely(path, _read_pickle, ("annotation file is missing", fix),
                        "cannot be unpickled")


def read_joblib(path: str | os.PathLike, fix: str = "") -> Any:
    """A joblib dump through the allowlist; the caller has checked where the file lies.

    Raises:
        DataFormatError: missing, unreadable, or asking for a global outside the allowlist.
    """
    return _read_safely(path, unpickle_joblib, ("annotation db is missing", fix),
                        "cannot be read with joblib.load")


def _read_safely(path: str | os.PathLike, read, missing: tuple[str, str], failed: str) -> Any:
    """``read(target, encoding)`` of an existing file with one-line errors.

    Args:
        missing: (problem, fix) of the message for a missing file.
        failed: what the message says happened to a damaged file.
    """
    target = Path(os.path.abspath(path))
    if not target.is_file():
        raise DataFormatError(target, *missing)
    try:
        return _read_with_retry(target, read)
    except ForbiddenGlobal as exc:
        raise DataFormatError(target, f"refused to unpickle '{exc.name}' ({_NOT_DATA}") from None
    except Exception as exc:  # a damaged pickle or joblib dump raises almost any type
        raise DataFormatError(target, f"{failed} ({_one_line(exc)})", _DAMAGED) from None


def load_joblib(path: str | os.PathLike, data_dir: str | os.PathLike, fix: str = "") -> Any:
    """:func:`read_joblib` of a file that must lie inside ``data_dir``.

    Raises:
        DataFormatError: outside ``data_dir``, missing, unreadable or refused.
    """
    return read_joblib(require_inside(path, data_dir), fix)


# -- MATLAB files ----------------------------------------------------------------------------------
class _V73Struct(ValueError):
    """A v7.3 struct or object variable (an HDF5 group): not needed by any dataset."""


def _hdf5_value(f, node) -> Any:
    """A MATLAB v7.3 variable as scipy would return it (numeric arrays in MATLAB's shape)."""
    import h5py

    if isinstance(node, h5py.Group):
        raise _V73Struct(node.name)
    cls = node.attrs.get("MATLAB_class", b"")
    cls = cls.decode() if isinstance(cls, bytes) else str(cls)
    data = node[()]
    if node.attrs.get("MATLAB_empty", 0):
        return np.zeros((0, 0))
    if cls == "cell":
        # HDF5 keeps MATLAB's column-major layout reversed: transposing gives MATLAB's shape.
        refs = np.asarray(data).T
        out = np.empty(refs.shape, dtype=object)
        for idx in np.ndindex(refs.shape):
            out[idx] = _hdf5_value(f, f[refs[idx]])
        return out
    if cls == "char":
        codes = np.asarray(data, dtype=np.uint16).T
        return np.array(["".join(map(chr, row)) for row in np.atleast_2d(codes)])
    arr = np.asarray(data).T
    return arr.astype(bool) if cls == "logical" else arr


def load_mat(path: str | os.PathLike) -> dict[str, Any]:
    """Every variable of a MATLAB file, whatever its version.

    v4 to v7.2 files are read by ``scipy.io.loadmat``; v7.3 files are HDF5 and are read with
    h5py: numeric and logical arrays in MATLAB's shape, char arrays as strings, cell arrays as
    object arrays (v7.3 structs are refused with a one-line message).

    Raises:
        DataFormatError: the file is missing or cannot be read.
    """
    import scipy.io

    path = Path(path)
    fix = "the file is truncated or corrupt; re-extract it"
    if not path.is_file():
        raise DataFormatError(path, "annotation file is missing",
                              "put the file there or point --data_dir at the data root")
    try:
        if scipy.io.matlab.matfile_version(str(path))[0] < 2:
            return scipy.io.loadmat(str(path))
        import h5py

        with h5py.File(path, "r") as f:
            return {k: _hdf5_value(f, f[k]) for k in f if not k.startswith("#")}
    except _V73Struct as err:
        raise DataFormatError(path, f"variable {err} is a MATLAB v7.3 struct, which is not read",
                              "re-save the file in MATLAB with save(..., '-v7')") from None
    except Exception as err:  # scipy and h5py signal a damaged file with many exception types
        raise DataFormatError(path, f"unreadable .mat file ({_one_line(err)})", fix) from None
