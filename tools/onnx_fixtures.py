#!/usr/bin/python3
"""ONNX fixtures for the engine's cross-check against PyTorch (tests/js/onnx_crosscheck.test.mjs).

    /usr/bin/python3 tools/onnx_fixtures.py OUTDIR [--if-stale]

writes OUTDIR/{resnet18,mobilenet_v2,squeezenet1_1,shufflenet_v2_x0_5,vit_tiny,swin_tiny,allops,shapes_13,shapes_17,math_14,math_17,
attention_14}.onnx,
OUTDIR/probe/<model>.onnx (the same graph with every checked node's output added as a graph
output, so onnxruntime can show the activations the manifest pairs with torch modules) and OUTDIR/manifest.json (input shape,
normalisation, opset, and the nodes to check, each paired with the torch module whose forward
output equals that node's output).

No weights are downloaded: every model is built here from fixed seeds (build_model, which
tools/onnx_reference.py imports, so the reference and the files agree). BatchNorm running
statistics are measured on seeded noise and then perturbed, so BN is neither the identity nor a
blow-up and the deep layers' activations (and maps) stay in a sane range.

allops.onnx is a small net that holds every op the engine's ONNX importer promises to read, at
opset 14: PyTorch 1.13 writes nn.Hardswish as HardSigmoid + Mul at opset 13 and as one HardSwish
node from 14 on. Two edits follow the export (see edit_allops): PyTorch 1.13 leaves F.pad's pads
as an unfolded Constant/ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast chain (its constant
folding skips the Slice with step -1 that reverses the pads), which we fold into one Constant, as
onnx-simplifier would; and an eval-mode export drops
nn.Dropout and nn.Identity, which we put back as Dropout and Identity nodes where the modules sit
(older PyTorch and tf2onnx do write them). The torchvision nets are exported at opset 13 as they
come from PyTorch, untouched.

vit_tiny.onnx is torchvision's VisionTransformer made small (tiny_vit), exported at opset 14 with
autograd on (see MODELS); its checked nodes are token layers, which the manifest marks with
"layout": "tokens" so that the reference reads them as the grid after the class token.
swin_tiny.onnx is torchvision's SwinTransformer made small (tiny_swin), at opset 14; its nodes are
[1,h,w,C] grids ("layout": "nhwc").
"""
import argparse
import hashlib
import io
import json
import os
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import helper, numpy_helper

# edit_allops folds what this warning is about.
warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")

SEED = 20240611
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# Every op the engine's ONNX importer reads; allops.onnx must hold exactly these.
ALLOPS_OPS = {
    "Conv", "Gemm", "MatMul", "Add", "Mul", "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid",
    "HardSwish", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "ReduceMean", "Flatten",
    "Reshape", "BatchNormalization", "Pad", "Dropout", "Identity", "Softmax", "Constant",
}


