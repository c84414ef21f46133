"""Names of symbolic dims (ONNX dim_param, e.g. "N") of a model's graph inputs and outputs.

The C API reports a symbolic dim as -1; ONNX Runtime's get_inputs() reports its name, and code
written for ONNX Runtime may rely on it. This reads just the names from the model's protobuf:
a minimal walk of ModelProto.graph.{input,output}[].type.tensor_type.shape.dim[].dim_param that
skips every other field by its length, so large initializers are never copied. It runs only
after the C library has accepted the model; on anything it does not expect it gives no names,
and symbolic dims fall back to None.
"""
import mmap

# Field numbers in onnx.proto.
_MODEL_GRAPH = 7
_GRAPH_INPUT, _GRAPH_OUTPUT = 11, 12
_VALUE_NAME, _VALUE_TYPE = 1, 2
_TYPE_TENSOR = 1
_TENSOR_SHAPE = 2
_SHAPE_DIM = 1
_DIM_PARAM = 2


def _varint(buf, i, end):
    shift = result = 0
    while True:
        if i >= end or shift > 63:
            raise ValueError("bad varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf, start, end):
    """(field number, start, end) of each length-delimited field in buf[start:end]; other
    wire types are skipped."""
    i = start
    while i < end:
        key, i = _varint(buf, i, end)
        wire = key & 7
        if wire == 0:
            _, i = _varint(buf, i, end)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(buf, i, end)
            if i + n > end:
                raise ValueError("field past its message")
            yield key >> 3, i, i + n
            i += n
        else:
            raise ValueError("unexpected wire type")
    if i != end:
        raise ValueError("field past its message")


def _first(buf, start, end, field):
    for f, s, e in _fields(buf, start, end):
        if f == field:
            return s, e
    return None


def _value_info(buf, start, end):
    """(name, [dim_param or None per dim]) of a ValueInfoProto; dims None if it has no shape."""
    name, dims = None, None
    for f, s, e in _fields(buf, start, end):
        if f == _VALUE_NAME:
            name = bytes(buf[s:e]).decode("utf-8", "replace")
        elif f == _VALUE_TYPE:
            tensor = _first(buf, s, e, _TYPE_TENSOR)
            shape = tensor and _first(buf, *tensor, _TENSOR_SHAPE)
            if shape:
                dims = []
                for df, ds, de in _fields(buf, *shape):
                    if df == _SHAPE_DIM:
                        param = _first(buf, ds, de, _DIM_PARAM)
                        dims.append(bytes(buf[param[0]:param[1]]).decode("utf-8", "replace")
                                    if param else None)
    return name, dims


def _walk(buf):
    names = {}
    graph = _first(buf, 0, len(buf), _MODEL_GRAPH)
    if not graph:
        return names
    for f, s, e in _fields(buf, *graph):
        if f in (_GRAPH_INPUT, _GRAPH_OUTPUT):
            name, dims = _value_info(buf, s, e)
            if name is not None and dims is not None:
                names[(f == _GRAPH_OUTPUT, name)] = dims
    return names


def dim_names(source):
    """{(is_output, name): [dim_param or None, ...]} for the model at a path or in bytes."""
    try:
        if isinstance(source, str):
            with open(source, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return _walk(m)
        return _walk(memoryview(source).cast("B"))
    except (ValueError, OSError):
        return {}
