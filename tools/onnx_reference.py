#!/usr/bin/python3
"""The PyTorch reference for the engine's ONNX cross-check (tests/js/onnx_crosscheck.test.mjs).

    /usr/bin/python3 tools/onnx_reference.py < request.json > answer.json

request: {"model_dir": OUTDIR, "cases": [{"model": "resnet18", "input": [flat NCHW floats],
          "input_shape": [1,3,224,224], "node": "<ONNX node name>", "target": <class index>,
          "methods": ["gradcam", "hirescam", "layercam"], "activations": false}]}
answer:  {"cases": [{"logits": [...], "probabilities": [...], "shape": [H, W],
          "maps": {"gradcam": [H*W, row-major], ...}, "magnitudes": {"gradcam": m, ...},
          "activations": [C*H*W, NCHW] (if asked),
          "module": "<torch module>"}]}

Each model is rebuilt from tools/onnx_fixtures.py (same code, same seeds) in float32; the ONNX node
is found in OUTDIR/manifest.json, which names the torch module whose forward output is that node's
output. A forward hook keeps that output A (C x H x W); the score is the target's logit (for a
model whose output is probabilities, the final Softmax's input: AllOps.logits), and autograd gives
G = dscore/dA. The maps, as engine/src/methods/cam_weights.cpp defines them (after ReLU, before any
normalisation), summed in float64:
    gradcam  ReLU(sum_k mean_hw(G_k) A_k)
    hirescam ReLU(sum_k G_k (.) A_k)
    layercam ReLU(sum_k ReLU(G_k) (.) A_k)
A map's magnitude is the largest sum of the absolute terms at one position: when the terms cancel,
float32 error scales with it, not with the map's maximum. One process answers every case: importing torch takes longer than most cases.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx_fixtures  # noqa: E402


def cam_terms(method, A, G):
    """The per-channel terms (C x H x W) whose sum over channels, after ReLU, is the map."""
    if method == "gradcam":
        return G.mean(dim=(1, 2), keepdim=True) * A
    if method == "hirescam":
        return G * A
    if method == "layercam":
        return torch.relu(G) * A
    raise ValueError(f"unknown method {method}")


class Models:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "manifest.json")) as f:
            self.manifest = json.load(f)["models"]
        self.built = {}

    def get(self, name, dtype=torch.float32):
        """The model in float32 as exported, or in float64 for a reference without float32 rounding."""
        if (name, dtype) not in self.built:
            if name not in self.manifest:
                raise ValueError(f"{name}: not in the manifest")
            model = onnx_fixtures.build_model(name).to(dtype)
            for p in model.parameters():
                p.requires_grad_(False)  # only the activations' gradients are needed
            self.built[(name, dtype)] = model
        return self.built[(name, dtype)], self.manifest[name]


def answer(models, case):
    model, entry = models.get(case["model"])
    shape = case.get("input_shape") or entry["input_shape"]
    if list(shape) != entry["input_shape"]:
        raise ValueError(f"{case['model']}: input_shape {shape}, the model takes {entry['input_shape']}")
    x = torch.tensor(case["input"], dtype=torch.float32)
    if x.numel() != torch.Size(shape).numel():
        raise ValueError(f"{case['model']}: {x.numel()} input values for shape {shape}")
    x = x.reshape(shape)
    node = next((n for n in entry["nodes"] if n["onnx_node"] == case["node"]), None)
    if node is None:
        raise ValueError(f"{case['model']}: {case['node']} is not a manifest node")
    module = model.get_submodule(node["torch_module"])

    kept = []

    def hook(_module, _inputs, output):
        kept.append(output)
        # Downstream sees a copy: torchvision's `out += identity` would otherwise overwrite A.
        return output.clone()

    x.requires_grad_(True)  # the graph must reach A even though the weights take no gradient
    handle = module.register_forward_hook(hook)
    try:
        logits = model.logits(x) if entry["output"] == "probabilities" else model(x)
    finally:
        handle.remove()
    if len(kept) != 1:
        raise ValueError(f"{case['model']}: {node['torch_module']} ran {len(kept)} times, expected once")
    A = kept[0]
    logits = logits.reshape(-1)
    target = int(case["target"])
    (G,) = torch.autograd.grad(logits[target], A)
    A64, G64 = A[0].detach().double(), G[0].double()
    out = {
        "module": node["torch_module"],
        "logits": logits.detach().tolist(),
        "probabilities": torch.softmax(logits.detach().double(), 0).tolist(),
        "shape": list(A64.shape[1:]),
        "maps": {},
        "magnitudes": {},
    }
    for method in case.get("methods", ["gradcam"]):
        terms = cam_terms(method, A64, G64)
        out["maps"][method] = torch.relu(terms.sum(0)).reshape(-1).tolist()
        out["magnitudes"][method] = terms.abs().sum(0).max().item()
    if case.get("activations"):
        out["activations"] = A[0].detach().reshape(-1).tolist()
    return out


def serve(answer_case):
    """The protocol of every reference script here (tests/js/support.mjs's pythonReference): a request
    {model_dir, cases} on stdin, {cases: [answer_case(models, case), ...]} on stdout."""
    request = json.load(sys.stdin)
    models = Models(request["model_dir"])
    torch.set_grad_enabled(True)
    json.dump({"cases": [answer_case(models, c) for c in request["cases"]]}, sys.stdout)
    sys.stdout.write("\n")


def main():
    serve(answer)


if __name__ == "__main__":
    main()