class AllOps(nn.Module):
    """Every op of ALLOPS_OPS on a [1,3,32,32] input, 10 classes; returns probabilities (Softmax).

    Shapes: pad 33x35, stem (stride 2) 16x17, maxpool (ceil) 9x9, avg_incl (stride 2) 5x5. Each
    module whose output the manifest checks is called exactly once (hooks fire once).
    """

    def __init__(self, classes=10):
        super().__init__()
        self.pad = nn.ZeroPad2d((1, 2, 0, 1))                       # Pad: left 1, right 2, top 0, bottom 1
        self.stem = nn.Conv2d(3, 16, 3, stride=2)                   # Conv stride 2, no padding
        self.stem_bn = nn.BatchNorm2d(16)                           # folded into the Conv
        self.stem_act = nn.LeakyReLU(0.1)                           # LeakyRelu
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)        # depthwise
        self.dw_bn = nn.BatchNorm2d(16)
        self.dw_act = nn.ReLU6()                                    # Clip(0, 6)
        self.grouped = nn.Conv2d(16, 32, 3, padding=2, dilation=2, groups=4)  # grouped, dilated
        self.grouped_bn = nn.BatchNorm2d(32)
        self.grouped_act = nn.Hardswish()                           # HardSwish (opset 14)
        self.se = SqueezeExcite(32, 8)                              # GlobalAveragePool, Sigmoid, Mul [1,C,1,1]
        self.residual = Residual(32)                                # Add of two 4-D tensors
        self.scale = nn.Parameter(torch.empty(1, 32, 1, 1))         # Mul by a per-channel constant
        self.shift = nn.Parameter(torch.empty(1, 32, 1, 1))         # Add of a per-channel constant
        self.res_act = nn.ReLU()
        self.loose_bn = nn.BatchNorm2d(32)                          # after a ReLU: kept as BatchNormalization
        self.branches = Branches(32)                                # Concat along channels, HardSigmoid
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.avg_excl = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.mix = nn.Conv2d(48, 48, 1)
        self.mix_act = nn.ReLU()
        self.avg_incl = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
        self.head_conv = nn.Conv2d(48, 4, 1)
        self.dropout = nn.Dropout(0.25)                             # dropped by the exporter, put back
        self.fc = nn.Linear(4 * 5 * 5, classes)                     # Gemm after Flatten
        self.proj = nn.Parameter(torch.empty(48, classes))          # MatMul, no bias, after ReduceMean + Reshape
        self.identity = nn.Identity()                               # dropped by the exporter, put back
        self.softmax = nn.Softmax(dim=1)
        with torch.no_grad():
            self.scale.uniform_(0.5, 1.5)
            self.shift.normal_(0.0, 0.1)
            self.proj.normal_(0.0, 0.3)

    def logits(self, x):
        x = self.stem_act(self.stem_bn(self.stem(self.pad(x))))
        x = self.dw_act(self.dw_bn(self.dw(x)))
        x = self.grouped_act(self.grouped_bn(self.grouped(x)))
        x = self.se(x)
        x = self.residual(x)
        x = self.loose_bn(self.res_act(x * self.scale + self.shift))
        x = self.branches(x)
        x = self.avg_excl(self.maxpool(x))
        x = self.avg_incl(self.mix_act(self.mix(x)))
        a = self.fc(self.dropout(torch.flatten(self.head_conv(x), 1)))
        b = x.mean((2, 3), keepdim=True).reshape(1, -1) @ self.proj
        return self.identity(a + b)

    def forward(self, x):
        return self.softmax(self.logits(x))


class SqueezeExcite(nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.expand(self.act(self.reduce(s))))


class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        return x + self.conv(x)


