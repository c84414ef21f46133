"""ONNX Runtime's session surface around InferenceSession, so that code written for
onnxruntime runs unchanged: SessionOptions, GraphOptimizationLevel, ExecutionMode, providers
(CPUExecutionProvider is ondine; any other is refused), get_available_providers, get_device and
ModelMetadata (get_modelmeta), RunOptions (run).

What maps and what does not:
- intra_op_num_threads: threads per run (0, ORT's default, = all cores);
- graph_optimization_level: ORT_DISABLE_ALL -> 0, ORT_ENABLE_BASIC -> 1 (ORT's basic level is
  constant folding and redundant-node removal, as ondine's 1), ORT_ENABLE_EXTENDED,
  ORT_ENABLE_LAYOUT and ORT_ENABLE_ALL -> 2 (fusions);
- optimized_model_filepath: the model optimized at that level is written there as ONNX (by
  `ondine optimize`, tools.optimize; at level 2 it holds ondine's fused ops, domain ai.ondine);
- enable_profiling: each run() is timed; end_profiling() writes a Chrome trace (ORT's format),
  one event per run: the C API has no per-node profile (`ondine run --profile` has one);
- inter_op_num_threads, execution_mode, log levels, memory arena and pattern switches, and
  session config entries are kept and ignored: ondine runs one graph on one thread pool.
"""
import enum
import json
import os
import threading
import time

from . import errors
from ._dimnames import _fields, _varint

CPU = "CPUExecutionProvider"


class GraphOptimizationLevel(enum.IntEnum):
    """onnxruntime.GraphOptimizationLevel, with ORT's values."""
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


# ondine's optimization_level for each of ORT's levels.
_LEVEL = {0: 0, 1: 1, 2: 2, 3: 2, 99: 2}


class ExecutionMode(enum.IntEnum):
    """onnxruntime.ExecutionMode; ondine runs the graph one node after another either way."""
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class SessionOptions:
    """onnxruntime.SessionOptions: the attributes ORT code sets (see the module's note on
    what each maps to)."""

    def __init__(self):
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.optimized_model_filepath = ""
        self.enable_profiling = False
        self.profile_file_prefix = "onnxruntime_profile_"
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.enable_cpu_mem_arena = True
        self.enable_mem_pattern = True
        self.enable_mem_reuse = True
        self.use_deterministic_compute = False
        self._config = {}

    def add_session_config_entry(self, key, value):
        self._config[str(key)] = str(value)

    def get_session_config_entry(self, key):
        return self._config[str(key)]

    def threads(self):
        """ondine's threads argument: None (all cores) for ORT's 0."""
        n = self.intra_op_num_threads
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise errors.InvalidArgument(
                f"intra_op_num_threads takes a whole number >= 0, got {n!r}")
        return n or None

    def level(self):
        """ondine's optimization_level for graph_optimization_level."""
        lv = self.graph_optimization_level
        if isinstance(lv, bool) or int(lv) not in _LEVEL:
            names = ", ".join(m.name for m in GraphOptimizationLevel)
            raise errors.InvalidArgument(
                f"graph_optimization_level takes a GraphOptimizationLevel ({names}), got {lv!r}")
        return _LEVEL[int(lv)]


class RunOptions:
    """onnxruntime.RunOptions: the attributes ORT code sets. terminate: a run given options
    with it set raises InvalidArgument before it starts (ORT fails such a run; setting it
    while a run is under way does not stop that run: ondine's runs cannot be interrupted).
    log_severity_level, log_verbosity_level, logid, only_execute_path_to_fetches and the run
    config entries are kept and not used: ondine logs nothing per run and always computes
    every output."""

    def __init__(self):
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.terminate = False
        self.only_execute_path_to_fetches = False
        self._config = {}

    def add_run_config_entry(self, key, value):
        self._config[str(key)] = str(value)

    def get_run_config_entry(self, key):
        return self._config[str(key)]


def check_run_options(run_options):
    """Refuses what run() cannot take as run_options, and a run whose terminate is set."""
    if run_options is None:
        return
    if not isinstance(run_options, RunOptions):
        raise errors.InvalidArgument(
            f"run_options takes None or an ondine.RunOptions, got {type(run_options).__name__}")
    if run_options.terminate:
        raise errors.InvalidArgument(
            "the run is not started: run_options.terminate is set (as ONNX Runtime, which "
            "exits such a run at once)")


def get_available_providers():
    """onnxruntime.get_available_providers(): ondine is ORT's CPU provider, nothing else."""
    return [CPU]


def get_all_providers():
    return [CPU]


def get_device():
    return "CPU"


