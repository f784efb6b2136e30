#!/usr/bin/python3
"""The torchvision zoo for the engine's zoo test (tests/js/onnx_zoo.test.mjs) and bench/zoo.mjs.

    /usr/bin/python3 tools/onnx_zoo.py OUTDIR [--models a,b,...] [--check-plain]
    /usr/bin/python3 tools/onnx_zoo.py --list

writes OUTDIR/<model>.onnx for every classification model torchvision 0.14 builds (or the ones
named), OUTDIR/<model>.bn.pt (the calibrated batch-norm statistics, which tools/onnx_reference.py
reads back so that the reference and the file hold the same numbers) and OUTDIR/manifest.json in
tools/onnx_fixtures.py's format: per model its family, input shape and normalisation, the export's
status ("exported", "torch 1.13 cannot export: <error>", "left out: <why>"), and two nodes to
explain, each an ONNX node paired with the torch module whose forward output is that node's
output: the module whose output the classifier pools (what the engine explains by default) and
one earlier stage. `--list` prints the zoo (families and models) as JSON and exports nothing.

The models are listed here by family, explicitly: torchvision 0.14 has a beta registry
(torchvision.models.list_models), and the list below is checked against it, so a model that
torchvision adds is an error here, not silently untested.

Weights: no weights can be downloaded, so every model is built from a fixed seed (torchvision's own
initialisation). A fresh BatchNorm is the identity (mean 0, variance 1), so a deep network's
activations would grow or shrink by a factor per layer until they overflow or vanish, and a map
would be all zeros or all rounding. So every BatchNorm first gets a seeded affine part (weight
0.6..1.4, bias 0.2 N(0,1), so it is not the identity and a wrong folding shows), then its running
statistics are measured on seeded image-like inputs (smooth random fields, see
calibration_images) in train mode with momentum=None (a cumulative average, not an exponential one,
over every calibration batch): each BN then normalises what it sees on a photo in eval mode, so
activations keep a sane scale at every depth. ViT's head, zero in torchvision, is drawn from a
fixed seed (seed_vit_head). The measured statistics depend on
the last bits of this CPU's kernels, so they are saved (<model>.bn.pt) rather than measured again
by the reference.

Export: opset 14, batch 1, 224x224 (Inception v3 299x299), under torch.no_grad(), except ViT:
torch 1.13's nn.MultiheadAttention takes a fused path under no_grad that has no ONNX export, so ViT
is exported with autograd on (the graph is the same). The nodes are found by exporting with the two
modules' outputs as extra graph outputs: the node producing each is the pair, by construction;
the shipped file is that export without them, which is the plain export byte for byte (see
export; --check-plain checks it).
DenseNet's last ReLU is torchvision's F.relu (a function, so no module's output is the tensor the
classifier pools); here it is an nn.ReLU module, `relu`, which changes only that node's name
(/relu/Relu instead of /Relu).

Exports are cached: the manifest records this script's SHA-256 per model, and a model whose entry
has the same hash and whose files exist is not exported again.
"""
import argparse
import fcntl
import hashlib
import io
import json
import os
import sys
import time
import types
import warnings

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

warnings.filterwarnings("ignore")  # torchvision's and the exporter's chatter; errors still raise

SEED = 20261206
OPSET = 14
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def resnet_taps(m):
    return "layer4", "layer3"


def features_taps(earlier):
    return lambda m: ("features", earlier)


def vgg_taps(m):
    # The classifier reads avgpool (AdaptiveAvgPool2d(7) on a 7x7 map: exported as a 1x1
    # AveragePool), and the ReLU before the fourth max pool: 28x28, 512 channels.
    pools = [i for i, x in enumerate(m.features) if isinstance(x, nn.MaxPool2d)]
    return "avgpool", f"features.{pools[3] - 1}"


def swin_taps(m):
    # The last block's first norm (pytorch-grad-cam's choice for Swin), and the first block of the
    # third stage (14x14).
    last = len(m.features) - 1
    return f"features.{last}.{len(m.features[last]) - 1}.norm1", f"features.{last - 2}.0.norm1"


