#!/usr/bin/python3
"""The PyTorch reference for Captum's attributions at the input (tests/js/captum_crosscheck.test.mjs),
written from Captum's documented definitions in torch autograd (Captum itself is not needed).

    /usr/bin/python3 tools/reference_captum.py < request.json > answer.json

request: {"model_dir": OUTDIR, "cases": [{"model": "resnet18", "input": [flat NCHW floats],
          "target": <class index>, "method": "integrated-gradients" | "input-x-gradient" |
          "gradient-shap" | "deconvolution" | "occlusion", "baseline": "black" | "zero",
          "steps": n, "samples": n, "seed": s, "window": w, "stride": s}]}
answer:  {"cases": [{"logits": [...], "attribution": [flat NCHW, signed, per channel],
          "float32_gap": max |float32 attribution - float64 attribution| / max |float64 attribution|}]}

The models are tools/onnx_fixtures.py's (same code, same seeds), run in float64: in float32, PyTorch's
own rounding flips a ReLU whose input is within ~1e-6 of zero (ResNet-18's layer4.0 on the test
image), which moved its input gradient by 0.5% of the largest attribution while the engine agreed
with float64 to 1e-6. The same computation in float32 gives "float32_gap": how far PyTorch's own
float32 is from the definition on this case (on a path of ResNet-18 inputs, a few ReLUs within
float32 noise of zero), the yardstick for a float32 engine. The score is the target's logit
(for a model whose output is probabilities, the final Softmax's input). Definitions, F the score,
x the input and b the baseline (black: a black image normalised by the model's mean and std, i.e.
-mean/std; zero: Captum's default, zeros):
  integrated-gradients  Captum IntegratedGradients, method="gausslegendre" (its default):
                        (x - b) * sum_i w_i dF/dx(b + a_i (x - b)), a_i, w_i numpy's leggauss nodes
                        and weights mapped to [0, 1] (0.5 (1 + t_i), 0.5 w_i)
  input-x-gradient      Captum InputXGradient: x * dF/dx(x)
  gradient-shap         Captum GradientShap with stdevs=0: mean over samples of
                        dF/dx(b + a (x - b)) * (x - b), a drawn as the engine draws it (mt19937_64
                        seeded by `seed`; per sample one output for the baseline's index, then
                        a = (output >> 11) / 2^53) so the same points are compared
  deconvolution         Captum Deconvolution: the gradient with every nn.ReLU's backward replaced
                        by ReLU of the incoming gradient (other activations unchanged)
  occlusion             Captum Occlusion, sliding window (C, w, w), strides (C, s, s), baseline b:
                        positions at multiples of s, ceil((side - w) / s) + 1 per axis, windows cut
                        at the border; attribution = sum over windows of (F(x) - F(x occluded))
                        on the window's elements / number of windows covering the element
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from onnx_reference import Models, serve  # noqa: E402

MASK64 = (1 << 64) - 1


class MT19937_64:
    """std::mt19937_64 (its algorithm is fixed by the C++ standard)."""

    def __init__(self, seed):
        self.mt = [seed & MASK64]
        for i in range(1, 312):
            prev = self.mt[-1]
            self.mt.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK64)
        self.index = 312

    def __call__(self):
        if self.index >= 312:
            mt = self.mt
            for i in range(312):
                x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % 312] & 0x7FFFFFFF)
                xa = x >> 1
                if x & 1:
                    xa ^= 0xB5026F5AA96619E9
                mt[i] = mt[(i + 156) % 312] ^ xa
            self.index = 0
        x = self.mt[self.index]
        self.index += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & MASK64


class DeconvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.relu(x)

    @staticmethod
    def backward(ctx, grad):
        return torch.relu(grad)


def scores(model, entry, x, target):
    """The target's score for a batch of inputs."""
    out = model.logits(x) if entry["output"] == "probabilities" else model(x)
    return out[:, target]


def gradient(model, entry, x, target):
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(scores(model, entry, x, target).sum(), x)
    return g


