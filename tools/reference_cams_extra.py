#!/usr/bin/python3
"""PyTorch reference for KPCA-CAM, FEM, Finer-CAM and aug_smooth (tests/js/methods_more_crosscheck.test.mjs).

    /usr/bin/python3 tools/reference_cams_extra.py < request.json > answer.json

request: {"model_dir": OUTDIR, "cases": [{"model": "resnet18", "input": [flat NCHW floats],
          "input_shape": [1,3,224,224], "node": "<ONNX node name>", "target": <class index>,
          "method": "kpcacam" | "fem" | "finercam" | "gradcam", "aug_smooth": false}]}
answer:  {"cases": [{"logits": [...], "shape": [H, W], "map": [H*W, row-major], "magnitude": m,
          "aug_gap": g (aug_smooth only)}]}

Written from pytorch-grad-cam master's definitions (not imported: neither it nor sklearn is
installed), in float64 on the float32 activations A (C x H x W) and gradients G that
tools/onnx_reference.py's models give:
  gradcam   ReLU(sum_k mean_hw(G_k) A_k)
  fem       FEM (fem.py, k = 2): w_k = mean_hw[A_k > mean(A_k) + 2 std(A_k)] (numpy's population
            std), map ReLU(sum_k w_k A_k)
  kpcacam   KPCA_CAM (svd_on_activations.get_2d_projection_kernel) = sklearn
            KernelPCA(n_components=1, kernel="sigmoid") on the positions' channel vectors, centred
            per channel: K = tanh(X X^T / C + 1) (gamma 1/n_features, coef0 1), centred as
            KernelCenterer does, top eigenpair (lambda, v) with svd_flip's sign (the entry of largest
            |v| positive), projection v sqrt(lambda); map ReLU of it
  finercam  FinerCAM with GradCAM (finer_cam.py, target_idx = target): classes sorted by
            |y_j - y_t| (np.argsort), main = the first, compared = sorted[1:4], alpha 1; the score
            FinerWeightedTarget: sum_j p_j (y_main - y_j) / (sum_j p_j + 1e-9), p = softmax(y) (not
            detached); Grad-CAM of its gradient
aug_smooth: BaseCAM.forward_augmentation_smoothing with tta.Compose([HorizontalFlip(),
  Multiply([0.9, 1, 1.1])]): per augmentation the method's map on the augmented input, ReLU,
  scale_cam_image to the input size (min-max, then bilinear resize with half-pixel centres as
  cv2.resize: torch's interpolate align_corners=False), flipped back; the six averaged. The engine
  keeps the average at layer resolution (engine/src/methods/aug_smooth.cpp): each map normalised
  by the min and max of its upsampled self. This script computes both, returns the layer-resolution
  one as "map" and, as "aug_gap", the largest difference between its upsampling and pytorch-grad-
  cam's input-resolution average (the test requires it to be ~0: the two orders agree).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_reference import Models, serve  # noqa: E402

AUGMENTATIONS = [(flip, factor) for flip in (False, True) for factor in (0.9, 1.0, 1.1)]


def layer_pass(model, entry, module, x, score):
    """Logits, A (C x H x W float64) and dscore/dA (None without a score) for input x."""
    kept = []

    def hook(_module, _inputs, output):
        kept.append(output)
        return output.clone()  # torchvision's in-place `out += identity` would overwrite A

    x = x.clone().requires_grad_(True)
    handle = module.register_forward_hook(hook)
    try:
        logits = model.logits(x) if entry["output"] == "probabilities" else model(x)
    finally:
        handle.remove()
    logits = logits.reshape(-1)
    A = kept[0]
    G = None
    if score is not None:
        (G,) = torch.autograd.grad(score(logits), A)
        G = G[0].double()
    return logits.detach(), A[0].detach().double(), G


def finer_score(target):
    def score(y):
        yd = y.detach().numpy()
        order = np.argsort(np.abs(yd - yd[target]))
        main, compared = int(order[0]), [int(order[i]) for i in (1, 2, 3)]
        p = torch.softmax(y, dim=-1)
        numerator = sum(p[j] * (y[main] - 1.0 * y[j]) for j in compared)
        return numerator / (sum(p[j] for j in compared) + 1e-9)
    return score


def fem_terms(A):
    C = A.shape[0]
    flat = A.reshape(C, -1)
    th = flat.mean(1) + 2 * flat.std(1, unbiased=False)
    w = (flat > th[:, None]).double().mean(1)
    return w[:, None, None] * A


def kpca_map(A):
    C, H, W = A.shape
    X = A.reshape(C, -1).T
    X = X - X.mean(0)
    K = torch.tanh(X @ X.T / C + 1.0)
    K = K - K.mean(0, keepdim=True) - K.mean(1, keepdim=True) + K.mean()
    values, vectors = torch.linalg.eigh(K)
    lam, v = values[-1], vectors[:, -1]
    if not lam > 0:
        return torch.zeros(H, W, dtype=torch.float64), 0.0
    v = v * torch.sign(v[torch.argmax(v.abs())])
    proj = v * torch.sqrt(lam)
    return torch.relu(proj).reshape(H, W), proj.abs().max().item()


def method_map(method, model, entry, module, x, target):
    """The method's map after ReLU at layer resolution, its magnitude, and the logits."""
    if method == "gradcam":
        logits, A, G = layer_pass(model, entry, module, x, lambda y: y[target])
        terms = G.mean(dim=(1, 2), keepdim=True) * A
    elif method == "finercam":
        logits, A, G = layer_pass(model, entry, module, x, finer_score(target))
        terms = G.mean(dim=(1, 2), keepdim=True) * A
    elif method == "fem":
        logits, A, _ = layer_pass(model, entry, module, x, None)
        terms = fem_terms(A)
    elif method == "kpcacam":
        logits, A, _ = layer_pass(model, entry, module, x, None)
        m, magnitude = kpca_map(A)
        return m, magnitude, logits
    else:
        raise ValueError(f"unknown method {method}")
    return torch.relu(terms.sum(0)), terms.abs().sum(0).max().item(), logits


