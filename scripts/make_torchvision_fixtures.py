#!/usr/bin/env python3
"""Writes the fixtures of the .pth reader and the torchvision preset:
test/fixtures/torchvision/.

- tv_zip.pth and tv_legacy.pth: the state_dict of torchvision's AlexNet at
  1/32 of its widths (2/6/12/8/8 channels, 128 features, 10 classes) with
  random weights, saved by torch.save in the zip format and in the legacy
  one (_use_new_zipfile_serialization=False); logits.npy: what that model
  (torchvision's own AlexNet.forward, eval mode) gives for the input below.
- tv_half.pth: the same widths with 1000 classes, every tensor float16 (as a
  model.half() state_dict): the class names of ImageNet, and the widening of
  half to float32; logits_half.npy: its logits (the float16 weights widened
  to float32, as the reader does).
- shapes.json: the state_dict names and shapes of torchvision's AlexNet at
  full size (what alexnet-owt-7be5be79.pth holds), to check the preset's
  real shapes without a 233 MB file.
- dtypes.pth / dtypes_legacy.pth and dtypes.json: storages shared between
  tensors at offsets, a transposed (non-contiguous) view, float16 and
  bfloat16 tensors, and the values each should read as.
- hostile files, each refused by the reader for one reason (meta.json says
  which): a GLOBAL outside PyTorch's weights_only allow-list, a zip bomb, a
  tensor reaching past its storage, an entry shorter than its storage, an
  entry name with '..'.

The widths are torchvision's divided by 32, and the module is torchvision's
own AlexNet class with its features and classifier rebuilt at those widths;
the script checks that the state_dict keys and module types are the ones of
torchvision.models.alexnet(), so the files are laid out as
alexnet-owt-7be5be79.pth is. The input is integer pixels from a formula
(no file needed): p[i] = (i * i * 31 + i * 17) % 251 for i over the
2x3x224x224 elements, x = (p / 255 - mean[c]) / std[c] in float64, rounded
to float32 once, so the tests compute the same floats.

Run:  /usr/bin/python3 scripts/make_torchvision_fixtures.py
Needs Debian's python3-torch and python3-torchvision. The values are
deterministic (fixed seeds), the bytes not all: the legacy format names
storages by their memory addresses, Python's zipfile stamps the time, and
newer PyTorch records a serialization id; a rerun changes those only.
"""
import io
import json
import os
import pickle
import shutil
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torchvision

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'torchvision'
SCALE = 32
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def small_alexnet(classes):
    """torchvision's AlexNet with every width divided by SCALE."""
    c = [64 // SCALE, 192 // SCALE, 384 // SCALE, 256 // SCALE, 256 // SCALE]
    f = 4096 // SCALE
    model = torchvision.models.alexnet(num_classes=classes)
    model.features = nn.Sequential(
        nn.Conv2d(3, c[0], kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c[0], c[1], kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c[1], c[2], kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c[2], c[3], kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(c[3], c[4], kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )
    model.classifier = nn.Sequential(
        nn.Dropout(p=0.5),
        nn.Linear(c[4] * 6 * 6, f),
        nn.ReLU(inplace=True),
        nn.Dropout(p=0.5),
        nn.Linear(f, f),
        nn.ReLU(inplace=True),
        nn.Linear(f, classes),
    )
    reference = torchvision.models.alexnet()
    assert list(model.state_dict()) == list(reference.state_dict())
    assert [type(m) for m in model.modules()] == [type(m) for m in reference.modules()]
    # Random weights at PyTorch's default initialisation scale, biases too
    # (torchvision's are non-zero after training).
    g = torch.Generator().manual_seed(24)
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            p.copy_(torch.randn(p.shape, generator=g) * (2 / fan_in) ** 0.5)
    return model.eval()


def input_batch():
    i = np.arange(2 * 3 * 224 * 224, dtype=np.int64)
    p = ((i * i * 31 + i * 17) % 251).astype(np.float64).reshape(2, 3, 224, 224)
    mean = np.array(MEAN).reshape(1, 3, 1, 1)
    std = np.array(STD).reshape(1, 3, 1, 1)
    return torch.from_numpy(((p / 255 - mean) / std).astype(np.float32))


def save_npy(name, tensor):
    np.save(OUT / name, np.ascontiguousarray(tensor.detach().numpy(), dtype='<f4'))


def models():
    x = input_batch()
    model = small_alexnet(10)
    torch.save(model.state_dict(), OUT / 'tv_zip.pth')
    torch.save(model.state_dict(), OUT / 'tv_legacy.pth',
               _use_new_zipfile_serialization=False)
    with torch.no_grad():
        save_npy('logits.npy', model(x))
    full = torchvision.models.alexnet()
    shapes = {k: list(v.shape) for k, v in full.state_dict().items()}
    lines = [f'  {json.dumps(k)}: {json.dumps(v)}' for k, v in shapes.items()]
    (OUT / 'shapes.json').write_text('{\n' + ',\n'.join(lines) + '\n}\n')
    half = small_alexnet(1000).half()
    torch.save(half.state_dict(), OUT / 'tv_half.pth')
    with torch.no_grad():
        save_npy('logits_half.npy', half.float()(x))


def dtypes():
    g = torch.Generator().manual_seed(7)
    shared = torch.randn(20, generator=g)
    matrix = torch.randn(3, 4, generator=g)
    half = torch.randn(5, generator=g).half()
    bf16 = torch.randn(2, 3, generator=g).bfloat16()
    state = OrderedDict([
        ('shared_head', shared[:6].view(2, 3)),
        ('shared_tail', shared[8:20].view(3, 4)),
        ('transposed', matrix.t()),
        ('half', half),
        ('bfloat16', bf16),
    ])
    assert not state['transposed'].is_contiguous()
    torch.save(state, OUT / 'dtypes.pth')
    torch.save(state, OUT / 'dtypes_legacy.pth', _use_new_zipfile_serialization=False)
    expected = {k: {'shape': list(v.shape), 'values': v.float().flatten().tolist()}
                for k, v in state.items()}
    (OUT / 'dtypes.json').write_text(json.dumps(expected, indent=1) + '\n')


class Storage:
    """Stands for a storage in a hand-made pickle (see persistent_id)."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    """Pickles as torch._utils._rebuild_tensor_v2 of a Storage, as torch.save does."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ('storage', torch.FloatStorage, obj.key, 'cpu', obj.numel)
        return None


class Evil:
    """What a malicious checkpoint holds: a call of os.system on load."""

    def __reduce__(self):
        return os.system, ('echo this ran',)


def hand_made_pth(path, obj, entries, names=None):
    """A zip-format .pth of `obj` (pickled with Pickler) and raw storages."""
    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(obj)
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr((names or {}).get('data.pkl', 'archive/data.pkl'), buffer.getvalue())
        for key, data in entries.items():
            z.writestr((names or {}).get(key, f'archive/data/{key}'), data)
        z.writestr('archive/byteorder', 'little')


def zip_bomb(path):
    """One deflated entry of 16 MiB of zeros whose headers declare 1 KiB."""
    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(
        OrderedDict([('w', Tensor(Storage('0', 256), 0, (256,), (1,)))]))
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('archive/data.pkl', buffer.getvalue())
        z.writestr('archive/data/0', bytes(16 << 20))
    data = bytearray(path.read_bytes())
    real = (16 << 20).to_bytes(4, 'little')
    declared = (1024).to_bytes(4, 'little')
    # The uncompressed size sits in the local header (offset 22) and the
    # central directory entry (offset 24) of that entry: patch both.
    count = data.count(real)
    assert count == 2, count
    path.write_bytes(bytes(data).replace(real, declared))


def hostile():
    floats = np.arange(10, dtype='<f4').tobytes()
    meta = {}

    evil = OrderedDict([('w', torch.zeros(2)), ('run', Evil())])
    torch.save(evil, OUT / 'evil_global.pth')
    torch.save(evil, OUT / 'evil_global_legacy.pth', _use_new_zipfile_serialization=False)
    meta['evil_global.pth'] = 'os.system (GLOBAL outside the allow-list), zip format'
    meta['evil_global_legacy.pth'] = 'os.system (GLOBAL outside the allow-list), legacy format'

    zip_bomb(OUT / 'zip_bomb.pth')
    meta['zip_bomb.pth'] = 'a deflated storage of 16 MiB of zeros declaring 1 KiB'

    hand_made_pth(OUT / 'past_storage.pth', OrderedDict(
        [('w', Tensor(Storage('0', 10), 0, (100,), (1,)))]), {'0': floats})
    meta['past_storage.pth'] = 'a tensor of 100 elements on a storage of 10'
    hand_made_pth(OUT / 'stride_past_storage.pth', OrderedDict(
        [('w', Tensor(Storage('0', 10), 5, (2, 3), (3, 1)))]), {'0': floats})
    meta['stride_past_storage.pth'] = 'offset 5, size (2, 3), stride (3, 1): its last element is element 11 of a storage of 10'
    hand_made_pth(OUT / 'broadcast.pth', OrderedDict(
        [('w', Tensor(Storage('0', 10), 0, (1 << 30,), (0,)))]), {'0': floats})
    meta['broadcast.pth'] = 'a stride-0 view of 2^30 elements over a storage of 10'
    hand_made_pth(OUT / 'short_entry.pth', OrderedDict(
        [('w', Tensor(Storage('0', 10), 0, (10,), (1,)))]), {'0': floats[:24]})
    meta['short_entry.pth'] = 'a storage of 10 float32 whose entry holds 24 bytes'
    hand_made_pth(OUT / 'dotdot.pth', OrderedDict(
        [('w', Tensor(Storage('0', 10), 0, (10,), (1,)))]), {'0': floats},
        names={'0': 'archive/data/../../0'})
    meta['dotdot.pth'] = "an entry named archive/data/../../0"
    (OUT / 'hostile.json').write_text(json.dumps(meta, indent=1) + '\n')


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    torch.manual_seed(0)
    models()
    dtypes()
    hostile()
    print(OUT)


if __name__ == '__main__':
    main()
