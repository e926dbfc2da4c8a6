#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures that the jest suites compare our
ops with.

Output: test/fixtures/<case>/<tensor>.npy (np.save: little-endian float32
or int32, C order) and test/fixtures/<case>/meta.json (the case's
parameters, plus the shape and dtype of every tensor written). The tests
only read these files; they never call Python.

Run from anywhere:  python3 scripts/make_fixtures.py
Needs python3 with torch and numpy (on Debian: /usr/bin/python3 with
python3-torch). The output is deterministic (fixed seeds, one thread,
deterministic algorithms): rerunning it rewrites the same files.

Inputs are always drawn in float32. The single-op cases compute their
reference from those float32 values in float64 and round it to float32
once: a precise reference, so a test's tolerance only has to cover our own
float32 rounding. The small AlexNet runs in float32 end to end, as
PyTorch's CPU kernels do: its test compares against PyTorch's own float32
behaviour, through three SGD steps. The Adam and AdamW cases run in
float64 from the same float32 starting values (adam_update: the optimiser
alone; small_alexnet_adam: the small AlexNet), and lr_schedules records
torch.optim.lr_scheduler's learning rates as doubles in meta.json.
"""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

FIXTURES = Path(__file__).resolve().parent.parent / 'test' / 'fixtures'
FLOAT64 = 'float64, rounded to float32'

# Caffe's bvlc_reference LRN.
LRN_BVLC = {'size': 5, 'alpha': 1e-4, 'beta': 0.75, 'k': 1.0}
ALPHA_CONVENTION = (
    'PyTorch divides alpha by size: scale = k + alpha / size * (sum of x^2 '
    'over the size channels centred on c, zero-padded), y = x * '
    'scale^-beta; the same convention as Caffe and cuDNN.'
)
ABS_SUMS = (
    '<t>_abs holds, for each element of <t>, the sum of the absolute values '
    'of the terms that make it up (the same convolution on |x|, |w|, |b|, '
    '|dy|): the scale of its rounding error.'
)


class Case:
    """One fixture folder: collects tensors, then writes meta.json."""

    def __init__(self, name, **params):
        self.dir = FIXTURES / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.meta = dict(params)
        self.tensors = {}

    def save(self, name, value):
        """Saves a tensor or array as '<f4' (floating) or '<i4' (integer)."""
        if isinstance(value, torch.Tensor):
            value = value.detach().numpy()
        kind = '<f4' if np.issubdtype(value.dtype, np.floating) else '<i4'
        array = np.ascontiguousarray(value, dtype=kind)
        path = self.dir / f'{name}.npy'
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, array)
        self.tensors[name] = {'shape': list(array.shape), 'dtype': kind}

    def save_all(self, **tensors):
        for name, value in tensors.items():
            self.save(name, value)

    def close(self):
        self.meta['tensors'] = dict(sorted(self.tensors.items()))
        text = json.dumps(self.meta, indent=2)
        # Lists of numbers (shapes, strides) on one line.
        text = re.sub(r'\[[^][{}"]*\]',
                      lambda m: json.dumps(json.loads(m.group())), text)
        (self.dir / 'meta.json').write_text(text + '\n')


def randn(generator, *shape, std=1.0):
    return torch.randn(*shape, generator=generator) * std


def float64_reference(fn, inputs, dy=None):
    """fn applied to float64 copies of the float32 inputs; with dy, also
    the gradients of sum(fn(inputs) * dy) with respect to each input."""
    leaves = [t.double().requires_grad_(dy is not None) for t in inputs]
    y = fn(*leaves)
    if dy is None:
        return y, []
    y.backward(dy.double())
    return y, [leaf.grad for leaf in leaves]


def conv_groups():
    g = torch.Generator().manual_seed(1)
    stride, pad, groups = (2, 1), (2, 1), 2
    x = randn(g, 2, 6, 13, 11)
    w = randn(g, 8, 3, 5, 3)
    b = randn(g, 8)

    def conv(x, w, b):
        return F.conv2d(x, w, b, stride=stride, padding=pad, groups=groups)

    dy = randn(g, *conv(x, w, b).shape)
    y, (dx, dw, db) = float64_reference(conv, [x, w, b], dy)
    # The same sums over |terms|, for the error bound.
    y_abs, (dx_abs, dw_abs, db_abs) = float64_reference(
        conv, [x.abs(), w.abs(), b.abs()], dy.abs())
    case = Case('conv_groups', stride=stride, pad=pad, groups=groups,
                reference=FLOAT64, abs_sums=ABS_SUMS)
    case.save_all(x=x, w=w, b=b, dy=dy, y=y, dx=dx, dw=dw, db=db,
                  y_abs=y_abs, dx_abs=dx_abs, dw_abs=dw_abs, db_abs=db_abs)
    case.close()


def conv_alexnet1():
    g = torch.Generator().manual_seed(2)
    x = randn(g, 1, 3, 63, 63)
    w = randn(g, 96, 3, 11, 11, std=(2 / (3 * 11 * 11)) ** 0.5)
    b = randn(g, 96, std=0.1)

    def conv(x, w, b):
        return F.conv2d(x, w, b, stride=4)

    y, _ = float64_reference(conv, [x, w, b])
    y_abs, _ = float64_reference(conv, [x.abs(), w.abs(), b.abs()])
    case = Case('conv_alexnet1', stride=[4, 4], pad=[0, 0], groups=1,
                reference=FLOAT64, abs_sums=ABS_SUMS)
    case.save_all(x=x, w=w, b=b, y=y, y_abs=y_abs)
    case.close()


def lrn():
    g = torch.Generator().manual_seed(3)
    variants = {
        # Post-ReLU activations up to 50: the scale reaches 1.25, so the
        # normalisation matters.
        'bvlc': (LRN_BVLC,
                 torch.relu(torch.rand(2, 16, 7, 7, generator=g) * 60 - 10)),
        # A strong normalisation (the scale is about 3) on small signed
        # values; with 7 channels, 4 of them have a clipped window.
        'strong': ({'size': 5, 'alpha': 1.0, 'beta': 0.75, 'k': 2.0},
                   randn(g, 2, 7, 5, 6)),
    }
    case = Case('lrn', alpha_convention=ALPHA_CONVENTION, reference=FLOAT64,
                variants={})
    for name, (params, x) in variants.items():
        dy = randn(g, *x.shape)
        y, (dx,) = float64_reference(
            torch.nn.LocalResponseNorm(**params), [x], dy)
        case.meta['variants'][name] = params
        for tensor, value in {'x': x, 'dy': dy, 'y': y, 'dx': dx}.items():
            case.save(f'{name}/{tensor}', value)
    case.close()


def maxpool():
    g = torch.Generator().manual_seed(4)
    shape = (2, 4, 13, 13)
    count = int(np.prod(shape))
    # A permutation of distinct multiples of 1/64 (exact in float32): no
    # ties anywhere.
    x = (torch.randperm(count, generator=g) - count // 2).float() / 64
    x = x.reshape(shape)

    def pool(x):
        return F.max_pool2d(x, kernel_size=3, stride=2)

    dy = randn(g, *pool(x).shape)
    y, (dx,) = float64_reference(pool, [x], dy)
    case = Case('maxpool', kernel=3, stride=2, pad=0, reference=FLOAT64)
    case.save_all(x=x, dy=dy, y=y, dx=dx)
    case.close()


def softmax_xent():
    g = torch.Generator().manual_seed(5)
    logits = randn(g, 4, 7, std=3)
    logits[0, 2] = 30  # one dominant class, labelled: loss near 0
    logits[1, 0], logits[1, 5] = 30, -30  # labelled at -30: loss near 60
    logits[2] = torch.tensor([29.0, 30.0, 28.5, -30.0, 30.0, -29.5, 0.0])
    labels = torch.tensor([2, 5, 1, 6])
    loss, (dlogits,) = float64_reference(
        lambda z: F.cross_entropy(z, labels), [logits], torch.tensor(1.0))
    case = Case('softmax_xent', reduction='mean', reference=FLOAT64)
    case.save_all(logits=logits, labels=labels, loss=loss, dlogits=dlogits)
    case.close()


# The bvlc AlexNet at width 1/16 on 99x99 inputs: (name, in, out, kernel,
# stride, pad, groups, LRN after the ReLU, max-pool after that).
SMALL_CONVS = [
    ('conv1', 3, 6, 11, 4, 0, 1, True, True),
    ('conv2', 6, 16, 5, 1, 2, 2, True, True),
    ('conv3', 16, 24, 3, 1, 1, 1, False, False),
    ('conv4', 24, 24, 3, 1, 1, 2, False, False),
    ('conv5', 24, 16, 3, 1, 1, 2, False, True),
]
SMALL_FCS = [('fc6', 64, 256), ('fc7', 256, 256), ('fc8', 256, 10)]
SGD = {'lr': 0.01, 'momentum': 0.9, 'weight_decay': 5e-4}
STEPS = 3
# Two float32 implementations that sum in different orders disagree by
# rounding: here PyTorch's float32 stays within 1.2e-6 of a float64 run,
# relative to each tensor's largest value. Were a ReLU input or a pooling
# window's runner-up that close to a tie, the two could take different
# branches and their gradients would differ by far more than rounding, so
# the script refuses inputs with a tie closer than this (relative to the
# layer's largest |input|).
TIE_MARGIN = 1e-5


class SmallAlexNet(torch.nn.Module):
    def __init__(self, generator):
        super().__init__()
        for name, cin, cout, kernel, stride, pad, groups, _, _ in SMALL_CONVS:
            self.add_module(name, torch.nn.Conv2d(
                cin, cout, kernel, stride, pad, groups=groups))
        for name, fin, fout in SMALL_FCS:
            self.add_module(name, torch.nn.Linear(fin, fout))
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name.endswith('.weight'):
                    fan_in = param[0].numel()  # in / groups * kh * kw, or in
                    std = (2 / fan_in) ** 0.5
                else:
                    std = 0.05
                param.copy_(randn(generator, *param.shape, std=std))

    def forward(self, x, activations, ties):
        """Logits. Fills activations (after each pool and after fc7) and,
        for each ReLU and pooling, its distance to the closest tie relative
        to its largest |input|."""
        def relu(z, name):
            ties[f'{name} relu'] = (z.abs().min() / z.abs().max()).item()
            return torch.relu(z)

        def pool(a, name):
            windows = F.unfold(a.flatten(0, 1).unsqueeze(1), 3, stride=2)
            top2 = windows.topk(2, dim=1).values
            # Ties among zeros only feed ReLUs that pass nothing back.
            gaps = (top2[:, 0] - top2[:, 1])[top2[:, 0] > 0]
            ties[f'{name} pool'] = (gaps.min() / a.abs().max()).item()
            return F.max_pool2d(a, kernel_size=3, stride=2)

        for name, *_, has_lrn, has_pool in SMALL_CONVS:
            x = relu(getattr(self, name)(x), name)
            if has_lrn:
                x = F.local_response_norm(x, **LRN_BVLC)
            if has_pool:
                x = pool(x, name)
                activations[f'pool{name[-1]}'] = x
        x = x.flatten(1)  # C, H, W order
        x = relu(self.fc6(x), 'fc6')
        x = relu(self.fc7(x), 'fc7')
        activations['fc7'] = x
        return self.fc8(x)


def small_alexnet():
    # Seed chosen so that the loss falls over the steps and no ReLU or
    # pooling comes within TIE_MARGIN of a tie (the closest is 2.3e-5).
    g = torch.Generator().manual_seed(138)
    model = SmallAlexNet(g)
    x = randn(g, 2, 3, 99, 99)
    labels = torch.randint(0, 10, (2,), generator=g)
    params = dict(model.named_parameters())
    weights = [p for n, p in params.items() if n.endswith('.weight')]
    biases = [p for n, p in params.items() if n.endswith('.bias')]
    optimiser = torch.optim.SGD(
        [{'params': weights}, {'params': biases, 'weight_decay': 0.0}],
        **SGD)

    conv_fields = ['name', 'in', 'out', 'kernel', 'stride', 'pad', 'groups',
                   'lrn', 'pool']
    case = Case(
        'small_alexnet',
        reference='float32 end to end (PyTorch CPU kernels), SGD included',
        convs=[dict(zip(conv_fields, layer)) for layer in SMALL_CONVS],
        fcs=[dict(zip(['name', 'in', 'out'], layer)) for layer in SMALL_FCS],
        lrn=LRN_BVLC, lrn_alpha_convention=ALPHA_CONVENTION,
        pool={'kernel': 3, 'stride': 2, 'pad': 0},
        sgd=dict(SGD, weight_decay_on='weights only, as Caffe does',
                 form='v = momentum * v + (g + weight_decay * w); '
                      'w -= lr * v (PyTorch)'),
        parameters=list(params), steps=STEPS, tie_margin=TIE_MARGIN,
        closest_tie=[],
    )
    case.save_all(x=x, labels=labels, **params)
    losses = []
    for step in range(1, STEPS + 1):
        activations, ties = {}, {}
        optimiser.zero_grad()
        logits = model(x, activations, ties)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        closest = min(ties, key=ties.get)
        if ties[closest] < TIE_MARGIN:
            raise RuntimeError(f'step {step}: {closest} is near a tie')
        case.meta['closest_tie'].append(ties[closest])
        losses.append(loss.item())
        if step == 1:
            case.save_all(logits=logits, loss=loss, **activations)
            for name, param in params.items():
                case.save(f'grad/{name}', param.grad)
        optimiser.step()
        for name, param in params.items():
            case.save(f'step{step}/{name}', param)
    case.save('losses', np.array(losses))
    case.close()


# Adam and AdamW (torch.optim, amsgrad off) with weight decay on the
# weights, in float64. The optimiser alone: PyTorch's defaults but for eps,
# raised to 1e-6 so that it is not negligible against sqrt(v).
ADAM = {'lr': 0.01, 'betas': [0.8, 0.99], 'eps': 1e-6, 'weight_decay': 0.1}
ADAM_STEPS = 4
# The small AlexNet: the tutorial's lr and PyTorch's betas and eps.
NET_ADAM = {'lr': 0.001, 'betas': [0.9, 0.999], 'eps': 1e-8,
            'weight_decay': 0.05}


def adam_optimiser(kind, weights, biases, settings):
    """torch.optim.Adam or AdamW, decay on the weights only."""
    cls = torch.optim.Adam if kind == 'adam' else torch.optim.AdamW
    return cls([{'params': weights},
                {'params': biases, 'weight_decay': 0.0}],
               lr=settings['lr'], betas=tuple(settings['betas']),
               eps=settings['eps'], weight_decay=settings['weight_decay'])


def adam_update():
    """ADAM_STEPS steps of Adam and AdamW on a weight and a bias from
    float32 values and gradients, in float64: each step's weights and
    state (exp_avg, exp_avg_sq, step) rounded to float32 once."""
    g = torch.Generator().manual_seed(23)
    start = {'weight': randn(g, 6, 9), 'bias': randn(g, 6)}
    grads = [{name: randn(g, *t.shape) for name, t in start.items()}
             for _ in range(ADAM_STEPS)]
    case = Case(
        'adam_update', reference=FLOAT64, settings=ADAM, steps=ADAM_STEPS,
        decay_on='weight only (bias in a group with weight_decay 0)',
        adam='torch.optim.Adam: L2 added to the gradient',
        adamw='torch.optim.AdamW: decoupled decay')
    case.save_all(**start)
    for step, grad in enumerate(grads, 1):
        for name, t in grad.items():
            case.save(f'grad{step}/{name}', t)
    for kind in ['adam', 'adamw']:
        params = {name: t.double().clone().requires_grad_()
                  for name, t in start.items()}
        optimiser = adam_optimiser(kind, [params['weight']],
                                   [params['bias']], ADAM)
        for step, grad in enumerate(grads, 1):
            for name, p in params.items():
                p.grad = grad[name].double()
            optimiser.step()
            for name, p in params.items():
                state = optimiser.state[p]
                case.save(f'{kind}/step{step}/{name}', p)
                for key in ['exp_avg', 'exp_avg_sq']:
                    case.save(f'{kind}/step{step}/{key}/{name}', state[key])
                case.meta.setdefault(f'{kind}_step', {})[name] = \
                    state['step'].item()
    case.close()


def small_alexnet_adam():
    """The small AlexNet's first STEPS steps with Adam and AdamW from the
    weights and data of small_alexnet, in float64: the losses and each
    step's weights, rounded to float32 once."""
    case = Case('small_alexnet_adam', reference=FLOAT64, settings=NET_ADAM,
                steps=STEPS, data='small_alexnet fixture (same seed)',
                decay_on='weights only, as Caffe does')
    for kind in ['adam', 'adamw']:
        g = torch.Generator().manual_seed(138)
        model = SmallAlexNet(g).double()
        x = randn(g, 2, 3, 99, 99).double()
        labels = torch.randint(0, 10, (2,), generator=g)
        params = dict(model.named_parameters())
        optimiser = adam_optimiser(
            kind, [p for n, p in params.items() if n.endswith('.weight')],
            [p for n, p in params.items() if n.endswith('.bias')], NET_ADAM)
        losses = []
        for step in range(1, STEPS + 1):
            optimiser.zero_grad()
            loss = F.cross_entropy(model(x, {}, {}), labels)
            loss.backward()
            losses.append(loss.item())
            optimiser.step()
            for name, param in params.items():
                case.save(f'{kind}/step{step}/{name}', param)
        case.meta[f'{kind}_losses'] = losses
    case.close()


