#!/usr/bin/python3
"""The PyTorch reference for AblationCAM, ShapleyCAM and FullGrad
(tests/js/methods_ablation_crosscheck.test.mjs), written from pytorch-grad-cam's definitions
(ablation_cam.py + ablation_layer.py, shapley_cam.py, fullgrad_cam.py) with autograd, not imported.

    /usr/bin/python3 tools/reference_ablation.py < request.json > answer.json

request: {"model_dir": OUTDIR, "cases": [{"model": "resnet18", "input": [flat NCHW floats],
          "input_shape": [1,3,224,224], "node": "<ONNX node name>", "target": <class index>,
          "score": "logit" | "probability", "methods": ["ablationcam", "shapleycam", "fullgrad"]}]}
answer:  {"cases": [{"logits": [...], "probabilities": [...], "shape": [H, W] (the node's),
          "maps": {"ablationcam": [H*W], "fullgrad": [IH*IW], ...}, "magnitudes": {...}}]}

The models and the manifest's node -> module pairing are tools/onnx_reference.py's (Models). The
score is the target's logit (ClassifierOutputTarget) or its softmax probability. Maps are what the
engine returns (engine/src/methods/ablation_cam.cpp, shapley_cam.cpp, full_grad.cpp): before the
final min-max scaling pytorch-grad-cam applies for display, summed in float64:
    ablationcam  ReLU(sum_k w_k A_k), w_k = (y - y_k) / y, y_k the score with channel k of A set to
                 AblationLayer's value (0 if min A == 0, else min A - 1e7)
    shapleycam   ReLU(sum_k mean_hw(G - H A / 2)_k A_k), G = dy/dA, H A = d(G . A)/dA by autograd
    fullgrad     sum over the input's channels and every Conv2d / BatchNorm2d channel of
                 scale(|x dy/dx|) and upsample(scale(|b_c dy/dz_c|)), scale(t) = (t - min) /
                 (1e-7 + max - min), upsample bilinear with half-pixel centres (cv2.resize)
A map's magnitude is the largest sum of the absolute terms at one position (as onnx_reference.py).
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_reference import Models, serve  # noqa: E402

ABLATION_BATCH = 64


def score_of(logits, target, score):
    logits = logits.reshape(logits.shape[0], -1)
    if score == "probability":
        return torch.softmax(logits, dim=1)[:, target]
    return logits[:, target]


def run_with(model, entry, x, module, replace=None, keep=None):
    """The model's logits with `module`'s output kept (keep) or replaced (replace: the tensor
    the rest of the network sees instead)."""

    def hook(_module, _inputs, output):
        if keep is not None:
            keep.append(output)
        if replace is not None:
            return replace
        return output.clone()  # torchvision's `out += identity` would otherwise overwrite it

    handle = module.register_forward_hook(hook)
    try:
        return model.logits(x) if entry["output"] == "probabilities" else model(x)
    finally:
        handle.remove()


def ablation_cam(model, entry, x, module, target, score):
    kept = []
    with torch.no_grad():
        y = score_of(run_with(model, entry, x, module, keep=kept), target, score)[0]
        A = kept[0]
        value = 0.0 if A.min().item() == 0.0 else A.min().item() - 1e7
        C = A.shape[1]
        scores = []
        for first in range(0, C, ABLATION_BATCH):
            ks = range(first, min(C, first + ABLATION_BATCH))
            batch = A.repeat(len(ks), 1, 1, 1)
            for row, k in enumerate(ks):
                batch[row, k] = value
            scores.append(score_of(run_with(model, entry, x, module, replace=batch), target, score))
        scores = torch.cat(scores)
    w = (y.double() - scores.double()) / y.double()
    return w[:, None, None] * A[0].double()


def shapley_cam(model, entry, x, module, target, score):
    kept = []
    x = x.clone().requires_grad_(True)
    y = score_of(run_with(model, entry, x, module, keep=kept), target, score)[0]
    A = kept[0]
    (G,) = torch.autograd.grad(y, A, create_graph=True)
    # Through ReLUs, convs and pools alone (the logit of a ReLU net) G is piecewise constant in A:
    # autograd then leaves G without a graph, and the Hessian term is 0.
    hvp = None
    if G.requires_grad:
        (hvp,) = torch.autograd.grad(G, A, grad_outputs=A.detach(), allow_unused=True)
    if hvp is None:
        hvp = torch.zeros_like(A)
    w = (G.detach()[0].double() - 0.5 * hvp.detach()[0].double()).mean(dim=(1, 2))
    return w[:, None, None] * A[0].detach().double()


def scale_channels(t):
    """(t - min) / (1e-7 + max - min) per channel of C x H x W (scale_cam_image)."""
    flat = t.reshape(t.shape[0], -1)
    lo = flat.min(dim=1).values[:, None, None]
    t = t - lo
    return t / (1e-7 + t.reshape(t.shape[0], -1).max(dim=1).values[:, None, None])


def effective_bias(layer):
    if isinstance(layer, torch.nn.BatchNorm2d):
        return layer.bias - layer.running_mean * layer.weight / torch.sqrt(layer.running_var + layer.eps)
    return layer.bias


def full_grad(model, entry, x):
    layers = [m for m in model.modules()
              if type(m) in (torch.nn.Conv2d, torch.nn.BatchNorm2d) and m.bias is not None]
    outputs = []

    def hook(_module, _inputs, output):
        outputs.append(output)
        return output.clone()

    handles = [m.register_forward_hook(hook) for m in layers]
    x = x.clone().requires_grad_(True)
    try:
        logits = model.logits(x) if entry["output"] == "probabilities" else model(x)
    finally:
        for h in handles:
            h.remove()
    if len(outputs) != len(layers):
        raise ValueError(f"{len(layers)} bias layers, {len(outputs)} outputs: a layer ran twice or not at all")
    return logits, layers, outputs, x


def full_grad_map(model, entry, x, target, score):
    logits, layers, outputs, x = full_grad(model, entry, x)
    y = score_of(logits, target, score)[0]
    grads = torch.autograd.grad(y, [x] + outputs)
    size = x.shape[2:]
    total = scale_channels((x.detach()[0] * grads[0][0]).abs().double()).sum(0)
    for layer, z_grad in zip(layers, grads[1:]):
        b = effective_bias(layer).detach().double()
        term = scale_channels((b[:, None, None] * z_grad[0].double()).abs())
        up = F.interpolate(term[None], size=size, mode="bilinear", align_corners=False)[0]
        total = total + up.sum(0)
    return total


def answer(models, case):
    model, entry = models.get(case["model"])
    shape = case.get("input_shape") or entry["input_shape"]
    if list(shape) != entry["input_shape"]:
        raise ValueError(f"{case['model']}: input_shape {shape}, the model takes {entry['input_shape']}")
    x = torch.tensor(case["input"], dtype=torch.float32).reshape(shape)
    node = next((n for n in entry["nodes"] if n["onnx_node"] == case["node"]), None)
    if node is None:
        raise ValueError(f"{case['model']}: {case['node']} is not a manifest node")
    module = model.get_submodule(node["torch_module"])
    target, score = int(case["target"]), case.get("score", "logit")
    with torch.no_grad():
        logits = run_with(model, entry, x, module).reshape(-1)
    out = {"logits": logits.tolist(), "probabilities": torch.softmax(logits.double(), 0).tolist(),
           "shape": node["shape"][2:], "maps": {}, "magnitudes": {}}
    for method in case["methods"]:
        if method == "fullgrad":
            m = full_grad_map(model, entry, x, target, score)
            out["maps"][method] = m.reshape(-1).tolist()
            out["magnitudes"][method] = m.max().item()
            continue
        terms = {"ablationcam": ablation_cam, "shapleycam": shapley_cam}[method](model, entry, x, module, target, score)
        out["maps"][method] = torch.relu(terms.sum(0)).reshape(-1).tolist()
        out["magnitudes"][method] = terms.abs().sum(0).max().item()
    return out


def main():
    serve(answer)


if __name__ == "__main__":
    main()
