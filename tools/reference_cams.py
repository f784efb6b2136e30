#!/usr/bin/python3
"""pytorch-grad-cam's methods, written here from its source's formulas (master: base_cam.py and one
file per method), for tests/js/methods_crosscheck.test.mjs. Not imported from pytorch-grad-cam
(it is not installed, and a reference should be read, not trusted).

    /usr/bin/python3 tools/reference_cams.py < request.json > answer.json

request: {"model_dir": OUTDIR, "cases": [{"model": "resnet18", "input": [flat NCHW floats],
          "input_shape": [1,3,224,224], "node": "<ONNX node name>", "target": <class index>,
          "methods": ["gradcam++", "scorecam", ...], "eigen_smooth": false}]}
answer:  {"cases": [{"logits": [...], "shape": [H, W], "maps": {method: [H*W or the input's
          H*W, row-major]}, "magnitudes": {method: m}, "numpy_sign_agrees": {method: bool}}]}

The model and the node's torch module come from tools/onnx_fixtures.py and its manifest, as in
tools/onnx_reference.py. A forward hook keeps the module's output A (C x H x W); the score is the
target's logit (pytorch-grad-cam's ClassifierOutputTarget) and autograd gives G = dscore/dA. Every
map is what BaseCAM.compute_cam_per_layer holds before scale_cam_image: np.maximum(cam, 0) at the
layer's resolution (guided backprop: the input gradient, reduced as the engine shows it). In float64.

get_2d_projection (EigenCAM, EigenGradCAM, eigen_smooth) projects on numpy's first right singular
vector, whose sign LAPACK's arithmetic decides, not a rule. The engine's rule: the sign that makes
the projection correlate positively with the centred channel sum. The maps here follow that rule,
and numpy_sign_agrees says whether numpy's own SVD (what pytorch-grad-cam would show) happened to
give the same sign. SegEigenCAM's sign is its paper's rule (|min| > |max| flips), independent of SVD.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_reference import Models, serve  # noqa: E402

MASK = (1 << 64) - 1


def splitmix64_weights(h, w, c):
    """RandomCAM's channel weights as the engine draws them (random_channel_weights): splitmix64
    seeded with the layer's shape, 53 bits each, mapped to [-1, 1]. pytorch-grad-cam draws
    np.random.uniform(-1, 1) unseeded; the definition is the same, the draw reproducible."""
    state = (h << 40 | w << 20 | c) & MASK
    out = []
    for _ in range(c):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out.append(float(np.float32((z >> 11) * (2.0 / 9007199254740992.0) - 1.0)))
    return torch.tensor(out, dtype=torch.float64)


def projection(X):
    """get_2d_projection of X (C x H x W): centred per channel, projected on the first right
    singular vector; returns (the engine's sign, whether numpy's SVD gives the same sign)."""
    c = X.shape[0]
    M = X.reshape(c, -1).T.clone()
    M[torch.isnan(M)] = 0
    M = M - M.mean(0)
    _, _, vt = np.linalg.svd(M.numpy(), full_matrices=False)
    numpy_proj = M @ torch.from_numpy(vt[0])
    proj = numpy_proj
    if float(proj @ M.sum(1)) < 0:
        proj = -proj
    return proj.reshape(X.shape[1:]), bool(torch.equal(proj, numpy_proj))


def projected(X):
    """(map, numpy sign agrees, magnitude) of a projection."""
    p, agrees = projection(X)
    return p, agrees, float(p.abs().max())


def combine(weighted, eigen_smooth):
    """BaseCAM.get_cam_image: the weighted activations summed over channels, or projected. The
    magnitude is the largest sum of absolute terms at one position: where the terms cancel, float32
    error scales with it, not with the map's maximum."""
    if eigen_smooth:
        return projected(weighted)
    return weighted.sum(0), None, float(weighted.abs().sum(0).max())


def grad_cam_plusplus_weights(A, G, eps):
    # grad_cam_plusplus.py: Equation 19 in arXiv 1710.11063, eps = 1e-6 in the denominator.
    g2 = G ** 2
    g3 = g2 * G
    sum_a = A.sum((1, 2), keepdim=True)
    denom = 2 * g2 + sum_a * g3 + eps
    aij = torch.where(G != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(G))
    aij = torch.where(denom != 0, aij, torch.zeros_like(aij))
    return (torch.relu(G) * aij).sum((1, 2))