def lr_schedules():
    """torch.optim.lr_scheduler's learning rates, step by step, in meta.json
    (as doubles): CosineAnnealingLR, LinearLR, and LinearLR then
    CosineAnnealingLR through SequentialLR (a warmup before a cosine)."""
    def run(make, steps, lr=0.1):
        optimiser = torch.optim.SGD([torch.zeros(1, requires_grad=True)],
                                    lr=lr)
        scheduler = make(optimiser)
        lrs = []
        for _ in range(steps):
            lrs.append(optimiser.param_groups[0]['lr'])
            optimiser.step()
            scheduler.step()
        return lrs

    sched = torch.optim.lr_scheduler
    case = Case('lr_schedules', base_lr=0.1)
    case.meta['cosine'] = dict(
        T_max=10, eta_min=0.001,
        lrs=run(lambda o: sched.CosineAnnealingLR(o, 10, 0.001), 10))
    case.meta['linear'] = dict(
        start_factor=0.25, total_iters=4,
        lrs=run(lambda o: sched.LinearLR(o, 0.25, 1.0, 4), 7))
    case.meta['linear_default'] = dict(
        total_iters=5, lrs=run(lambda o: sched.LinearLR(o, total_iters=5), 6))
    case.meta['warmup_cosine'] = dict(
        warmup=4, start_factor=0.25, total=16, eta_min=1e-4,
        lrs=run(lambda o: sched.SequentialLR(o, [
            sched.LinearLR(o, 0.25, 1.0, 4),
            sched.CosineAnnealingLR(o, 12, 1e-4)], milestones=[4]), 16))
    case.close()


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for make in [conv_groups, conv_alexnet1, lrn, maxpool, softmax_xent,
                 small_alexnet, adam_update, small_alexnet_adam,
                 lr_schedules]:
        make()
        print(FIXTURES / make.__name__)


if __name__ == '__main__':
    main()
