"""InferenceSession: ONNX Runtime's Python session API (get_inputs, get_outputs, run) over
ondine's C library. One InferenceSession owns one C model and one C session over it."""
import ctypes
import mmap
import os
import tempfile
import warnings

import numpy as np

from . import errors, ort
from ._dimnames import dim_names
from ._lib import MAX_RANK, Error, Options, Value, lib

PRECISIONS = {"fp32": 0, "bf16": 1, "int8": 2}  # enum ond_precision

# ONNX TensorProto.DataType of each numpy dtype (native byte order) that has one.
_ONNX_OF_NUMPY = {np.dtype(t): code for t, code in [
    (np.float32, 1), (np.uint8, 2), (np.int8, 3), (np.uint16, 4), (np.int16, 5),
    (np.int32, 6), (np.int64, 7), (np.bool_, 9), (np.float16, 10), (np.float64, 11),
    (np.uint32, 12), (np.uint64, 13)]}
_NUMPY_OF_ONNX = {code: t for t, code in _ONNX_OF_NUMPY.items()}


def _type_name(code):
    """ONNX Runtime's spelling of a tensor type: "tensor(float)"."""
    return f"tensor({lib.ond_dtype_name(code).decode()})"


class NodeArg:
    """A graph input or output as ONNX Runtime describes it. `shape` is a list with an int per
    fixed dim and, per symbolic dim, its name from the model (dim_param, e.g. "N") or None when
    it has none; `type` is e.g. "tensor(float)"."""

    __slots__ = ("name", "shape", "type")

    def __init__(self, name, shape, type):
        self.name, self.shape, self.type = name, shape, type

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


def _options(threads, optimization_level, precision, disabled_passes):
    """struct ond_options from InferenceSession's keyword arguments."""
    opts = Options()
    lib.ond_options_init(ctypes.byref(opts))
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise errors.InvalidArgument(
                f"threads takes None (all cores) or a whole number >= 0, got {threads!r}")
        opts.threads = threads
    if optimization_level not in (0, 1, 2) or isinstance(optimization_level, bool):
        raise errors.InvalidArgument(
            f"optimization_level takes 0, 1 or 2, got {optimization_level!r}")
    opts.opt_level = optimization_level
    if precision not in PRECISIONS:
        raise errors.InvalidArgument(
            f"precision takes one of {', '.join(PRECISIONS)}, got {precision!r}")
    opts.precision = PRECISIONS[precision]
    # A lone string would otherwise pass as a list of one-letter names.
    try:
        passes = None if isinstance(disabled_passes, (str, bytes)) else list(disabled_passes)
    except TypeError:
        passes = None
    if passes is None or not all(isinstance(p, str) for p in passes):
        raise errors.InvalidArgument(
            f"disabled_passes takes a list of pass names, got {disabled_passes!r}")
    # ctypes keeps the array (and its bytes) alive as long as opts refers to it.
    opts.disabled_passes = (ctypes.c_char_p * (len(passes) + 1))(*[p.encode() for p in passes])
    opts.n_disabled_passes = len(passes)
    return opts