class Branches(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.a = nn.Conv2d(channels, 16, 1)
        self.a_act = nn.ReLU()
        self.b = nn.Conv2d(channels, 32, 3, padding=1)
        self.b_act = nn.Hardsigmoid()

    def forward(self, x):
        return torch.cat([self.a_act(self.a(x)), self.b_act(self.b(x))], 1)


class Shapes(nn.Module):
    """The shape arithmetic PyTorch exports around a classifier, which the engine folds when the
    model loads, on a [1,3,32,32] input, 10 classes (exported as shapes_13 and shapes_17):
    `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze, Concat, Reshape), the same with the size
    computed by integer arithmetic (Div, Mul), `torch.flatten(x, 1)`,
    `F.adaptive_avg_pool2d(x, 1).reshape(x.shape[0], -1)`, and a per-class bias chosen by a mask
    built from the logits' own shape (Range, Mod, Equal, ConstantOfShape, Where, Expand).
    """

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stem_act = nn.ReLU()
        self.body = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.body_act = nn.ReLU()
        self.pool = nn.AvgPool2d(4)                      # 16x16 -> 4x4
        self.fc_view = nn.Linear(16 * 4 * 4, classes)
        self.fc_size = nn.Linear(16 * 4 * 4, classes)
        self.fc_flatten = nn.Linear(16, classes)
        self.fc_reshape = nn.Linear(16, classes)
        self.even_bias = nn.Parameter(torch.linspace(-0.5, 0.5, classes))

    def forward(self, x):
        x = self.body_act(self.body(self.stem_act(self.stem(x))))
        p = self.pool(x)
        a = self.fc_view(p.view(p.size(0), -1))
        b = self.fc_size(p.view(p.size(0), p.size(1) // 2 * 2 * p.size(2) * p.size(3)))
        c = self.fc_flatten(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        d = self.fc_reshape(F.adaptive_avg_pool2d(x, 1).reshape(x.shape[0], -1))
        logits = a + b + c + d
        k = torch.arange(logits.size(1))
        even = torch.eq(torch.remainder(k, 2), 0)
        bias = torch.where(even, self.even_bias, torch.zeros(logits.size(1)))
        return logits + bias.unsqueeze(0).expand(logits.size(0), -1)


class MathOps(nn.Module):
    """Arithmetic on values of any rank (issue 26), on a [1,3,32,32] input, 10 classes (exported as
    math_14 and math_17): ConvNeXt's LayerNorm2d written out over the channels (ReduceMean, Sub,
    Pow, Add, Sqrt, Div, then a per-channel Mul and Add), exact GELU (Div, Erf, Add, Mul), a Softmax
    along the width inside the graph, a LayerNorm over the last axis of a [1,16,16] rows value (one
    LayerNormalization node at opset 17, the decomposed form at 14), a layer scale, ReduceSum over
    height and width and over one axis of rows.
    """

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)   # 32x32 -> 16x16
        self.ln_weight = nn.Parameter(1 + 0.2 * torch.randn(8))
        self.ln_bias = nn.Parameter(0.1 * torch.randn(8))
        self.gelu = nn.GELU()
        self.body = nn.Conv2d(8, 8, 3, padding=1)
        self.row_norm = nn.LayerNorm(16)
        with torch.no_grad():
            self.row_norm.weight.copy_(1 + 0.2 * torch.randn(16))
            self.row_norm.bias.copy_(0.1 * torch.randn(16))
        self.layer_scale = nn.Parameter(0.5 + torch.rand(16))
        self.fc = nn.Linear(8, classes)
        self.fc_rows = nn.Linear(16, classes)

    def forward(self, x):
        x = self.stem(x)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + 1e-6)
        x = self.ln_weight[:, None, None] * x + self.ln_bias[:, None, None]
        x = self.body(self.gelu(x))
        y = x * torch.softmax(x, dim=3)
        r = self.row_norm(y.mean(1)) * self.layer_scale
        return self.fc(y.sum(dim=(2, 3))) + self.fc_rows(torch.sigmoid(r).sum(2))


class WindowAttention(nn.Module):
    """MaxViT's attention made small (exported as attention_14), on a [1,3,32,32] input, 10 classes:
    q, k and v from one 1x1 conv over a [1,16,16,16] map, split into 2 heads of 8 channels and 4
    windows of 64 positions ([1,4,2,64,8]), multiplied with torch.einsum in MaxViT's own spaced
    capitals (two Einsum nodes), a constant banded mask applied with masked_fill (a Where with a
    constant condition and a constant fill), a Softmax, the windows put back, a torch.where with a
    constant per-channel condition choosing between the attention and its input (a Where of two
    activations), a 1x1 projection, and MaxViT's classifier Tanh.
    """

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)   # 32x32 -> 16x16
        self.qkv = nn.Conv2d(16, 48, 1)
        self.proj = nn.Conv2d(16, 16, 1)
        i = torch.arange(64)
        self.register_buffer("far", (i[:, None] - i[None, :]).abs() > 40)       # [64, 64]
        self.register_buffer("keep", (torch.arange(16) % 3 != 0).view(1, 16, 1, 1))
        self.fc = nn.Linear(16, 32)
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        x = self.stem(x)
        q, k, v = self.qkv(x).chunk(3, dim=1)

        def windows(t):  # [1,16,16,16] -> [1, G=4, heads=2, 64, 8]
            return t.reshape(1, 2, 8, 4, 64).permute(0, 3, 1, 4, 2)

        q, k, v = windows(q), windows(k), windows(v)
        attn = torch.einsum("B G H I D, B G H J D -> B G H I J", q, k) * 8 ** -0.5
        attn = torch.softmax(attn.masked_fill(self.far, -1e4), dim=-1)
        out = torch.einsum("B G H I J, B G H J D -> B G H I D", attn, v)
        out = out.permute(0, 2, 4, 1, 3).reshape(1, 16, 16, 16)
        y = self.proj(torch.where(self.keep, out, x))
        return self.head(torch.tanh(self.fc(y.mean(dim=(2, 3)))))


def tiny_vit(classes=10):
    """torchvision's VisionTransformer, small: a 32x32 input in 8x8 patches (a 4x4 grid and the
    class token: [1,17,32] tokens), 2 blocks, 2 heads, hidden 32, MLP 64. Its head starts at zero
    and its LayerNorms as the identity (torchvision's init), which would make every gradient 0 and
    hide a wrong affine: both are drawn here from the fixed seed, and so is the class token."""
    from torchvision.models.vision_transformer import VisionTransformer
    m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
                          num_classes=classes)
    with torch.no_grad():
        nn.init.normal_(m.heads.head.weight, std=0.2)
        nn.init.normal_(m.heads.head.bias, std=0.1)
        nn.init.normal_(m.class_token, std=0.5)
        for ln in (x for x in m.modules() if isinstance(x, nn.LayerNorm)):
            ln.weight.copy_(1 + 0.2 * torch.randn_like(ln.weight))
            ln.bias.copy_(0.1 * torch.randn_like(ln.bias))
    return m