def shufflenet_taps(m):
    # conv5, and the third stage's last block's branch (14x14): the stage's own output is the
    # channel shuffle's Reshape, a 4-D tensor whose layout (NCHW or a channels-last grid) a reshape
    # does not tell the engine, so it cannot be explained.
    return "conv5", f"stage3.{len(m.stage3) - 1}.branch2"


def vit_taps(m):
    # The last block's first LayerNorm (pytorch-grad-cam's choice for ViT), and the middle block's.
    n = len(m.encoder.layers)
    return f"encoder.layers.encoder_layer_{n - 1}.ln_1", f"encoder.layers.encoder_layer_{n // 2}.ln_1"


def densenet_module_relu(m):
    """torchvision's DenseNet.forward with its F.relu as a module (see the docstring)."""
    m.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.features(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1))

    m.forward = types.MethodType(forward, m)
    return m


def seed_vit_head(model):
    """torchvision's ViT starts its head at zero (weight and bias), so every logit is the bias 0,
    every gradient is 0 and every map compares zeros: the head is drawn from its own fixed seed
    (scaled so that the logits are of order 1), as tools/onnx_fixtures.py's tiny ViT does. Its own
    generator: the batch norms' draws (build_model's g) stay as they were."""
    head = model.heads.head
    g = torch.Generator().manual_seed(SEED + 2)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=g) / head.in_features ** 0.5)
        head.bias.copy_(0.1 * torch.randn(head.bias.shape, generator=g))
    return model


