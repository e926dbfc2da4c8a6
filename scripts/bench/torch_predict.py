#!/usr/bin/python3
"""The PyTorch side of `npm run bench -- predict` (scripts/bench/predict.ts): the bvlc AlexNet
(Caffe's deploy.prototxt: groups of 2 in conv2, conv4 and conv5, LRN with k = 1) in evaluation
mode on the CPU, timed with the same rule as our side: one warm-up call, then calls until there
are at least --min-reps of them and --min-seconds have passed, and the median.

Cases, each printed as one JSON line {"case", "ms", "reps"}:
  forward-1    the network on one preprocessed 227 x 227 image (latency)
  forward-N    the network on a batch of --batch images (throughput)
  classify-1   one JPEG end to end: Pillow decodes it, resizes it to 256 x 256 (bilinear, as the
               bvlc recipe stretches), centre crop 227, BGR minus [104, 117, 123], the network,
               softmax and the top 5

Weights are random (He-scaled normals) and inputs random: timing does not depend on the values,
but never time zeros (denormals and sparse shortcuts can make them unrepresentative).

Run: /usr/bin/python3 scripts/bench/torch_predict.py --image cat.jpg [--threads 2] [--batch 128]
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from torch_blas import blas_info

LRN = {'size': 5, 'alpha': 1e-4, 'beta': 0.75, 'k': 1.0}
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)


class BvlcAlexNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 96, 11, 4)
        self.conv2 = torch.nn.Conv2d(96, 256, 5, 1, 2, groups=2)
        self.conv3 = torch.nn.Conv2d(256, 384, 3, 1, 1)
        self.conv4 = torch.nn.Conv2d(384, 384, 3, 1, 1, groups=2)
        self.conv5 = torch.nn.Conv2d(384, 256, 3, 1, 1, groups=2)
        self.fc6 = torch.nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = torch.nn.Linear(4096, 4096)
        self.fc8 = torch.nn.Linear(4096, 1000)
        with torch.no_grad():
            for name, p in self.named_parameters():
                fan_in = p[0].numel() if name.endswith('weight') else 1
                p.normal_(0, (2 / fan_in) ** 0.5 if name.endswith('weight') else 0.01)

    def forward(self, x):
        x = F.max_pool2d(F.local_response_norm(F.relu(self.conv1(x)), **LRN), 3, 2)
        x = F.max_pool2d(F.local_response_norm(F.relu(self.conv2(x)), **LRN), 3, 2)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = F.relu(self.fc6(x.flatten(1)))
        x = F.relu(self.fc7(x))
        return self.fc8(x)


def measure(run, min_reps, min_seconds):
    run()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    return {'ms': statistics.median(times), 'reps': len(times)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--image', required=True)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--min-reps', type=int, default=5)
    parser.add_argument('--min-seconds', type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = BvlcAlexNet().eval()
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'mkldnn': torch.backends.mkldnn.is_available(), 'blas': blas_info()}),
          flush=True)
    one = torch.rand(1, 3, 227, 227) * 255 - 128
    batch = torch.rand(args.batch, 3, 227, 227) * 255 - 128

    def classify():
        image = Image.open(args.image).convert('RGB').resize((256, 256), Image.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32)[14:241, 14:241, ::-1] - MEAN_BGR
        x = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
        return torch.softmax(model(x), 1).topk(5)

    with torch.no_grad():
        cases = [('forward-1', lambda: model(one)), (f'forward-{args.batch}', lambda: model(batch)),
                 ('classify-1', classify)]
        for name, run in cases:
            print(json.dumps({'case': name, **measure(run, args.min_reps, args.min_seconds)}),
                  flush=True)


if __name__ == '__main__':
    main()