def check_providers(providers, provider_options):
    """Refuses any provider but CPUExecutionProvider, as a name or a (name, options) pair, and
    provider_options that do not pair with providers. Returns {provider: options}."""
    if providers is None:
        if provider_options is not None:
            raise errors.InvalidArgument("provider_options needs providers")
        return {CPU: {}}
    if isinstance(providers, (str, bytes)):
        raise errors.InvalidArgument(
            f"providers takes a list of provider names, got {providers!r}")
    providers = list(providers)
    if provider_options is not None and len(provider_options) != len(providers):
        raise errors.InvalidArgument(
            f"provider_options has {len(provider_options)} entries for {len(providers)} "
            "providers: one dict per provider")
    chosen = {}
    for i, p in enumerate(providers):
        name, opts = (p if isinstance(p, tuple) and len(p) == 2 else (p, {}))
        if provider_options is not None:
            opts = provider_options[i]
        if name != CPU:
            raise errors.InvalidArgument(
                f"execution provider {name!r} is not available: ondine runs on the CPU only "
                f"(available: {get_available_providers()})")
        if not isinstance(opts, dict):
            raise errors.InvalidArgument(f"options of {name} take a dict, got {opts!r}")
        chosen[name] = {str(k): str(v) for k, v in opts.items()}
    if not chosen:
        raise errors.InvalidArgument(
            f"providers is empty (available: {get_available_providers()})")
    return chosen


class ModelMetadata:
    """onnxruntime.ModelMetadata, from the ModelProto's fields."""

    def __init__(self, producer_name="", graph_name="", domain="", description="",
                 graph_description="", version=0, custom_metadata_map=None):
        self.producer_name, self.graph_name, self.domain = producer_name, graph_name, domain
        self.description, self.graph_description = description, graph_description
        self.version = version
        self.custom_metadata_map = dict(custom_metadata_map or {})


def _str(buf, s, e):
    return bytes(buf[s:e]).decode("utf-8", "replace")


def _model_version(buf):
    """ModelProto.model_version (field 5, a varint): the one varint field read here."""
    i, end = 0, len(buf)
    while i < end:
        key, i = _varint(buf, i, end)
        wire = key & 7
        if wire == 0:
            v, i = _varint(buf, i, end)
            if key >> 3 == 5:
                return v
        elif wire == 2:
            n, i = _varint(buf, i, end)
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError("unexpected wire type")
    return 0


def model_metadata(buf):
    """ModelMetadata of a serialized ModelProto (bytes, memoryview or mmap); fields it does
    not find stay empty."""
    meta = ModelMetadata()
    try:
        for f, s, e in _fields(buf, 0, len(buf)):
            if f == 2:
                meta.producer_name = _str(buf, s, e)
            elif f == 4:
                meta.domain = _str(buf, s, e)
            elif f == 6:
                meta.description = _str(buf, s, e)
            elif f == 7:
                for gf, gs, ge in _fields(buf, s, e):
                    if gf == 2:
                        meta.graph_name = _str(buf, gs, ge)
                    elif gf == 10:
                        meta.graph_description = _str(buf, gs, ge)
            elif f == 14:
                entry = {ef: _str(buf, es, ee) for ef, es, ee in _fields(buf, s, e)}
                meta.custom_metadata_map[entry.get(1, "")] = entry.get(2, "")
        meta.version = _model_version(buf)
    except ValueError:
        pass
    return meta


def uses_qdq(buf):
    """Whether the graph has QuantizeLinear nodes: a QDQ model states its int8 scales."""
    try:
        for f, s, e in _fields(buf, 0, len(buf)):
            if f == 7:
                for gf, gs, ge in _fields(buf, s, e):
                    if gf == 1 and any(nf == 4 and _str(buf, ns, ne) == "QuantizeLinear"
                                       for nf, ns, ne in _fields(buf, gs, ge)):
                        return True
    except ValueError:
        pass
    return False


class Profiler:
    """enable_profiling: one Chrome-trace event per run, written by end_profiling()."""

    def __init__(self, prefix):
        self.prefix, self.events, self.lock = prefix, [], threading.Lock()
        self.start = time.perf_counter()

    def wrap(self, run):
        def profiled(output_names, input_feed, run_options=None):
            t0 = time.perf_counter()
            try:
                return run(output_names, input_feed, run_options)
            finally:
                t1 = time.perf_counter()
                with self.lock:
                    self.events.append({"cat": "Session", "name": "model_run", "ph": "X",
                                        "pid": os.getpid(), "tid": threading.get_ident(),
                                        "ts": int((t0 - self.start) * 1e6),
                                        "dur": int((t1 - t0) * 1e6), "args": {}})
        return profiled

    def end(self):
        path = f"{self.prefix}{time.strftime('%Y-%m-%d_%H-%M-%S')}.json"
        with self.lock:
            events, self.events = self.events, []
        with open(path, "w") as f:
            json.dump(events, f)
        return path