def _with_bytes(source, read):
    """read(the model's bytes), source a path (mapped, not copied) or bytes."""
    if isinstance(source, bytes):
        return read(memoryview(source))
    with open(source, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return read(m)


def _write_optimized(source, out, level, disabled_passes):
    """SessionOptions.optimized_model_filepath: the model optimized at level, as ONNX."""
    from .tools import optimize
    if not isinstance(source, bytes):
        optimize(source, out, level=level, disabled_passes=disabled_passes)
        return
    with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
        f.write(source)
        f.flush()
        optimize(f.name, out, level=level, disabled_passes=disabled_passes)


class InferenceSession:
    """A model loaded, optimized and ready to run, as onnxruntime.InferenceSession.

    path_or_bytes: a file path (str or os.PathLike) or the model's bytes.
    sess_options, providers, provider_options: as onnxruntime's (ort.py): SessionOptions
    threads and optimization level apply, CPUExecutionProvider is ondine and any other
    provider is refused. The keyword arguments below, ondine's own, override sess_options.
    threads: threads per run (None: all cores). optimization_level: 0 none, 1 cleanup and
    folding, 2 all fusions (default). precision: "fp32", "bf16" or "int8". calibration (int8): a list
    of input feeds ({input name: numpy array}) whose activation ranges set the quantization
    scales; None: seeded random inputs, which rarely match real data.
    disabled_passes: names of optimization passes to skip. tune: per-layer tuning of the
    convolutions at planning (docs/performance.md): True times them (seconds for a ResNet),
    a path (str or os.PathLike) times what that cache file lacks and writes it back; None or
    False: no timing, though $ONDINE_TUNE_CACHE's choices are used when it names a cache.

    run() may be called from several Python threads at once: the GIL is released while the
    C library runs, and runs on one session proceed in parallel (docs/python.md).
    """

    # Bound at class creation so __del__ still reaches them during interpreter shutdown.
    _session_free = lib.ond_session_free
    _model_free = lib.ond_model_free
    _model = _session = None

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None,
                 *, threads=None, optimization_level=None, precision="fp32", disabled_passes=(),
                 calibration=None, tune=None):
        self._providers = ort.check_providers(providers, provider_options)
        if sess_options is not None and not isinstance(sess_options, ort.SessionOptions):
            raise errors.InvalidArgument(
                f"sess_options takes an ondine.SessionOptions, got {type(sess_options).__name__}")
        self._sess_options = sess_options or ort.SessionOptions()
        if threads is None and sess_options is not None:
            threads = sess_options.threads()
        if optimization_level is None:
            optimization_level = sess_options.level() if sess_options is not None else 2
        opts = _options(threads, optimization_level, precision, disabled_passes)
        if tune is not None and tune is not False:
            if tune is True:
                opts.tune = 1
            elif isinstance(tune, (str, os.PathLike)):
                opts.tune = 1
                self._tune_cache = os.fsencode(tune)  # alive until ond_session_create
                opts.tune_cache = self._tune_cache
            else:
                raise errors.InvalidArgument(
                    f"tune takes None, True, False or a cache file path, got {tune!r}")
        err = Error()
        model = ctypes.c_void_p()
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            source = bytes(path_or_bytes)
            st = lib.ond_model_load_buffer(source, len(source), ctypes.byref(opts),
                                           ctypes.byref(model), ctypes.byref(err))
        else:
            try:
                source = os.fsdecode(os.fspath(path_or_bytes))
            except TypeError:
                raise errors.InvalidArgument(
                    "InferenceSession takes a model path or the model's bytes, got "
                    f"{type(path_or_bytes).__name__}") from None
            st = lib.ond_model_load_file(os.fsencode(source), ctypes.byref(opts),
                                         ctypes.byref(model), ctypes.byref(err))
        err.raise_for(st)
        self._model = model.value
        names = dim_names(source)
        self._meta = _with_bytes(source, ort.model_metadata)
        self._inputs = self._describe(lib.ond_model_input_count, lib.ond_model_input, False,
                                      names)
        self._outputs = self._describe(lib.ond_model_output_count, lib.ond_model_output, True,
                                       names)
        self._defaults = self._describe(lib.ond_model_default_count, lib.ond_model_default,
                                        False, names)
        keep = []
        if calibration is not None:
            if isinstance(calibration, dict):
                raise errors.InvalidArgument(
                    "calibration takes a list of input feeds ({input name: array}), got a dict")
            feeds = list(calibration)
            values = (Value * (len(feeds) * len(self._inputs) + 1))()
            for i, feed in enumerate(feeds):
                self._fill(values, i * len(self._inputs), feed, self._feed_args(feed, ()), keep)
            opts.calibration = ctypes.cast(values, ctypes.c_void_p)
            opts.n_calibration_sets = len(feeds)
            keep.append(values)
        elif precision == "int8" and not _with_bytes(source, ort.uses_qdq):
            warnings.warn("ondine: int8 calibrated on seeded random inputs; accuracy needs real "
                          "data (calibration=[{input name: array}, ...])", stacklevel=2)
        session = ctypes.c_void_p()
        err.raise_for(lib.ond_session_create(self._model, ctypes.byref(opts),
                                             ctypes.byref(session), ctypes.byref(err)))
        self._session = session.value
        self._profiler = None
        if self._sess_options.optimized_model_filepath:
            _write_optimized(source, self._sess_options.optimized_model_filepath,
                             optimization_level, disabled_passes)
        if self._sess_options.enable_profiling:
            self._profiler = ort.Profiler(self._sess_options.profile_file_prefix)
            self.run = self._profiler.wrap(self.run)

    def get_providers(self):
        """onnxruntime's: the providers in use, ["CPUExecutionProvider"]."""
        return list(self._providers)

    def get_provider_options(self):
        return {name: dict(o) for name, o in self._providers.items()}

    def get_session_options(self):
        return self._sess_options

    def get_modelmeta(self):
        """onnxruntime's ModelMetadata: producer_name, graph_name, domain, description,
        graph_description, version, custom_metadata_map (ModelProto.metadata_props)."""
        return self._meta

    def end_profiling(self):
        """With sess_options.enable_profiling: writes the runs' Chrome trace to
        <profile_file_prefix><date>.json and returns its name; else ""."""
        return self._profiler.end() if self._profiler else ""

    def _describe(self, count, get, is_output, names):
        args = []
        for i in range(count(self._model)):
            v, err = Value(), Error()
            err.raise_for(get(self._model, i, ctypes.byref(v), ctypes.byref(err)))
            name = v.name.decode()
            params = names.get((is_output, name))
            if params is not None and len(params) != v.rank:
                params = None
            shape = None if v.rank < 0 else [
                v.dims[d] if v.dims[d] >= 0 else params[d] if params else None
                for d in range(v.rank)]
            args.append(NodeArg(name, shape, _type_name(v.dtype)))
        return args

    def __del__(self):
        if self._session:
            self._session_free(self._session)
        if self._model:
            self._model_free(self._model)

    def get_inputs(self):
        """The graph inputs (initializers excluded, as ONNX Runtime lists them), in graph
        order."""
        return list(self._inputs)

    def get_overridable_initializers(self):
        """onnxruntime's: the initializers an IR < 4 model also lists as graph inputs, which
        get_inputs() leaves out; run() takes a value for any of them in its feed, for that run
        (the same dtype and shape)."""
        return list(self._defaults)

    def get_outputs(self):
        """The graph outputs, in graph order."""
        return list(self._outputs)

    def run(self, output_names, input_feed, run_options=None):
        """Runs the model once. input_feed: {input name: numpy array} with every input once,
        and, for an IR < 4 model, any of get_overridable_initializers() to replace its value
        for this run. output_names: the outputs to return, in that order (None or empty: all,
        in graph order). run_options: None or an ondine.RunOptions (ort.py: a run whose
        terminate is set raises; the rest is kept and not used). Returns a list of new numpy
        arrays."""
        ort.check_run_options(run_options)
        outputs = [a.name for a in self._outputs]
        for name in output_names or ():
            if name not in outputs:
                raise errors.InvalidArgument(f"'{name}' is not an output of the model "
                                             f"(outputs: {', '.join(outputs)})")
        args = self._feed_args(input_feed, self._defaults)
        values = (Value * len(args))()
        # The arrays and encoded names handed to C, alive until the run returns.
        keep = []
        self._fill(values, 0, input_feed, args, keep)
        out, n, err = ctypes.POINTER(Value)(), ctypes.c_size_t(), Error()
        err.raise_for(lib.ond_session_run_alloc(self._session, values, len(values),
                                                ctypes.byref(out), ctypes.byref(n),
                                                ctypes.byref(err)))
        try:
            results = [self._to_numpy(out[i]) for i in range(n.value)]
        finally:
            lib.ond_values_free(out, n.value)
        if not output_names:
            return results
        return [results[outputs.index(name)] for name in output_names]

    def _feed_args(self, feed, overridable):
        """The NodeArgs a feed gives values for: every input, then the overridable
        initializers it names. Raises InvalidInput for a missing or an unknown name."""
        inputs = [a.name for a in self._inputs]
        known = set(inputs) | {a.name for a in overridable}
        if not isinstance(feed, dict):
            raise errors.InvalidInput(f"an input feed is a dict {{input name: array}}, got "
                                      f"{type(feed).__name__}")
        for name in feed:
            if name not in known:
                also = (f"; overridable initializers: {', '.join(a.name for a in overridable)}"
                        if overridable else "")
                raise errors.InvalidInput(f"'{name}' is not an input of the model "
                                          f"(inputs: {', '.join(inputs)}{also})")
        for name in inputs:
            if name not in feed:
                raise errors.InvalidInput(f"input '{name}' is missing "
                                          f"(inputs: {', '.join(inputs)})")
        return self._inputs + [a for a in overridable if a.name in feed]

    def _fill(self, values, at, feed, args, keep):
        """values[at:] from an input feed, one per arg (_feed_args); keep holds what C
        points at."""
        for k, arg in enumerate(args):
            v = values[at + k]
            arr = self._as_input(arg, feed[arg.name])
            keep += [arr, arg.name.encode()]
            v.name = keep[-1]
            v.dtype = _ONNX_OF_NUMPY[arr.dtype]
            v.rank = arr.ndim
            v.dims[:arr.ndim] = arr.shape
            v.data = arr.ctypes.data
            v.size = arr.nbytes

    @staticmethod
    def _as_input(arg, arr):
        """arr as C needs it: native byte order and C-contiguous (copied if not). Dtype, rank
        and dims are checked by the C library against the model."""
        if not isinstance(arr, np.ndarray):
            raise errors.InvalidInput(
                f"input '{arg.name}': expected a numpy.ndarray, got {type(arr).__name__}")
        native = arr.dtype.newbyteorder("=")
        if native not in _ONNX_OF_NUMPY:
            raise errors.InvalidInput(f"input '{arg.name}': numpy dtype {arr.dtype} has no "
                                      f"ONNX tensor type (the model takes {arg.type})")
        if arr.ndim > MAX_RANK:
            raise errors.InvalidInput(
                f"input '{arg.name}': rank {arr.ndim} is out of range (at most {MAX_RANK})")
        if arr.dtype != native or not arr.flags.c_contiguous:
            arr = np.array(arr, dtype=native, order="C")
        return arr

    @staticmethod
    def _to_numpy(v):
        name = v.name.decode()
        dtype = _NUMPY_OF_ONNX.get(v.dtype)
        if dtype is None:
            raise errors.Unsupported(
                f"output '{name}' is {_type_name(v.dtype)}, which numpy has no dtype for")
        arr = np.empty(tuple(v.dims[:v.rank]), dtype)
        ctypes.memmove(arr.ctypes.data, v.data, arr.nbytes)
        return arr
