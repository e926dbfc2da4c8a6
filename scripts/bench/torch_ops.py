#!/usr/bin/env python3
"""The PyTorch side of `npm run bench -- ops`: the same ops at the same shapes, timed the same way.
Benches train and predict use it too, for whole training steps, forward passes and a JPEG end to
end (the classify case), and it exports the network to ONNX for onnxruntime-node.

The bench (scripts/bench/ops.ts) starts this script once and talks to it over a line protocol,
one JSON object per line each way, so that it can alternate ours and PyTorch op by op: on a noisy
two-core machine, a ratio of two timings taken seconds apart is worth more than two tables taken
minutes apart. The shapes come from the bench in each request (one source of truth, derived from
lib/nn/architecture.ts); only the whole network is restated here, as a torch.nn.Module.

    python3 scripts/bench/torch_ops.py --threads 2
    <- {"ready": true, "torch": "1.13.0", ...}
    -> {"cmd": "time", "case": {"group": "conv1", "kind": "conv", ...}, "op": "forward",
        "minReps": 3, "minSeconds": 1.0}
    <- {"ms": 12.3, "reps": 81}
    -> {"cmd": "export", "path": "/tmp/x/alexnet.onnx", "classes": 1000, "lrn": "node",
        "batch": null}
    <- {"ok": true}

A failed request answers {"error": "..."} and the script carries on. Timing: one warm-up call,
then calls until at least minReps and minSeconds, and the median, as in scripts/bench/timing.ts.
"""

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from torch_blas import blas_info

# A rep limit keeps microsecond ops from looping for a million calls.
MAX_REPS = 10000


def measure(run, min_reps, min_seconds):
    run()
    samples = []
    start = time.perf_counter()
    while len(samples) < MAX_REPS and (
        len(samples) < min_reps or time.perf_counter() - start < min_seconds
    ):
        t0 = time.perf_counter()
        run()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return {"ms": statistics.median(samples), "reps": len(samples)}


def rand(shape, scale=1.0):
    """Uniform in [-scale, scale): random, non-zero and far from denormals."""
    return (torch.rand(shape) * 2.0 - 1.0) * scale


def he_weight(shape):
    fan_in = 1
    for d in shape[1:]:
        fan_in *= d
    return torch.randn(shape) * (2.0 / fan_in) ** 0.5


def conv_case(c):
    s = c["spec"]
    n, cin, h, w = s["batch"], s["inChannels"], s["height"], s["width"]
    cout, k, stride, pad, groups = s["outChannels"], s["kernel"], s["stride"], s["pad"], s["groups"]
    x = rand((n, cin, h, w))
    weight = he_weight((cout, cin // groups, k, k))
    y = F.conv2d(x, weight, None, stride, pad, 1, groups)
    dy = rand(y.shape)

    # aten.convolution_backward is what autograd calls for a conv; the mask picks one gradient.
    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            dy, x, weight, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], groups, mask
        )

    return {
        "forward": lambda: F.conv2d(x, weight, None, stride, pad, 1, groups),
        "backwardData": backward([True, False, False]),
        "backwardFilter": backward([False, True, False]),
    }


def per_channel_view(shape):
    """How a bias of shape[1] entries broadcasts over an activation of `shape`."""
    return (1, shape[1]) + (1,) * (len(shape) - 2)


def bias_case(c):
    ys = [rand(s) for s in c["shapes"]]
    bs = [rand((s[1],), 0.1).view(per_channel_view(s)) for s in c["shapes"]]
    dims = [tuple(d for d in range(len(s)) if d != 1) for s in c["shapes"]]

    def forward():
        for y, b in zip(ys, bs):
            y.add_(b)

    def backward():
        for dy, d in zip(ys, dims):
            dy.sum(d)

    return {"forward": forward, "backward": backward}


def relu_case(c):
    xs = [rand(s) for s in c["shapes"]]
    ys = [torch.relu(x) for x in xs]
    dys = [rand(s) for s in c["shapes"]]

    # In place, as the network runs it (nn.ReLU(inplace=True) here, our Relu layer).
    def forward():
        for x in xs:
            torch.relu_(x)

    def backward():
        for y, dy in zip(ys, dys):
            torch.ops.aten.threshold_backward(dy, y, 0)

    return {"forward": forward, "backward": backward}


def autograd_case(fn, shape):
    """Forward without a graph; backward through autograd on a graph built once."""
    x = rand(shape)
    with torch.no_grad():
        y = fn(x)
    dy = rand(y.shape)
    xg = x.clone().requires_grad_()
    yg = fn(xg)
    return {
        "forward": lambda: fn(x),
        "backward": lambda: torch.autograd.grad(yg, xg, dy, retain_graph=True),
    }


