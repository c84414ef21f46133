"""ondine for Python: run ONNX CNNs with ondine's C library through ONNX Runtime's session API.

    import ondine
    sess = ondine.InferenceSession("resnet50.onnx")
    logits, = sess.run(None, {sess.get_inputs()[0].name: images})

Pure Python over libondine (ctypes) and numpy; docs/python.md has the whole API, where the
library is looked for, and the Dask pattern.
"""
from ._lib import lib as _lib, path as library_path
from .errors import (BackendError, CommandFailed, InvalidArgument, InvalidInput, InvalidModel,
                     IOFailure, LimitExceeded, OndineError, OutOfMemory, Unsupported)
from .ort import (ExecutionMode, GraphOptimizationLevel, ModelMetadata, RunOptions,
                  SessionOptions, get_all_providers, get_available_providers, get_device)
from .session import InferenceSession, NodeArg
from .tools import inspect, optimize

__version__ = _lib.ond_version().decode()

__all__ = ["InferenceSession", "NodeArg", "inspect", "optimize", "library_path",
           "SessionOptions", "RunOptions", "GraphOptimizationLevel", "ExecutionMode",
           "ModelMetadata",
           "get_available_providers", "get_all_providers", "get_device",
           "OndineError", "InvalidArgument", "InvalidModel", "Unsupported", "InvalidInput",
           "LimitExceeded", "IOFailure", "OutOfMemory", "BackendError", "CommandFailed"]
