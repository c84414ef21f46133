"""ctypes binding of libondine's public C API (include/ondine.h) and the search for the library.

Search order (the first that applies wins; a path that is given but does not load is an
error, never skipped):
  1. the ONDINE_LIBRARY environment variable: the path of libondine.so;
  2. next to this package: ondine/libondine.so.0, where `make install` and pip put a copy;
  3. the build tree, when the package is imported from the source tree (python/ondine):
     build/lib/libondine.so.0 at the top of the repository;
  4. the system's loader: libondine.so.0 by name (LD_LIBRARY_PATH, ld.so's cache).

ctypes.CDLL releases the GIL around every call, so runs in different Python threads proceed
in parallel, also on one session (python/tests/test_session.py and test_threads.py check it).
"""
import ctypes
import os

from . import errors

SONAME = "libondine.so.0"
MAX_RANK = 12  # OND_MAX_RANK
_HERE = os.path.dirname(os.path.abspath(__file__))


class Options(ctypes.Structure):
    """struct ond_options."""
    _fields_ = [
        ("threads", ctypes.c_int),
        ("opt_level", ctypes.c_int),
        ("precision", ctypes.c_int),
        ("disabled_passes", ctypes.POINTER(ctypes.c_char_p)),
        ("n_disabled_passes", ctypes.c_size_t),
        ("no_ftz", ctypes.c_int),
        ("fold_initializer_inputs", ctypes.c_int),
        ("max_file_bytes", ctypes.c_uint64),
        ("max_tensor_elements", ctypes.c_uint64),
        ("max_total_bytes", ctypes.c_uint64),
        ("max_nodes", ctypes.c_int64),
        ("max_depth", ctypes.c_int),
        ("calibration", ctypes.c_void_p),
        ("n_calibration_sets", ctypes.c_size_t),
        ("max_concurrent_runs", ctypes.c_int),
        ("max_plan_cache_bytes", ctypes.c_uint64),
        ("tune", ctypes.c_int),
        ("tune_cache", ctypes.c_char_p),
    ]


class Value(ctypes.Structure):
    """struct ond_value."""
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("dtype", ctypes.c_int32),
        ("rank", ctypes.c_int),
        ("dims", ctypes.c_int64 * MAX_RANK),
        ("data", ctypes.c_void_p),
        ("size", ctypes.c_size_t),
    ]


class Error(ctypes.Structure):
    """struct ond_error."""
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 1024)]

    def raise_for(self, status):
        if status:
            raise errors.from_status(status, self.message.decode(errors="replace"))


def _candidates():
    env = os.environ.get("ONDINE_LIBRARY")
    if env:
        return [("ONDINE_LIBRARY", env)]
    found = [("next to the package", os.path.join(_HERE, SONAME)),
             ("build tree", os.path.join(_HERE, "..", "..", "build", "lib", SONAME))]
    return [(how, os.path.normpath(p)) for how, p in found if os.path.exists(p)] + \
        [("system loader", SONAME)]


def _load():
    for how, path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            if how != "system loader":
                raise ImportError(f"ondine: cannot load {path} ({how}): {e}") from e
            raise ImportError("ondine: libondine not found next to the package, in the build "
                              "tree or by the system loader; set ONDINE_LIBRARY to the path of "
                              "libondine.so, or build (make) or install (make install) it") from e


def _declare(lib):
    P = ctypes.POINTER
    E = P(Error)
    sigs = {
        "ond_options_init": (None, [P(Options)]),
        "ond_version": (ctypes.c_char_p, []),
        "ond_status_name": (ctypes.c_char_p, [ctypes.c_int]),
        "ond_dtype_name": (ctypes.c_char_p, [ctypes.c_int32]),
        "ond_model_load_file": (ctypes.c_int, [ctypes.c_char_p, P(Options), P(ctypes.c_void_p), E]),
        "ond_model_load_buffer": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, P(Options),
                                                 P(ctypes.c_void_p), E]),
        "ond_model_free": (None, [ctypes.c_void_p]),
        "ond_model_input_count": (ctypes.c_size_t, [ctypes.c_void_p]),
        "ond_model_output_count": (ctypes.c_size_t, [ctypes.c_void_p]),
        "ond_model_input": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, P(Value), E]),
        "ond_model_output": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, P(Value), E]),
        "ond_model_default_count": (ctypes.c_size_t, [ctypes.c_void_p]),
        "ond_model_default": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, P(Value), E]),
        "ond_session_create": (ctypes.c_int, [ctypes.c_void_p, P(Options), P(ctypes.c_void_p), E]),
        "ond_session_free": (None, [ctypes.c_void_p]),
        "ond_session_run_alloc": (ctypes.c_int, [ctypes.c_void_p, P(Value), ctypes.c_size_t,
                                                 P(P(Value)), P(ctypes.c_size_t), E]),
        "ond_values_free": (None, [P(Value), ctypes.c_size_t]),
    }
    for name, (res, args) in sigs.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args


lib, path = _load()
_declare(lib)