def layer_method(method, A, G, eigen_smooth):
    """One layer's map before ReLU, whether numpy's sign agrees (projections; else None) and its
    magnitude."""
    c, h, w = A.shape
    if method == "gradcam":  # grad_cam.py
        return combine(G.mean((1, 2))[:, None, None] * A, eigen_smooth)
    if method == "gradcam++":
        return combine(grad_cam_plusplus_weights(A, G, 1e-6)[:, None, None] * A, eigen_smooth)
    if method == "gradcam++-paper":  # the paper's Eq. 19, no eps
        return combine(grad_cam_plusplus_weights(A, G, 0.0)[:, None, None] * A, eigen_smooth)
    if method == "xgradcam":  # xgrad_cam.py
        weights = (G * A / (A.sum((1, 2), keepdim=True) + 1e-7)).sum((1, 2))
        return combine(weights[:, None, None] * A, eigen_smooth)
    if method == "hirescam":  # hirescam.py
        return combine(G * A, eigen_smooth)
    if method == "gradcam-elementwise":  # grad_cam_elementwise.py
        return combine(torch.relu(G * A), eigen_smooth)
    if method == "layercam":  # layer_cam.py
        return combine(torch.relu(G) * A, eigen_smooth)
    if method == "eigencam":  # eigen_cam.py: no gradient, eigen_smooth or not
        return projected(A)
    if method == "eigengradcam":  # eigen_grad_cam.py
        return projected(G * A)
    if method == "segeigencam":  # seg_eigen_cam.py, get_2d_projection_with_sign_correction
        p, _, m = projected(G.abs() * A)
        if abs(float(p.min())) > abs(float(p.max())):
            p = -p
        return p, None, m
    if method == "random":  # random_cam.py, with the engine's reproducible draw
        return combine(splitmix64_weights(h, w, c)[:, None, None] * A, eigen_smooth)
    raise ValueError(f"unknown method {method}")


def score_cam(model, x, A, target, eigen_smooth):
    """score_cam.py: every channel upsampled to the input (UpsamplingBilinear2d: bilinear,
    align_corners=True), min-max scaled there with 1e-8, multiplied into the input; the target's
    logit on each masked input; softmax over channels weighs A."""
    with torch.no_grad():
        up = torch.nn.functional.interpolate(A[None].float(), size=x.shape[-2:], mode="bilinear", align_corners=True)[0]
        flat = up.reshape(up.shape[0], -1)
        lo, hi = flat.min(1)[0][:, None, None], flat.max(1)[0][:, None, None]
        masks = (up - lo) / (hi - lo + 1e-8)
        scores = []
        for i in range(0, masks.shape[0], 16):
            batch = x * masks[i:i + 16, None]
            scores.append(model(batch)[:, target].double())
        weights = torch.softmax(torch.cat(scores), 0)
    return combine(weights[:, None, None] * A.double(), eigen_smooth)


class GuidedReLU(torch.autograd.Function):
    """guided_backprop.py's GuidedBackpropReLU: forward ReLU; backward passes a gradient only
    where both the input and the gradient are positive."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x > 0).type_as(grad) * (grad > 0).type_as(grad)


class GuidedReLUModule(torch.nn.Module):
    def forward(self, x):
        return GuidedReLU.apply(x)


def guided_backprop(model, x, target):
    """GuidedBackpropReLUModel: every ReLU module guided, the gradient of the target's output at
    the input; shown per pixel as the engine does, max over colours of its absolute value."""
    swapped = []
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.ReLU):
                swapped.append((parent, name, child))
                setattr(parent, name, GuidedReLUModule())
    try:
        xi = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(xi)[0, target], xi)
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)
    return g[0].double().abs().amax(0)


def answer(models, case):
    model, entry = models.get(case["model"])
    x = torch.tensor(case["input"], dtype=torch.float32).reshape(entry["input_shape"])
    node = next((n for n in entry["nodes"] if n["onnx_node"] == case["node"]), None)
    if node is None:
        raise ValueError(f"{case['model']}: {case['node']} is not a manifest node")
    module = model.get_submodule(node["torch_module"])
    kept = []

    def hook(_module, _inputs, output):
        kept.append(output)
        return output.clone()  # torchvision's `out += identity` would otherwise overwrite A

    handle = module.register_forward_hook(hook)
    try:
        logits = model(x.clone().requires_grad_(True))
    finally:
        handle.remove()
    logits = logits.reshape(-1)
    target = int(case["target"])
    (G,) = torch.autograd.grad(logits[target], kept[0])
    A64, G64 = kept[0][0].detach().double(), G[0].double()
    eigen_smooth = bool(case.get("eigen_smooth", False))
    out = {"module": node["torch_module"], "logits": logits.detach().tolist(), "shape": list(A64.shape[1:]),
           "maps": {}, "magnitudes": {}, "numpy_sign_agrees": {}}
    for method in case["methods"]:
        if method == "guided-backprop":
            cam = guided_backprop(model, x, target)
            agrees, magnitude = None, float(cam.max())
        elif method == "scorecam":
            cam, agrees, magnitude = score_cam(model, x, kept[0][0].detach(), target, eigen_smooth)
        else:
            cam, agrees, magnitude = layer_method(method, A64, G64, eigen_smooth)
        out["maps"][method] = torch.relu(cam).reshape(-1).tolist()
        out["magnitudes"][method] = magnitude
        if agrees is not None:
            out["numpy_sign_agrees"][method] = agrees
    return out


def main():
    serve(answer)


if __name__ == "__main__":
    main()
