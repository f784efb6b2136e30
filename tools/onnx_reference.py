#!/usr/bin/python3
"""The PyTorch reference for the engine's ONNX cross-check (tests/js/onnx_crosscheck.test.mjs).

    /usr/bin/python3 tools/onnx_reference.py < request.json > answer.json

request: {"model_dir": OUTDIR, "cases": [{"model": "resnet18", "input": [flat NCHW floats],
          "input_shape": [1,3,224,224], "node": "<ONNX node name>", "target": <class index>,
          "methods": ["gradcam", "hirescam", "layercam"], "activations": false, "conditioning": 1e-6,
          "draws": 2}]}
answer:  {"cases": [{"logits": [...], "probabilities": [...], "shape": [H, W],
          "maps": {"gradcam": [H*W, row-major], ...}, "magnitudes": {"gradcam": m, ...},
          "activations": [C*H*W, NCHW] (if asked),
          "movement": {"gradcam": d, ...}, "exact": {"gradcam": [H*W], ...},
          "exact_probabilities": [...], "probability_movement": d (if "conditioning" is given,
          see movement()),
          "module": "<torch module>"}]}

Each model is rebuilt from the script that wrote OUTDIR (tools/onnx_fixtures.py, or
tools/onnx_zoo.py for the zoo: same code, same seeds) in float32; the ONNX node is found in
OUTDIR/manifest.json, which names the torch module whose forward output is that node's output
(and its layout: a transformer's tokens are read as the grid they came from, see as_grid). A
forward hook keeps that output A (C x H x W); the score is the target's logit (for a model whose
output is probabilities, the final Softmax's input: AllOps.logits), and autograd gives
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
import onnx_zoo  # noqa: E402


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
            manifest = json.load(f)
        self.manifest = manifest["models"]
        # The zoo's models (tools/onnx_zoo.py) read back the batch-norm statistics their export used;
        # they are big and asked for one after another, so only the last one asked for is kept.
        self.zoo = manifest.get("generator") == "tools/onnx_zoo.py"
        if self.zoo:
            self.build = lambda name: onnx_zoo.build_model(name, model_dir)
        else:
            self.build = onnx_fixtures.build_model
        self.built = {}

    def get(self, name, dtype=torch.float32):
        """The model in float32 as exported, or in float64 for a reference without float32 rounding."""
        if (name, dtype) not in self.built:
            if name not in self.manifest:
                raise ValueError(f"{name}: not in the manifest")
            if self.zoo:
                self.built = {k: v for k, v in self.built.items() if k[0] == name}
            model = self.build(name).to(dtype)
            for p in model.parameters():
                p.requires_grad_(False)  # only the activations' gradients are needed
            self.built[(name, dtype)] = model
        return self.built[(name, dtype)], self.manifest[name]


def as_grid(t, layout):
    """A layer's output (batch dropped) as C x H x W: a transformer's tokens become the h x w grid
    they came from, as pytorch-grad-cam's reshape_transform does (ViT: [1+h*w, C], the class
    token first, dropped; Swin: [h, w, C])."""
    if layout == "nchw":
        return t
    if layout == "nhwc":
        return t.permute(2, 0, 1)
    if layout == "tokens":
        side = int(round((t.shape[0] - 1) ** 0.5))
        if side * side != t.shape[0] - 1:
            raise ValueError(f"{t.shape[0]} tokens are not a class token and a square grid")
        return t[1:].reshape(side, side, t.shape[1]).permute(2, 0, 1)
    raise ValueError(f"unknown layout {layout}")


def layer_maps(model, entry, node, x, target, methods):
    """The logits, A and G (C x H x W, float64) and the maps at `node` for input x (the model's dtype)."""
    module = model.get_submodule(node["torch_module"])
    kept = []

    def hook(_module, _inputs, output):
        kept.append(output)
        # Downstream sees a copy: torchvision's `out += identity` would otherwise overwrite A.
        return output.clone()

    x = x.detach().requires_grad_(True)  # the graph must reach A even though the weights take no gradient
    handle = module.register_forward_hook(hook)
    try:
        logits = model.logits(x) if entry["output"] == "probabilities" else model(x)
    finally:
        handle.remove()
    if len(kept) != 1:
        raise ValueError(f"{node['torch_module']} ran {len(kept)} times, expected once")
    A = kept[0]
    logits = logits.reshape(-1)
    (G,) = torch.autograd.grad(logits[target], A)
    layout = node.get("layout", "nchw")
    A64, G64 = as_grid(A[0].detach().double(), layout), as_grid(G[0].double(), layout)
    maps, magnitudes = {}, {}
    for method in methods:
        terms = cam_terms(method, A64, G64)
        maps[method] = torch.relu(terms.sum(0))
        magnitudes[method] = terms.abs().sum(0).max().item()
    return logits.detach(), A64, maps, magnitudes


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
    target = int(case["target"])
    methods = case.get("methods", ["gradcam"])
    try:
        logits, A64, maps, magnitudes = layer_maps(model, entry, node, x, target, methods)
    except ValueError as e:
        raise ValueError(f"{case['model']}: {e}") from e
    out = {
        "module": node["torch_module"],
        "logits": logits.tolist(),
        "probabilities": torch.softmax(logits.double(), 0).tolist(),
        "shape": list(A64.shape[1:]),
        "maps": {m: v.reshape(-1).tolist() for m, v in maps.items()},
        "magnitudes": magnitudes,
    }
    if case.get("activations"):
        out["activations"] = A64.float().reshape(-1).tolist()
    if case.get("conditioning"):
        out["movement"], exact, answer_moved = movement(models, case["model"], entry, node, x, target, methods,
                                                        case["conditioning"], int(case.get("draws", DRAWS)))
        out["exact"] = {m: v.reshape(-1).tolist() for m, v in exact.items()}
        out.update(answer_moved)
    return out


# Draws of the change in movement() where a request does not say ("draws"): the movement is a
# largest value, so too few draws understate it (tests/js/onnx_zoo.mjs asks for 2, and for 8 where
# a map misses by those).
DRAWS = 4


def movement(models, name, entry, node, x, target, methods, relative, draws):
    """How far the exact (float64) map moves when each input value changes by `relative` of itself,
    the largest over `draws` seeded draws of the change: a map that moves further than a tolerance
    under a change far below float32's own rounding of the input is ill-conditioned there (max-pool
    ties in flat image regions), and no float32 implementation can be held closer than that.
    Returns the movements and the exact maps themselves: where the float32 reference's own rounding
    is what moves its map (a deep network amplifies it as it does a change of the input), the
    exact map is the one to compare with. The same for the answer: the exact probabilities and
    how far the change moves them ("exact_probabilities", "probability_movement"), since a
    network that chaotic can change its top class under float32 rounding alone."""
    model64, _ = models.get(name, torch.float64)
    x64 = x.double()
    logits64, _, base, _ = layer_maps(model64, entry, node, x64, target, methods)
    probabilities = torch.softmax(logits64, 0)
    g = torch.Generator().manual_seed(1)
    moved = {m: 0.0 for m in methods}
    probability_moved = 0.0
    for _ in range(draws):
        u = torch.rand(x64.shape, generator=g, dtype=torch.float64) * 2 - 1
        logits, _, maps, _ = layer_maps(model64, entry, node, x64 * (1 + relative * u), target, methods)
        for m in methods:
            moved[m] = max(moved[m], (maps[m] - base[m]).abs().max().item())
        probability_moved = max(probability_moved, (torch.softmax(logits, 0) - probabilities).abs().max().item())
    return moved, base, {"exact_probabilities": probabilities.tolist(), "probability_movement": probability_moved}


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
