#!/usr/bin/env python3
"""PyTorch's side of the GPU benchmark (scripts/bench/gpu-bench.ts is ours, whose header explains
the shared recipe and measurement): the bvlc AlexNet (groups in conv2/4/5, LRN n=5 alpha=1e-4
beta=0.75 k=1 after relu1/relu2, 227 input, 1000 classes), float32 with TF32 off (recorded),
cudnn.benchmark on and cudnn.deterministic off (PyTorch's default, so it may pick non-deterministic
algorithms ours does not: the peer at its best), batch 128, unit-variance inputs, SGD lr 0.001
momentum 0.9 weight decay 5e-4.

Each training step reads the loss and the top-1 count back (.item()), as ours does; N steps run
between two synchronisations. The cuDNN workspace limit is ours (--workspace-mb, 512 by default),
passed through CUDNN_CONV_WSCAP_DBG, which PyTorch reads when it picks algorithms
(aten/src/ATen/native/cudnn/Conv_v7.cpp); it must be set before torch is imported.

nn.LocalResponseNorm is composed of several kernels (pad, avg_pool3d, pow, mul, div;
torch/nn/functional.py local_response_norm), where cuDNN runs one: the JSON also has the training
step without LRN (train_no_lrn_images_per_s) and the two LRN layers alone (lrn_ms).

Prints one JSON object on the last line, always, with `error` when something failed.
Usage: python3 scripts/bench/gpu_torch.py [--steps 30] [--warmup 5] [--workspace-mb 512]"""
import argparse
import json
import math
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument('--steps', type=int, default=30)
ap.add_argument('--warmup', type=int, default=5)
ap.add_argument('--workspace-mb', type=int,
                default=int(os.environ.get('ALEXNET_CUDNN_WORKSPACE_MB', '512')))
args = ap.parse_args()
os.environ['CUDNN_CONV_WSCAP_DBG'] = str(args.workspace_mb)

try:  # after the workspace limit is in the environment
    import torch
    import torch.nn as nn
except ImportError as e:
    print(json.dumps({'error': f'ImportError: {e}'}))
    sys.exit(1)


def alexnet_bvlc(classes=1000, lrn=True):
    norm = (lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)) if lrn else nn.Identity
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), norm(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), norm(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, classes),
    )


def per_step(fn, steps):
    """Seconds per call over `steps` calls between two synchronisations."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def train(result, key, lrn, x, y):
    torch.manual_seed(0)
    model = alexnet_bvlc(lrn=lrn).to(x.device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    losses = []

    def step():
        opt.zero_grad(set_to_none=False)
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        # Read back every step, as ours does: the loss and the top-1 count.
        value = loss.item()
        (logits.argmax(1) == y).sum().item()
        if not math.isfinite(value):
            raise RuntimeError(f'loss {value} at step {len(losses) + 1}')
        losses.append(value)

    for _ in range(args.warmup):
        step()
    torch.cuda.reset_peak_memory_stats()
    s = per_step(step, args.steps)
    result[f'{key}_step_s'] = s
    result[f'{key}_images_per_s'] = x.shape[0] / s
    if lrn:
        result['first_loss'] = losses[0]
        result['last_loss'] = losses[-1]
        result['peak_bytes'] = torch.cuda.max_memory_allocated()
        print(f'loss: first {losses[0]}, last {losses[-1]}', file=sys.stderr)
    return model


def main(result):
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device('cuda')
    batch = 128
    result.update({
        'device': torch.cuda.get_device_name(),
        'torch': torch.__version__,
        'cuda': torch.version.cuda,
        'cudnn': torch.backends.cudnn.version(),
        'batch': batch,
        'steps': args.steps,
        'warmup': args.warmup,
        'lr': 0.001,
        'input_std': 1,
        'cudnn_workspace_mb': args.workspace_mb,
        'tf32': torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32,
        'nvidia_tf32_override': os.environ.get('NVIDIA_TF32_OVERRIDE'),
        'cudnn_deterministic': torch.backends.cudnn.deterministic,
        'timing': 'N steps between two synchronisations; loss and top-1 read back every step',
        'lrn_note': 'nn.LocalResponseNorm is several kernels (pad, avg_pool3d, pow, mul, div)',
    })
    g = torch.Generator(device=dev).manual_seed(1)
    x = torch.randn(batch, 3, 227, 227, device=dev, generator=g)
    y = torch.randint(0, 1000, (batch,), device=dev, generator=g)

    model = train(result, 'train', True, x, y)
    model.eval()
    with torch.no_grad():
        for n in (1, 128):
            xi = x[:n].contiguous()
            for _ in range(args.warmup):
                model(xi).cpu()
            s = per_step(lambda: model(xi).cpu(), args.steps)
            result[f'infer_b{n}_s'] = s
            result[f'infer_images_per_s_b{n}'] = n / s
    del model

    norms = []
    for shape in ((batch, 96, 55, 55), (batch, 256, 27, 27)):
        t = (torch.rand(shape, device=dev, generator=g) * 10).requires_grad_()
        norms.append((t, torch.rand(shape, device=dev, generator=g) * 2 - 1))
    lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)

    def lrn_step():
        for t, dy in norms:
            torch.autograd.grad(lrn(t), t, dy)

    for _ in range(args.warmup):
        lrn_step()
    result['lrn_ms'] = 1000 * per_step(lrn_step, args.steps)
    del norms

    train(result, 'train_no_lrn', False, x, y)


if __name__ == '__main__':
    result = {}
    status = 0
    try:
        main(result)
    except Exception as e:  # the JSON is printed whatever failed
        result['error'] = f'{type(e).__name__}: {e}'
        status = 1
    print(json.dumps(result))
    sys.exit(status)
