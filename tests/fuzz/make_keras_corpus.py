#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz/fuzz_keras.cpp (python3-h5py): tiny Keras files for the
target's small architecture in the layouts keras_fixtures.py documents, plus a model_config,
a .keras archive, and a JS manifest as text. Run: /usr/bin/python3 tests/fuzz/make_keras_corpus.py tests/fuzz/corpus/keras"""
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1)
layers = [("conv2d", [("kernel", (3, 3, 3, 2)), ("bias", (2,))]), ("max_pooling2d", []),
          ("batch_normalization", [(p, (2,)) for p in ("gamma", "beta", "moving_mean", "moving_variance")]),
          ("flatten", []), ("dense", [("kernel", (18, 10)), ("bias", (10,))])]
config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8, 8, 3], "name": "in"}},
    {"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 2, "kernel_size": [3, 3], "activation": "relu"}},
    {"class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "pool_size": [2, 2]}},
    {"class_name": "BatchNormalization", "config": {"name": "batch_normalization", "axis": -1, "epsilon": 0.001}},
    {"class_name": "Flatten", "config": {"name": "flatten"}},
    {"class_name": "Dense", "config": {"name": "dense", "units": 10, "activation": "softmax"}}]}}


def keras2(group):
    group.attrs["layer_names"] = np.array([n.encode() for n, _ in layers])
    for name, weights in layers:
        g = group.create_group(name)
        g.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in weights])
        for w, shape in weights:
            g.create_dataset(f"{name}/{w}:0", data=rng.standard_normal(shape).astype("f4"))


with h5py.File(os.path.join(out, "weights.h5"), "w", libver="latest") as f:
    keras2(f)
with h5py.File(os.path.join(out, "whole.h5"), "w", libver="latest") as f:
    f.attrs["model_config"] = json.dumps(config).encode()
    keras2(f.create_group("model_weights"))
with h5py.File(os.path.join(out, "keras3.weights.h5"), "w", libver="latest") as f:
    for name, weights in layers:
        g = f.create_group(f"layers/{name}/vars")
        for i, (_, shape) in enumerate(weights):
            g.create_dataset(str(i), data=rng.standard_normal(shape).astype("f4"))
open(os.path.join(out, "config.json"), "w").write(json.dumps(config))
open(os.path.join(out, "manifest.json"), "w").write(json.dumps({"model_config": json.dumps(config), "tensors": [
    {"layer": "dense", "weight": "dense/bias:0", "shape": [10], "offset": 0}]}))
buf = io.BytesIO()
with h5py.File(buf, "w", libver="latest") as f:
    for name, weights in layers:
        g = f.create_group(f"layers/{name}/vars")
        for i, (_, shape) in enumerate(weights):
            g.create_dataset(str(i), data=rng.standard_normal(shape).astype("f4"))
with zipfile.ZipFile(os.path.join(out, "model.keras"), "w") as zf:
    zf.writestr("config.json", json.dumps(config))
    zf.writestr("model.weights.h5", buf.getvalue())
