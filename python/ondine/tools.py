"""inspect() and optimize(): the `ondine inspect --json` and `ondine optimize` verbs of the
command line, run as a subprocess.

Why the command line and not the C API: include/ondine.h describes a model only by its inputs
and outputs; it has no call for op counts, parameters, MACs or what the optimization passes
did, and none that writes a model back to ONNX. The command line prints all of that as JSON
and writes optimized models. The binary used is the one built or installed with the library:
bin/ondine beside the library's folder (build/bin/ondine for build/lib/libondine.so), else
`ondine` on PATH.
"""
import functools
import json
import os
import re
import shutil
import subprocess

from . import errors
from ._lib import path as _library_path


@functools.lru_cache(maxsize=None)
def command():
    """Path of the ondine command line that inspect() and optimize() run."""
    if os.sep in _library_path:
        lib_dir = os.path.dirname(os.path.realpath(_library_path))
        beside = os.path.join(os.path.dirname(lib_dir), "bin", "ondine")
        if os.access(beside, os.X_OK):
            return beside
    found = shutil.which("ondine")
    if not found:
        raise FileNotFoundError(
            "ondine: the ondine command line, which inspect() and optimize() run, is neither "
            f"beside the library ({_library_path}) in ../bin nor on PATH")
    return found


def _run(args):
    cli = command()
    p = subprocess.run([cli, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise errors.CommandFailed(
            p.stderr.strip() or f"{cli} {args[0]} exited with status {p.returncode}",
            p.returncode)
    return p.stdout


@functools.lru_cache(maxsize=None)
def _help(*verb):
    return _run([*verb, "--help"])


def has_verb(verb):
    """Whether this ondine command line has the verb (`ondine --help` lists it)."""
    return re.search(rf"^\s+{re.escape(verb)}\s", _help(), re.M) is not None


def has_option(verb, option):
    """Whether `ondine VERB --help` lists the option."""
    return re.search(rf"(^|\s){re.escape(option)}(\s|$)", _help(verb), re.M) is not None


def _model_arg(path):
    path = os.fsdecode(os.fspath(path))
    # The command line would take a file name starting with '-' for an option.
    return os.path.join(".", path) if path.startswith("-") else path


def _level_args(level, disabled_passes):
    if level not in (0, 1, 2) or isinstance(level, bool):
        raise errors.InvalidArgument(f"level takes 0, 1 or 2, got {level!r}")
    if isinstance(disabled_passes, (str, bytes)):
        raise errors.InvalidArgument(
            f"disabled_passes takes a list of pass names, got {disabled_passes!r}")
    args = [f"-O{level}"]
    for name in disabled_passes:
        args += ["--disable-pass", name]
    return args


def inspect(path, passes=True, level=2, batch=1, disabled_passes=()):
    """`ondine inspect PATH --json` as a dict (keys in docs/cli.md): inputs, outputs, op
    counts, parameters, MACs and FLOPs at `batch`, unsupported ops and, with passes=True, what
    each optimization pass at `level` did (`ondine inspect --passes`). Raises Unsupported when
    passes=True and this command line has no --passes, CommandFailed when it fails (bad file,
    invalid model)."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise errors.InvalidArgument(f"batch takes a whole number >= 1, got {batch!r}")
    args = ["inspect", _model_arg(path), "--json", "--batch", str(batch),
            *_level_args(level, disabled_passes)]
    if passes:
        if not has_option("inspect", "--passes"):
            raise errors.Unsupported(f"{command()} has no 'inspect --passes' (this build of "
                                     "ondine predates it); call inspect(path, passes=False)")
        args.append("--passes")
    return json.loads(_run(args))


def optimize(path, out, level=1, disabled_passes=()):
    """`ondine optimize PATH -o OUT -O<level>`: writes the model optimized at `level` (1:
    standard ONNX ops only, runs anywhere; 2: also ondine's fused ops, domain ai.ondine) to
    `out`, and returns `out`. Raises Unsupported when this command line has no optimize verb,
    CommandFailed when it fails."""
    if not has_verb("optimize"):
        raise errors.Unsupported(
            f"{command()} has no 'optimize' verb (this build of ondine predates it)")
    out = os.fsdecode(os.fspath(out))
    _run(["optimize", _model_arg(path), "-o", _model_arg(out),
          *_level_args(level, disabled_passes)])
    return out