def lrn_case(c):
    o = c["lrn"]
    return autograd_case(
        lambda x: F.local_response_norm(x, o["size"], o["alpha"], o["beta"], o["k"]), c["shape"]
    )


def maxpool_case(c):
    o = c["pool"]
    return autograd_case(lambda x: F.max_pool2d(x, o["kernel"], o["stride"], o["pad"]), c["shape"])


def fc_case(c):
    n, fin, fout = c["batch"], c["inFeatures"], c["outFeatures"]
    x, weight, dy = rand((n, fin)), he_weight((fout, fin)), rand((n, fout))
    y, dx, dw = torch.empty(n, fout), torch.empty(n, fin), torch.empty(fout, fin)
    return {
        "forward": lambda: torch.mm(x, weight.t(), out=y),
        "backwardData": lambda: torch.mm(dy, weight, out=dx),
        "backwardFilter": lambda: torch.mm(dy.t(), x, out=dw),
    }


def dropout_case(c):
    xs = [rand(s) for s in c["shapes"]]
    masks = [torch.ops.aten.native_dropout(x, c["p"], True)[1] for x in xs]
    scale = 1.0 / (1.0 - c["p"])

    def forward():
        for x in xs:
            torch.ops.aten.native_dropout(x, c["p"], True)

    def backward():
        for dy, mask in zip(xs, masks):
            torch.ops.aten.native_dropout_backward(dy, mask, scale)

    return {"forward": forward, "backward": backward}


def loss_case(c):
    n, classes = c["shape"]
    logits = rand((n, classes), 4.0).requires_grad_()
    labels = torch.randint(0, classes, (n,))

    # Loss and its gradient together, as our softmaxCrossEntropy computes them.
    def forward_backward():
        loss = F.cross_entropy(logits, labels)
        torch.autograd.grad(loss, logits)

    return {"forwardBackward": forward_backward}


def sgd_case(c):
    decayed, plain = [], []
    for p in c["params"]:
        t = rand(p["shape"], 0.01).requires_grad_()
        t.grad = rand(p["shape"], 0.01)
        (decayed if p["decay"] else plain).append(t)
    opt = torch.optim.SGD(
        [{"params": decayed, "weight_decay": c["weightDecay"]}, {"params": plain, "weight_decay": 0}],
        lr=c["lr"],
        momentum=c["momentum"],
    )
    return {"update": opt.step}


class LrnExport(torch.autograd.Function):
    """F.local_response_norm, exported as one ONNX LRN node.

    F.local_response_norm is composed of pad, avg_pool3d, pow and div in Python, and the exporter
    traces those; a symbolic makes onnxruntime run its own LRN kernel, as a Caffe model would.
    ONNX's LRN divides alpha by size, like PyTorch, Caffe and cuDNN.
    """

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class Lrn(nn.Module):
    """F.local_response_norm; exported as one LRN node where export_node is set, and otherwise as
    the exporter traces it (Pad, AveragePool, Pow, Div and a few element-wise nodes), which is
    what torch.onnx.export gives a user's nn.LocalResponseNorm.
    """

    def __init__(self, size, alpha, beta, k):
        super().__init__()
        self.args = (size, alpha, beta, k)
        self.export_node = True

    def forward(self, x):
        if self.export_node and torch.onnx.is_in_onnx_export():
            return LrnExport.apply(x, *self.args)
        return F.local_response_norm(x, *self.args)


class AlexNet(nn.Module):
    """The bvlc preset of lib/nn/alexnet.ts (Caffe's deploy.prototxt), with its layer names."""

    def __init__(self, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.norm1 = Lrn(5, 1e-4, 0.75, 1.0)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.norm2 = Lrn(5, 1e-4, 0.75, 1.0)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, classes)
        self.drop = nn.Dropout(0.5)
        # He initialisation, as ours: activations stay of order 1 through the eight layers.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        pool = lambda t: F.max_pool2d(t, 3, 2)
        x = pool(self.norm1(F.relu(self.conv1(x), inplace=True)))
        x = pool(self.norm2(F.relu(self.conv2(x), inplace=True)))
        x = F.relu(self.conv3(x), inplace=True)
        x = F.relu(self.conv4(x), inplace=True)
        x = pool(F.relu(self.conv5(x), inplace=True))
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc6(x), inplace=True))
        x = self.drop(F.relu(self.fc7(x), inplace=True))
        return self.fc8(x)


def alexnet_case(c):
    model = AlexNet(c["classes"]).eval()
    x = torch.randn(c["batch"], 3, 227, 227) * 50.0

    def forward():
        with torch.no_grad():
            model(x)

    return {"forward": forward}