# family -> models, the two tapped modules (the default layer's, an earlier one) and the layout of
# their outputs: "nchw"; "tokens" ([1, 1+h*w, C], ViT: class token first); "nhwc" (Swin).
FAMILIES = {
    "AlexNet": {"models": ["alexnet"], "taps": lambda m: ("avgpool", "features.7")},
    "VGG": {"models": ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"],
            "taps": vgg_taps},
    "ResNet": {"models": ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"], "taps": resnet_taps},
    "ResNeXt": {"models": ["resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"], "taps": resnet_taps},
    "Wide ResNet": {"models": ["wide_resnet50_2", "wide_resnet101_2"], "taps": resnet_taps},
    "DenseNet": {"models": ["densenet121", "densenet161", "densenet169", "densenet201"],
                 "taps": lambda m: ("relu", "features.denseblock3"), "edit": densenet_module_relu},
    "SqueezeNet": {"models": ["squeezenet1_0", "squeezenet1_1"], "taps": lambda m: ("classifier.2", "features.7")},
    "GoogLeNet": {"models": ["googlenet"], "taps": lambda m: ("inception5b", "inception4c")},
    "Inception": {"models": ["inception_v3"], "taps": lambda m: ("Mixed_7c", "Mixed_6b"), "size": 299},
    "MobileNet v2": {"models": ["mobilenet_v2"], "taps": features_taps("features.10")},
    "MobileNet v3": {"models": ["mobilenet_v3_small", "mobilenet_v3_large"],
                     "taps": lambda m: ("features", "features.8" if len(m.features) == 13 else "features.12")},
    "MNASNet": {"models": ["mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"],
                "taps": lambda m: ("layers", "layers.11")},
    "EfficientNet": {"models": [f"efficientnet_b{i}" for i in range(8)], "taps": features_taps("features.5")},
    "EfficientNet V2": {"models": ["efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"],
                        "taps": features_taps("features.5")},
    "RegNet": {"models": [f"regnet_{k}_{s}" for k in "xy" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")]
               + ["regnet_y_128gf"], "taps": lambda m: ("trunk_output", "trunk_output.block3")},
    "ShuffleNet": {"models": ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"],
                   "taps": shufflenet_taps},
    "ConvNeXt": {"models": ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"],
                 "taps": features_taps("features.5")},
    "ViT": {"models": ["vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"], "taps": vit_taps,
            "layout": "tokens", "export_with_grad": True, "edit": seed_vit_head},
    "Swin": {"models": ["swin_t", "swin_s", "swin_b"], "taps": swin_taps, "layout": "nhwc"},
    "Swin V2": {"models": ["swin_v2_t", "swin_v2_s", "swin_v2_b"], "taps": swin_taps, "layout": "nhwc"},
    # blocks is a ModuleList (never called itself): its last block's output is what the classifier pools.
    "MaxViT": {"models": ["maxvit_t"], "taps": lambda m: (f"blocks.{len(m.blocks) - 1}", f"blocks.{len(m.blocks) - 2}")},
}

# Models not exported at all, and why (issue 26 allows leaving these two out).
LEFT_OUT = {
    "vit_h_14": "2.5 GB of weights: over protobuf's 2 GB limit for one ONNX file (torch would write external "
                "data, which the engine refuses, as over its 2 GiB ONNX file limit); too slow for this machine",
    "regnet_y_128gf": "2.6 GB of weights: over protobuf's 2 GB limit for one ONNX file (torch would write external "
                      "data, which the engine refuses, as over its 2 GiB ONNX file limit); too slow for this machine",
}

FAMILY_OF = {model: family for family, spec in FAMILIES.items() for model in spec["models"]}


def check_against_registry():
    """Every classification model torchvision's registry lists is in FAMILIES, and no other."""
    listed = set(torchvision.models.list_models(module=torchvision.models))
    ours = set(FAMILY_OF)
    if listed != ours:
        raise SystemExit(f"onnx_zoo: torchvision {torchvision.__version__} lists {sorted(listed - ours)} which "
                         f"FAMILIES lacks, and FAMILIES has {sorted(ours - listed)} which it does not list")


def input_shape(name):
    size = FAMILIES[FAMILY_OF[name]].get("size", 224)
    return [1, 3, size, size]


def calibration_images(n, shape, g):
    """n seeded image-like inputs, normalised as the test's photo is: smooth random fields, not
    white noise. White noise puts its energy at the highest frequencies, where a photo has little,
    so batch norms calibrated on it scale a photo's activations wrongly at every depth, and a deep
    network multiplies that up (EfficientNet-B4's logits reached 7e4 on the photo). Here a
    luminance field that is mostly coarse (the sum of bicubically upsampled noise at 2x2 up to
    full resolution, each finer scale weaker, as a photo's spectrum falls) plus weaker colour of
    the same kind, clamped to [0, 1] around a photo's grey level."""
    size = shape[-1]

    def field(channels):
        x = torch.zeros([n, channels, size, size])
        for cells, weight in ((2, 1.0), (8, 0.5), (32, 0.25), (size, 0.06)):
            noise = torch.randn([n, channels, cells, cells], generator=g)
            x += weight * F.interpolate(noise, size=(size, size), mode="bicubic", align_corners=False)
        return x

    pixels = (0.45 + 0.2 * field(1) + 0.06 * field(3)).clamp(0, 1)
    mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    return (pixels - mean) / std


def calibrate_batchnorm(model, shape, g):
    """A seeded affine part for every BatchNorm, then running statistics measured in train mode
    (see the docstring); returns the statistics."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            c = m.num_features
            if m.affine:
                m.weight.copy_(0.6 + 0.8 * torch.rand(c, generator=g))
                m.bias.copy_(0.2 * torch.randn(c, generator=g))
            m.reset_running_stats()
            m.momentum = None
    if bns:
        # Only the BNs in train mode: dropout and stochastic depth stay off, as in eval.
        model.eval()
        for m in bns:
            m.train()
        with torch.no_grad():
            for _ in range(3):
                model(calibration_images(2, shape, g))  # 2 images: a BN on a 1x1 map needs 2 values
    model.eval()
    for m in bns:
        m.momentum = 0.1
    return {k: v for k, v in model.state_dict().items() if k.rsplit(".", 1)[-1].startswith(("running_", "num_batches"))}


def build_model(name, model_dir=None):
    """The model `name` in eval mode, float32, with this zoo's fixed weights: the batch-norm
    statistics are read from model_dir/<name>.bn.pt when given (what the export used), else measured."""
    family = FAMILIES[FAMILY_OF[name]]
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED + 1)
    # init_weights: GoogLeNet and Inception v3 warn that it will default to False; True is what
    # a fresh model gets today (truncated normal convolutions).
    kwargs = {"init_weights": True} if name in ("googlenet", "inception_v3") else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    if "edit" in family:
        model = family["edit"](model)
    for m in model.modules():
        # In-place activations would overwrite the activations a reference hook keeps.
        if hasattr(m, "inplace"):
            m.inplace = False
    stats_file = os.path.join(model_dir, f"{name}.bn.pt") if model_dir else None
    if stats_file and os.path.exists(stats_file):
        # Buffer by buffer: load_state_dict would run torchvision's per-model loading hooks, and
        # MNASNet's refuses a state without its version.
        with torch.no_grad():
            for key, value in torch.load(stats_file).items():
                model.get_buffer(key).copy_(value)
        # The affine parts come from the generator as in calibrate_batchnorm, in the same order.
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
                    c = m.num_features
                    m.weight.copy_(0.6 + 0.8 * torch.rand(c, generator=g))
                    m.bias.copy_(0.2 * torch.randn(c, generator=g))
        model.eval()
    else:
        model.stats = calibrate_batchnorm(model, input_shape(name), g)
    return model.eval()


class ExportFailed(Exception):
    """torch.onnx.export raised: the message is the model's export status."""


def export(model, name, taps, check_plain=False):
    """The model exported as a user would, and the node producing each tapped module's output.

    The export also outputs the tapped modules' outputs (a forward hook on the model returns them
    beside the logits), so the node producing each is the pair, by construction. Those extra outputs
    are then removed and their tensors renamed as the exporter names every other tensor
    (`<node>_output_<i>`): the result is the plain export byte for byte (check_plain exports once
    more without the taps and compares). Returns (ModelProto, [(node name, output shape)])."""
    family = FAMILIES[FAMILY_OF[name]]
    x = torch.zeros(input_shape(name))
    grad = torch.enable_grad() if family.get("export_with_grad") else torch.no_grad()

    def run_export():
        buf = io.BytesIO()
        try:
            with grad:
                torch.onnx.export(model, x, buf, opset_version=OPSET, input_names=["input"], output_names=["logits"])
        except Exception as e:  # noqa: BLE001: any exporter failure is this model's status
            first = str(e).strip().split("\n")[0][:300]
            raise ExportFailed(f"torch {torch.__version__.split('+')[0]} cannot export: {type(e).__name__}: {first}") from e
        return onnx.load_from_string(buf.getvalue())

    kept = {t: [] for t in taps}
    handles = [model.get_submodule(t).register_forward_hook(lambda _m, _i, out, t=t: kept[t].append(out)) for t in taps]
    try:
        with torch.no_grad():
            model(x)
        for t in taps:
            # The reference hooks the module and needs the one output of one forward.
            if len(kept[t]) != 1:
                raise ValueError(f"{name}: {t} runs {len(kept[t])} times in a forward, expected once")
        # Tracing may run the model more than once: the last call's outputs are the traced ones.
        handles.append(model.register_forward_hook(lambda _m, _i, out: (out, *[kept[t][-1] for t in taps])))
        proto = run_export()
    finally:
        for h in handles:
            h.remove()
    g = proto.graph
    producer = {o: (n, i) for n in g.node for i, o in enumerate(n.output)}
    taken = {o for n in g.node for o in list(n.input) + list(n.output)}
    renamed, nodes = {}, []
    for t, out in zip(taps, g.output[1:]):
        if out.name not in producer:
            raise ValueError(f"{name}: {t}'s output {out.name} is not produced by a node")
        node, i = producer[out.name]
        want = f"{node.name}_output_{i}"
        if out.name != want and want in taken:
            raise ValueError(f"{name}: cannot rename {out.name} to {want}, which exists")
        renamed[out.name] = want
        nodes.append((node.name, list(kept[t][-1].shape)))
    while len(g.output) > 1:
        g.output.pop()
    for n in g.node:
        for names in (n.input, n.output):
            for k, v in enumerate(names):
                names[k] = renamed.get(v, v)
    if check_plain:
        plain = run_export()
        if plain.SerializeToString() != proto.SerializeToString():
            raise ValueError(f"{name}: the export without the taps differs from the one with them removed")
    return proto, nodes


def script_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def export_one(name, outdir, digest, check_plain=False):
    family = FAMILY_OF[name]
    spec = FAMILIES[family]
    entry = {"family": family, "script_sha256": digest, "input_shape": input_shape(name),
             "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "opset": OPSET, "output": "logits"}
    if name in LEFT_OUT:
        return {**entry, "status": f"left out: {LEFT_OUT[name]}"}
    model = build_model(name)
    entry["parameters"] = sum(p.numel() for p in model.parameters())
    taps = spec["taps"](model)
    try:
        proto, nodes = export(model, name, taps, check_plain)
    except ExportFailed as e:
        return {**entry, "status": str(e)}
    data = proto.SerializeToString()
    write_atomic(os.path.join(outdir, f"{name}.onnx"), data)
    buf = io.BytesIO()
    torch.save(model.stats, buf)
    write_atomic(os.path.join(outdir, f"{name}.bn.pt"), buf.getvalue())
    layout = spec.get("layout", "nchw")
    return {**entry, "status": "exported", "file": f"{name}.onnx", "stats_file": f"{name}.bn.pt",
            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "input": proto.graph.input[0].name, "output_tensor": proto.graph.output[0].name,
            "classes": proto.graph.output[0].type.tensor_type.shape.dim[-1].dim_value,
            "ops": sorted({n.op_type for n in proto.graph.node}),
            # The first node is the default layer's (the tensor the classifier pools), the second an earlier one.
            "nodes": [{"onnx_node": node, "torch_module": t, "shape": shape, "layout": layout, "role": role}
                      for (node, shape), t, role in zip(nodes, taps, ("default", "earlier"))]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", help="where the models and manifest.json go (not needed with --list)")
    ap.add_argument("--models", default="", help="comma-separated subset (default: the whole zoo)")
    ap.add_argument("--list", action="store_true", help="print the families and models as JSON, export nothing")
    ap.add_argument("--check-plain", action="store_true",
                    help="export each model once more without the taps and check the bytes are the same")
    args = ap.parse_args()
    check_against_registry()
    if args.list:
        json.dump({"families": {f: s["models"] for f, s in FAMILIES.items()}, "left_out": LEFT_OUT}, sys.stdout, indent=1)
        print()
        return
    if not args.outdir:
        ap.error("OUTDIR is needed (or --list)")
    names = [n for n in args.models.split(",") if n] or list(FAMILY_OF)
    unknown = [n for n in names if n not in FAMILY_OF]
    if unknown:
        raise SystemExit(f"onnx_zoo: unknown models {unknown}; the zoo: {', '.join(FAMILY_OF)}")
    os.makedirs(args.outdir, exist_ok=True)
    manifest_path = os.path.join(args.outdir, "manifest.json")
    digest = script_hash()
    started = time.perf_counter()
    with open(os.path.join(args.outdir, ".lock"), "w") as lock:
        for name in names:
            # One exporter at a time per model and folder (the default suite's zoo test and the
            # whole zoo's may run together): the manifest is read again under the lock, so a
            # model the other one exported meanwhile is found exported.
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                manifest = {"models": {}}
                if os.path.exists(manifest_path):
                    with open(manifest_path) as f:
                        manifest = json.load(f)
                old = manifest["models"].get(name)
                if old and old.get("script_sha256") == digest and all(
                        os.path.exists(os.path.join(args.outdir, old[k])) for k in ("file", "stats_file") if k in old):
                    continue
                t0, cpu0 = time.perf_counter(), time.process_time()
                entry = export_one(name, args.outdir, digest, args.check_plain)
                manifest.update({"generator": "tools/onnx_zoo.py", "torch": torch.__version__,
                                 "torchvision": torchvision.__version__, "onnx": onnx.__version__, "seed": SEED})
                manifest["models"][name] = entry
                write_atomic(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode())
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            size = f"{entry['bytes'] / 1e6:.1f} MB, " if "bytes" in entry else ""
            print(f"onnx_zoo: {name}: {entry['status']} ({size}{time.perf_counter() - t0:.1f} s, "
                  f"{time.process_time() - cpu0:.1f} s CPU)", flush=True)
    print(f"onnx_zoo: {len(names)} models in {args.outdir} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