def tiny_swin(classes=10):
    """torchvision's SwinTransformer, small: a 32x32 input in 4x4 patches, two stages of two blocks
    (an 8x8 grid of 16 channels, then 4x4 of 32), 2x2 windows. The windows are smaller than each
    stage's grid, so every second block shifts (torch.roll) and masks its attention across the
    wrapped edges: the paths Swin adds to a ViT. LayerNorms and the head are drawn from the fixed
    seed, as in tiny_vit, so that a wrong affine shows."""
    from torchvision.models.swin_transformer import SwinTransformer
    m = SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=[2, 2],
                        num_classes=classes)
    with torch.no_grad():
        nn.init.normal_(m.head.weight, std=0.2)
        nn.init.normal_(m.head.bias, std=0.1)
        for ln in (x for x in m.modules() if isinstance(x, nn.LayerNorm)):
            ln.weight.copy_(1 + 0.2 * torch.randn_like(ln.weight))
            ln.bias.copy_(0.1 * torch.randn_like(ln.bias))
    return m


# name -> how to build it, its input and normalisation, the opset, and the nodes to check, each
# (ONNX node name, torch module path whose forward output equals that node's output).
MODELS = {
    "resnet18": {
        "build": lambda: torchvision.models.resnet18(),
        "input_shape": [1, 3, 224, 224], "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "opset": 13,
        "output": "logits",
        "nodes": [
            ("/relu/Relu", "relu"),
            ("/maxpool/MaxPool", "maxpool"),
            ("/layer1/layer1.0/relu_1/Relu", "layer1.0"),
            ("/layer2/layer2.1/relu_1/Relu", "layer2.1"),
            ("/layer3/layer3.0/conv1/Conv", "layer3.0.bn1"),   # Conv with layer3.0.bn1 folded in
            ("/layer3/layer3.1/relu_1/Relu", "layer3.1"),
            ("/layer4/layer4.1/conv2/Conv", "layer4.1.bn2"),   # before the residual Add
            ("/layer4/layer4.1/relu_1/Relu", "layer4.1"),
        ],
    },
    "mobilenet_v2": {
        "build": lambda: torchvision.models.mobilenet_v2(),
        "input_shape": [1, 3, 224, 224], "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "opset": 13,
        "output": "logits",
        "nodes": [
            ("/features/features.0/features.0.2/Clip", "features.0"),
            ("/features/features.2/conv/conv.1/conv.1.0/Conv", "features.2.conv.1.1"),  # depthwise, stride 2
            ("/features/features.5/Add", "features.5"),
            ("/features/features.10/Add", "features.10"),
            ("/features/features.14/conv/conv.1/conv.1.2/Clip", "features.14.conv.1"),  # after a depthwise
            ("/features/features.16/Add", "features.16"),
            ("/features/features.17/conv/conv.2/Conv", "features.17"),  # projection, no residual
            ("/features/features.18/features.18.2/Clip", "features.18"),
        ],
    },
    "squeezenet1_1": {
        "build": lambda: torchvision.models.squeezenet1_1(),
        "input_shape": [1, 3, 224, 224], "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "opset": 13,
        "output": "logits",
        "nodes": [
            ("/features/features.1/Relu", "features.1"),
            ("/features/features.2/MaxPool", "features.2"),      # ceil_mode=True
            ("/features/features.4/Concat", "features.4"),
            ("/features/features.7/Concat", "features.7"),
            ("/features/features.12/Concat", "features.12"),
            ("/classifier/classifier.2/Relu", "classifier.2"),
        ],
    },
    # Channel shuffle: a 5-D Reshape and a Transpose; chunk(2, dim=1): Slices whose bounds fold
    # from Shape/Gather/Div. The nodes: stage 4's branches before their Concat (every gradient
    # there has passed through shuffles and chunks), the last conv. Not earlier stages: with these
    # weights their maps are ill-conditioned (a 1e-6 relative change of the input moves stage 2's
    # HiResCAM by 9e-3 of its maximum), so they cannot be held to CAM_TOL.
    "shufflenet_v2_x0_5": {
        "build": lambda: torchvision.models.shufflenet_v2_x0_5(),
        "input_shape": [1, 3, 224, 224], "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "opset": 14,
        "output": "logits",
        "nodes": [
            ("/stage4/stage4.0/branch1/branch1.4/Relu", "stage4.0.branch1"),
            ("/stage4/stage4.1/branch2/branch2.7/Relu", "stage4.1.branch2"),
            ("/stage4/stage4.3/branch2/branch2.7/Relu", "stage4.3.branch2"),
            ("/conv5/conv5.2/Relu", "conv5"),
        ],
    },
    "allops": {
        "build": lambda: AllOps(),
        "input_shape": [1, 3, 32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "opset": 14,
        "output": "probabilities",   # the logits are the final Softmax's input (AllOps.logits)
        "nodes": [
            ("/pad/Pad", "pad"),
            ("/stem_act/LeakyRelu", "stem_act"),
            ("/dw/Conv", "dw_bn"),                               # depthwise, BN folded
            ("/dw_act/Clip", "dw_act"),
            ("/grouped_act/HardSwish", "grouped_act"),
            ("/se/Mul", "se"),
            ("/residual/Add", "residual"),
            ("/loose_bn/BatchNormalization", "loose_bn"),
            ("/branches/Concat", "branches"),
            ("/maxpool/MaxPool", "maxpool"),
            ("/avg_excl/AveragePool", "avg_excl"),
            ("/avg_incl/AveragePool", "avg_incl"),
            ("/head_conv/Conv", "head_conv"),
        ],
    },
    # The same network at two opsets (Unsqueeze's axes are an input from opset 13, Shape takes
    # start/end from 15), with a dynamic batch as people export for serving: PyTorch then keeps the
    # shape arithmetic. shapes_17 is exported without PyTorch's own constant folding, so every
    # constant chain reaches the engine unfolded.
    **{f"shapes_{opset}": {
        "build": lambda: Shapes(),
        "input_shape": [1, 3, 32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "opset": opset,
        "dynamic_batch": True, "constant_folding": opset == 13,
        "output": "logits",
        "nodes": [
            ("/stem_act/Relu", "stem_act"),
            ("/body/Conv", "body"),
            ("/body_act/Relu", "body_act"),
            ("/pool/AveragePool", "pool"),
        ],
    } for opset in (13, 17)},
    # ViT's tokens ([1,17,32]: the class token, then a 4x4 grid), read as pytorch-grad-cam's
    # reshape_transform reads them (layout "tokens"). The default layer, the last block's ln_1
    # (LayerNorm written out at opset 14: its last node is Add_1), the first block's ln_1 and its
    # output. Exported with autograd on: under torch.no_grad() torch 1.13's attention takes a fused
    # path that has no ONNX export.
    "vit_tiny": {
        "build": lambda: tiny_vit(),
        "input_shape": [1, 3, 32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "opset": 14,
        "output": "logits", "layout": "tokens", "export_with_grad": True,
        "default_layer": "/encoder/layers/encoder_layer_1/ln_1/Add_1",
        "nodes": [
            ("/encoder/layers/encoder_layer_0/ln_1/Add_1", "encoder.layers.encoder_layer_0.ln_1"),
            ("/encoder/layers/encoder_layer_0/Add_1", "encoder.layers.encoder_layer_0"),
            ("/encoder/layers/encoder_layer_1/ln_1/Add_1", "encoder.layers.encoder_layer_1.ln_1"),
        ],
    },
    # Swin's blocks keep the grid, [1, h, w, C] (layout "nhwc"). The default layer, the last
    # block's norm1 (pytorch-grad-cam's choice for Swin, as in tools/onnx_zoo.py), the first
    # block's norm1 and the first stage's output (after its shifted block).
    "swin_tiny": {
        "build": lambda: tiny_swin(),
        "input_shape": [1, 3, 32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "opset": 14,
        "output": "logits", "layout": "nhwc",
        "default_layer": "/features/features.3/features.3.1/norm1/Add_1",
        "nodes": [
            ("/features/features.1/features.1.0/norm1/Add_1", "features.1.0.norm1"),
            ("/features/features.1/features.1.1/Add_1", "features.1.1"),
            ("/features/features.3/features.3.1/norm1/Add_1", "features.3.1.norm1"),
        ],
    },
    **{f"math_{opset}": {
        "build": lambda: MathOps(),
        "input_shape": [1, 3, 32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "opset": opset,
        "output": "logits",
        "nodes": [
            ("/stem/Conv", "stem"),
            ("/gelu/Mul_1", "gelu"),
            ("/body/Conv", "body"),
        ],
    } for opset in (14, 17)},
    # Einsum, Where and Tanh (MaxViT's ops) at MaxViT's opset.
    "attention_14": {
        "build": lambda: WindowAttention(),
        "input_shape": [1, 3, 32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "opset": 14,
        "output": "logits",
        "nodes": [
            ("/stem/Conv", "stem"),
            ("/proj/Conv", "proj"),
        ],
    },
}


def randomise_batchnorm(model, input_shape, seed):
    """Gives every BatchNorm non-trivial statistics and affine parameters (fresh ones are the
    identity, mean 0 var 1 weight 1 bias 0, which would hide a wrong folding or a skipped BN).

    The running statistics are first measured on seeded noise, so each BN roughly normalises what
    it really sees (random statistics alone make a deep net's activations vanish or explode),
    then perturbed. The values are rounded to bfloat16, so they do not depend on the last bits of
    this CPU's conv kernels and the fixture and the reference (which rebuilds the model) agree.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    g = torch.Generator().manual_seed(seed)
    for m in bns:
        m.reset_running_stats()
        m.momentum = None   # a cumulative average over the calibration batches
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one summation order for the measured statistics
    try:
        model.train()
        with torch.no_grad():
            for _ in range(4):  # batches of one: AllOps reshapes to (1, -1)
                model(torch.randn(*input_shape, generator=g))
    finally:
        torch.set_num_threads(threads)
        model.eval()

    def bf16(t):
        return t.to(torch.bfloat16).to(torch.float32)

    with torch.no_grad():
        for m in bns:
            c = m.num_features
            m.running_mean.copy_(bf16(m.running_mean + 0.1 * torch.randn(c, generator=g)))
            m.running_var.copy_(bf16(m.running_var.clamp_min(1e-3) * (0.8 + 0.4 * torch.rand(c, generator=g))))
            m.weight.copy_(bf16(0.6 + 0.8 * torch.rand(c, generator=g)))
            m.bias.copy_(bf16(0.2 * torch.randn(c, generator=g)))
        for m in bns:
            m.momentum = 0.1


def build_model(name):
    """The model `name` in eval mode, float32, with this file's fixed weights."""
    spec = MODELS[name]
    torch.manual_seed(SEED)
    model = spec["build"]()
    randomise_batchnorm(model, spec["input_shape"], SEED + 1)
    for m in model.modules():
        # In-place activations would overwrite the activations a reference hook keeps.
        if hasattr(m, "inplace"):
            m.inplace = False
    return model.eval()


def export(model, spec):
    x = torch.zeros(spec["input_shape"])
    buf = io.BytesIO()
    with torch.enable_grad() if spec.get("export_with_grad") else torch.no_grad():
        output = "probabilities" if spec["output"] == "probabilities" else "logits"
        dynamic = {"input": {0: "batch"}, output: {0: "batch"}} if spec.get("dynamic_batch") else None
        torch.onnx.export(model, x, buf, opset_version=spec["opset"], input_names=["input"], output_names=[output],
                          do_constant_folding=spec.get("constant_folding", True), dynamic_axes=dynamic)
    return onnx.load_from_string(buf.getvalue())


# ---------------------------------------------------------------------------------------------
# Graph edits for allops.onnx.

def constant_value(graph, name):
    """The value of tensor `name` when it depends on constants only (None otherwise); evaluates
    the few ops PyTorch 1.13 uses to build F.pad's pads."""
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}

    def value(t):
        if t == "":
            return None
        if t in inits:
            return inits[t]
        n = producer.get(t)
        if n is None:
            raise ValueError(f"{t}: not a constant")
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        ins = [value(i) for i in n.input]
        if n.op_type == "Constant":
            return numpy_helper.to_array(a["value"])
        if n.op_type == "ConstantOfShape":
            fill = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
            return np.full(tuple(ins[0]), fill.reshape(-1)[0], fill.dtype)
        if n.op_type == "Concat":
            return np.concatenate(ins, axis=a["axis"])
        if n.op_type == "Reshape":
            return ins[0].reshape(tuple(int(d) for d in ins[1]))
        if n.op_type == "Transpose":
            return np.transpose(ins[0], a.get("perm"))
        if n.op_type == "Cast":
            return ins[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]])
        if n.op_type == "Slice":
            data, starts, ends = ins[0], ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(starts))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
            index = [slice(None)] * data.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                # ONNX clamps out-of-range ends (INT64_MIN/MAX mean "to the end"); Python slices do too.
                index[int(ax)] = slice(int(s), int(max(min(e, 2**62), -2**62)), int(st))
            return data[tuple(index)]
        raise ValueError(f"{t}: cannot evaluate {n.op_type}")

    return value(name)


def remove_dead_nodes(graph):
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return
        for n in dead:
            graph.node.remove(n)


def insert_after(graph, tensor, op_type, node_name):
    """Inserts a one-input node on `tensor`: its consumers read the new node's output instead."""
    out = f"{node_name}_output_0"
    for n in graph.node:
        for i, x in enumerate(n.input):
            if x == tensor:
                n.input[i] = out
    at = next(i for i, n in enumerate(graph.node) if tensor in n.output) + 1
    graph.node.insert(at, helper.make_node(op_type, [tensor], [out], name=node_name))


def edit_allops(model):
    g = model.graph
    for n in list(g.node):
        producer = next((p for p in g.node if n.input[1] in p.output), None) if n.op_type == "Pad" else None
        if producer is not None and producer.op_type != "Constant":
            pads = constant_value(g, n.input[1])
            const = helper.make_node("Constant", [], [f"{n.name}s_output_0"], name=f"{n.name}s",
                                     value=numpy_helper.from_array(pads.astype(np.int64)))
            n.input[1] = const.output[0]   # the chain that computed the pads dies below
            g.node.insert(list(g.node).index(n), const)
    remove_dead_nodes(g)
    # Dropout (inference: no ratio, no training_mode, one output) where self.dropout sits, on
    # Flatten's output; Identity where self.identity sits, on the logits before the Softmax.
    flatten = next(n for n in g.node if n.op_type == "Flatten")
    insert_after(g, flatten.output[0], "Dropout", "/dropout/Dropout")
    softmax = next(n for n in g.node if n.op_type == "Softmax")
    insert_after(g, softmax.input[0], "Identity", "/identity/Identity")


# ---------------------------------------------------------------------------------------------

def with_probe_outputs(model, names):
    """A copy of `model` that also outputs the named nodes' outputs (for onnxruntime)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    inferred = onnx.shape_inference.infer_shapes(probe)
    infos = {v.name: v for v in inferred.graph.value_info}
    by_name = {n.name: n for n in probe.graph.node}
    for name in names:
        probe.graph.output.append(infos[by_name[name].output[0]])
    return probe


def torch_shapes(model, spec):
    """Each checked node's shape, from its torch module's output: ONNX shape inference stops at a
    Slice whose bounds are computed from Shape (ShuffleNet's chunk)."""
    shapes = {}
    hooks = [model.get_submodule(m).register_forward_hook(
        lambda _m, _i, out, n=n: shapes.__setitem__(n, list(out.shape))) for n, m in spec["nodes"]]
    with torch.no_grad():
        model(torch.zeros(spec["input_shape"]))
    for h in hooks:
        h.remove()
    return shapes


def check(model, name, spec, fallback_shapes=None):
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    # A symbolic dimension is the dynamic batch (shapes_*), which the engine and the checks run at 1.
    shapes = {v.name: [d.dim_value if d.HasField("dim_value") else 1 for d in v.type.tensor_type.shape.dim]
              for v in inferred.graph.value_info}
    by_name = {n.name: n for n in model.graph.node}
    problems = []
    for onnx_node, _ in spec["nodes"]:
        n = by_name.get(onnx_node)
        if n is None:
            problems.append(f"{name}: no node {onnx_node}")
            continue
        shape = shapes.get(n.output[0])
        if not shape and fallback_shapes:  # unknown, or of unknown rank
            shape = shapes[n.output[0]] = fallback_shapes.get(onnx_node)
        if spec.get("layout") == "tokens":
            side = round((shape[1] - 1) ** 0.5) if shape and len(shape) == 3 else 0
            if shape is None or len(shape) != 3 or side < 1 or side * side != shape[1] - 1:
                problems.append(f"{name}: {onnx_node} output shape {shape}, not [1, 1+s*s, C] tokens")
        elif spec.get("layout") == "nhwc":
            if shape is None or len(shape) != 4 or min(shape) < 1:
                problems.append(f"{name}: {onnx_node} output shape {shape}, not a [1, h, w, C] grid")
        elif shape is None or len(shape) != 4 or min(shape) < 1:
            problems.append(f"{name}: {onnx_node} output shape {shape}, not 4-D")
    ops = sorted({n.op_type for n in model.graph.node})
    if name == "allops" and set(ops) != ALLOPS_OPS:
        problems.append(f"allops: missing {sorted(ALLOPS_OPS - set(ops))}, unexpected {sorted(set(ops) - ALLOPS_OPS)}")
    if problems:
        raise SystemExit("onnx_fixtures: " + "; ".join(problems))
    return ops, {onnx_node: (by_name[onnx_node].output[0], shapes[by_name[onnx_node].output[0]])
                 for onnx_node, _ in spec["nodes"]}


def write_if_changed(path, data):
    # Unchanged bytes keep their mtime (and whoever caches on them).
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--if-stale", action="store_true",
                    help="do nothing when OUTDIR/manifest.json is newer than this script and its files exist")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset (default: all)")
    args = ap.parse_args()
    manifest_path = os.path.join(args.outdir, "manifest.json")
    if args.if_stale and os.path.exists(manifest_path) and \
            os.path.getmtime(manifest_path) > os.path.getmtime(os.path.abspath(__file__)):
        with open(manifest_path) as f:
            entries = json.load(f)["models"].values()
        if all(os.path.exists(os.path.join(args.outdir, e[k])) for e in entries for k in ("file", "probe_file")):
            print(f"onnx_fixtures: {manifest_path} is up to date")
            return
    os.makedirs(os.path.join(args.outdir, "probe"), exist_ok=True)
    manifest = {"generator": "tools/onnx_fixtures.py", "torch": torch.__version__,
                "torchvision": torchvision.__version__, "onnx": onnx.__version__, "seed": SEED, "models": {}}
    started = time.perf_counter()
    for name in args.models.split(","):
        spec = MODELS[name]
        t0 = time.perf_counter()
        model = build_model(name)
        proto = export(model, spec)
        if name == "allops":
            edit_allops(proto)
        ops, shapes = check(proto, name, spec, torch_shapes(model, spec))
        data = proto.SerializeToString()
        write_if_changed(os.path.join(args.outdir, f"{name}.onnx"), data)
        probe = with_probe_outputs(proto, [n for n, _ in spec["nodes"]])
        write_if_changed(os.path.join(args.outdir, "probe", f"{name}.onnx"), probe.SerializeToString())
        classes = [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim][-1]
        manifest["models"][name] = {
            "file": f"{name}.onnx",
            "probe_file": f"probe/{name}.onnx",
            "sha256": hashlib.sha256(data).hexdigest(),
            "input": proto.graph.input[0].name,
            "output_tensor": proto.graph.output[0].name,
            "opset": spec["opset"],
            "input_shape": spec["input_shape"],
            "mean": spec["mean"],
            "std": spec["std"],
            "classes": classes,
            "output": spec["output"],
            "ops": ops,
            # The layer the engine must choose by default, where the choice is the point (ViT's ln_1).
            **({"default_layer": spec["default_layer"]} if "default_layer" in spec else {}),
            # tensor: the node's output, which the probe file also outputs under that name.
            # layout: how tools/onnx_reference.py reads the node's output as a C x H x W map
            # ("tokens": [1, 1+h*w, C], the class token first, dropped).
            "nodes": [{"onnx_node": n, "torch_module": m, "tensor": shapes[n][0], "shape": shapes[n][1],
                       "layout": spec.get("layout", "nchw")} for n, m in spec["nodes"]],
        }
        print(f"onnx_fixtures: {name}.onnx {len(data) / 1e6:.1f} MB, opset {spec['opset']}, "
              f"{len(proto.graph.node)} nodes, ops {' '.join(ops)} ({time.perf_counter() - t0:.1f} s)")
    write_if_changed(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode())
    os.utime(manifest_path)  # fresh: --if-stale compares it with this script
    print(f"onnx_fixtures: {len(manifest['models'])} models in {args.outdir} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