def deconvolution(model, entry, x, target):
    relus = [m for m in model.modules() if type(m) is torch.nn.ReLU]
    saved = [m.forward for m in relus]
    for m in relus:
        m.forward = DeconvReLU.apply
    try:
        return gradient(model, entry, x, target)
    finally:
        for m, f in zip(relus, saved):
            m.forward = f


def baseline(entry, x, kind):
    if kind == "zero":
        return torch.zeros_like(x)
    if kind == "black":
        # as the engine computes it: in float32, then widened
        mean = torch.tensor(entry["mean"], dtype=torch.float32).reshape(1, -1, 1, 1)
        std = torch.tensor(entry["std"], dtype=torch.float32).reshape(1, -1, 1, 1)
        return ((torch.zeros_like(x, dtype=torch.float32) - mean) / std).to(x.dtype)
    raise ValueError(f"baseline {kind}: the reference knows black and zero")


def integrated_gradients(model, entry, x, target, b, steps):
    t, w = np.polynomial.legendre.leggauss(steps)
    total = torch.zeros_like(x)
    for alpha, weight in zip(0.5 * (1 + t), 0.5 * w):
        point = b + float(np.float32(alpha)) * (x - b)  # the engine's alpha is a float
        total += weight * gradient(model, entry, point, target)
    return (x - b) * total


def gradient_shap(model, entry, x, target, b, samples, seed):
    rng = MT19937_64(seed)
    total = torch.zeros_like(x)
    for _ in range(samples):
        rng()  # the baseline's index: one baseline here
        alpha = np.float32((rng() >> 11) / 2.0**53)
        point = b + float(alpha) * (x - b)
        total += gradient(model, entry, point, target) * (x - b)
    return total / samples


def occlusion(model, entry, x, target, b, window, stride):
    _, c, h, w = x.shape
    rows = -(-(h - window) // stride) + 1
    cols = -(-(w - window) // stride) + 1
    with torch.no_grad():
        original = scores(model, entry, x, target)[0]
        total = torch.zeros_like(x)
        count = torch.zeros_like(x)
        for r in range(rows):
            for q in range(cols):
                mask = torch.zeros_like(x)
                mask[:, :, r * stride:r * stride + window, q * stride:q * stride + window] = 1
                occluded = x * (1 - mask) + b * mask
                drop = original - scores(model, entry, occluded, target)[0]
                total += drop * mask
                count += mask
    return total / count


def attribution(models, case, dtype):
    model, entry = models.get(case["model"], dtype)
    x = torch.tensor(case["input"], dtype=dtype).reshape(entry["input_shape"])
    target = int(case["target"])
    method = case["method"]
    b = baseline(entry, x, case.get("baseline", "zero" if method == "occlusion" else "black"))
    if method == "integrated-gradients":
        a = integrated_gradients(model, entry, x, target, b, int(case.get("steps", 50)))
    elif method == "input-x-gradient":
        a = x * gradient(model, entry, x, target)
    elif method == "gradient-shap":
        a = gradient_shap(model, entry, x, target, b, int(case.get("samples", 5)), int(case.get("seed", 1)))
    elif method == "deconvolution":
        a = deconvolution(model, entry, x, target)
    elif method == "occlusion":
        a = occlusion(model, entry, x, target, b, int(case["window"]), int(case["stride"]))
    else:
        raise ValueError(f"unknown method {method}")
    with torch.no_grad():
        logits = (model.logits(x) if entry["output"] == "probabilities" else model(x)).reshape(-1)
    return logits, a.reshape(-1).double()


def answer(models, case):
    logits, a = attribution(models, case, torch.float64)
    _, a32 = attribution(models, case, torch.float32)
    gap = ((a32 - a).abs().max() / a.abs().max()).item()
    return {"logits": logits.tolist(), "attribution": a.tolist(), "float32_gap": gap}


def main():
    serve(answer)


if __name__ == "__main__":
    main()
