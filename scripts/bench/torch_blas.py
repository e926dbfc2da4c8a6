"""Which BLAS this PyTorch process calls, for the benches' PyTorch script (torch_ops.py) to
report, and for the bench (scripts/bench/torch-blas.ts) to check against the library it asked
for.

Debian's python3-torch calls sgemm_ (its fully connected layers) from whatever libblas.so.3 the
dynamic linker finds; the bench picks one by LD_LIBRARY_PATH. Other BLAS files can be mapped
without being the one called (Debian's OpenBLAS liblapack.so.3 brings libopenblas.so.0 along
under the reference BLAS), so the library is found the way the linker binds libtorch_cpu's
sgemm_: the global scope first, then libtorch_cpu's own dependencies in load order.
"""

import ctypes
import os

import torch


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _defining_file(handle, symbol):
    """The real path of the file that `symbol` resolves to from `handle`'s scope, or None."""
    try:
        address = ctypes.cast(getattr(handle, symbol), ctypes.c_void_p).value
    except AttributeError:
        return None
    info = _DlInfo()
    libc = ctypes.CDLL(None)
    libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    if libc.dladdr(address, ctypes.byref(info)) == 0 or not info.dli_fname:
        return None
    return os.path.realpath(info.dli_fname.decode())


def _openblas(library):
    """OpenBLAS's core type and thread count where `library` is (or wraps) OpenBLAS."""
    lib = ctypes.CDLL(library, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    try:
        corename, threads = lib.openblas_get_corename, lib.openblas_get_num_threads
    except AttributeError:
        return None, None
    corename.restype = ctypes.c_char_p
    return corename().decode(), threads()


def blas_info():
    """{"library": the file torch's sgemm_ runs in (libtorch_cpu itself where torch bundles its
    BLAS; None where nothing exports it), "openblasCore", "openblasThreads": OpenBLAS's own
    report where that file is OpenBLAS, else None}."""
    torch_cpu = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    scopes = [ctypes.CDLL(None), ctypes.CDLL(torch_cpu, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)]
    library = next(filter(None, (_defining_file(s, "sgemm_") for s in scopes)), None)
    core, threads = _openblas(library) if library else (None, None)
    return {"library": library, "openblasCore": core, "openblasThreads": threads}