def classify_case(c):
    """One JPEG end to end, as `npm run bench -- predict` times classify: Pillow decodes it and
    resizes it to 256 x 256 (bilinear: the bvlc recipe stretches), centre crop 227, BGR minus
    Caffe's mean [104, 117, 123], the network, softmax and the top 5, all in-process.
    """
    # Only this case needs Pillow: the other benches run without it.
    from PIL import Image

    model = AlexNet(c["classes"]).eval()
    mean_bgr = np.array([104.0, 117.0, 123.0], dtype=np.float32)

    def classify():
        image = Image.open(c["image"]).convert("RGB").resize((256, 256), Image.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32)[14:241, 14:241, ::-1] - mean_bgr
        x = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
        with torch.no_grad():
            return torch.softmax(model(x), 1).topk(5)

    return {"classify": classify}


def alexnet_train_case(c):
    """One SGD (or Adam) step of the whole network in training mode (dropout on), as
    trainStep. torch.optim.Adam keeps its defaults (betas, eps, and on the CPU the
    single-tensor loop rather than foreach), as our Adam does.

    With layers 'fc', conv1-conv5 are frozen (requires_grad False), so autograd computes nothing
    below fc6: the same work as our trainLayers ['fc6', 'fc7', 'fc8'].
    """
    model = AlexNet(c["classes"]).train()
    if c["layers"] == "fc":
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("fc"))
    trained = [p for p in model.parameters() if p.requires_grad]
    weights = [p for p in trained if p.dim() > 1]
    biases = [p for p in trained if p.dim() == 1]
    groups = [
        {"params": weights, "weight_decay": c["weightDecay"]},
        {"params": biases, "weight_decay": 0.0},
    ]
    if c.get("optimizer") == "adam":
        opt = torch.optim.Adam(groups, lr=c["lr"])
    else:
        opt = torch.optim.SGD(groups, lr=c["lr"], momentum=c["momentum"])
    x = torch.randn(c["batch"], 3, 227, 227)
    labels = torch.randint(0, c["classes"], (c["batch"],))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels).backward()
        opt.step()

    return {"step": step}


CASES = {
    "conv": conv_case,
    "bias": bias_case,
    "relu": relu_case,
    "lrn": lrn_case,
    "maxpool": maxpool_case,
    "fc": fc_case,
    "dropout": dropout_case,
    "softmaxCrossEntropy": loss_case,
    "sgd": sgd_case,
    "alexnet": alexnet_case,
    "alexnetTrain": alexnet_train_case,
    "classify": classify_case,
}


def export(path, classes, lrn, batch):
    """The network as an ONNX file: LRN as one node (lrn "node") or as PyTorch's exporter writes
    nn.LocalResponseNorm (lrn "decomposed"); the batch size fixed at `batch`, or a dynamic axis
    where `batch` is None. onnxruntime plans memory and picks kernels for fixed shapes ahead.
    """
    if lrn not in ("node", "decomposed"):
        raise ValueError(f"unknown lrn {lrn!r}")
    model = AlexNet(classes).eval()
    for norm in (model.norm1, model.norm2):
        norm.export_node = lrn == "node"
    dynamic = {"input": {0: "batch"}, "logits": {0: "batch"}} if batch is None else None
    with warnings.catch_warnings():
        # 1.13's exporter warns about its own shape inference; the model exports correctly.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            torch.randn(batch or 1, 3, 227, 227),
            path,
            opset_version=13,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes=dynamic,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, required=True, help="torch.set_num_threads")
    threads = parser.parse_args().threads
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    def reply(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    reply(
        {
            "ready": True,
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "threads": torch.get_num_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "blas": blas_info(),
            "kinds": sorted(CASES),
        }
    )
    # The tensors of one case at a time: a new case frees the previous one's (batch 128 needs
    # hundreds of megabytes per layer).
    current_key, current = None, None
    for line in sys.stdin:
        try:
            request = json.loads(line)
            if request["cmd"] == "export":
                export(request["path"], request["classes"], request["lrn"], request["batch"])
                reply({"ok": True})
                continue
            case, op = request["case"], request["op"]
            key = json.dumps(case, sort_keys=True)
            if key != current_key:
                if case["kind"] not in CASES:
                    raise ValueError(f"unknown kind {case['kind']!r}")
                current_key, current = None, None
                current = CASES[case["kind"]](case)
                current_key = key
            if op not in current:
                raise ValueError(f"no op {op!r} for kind {case['kind']!r} (has {', '.join(current)})")
            reply(measure(current[op], request["minReps"], request["minSeconds"]))
        except Exception as error:  # answered to the bench, which reports it and goes on
            reply({"error": f"{type(error).__name__}: {error}"})


if __name__ == "__main__":
    main()
