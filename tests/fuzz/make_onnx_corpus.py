#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz/fuzz_onnx.cpp with Debian's python3-onnx: tiny valid ONNX
models that between them use what the reader reads (raw_data and typed-field tensors in several
data types, every attribute kind, dim_params, metadata, a second opset domain). The native tests
also read conv_gemm.onnx, as a file written by the ONNX project's own serializer.
Run: /usr/bin/python3 tests/fuzz/make_onnx_corpus.py tests/fuzz/corpus/onnx"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1)


def save(name, graph, opsets=(("", 13),), metadata=None):
    model = helper.make_model(graph, producer_name="make_onnx_corpus", producer_version="1",
                              opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = 8
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    assert len(data) < 4096, (name, len(data))
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


# A tiny CNN: Conv (raw_data weights) -> Relu -> GlobalAveragePool -> Flatten -> Gemm.
w = numpy_helper.from_array(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), "conv.weight")
b = numpy_helper.from_array(np.array([0.5, -0.25], np.float32), "conv.bias")
fc = numpy_helper.from_array(rng.standard_normal((3, 2)).astype(np.float32), "fc.weight")
fcb = helper.make_tensor("fc.bias", TensorProto.FLOAT, [3], [0.1, 0.2, 0.3])  # float_data
save("conv_gemm.onnx", helper.make_graph([
    helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv",
                     kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
    helper.make_node("Relu", ["c"], ["r"], name="relu"),
    helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
    helper.make_node("Flatten", ["p"], ["f"], name="flatten", axis=1),
    helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc", alpha=1.0, transB=1),
], "tiny_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w, b, fc, fcb]),
    metadata={"classes": "cat,dog,bird"})

# Float16 and double weights, a Constant node's tensor attribute, int64 shapes.
h = numpy_helper.from_array(np.array([1.0, -2.0, 0.5, 65504.0], np.float16), "scale16")
d = helper.make_tensor("offset64", TensorProto.DOUBLE, [4], [0.25, 0.5, 0.75, 1.0])
shape = numpy_helper.from_array(np.array([1, 4], np.int64), "shape")
save("constant_reshape.onnx", helper.make_graph([
    helper.make_node("Constant", [], ["k"], name="const",
                     value=helper.make_tensor("k_value", TensorProto.INT64, [2], [2, 2])),
    helper.make_node("Cast", ["scale16"], ["s32"], name="cast", to=TensorProto.FLOAT),
    helper.make_node("Cast", ["offset64"], ["o32"], name="cast2", to=TensorProto.FLOAT),
    helper.make_node("Mul", ["x", "s32"], ["m"], name="mul"),
    helper.make_node("Add", ["m", "o32"], ["a"], name="add"),
    helper.make_node("Reshape", ["a", "shape"], ["y"], name="reshape"),
], "constants", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [h, d, shape],
    value_info=[helper.make_tensor_value_info("m", TensorProto.FLOAT, [4])]))

# Every plain attribute kind, an omitted optional input (""), and a second opset domain.
save("attributes.onnx", helper.make_graph([
    helper.make_node("Resize", ["x", "", "scales"], ["r"], name="resize", mode="linear",
                     coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75, exclude_outside=0),
    helper.make_node("Pad", ["r", "pads"], ["y"], name="pad", mode="constant"),
    helper.make_node("Unknown", ["y"], ["z"], name="custom", domain="com.example",
                     fs=[1.5, 2.5], is_=[3, -4], ss=["a", "b"]),
], "attrs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "H", "W"])],
    [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 1, "H2", "W2"])],
    [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
     numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")],
    value_info=[helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]),
    opsets=(("", 13), ("com.example", 1)))

# Small integer types, as raw_data and as int32_data.
ints = [numpy_helper.from_array(np.array([-1, 2, -3], np.int8), "i8"),
        numpy_helper.from_array(np.array([1, 255, 0], np.uint8), "u8"),
        numpy_helper.from_array(np.array([True, False, True]), "flags"),
        helper.make_tensor("i32", TensorProto.INT32, [3], [-7, 0, 7])]
save("integers.onnx", helper.make_graph([
    helper.make_node("Identity", ["x"], ["y"], name="identity"),
], "ints", [helper.make_tensor_value_info("x", TensorProto.INT32, [3])],
    [helper.make_tensor_value_info("y", TensorProto.INT32, [3])], ints))
