#!/usr/bin/env python3
"""The peer for the trainer's CUDA path: PyTorch training the same network (the seed architecture of
the Keras Grad-CAM tutorial) with the same recipe as `train --recipe seed` (RMSprop lr 1e-3, rho 0.9,
eps 1e-7, batch 512, categorical cross-entropy, no augmentation), on the same 45,000 training images,
on the same GPU. It reports seconds per epoch; trainer/gpu/device_run.sh runs it beside our trainer.

Kept as close as PyTorch allows to what our trainer does, so the times compare like for like:
  - the whole training split lives on the GPU as uint8 and each batch is gathered, scaled and made
    NCHW float there (our trainer does more: it builds each batch on the host and copies it over);
  - Keras initialisation (Glorot-uniform kernels, zero biases), batch norm momentum 0.99 (PyTorch
    writes it as 0.01) and epsilon 1e-3, dropout at the tutorial's rates;
  - float32 by default; --tf32 allows TF32 in cuDNN and cuBLAS (our trainer's --tf32);
  - cudnn.benchmark on: PyTorch at its fastest for fixed shapes.
Differences we know of: PyTorch's RMSprop adds eps outside the square root (TF/Keras and our trainer
add it inside); with eps 1e-7 this changes no time and hardly any step.

Usage: pytorch_baseline.py --data DIR [--epochs N] [--batch N] [--val N] [--tf32] [--json FILE]
DIR holds train/<class>/*.jpg (the layout of a CIFAR-10 JPEG archive, as the trainer reads it).
"""
import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def decode(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def load_split(root):
    files, labels = [], []
    for label, name in enumerate(CLASSES):
        folder = os.path.join(root, name)
        for f in sorted(os.listdir(folder)):
            files.append(os.path.join(folder, f))
            labels.append(label)
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        images = list(pool.map(decode, files, chunksize=512))
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def seed_network():
    """The tutorial's network, layer for layer (Keras 'valid'/'same' padding as PyTorch padding)."""
    def conv(cin, cout, pad):
        return [nn.Conv2d(cin, cout, 3, padding=pad), nn.ReLU(inplace=True)]

    layers = (conv(3, 32, 0) + conv(32, 128, 1) + [nn.MaxPool2d(2), nn.Dropout(0.25)] +
              conv(128, 64, 1) + [nn.MaxPool2d(2), nn.Dropout(0.25)] +
              conv(64, 64, 1) + conv(64, 32, 1) + [nn.Dropout(0.25)] +
              conv(32, 32, 1) + conv(32, 16, 1) + [nn.MaxPool2d(2), nn.BatchNorm2d(16, eps=1e-3, momentum=0.01)] +
              conv(16, 32, 1) + conv(32, 16, 1) + [nn.MaxPool2d(2), nn.BatchNorm2d(16, eps=1e-3, momentum=0.01)] +
              [nn.Flatten(), nn.Linear(16, 128), nn.ReLU(inplace=True), nn.Linear(128, 64), nn.ReLU(inplace=True),
               nn.Dropout(0.5), nn.Linear(64, 10)])
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)  # Keras's glorot_uniform
            nn.init.zeros_(m.bias)
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--val", type=int, default=5000, help="images of train held out, as our trainer does")
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    dev = torch.device("cuda")

    t0 = time.perf_counter()
    x_all, y_all = load_split(os.path.join(a.data, "train"))
    order = np.random.default_rng(a.seed).permutation(len(y_all))
    train_idx = order[a.val:]
    x = torch.from_numpy(x_all[train_idx]).to(dev)  # N,32,32,3 uint8
    y = torch.from_numpy(y_all[train_idx]).to(dev)
    print(f"data: {len(train_idx)} training images decoded and on the GPU in {time.perf_counter() - t0:.1f}s",
          file=sys.stderr)

    net = seed_network().to(dev)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    n = x.shape[0]
    epochs = []
    for epoch in range(a.epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        net.train()
        perm = torch.randperm(n, device=dev)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.long)
        for s in range(0, n, a.batch):
            idx = perm[s:s + a.batch]
            xb = x[idx].permute(0, 3, 1, 2).float().div_(255.0)
            yb = y[idx]
            logits = net(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * idx.numel()
            correct += (logits.argmax(1) == yb).sum()
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        e = {"epoch": epoch + 1, "seconds": seconds, "images_per_second": n / seconds,
             "train_loss": loss_sum.item() / n, "train_accuracy": correct.item() / n}
        epochs.append(e)
        print(f"pytorch epoch {epoch + 1}/{a.epochs}: {seconds:.3f}s ({n / seconds:.0f} img/s) "
              f"loss {e['train_loss']:.4f} acc {e['train_accuracy']:.4f}", file=sys.stderr)

    steady = [e["seconds"] for e in epochs[1:]] or [epochs[0]["seconds"]]
    result = {"framework": f"pytorch {torch.__version__}", "cudnn": torch.backends.cudnn.version(),
              "gpu": torch.cuda.get_device_name(0), "tf32": a.tf32, "batch": a.batch, "train_images": n,
              "epochs": epochs, "median_seconds_per_epoch_after_first": statistics.median(steady)}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("framework", "gpu", "tf32", "median_seconds_per_epoch_after_first")}))


if __name__ == "__main__":
    main()