def upsample(m, size):
    return F.interpolate(m[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]


def aug_smoothed(method, model, entry, module, x, target):
    size = tuple(x.shape[-2:])
    at_input, at_layer = [], []
    for flip, factor in AUGMENTATIONS:
        xa = (torch.flip(x, dims=[-1]) if flip else x) * factor
        m, _, _ = method_map(method, model, entry, module, xa, target)
        up = upsample(m, size)
        lo, span = up.min(), up.max() - up.min()
        scaled = (up - up.min()) / (1e-7 + span)  # scale_cam_image: img - min, / (1e-7 + max)
        small = (m - lo) / (1e-7 + span)
        at_input.append(torch.flip(scaled, dims=[-1]) if flip else scaled)
        at_layer.append(torch.flip(small, dims=[-1]) if flip else small)
    reference = torch.stack(at_input).mean(0)
    layer = torch.stack(at_layer).mean(0)
    gap = (upsample(layer, size) - reference).abs().max().item()
    return layer, 1.0, gap


def answer(models, case):
    model, entry = models.get(case["model"])
    x = torch.tensor(case["input"], dtype=torch.float32).reshape(entry["input_shape"])
    node = next((n for n in entry["nodes"] if n["onnx_node"] == case["node"]), None)
    if node is None:
        raise ValueError(f"{case['model']}: {case['node']} is not a manifest node")
    module = model.get_submodule(node["torch_module"])
    target = int(case["target"])
    m, magnitude, logits = method_map(case["method"], model, entry, module, x, target)
    out = {"logits": logits.tolist()}
    if case.get("aug_smooth"):
        m, magnitude, out["aug_gap"] = aug_smoothed(case["method"], model, entry, module, x, target)
    out.update({"shape": list(m.shape), "map": m.reshape(-1).tolist(), "magnitude": magnitude})
    return out


def main():
    serve(answer)


if __name__ == "__main__":
    main()
