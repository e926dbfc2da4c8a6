#!/usr/bin/env python3
"""PyTorch's side of the GPU benchmark (scripts/bench/gpu-bench.ts is ours): the bvlc AlexNet
(groups in conv2/4/5, LRN n=5 alpha=1e-4 beta=0.75 k=1 after relu1/relu2, 227 input, 1000
classes), float32 with TF32 off, cudnn.benchmark on. Prints one JSON object:
  train_images_per_s (batch 128: forward + backward + SGD momentum/weight decay),
  infer_images_per_s_b1, infer_images_per_s_b128, peak_bytes (torch.cuda.max_memory_allocated
  over the timed training steps, reset after warm-up), and the step times' medians.
Every timed step ends with torch.cuda.synchronize(), as ours ends by reading the loss back.
Usage: python3 scripts/bench/gpu_torch.py [--steps 30] [--warmup 5]"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn


def alexnet_bvlc(classes=1000):
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, classes),
    )


def median_seconds(fn, steps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=5)
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device('cuda')
    torch.manual_seed(0)
    model = alexnet_bvlc().to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    batch = 128
    x = torch.randn(batch, 3, 227, 227, device=dev) * 50
    y = torch.randint(0, 1000, (batch,), device=dev)

    def train_step():
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    for _ in range(args.warmup):
        train_step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    train_s = median_seconds(train_step, args.steps, 0)
    peak = torch.cuda.max_memory_allocated()

    model.eval()
    result = {
        'device': torch.cuda.get_device_name(),
        'torch': torch.__version__,
        'cudnn': torch.backends.cudnn.version(),
        'batch': batch,
        'train_step_s': train_s,
        'train_images_per_s': batch / train_s,
        'peak_bytes': peak,
    }
    with torch.no_grad():
        for n in (1, 128):
            xi = x[:n].contiguous()
            s = median_seconds(lambda: model(xi).cpu(), args.steps, args.warmup)
            result[f'infer_b{n}_s'] = s
            result[f'infer_images_per_s_b{n}'] = n / s
    print(json.dumps(result))


if __name__ == '__main__':
    main()
