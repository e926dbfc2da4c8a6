#!/usr/bin/env python3
"""Writes the image fixtures of the data pipeline's tests (test/fixtures/images/).

Run from anywhere:  /usr/bin/python3 scripts/make_image_fixtures.py
Needs numpy and Pillow (Debian: python3-numpy, python3-pil). The output is
deterministic: a fixed seed, and Pillow's encoders are deterministic for
the same settings, so rerunning it rewrites the same files.

- kaggle/: a tiny Kaggle Dogs vs. Cats style folder (cat.N.jpg, dog.N.jpg):
  reddish cats and bluish dogs of several sizes, plus a greyscale JPEG, a
  CMYK JPEG, a PNG with alpha and one truncated (corrupt) JPEG.
- formats/: one file per decoding case, with the pixels each must decode to
  in formats/meta.json (exact for the lossless PNG cases; Pillow's own
  decoding for the JPEGs, which the tests compare within a tolerance,
  because two JPEG decoders may differ by an IDCT rounding).
- resize/meta.json: a random image and Pillow's BILINEAR resize of it
  (Image.resize with reducing_gap=None: the plain triangle filter whose
  support scales with the downscale factor), stretched and shorter-side.
- pca/meta.json: pixels and numpy's mean, covariance (of pixels / 255) and
  eigen-decomposition (np.linalg.eigh), eigenvalues in descending order.

Arrays of bytes are stored in the JSON files as base64 strings.
"""
import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'images'
rng = np.random.default_rng(20120101)


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode()


def smooth_image(height, width, base, spread=40):
    """A smooth RGB image around colour `base`: gradients plus low-frequency
    noise, which JPEG keeps close to the source."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.empty((height, width, 3))
    for c in range(3):
        phase = rng.uniform(0, 2 * np.pi)
        image[..., c] = (base[c] + spread * np.sin(x / width * np.pi + phase)
                         + spread / 2 * np.cos(y / height * 2 * np.pi + phase))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def jpeg_bytes(image, **options):
    out = io.BytesIO()
    image.save(out, 'JPEG', **options)
    return out.getvalue()


def write_kaggle(folder):
    folder.mkdir(parents=True)
    sizes = [(40, 48), (36, 52), (50, 40), (44, 44), (30, 60), (48, 36)]
    for label, base in [('cat', (190, 90, 70)), ('dog', (70, 100, 190))]:
        for i, (h, w) in enumerate(sizes):
            pixels = smooth_image(h, w, base)
            (folder / f'{label}.{i}.jpg').write_bytes(
                jpeg_bytes(Image.fromarray(pixels), quality=90))
    grey = smooth_image(42, 46, (150, 150, 150))[..., 0]
    (folder / 'cat.6.jpg').write_bytes(jpeg_bytes(Image.fromarray(grey, 'L'), quality=90))
    cmyk = np.zeros((38, 44, 4), np.uint8)
    cmyk[..., 0] = 20
    cmyk[..., 1] = 120
    cmyk[..., 2] = 140
    (folder / 'cat.7.jpg').write_bytes(
        jpeg_bytes(Image.fromarray(cmyk, 'CMYK'), quality=95))
    rgba = np.dstack([smooth_image(40, 40, (70, 100, 190)),
                      np.full((40, 40), 255, np.uint8)])
    rgba[:10, :, 3] = 0
    rgba[10:20, :, 3] = 128
    Image.fromarray(rgba, 'RGBA').save(folder / 'dog.6.png')
    whole = jpeg_bytes(Image.fromarray(smooth_image(40, 40, (70, 100, 190))), quality=90)
    (folder / 'dog.7.jpg').write_bytes(whole[: len(whole) // 2])


def write_formats(folder):
    folder.mkdir(parents=True)
    meta = {}

    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / 'rgb.png')
    meta['rgb.png'] = {'width': 7, 'height': 5, 'pixels': b64(rgb), 'exact': True}

    rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    rgba[0, :, 3] = 0
    rgba[1, :, 3] = 255
    Image.fromarray(rgba, 'RGBA').save(folder / 'rgba.png')
    colour = rgba[..., :3].astype(np.int64)
    alpha = rgba[..., 3:].astype(np.int64)
    # Over white, rounded half up: (c a + 255 (255 - a)) / 255 + 1/2, floored.
    over_white = (2 * (colour * alpha + 255 * (255 - alpha)) + 255) // 510
    meta['rgba.png'] = {'width': 7, 'height': 5, 'pixels': b64(over_white), 'exact': True}

    grey16 = rng.integers(0, 65536, (4, 6), dtype=np.uint16)
    Image.fromarray(grey16).save(folder / 'grey16.png')
    # pngjs scales 16-bit samples to 8 bits as floor(v * 255 / 65535 + 1/2).
    grey8 = (2 * grey16.astype(np.int64) * 255 + 65535) // (2 * 65535)
    meta['grey16.png'] = {'width': 6, 'height': 4, 'pixels': b64(np.repeat(grey8[..., None], 3, 2)),
                          'exact': True}

    palette_index = rng.integers(0, 4, (3, 5), dtype=np.uint8)
    palette = np.array([[255, 0, 0], [0, 128, 0], [10, 20, 30], [250, 240, 230]], np.uint8)
    paletted = Image.fromarray(palette_index, 'P')
    paletted.putpalette(palette.flatten().tolist())
    paletted.save(folder / 'palette.png')
    meta['palette.png'] = {'width': 5, 'height': 3, 'pixels': b64(palette[palette_index]),
                           'exact': True}

    # JPEGs: 4:4:4 (no chroma subsampling), so decoders differ only by IDCT rounding.
    smooth = smooth_image(16, 24, (120, 140, 90))
    (folder / 'rgb.jpg').write_bytes(jpeg_bytes(Image.fromarray(smooth), quality=95, subsampling=0))
    grey = smooth_image(16, 24, (128, 128, 128))[..., 1]
    (folder / 'grey.jpg').write_bytes(jpeg_bytes(Image.fromarray(grey, 'L'), quality=95))
    # CMYK with K = 0: every CMYK -> RGB convention agrees there (R = 255 - C, ...).
    cmyk = np.zeros((8, 8, 4), np.uint8)
    cmyk[..., 0] = 200
    cmyk[..., 1] = 50
    cmyk[..., 2] = 10
    (folder / 'cmyk.jpg').write_bytes(jpeg_bytes(Image.fromarray(cmyk, 'CMYK'), quality=100))
    for name in ['rgb.jpg', 'grey.jpg', 'cmyk.jpg']:
        decoded = np.asarray(Image.open(folder / name).convert('RGB'))
        meta[name] = {'width': decoded.shape[1], 'height': decoded.shape[0],
                      'pixels': b64(decoded), 'exact': False}

    whole = (folder / 'rgb.jpg').read_bytes()
    (folder / 'truncated.jpg').write_bytes(whole[: len(whole) // 2])
    (folder / 'truncated.png').write_bytes((folder / 'rgb.png').read_bytes()[:60])
    (folder / 'text.jpg').write_bytes(b'not an image\n')
    (folder / 'empty.png').write_bytes(b'')
    (folder / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')


def write_resize(folder):
    folder.mkdir(parents=True)
    cases = []
    for height, width, size in [(23, 37, 16), (23, 37, 64), (61, 97, 20), (30, 20, 12)]:
        source = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(source)
        stretch = np.asarray(image.resize((size, size), Image.BILINEAR, reducing_gap=None))
        shorter = min(width, height)
        target_w = size if width == shorter else round(width * size / shorter)
        target_h = size if height == shorter else round(height * size / shorter)
        x0 = (target_w - size) // 2
        y0 = (target_h - size) // 2
        sx = width / target_w
        sy = height / target_h
        box = (x0 * sx, y0 * sy, (x0 + size) * sx, (y0 + size) * sy)
        centre = np.asarray(image.resize((size, size), Image.BILINEAR, box=box, reducing_gap=None))
        cases.append({'width': width, 'height': height, 'size': size, 'source': b64(source),
                      'stretch': b64(stretch), 'shorter': b64(centre)})
    (folder / 'meta.json').write_text(json.dumps({'pillow': Image.__version__, 'cases': cases},
                                                 indent=1) + '\n')


def write_pca(folder):
    folder.mkdir(parents=True)
    count, side = 3, 12
    # Correlated channels, as in photographs: a shared component plus per-channel noise.
    shared = rng.normal(120, 40, (count, side, side, 1))
    pixels = np.clip(np.rint(shared * np.array([1.0, 0.8, 0.6]) + rng.normal(0, 15, (count, side, side, 3))
                             + np.array([0, 20, 10])), 0, 255).astype(np.uint8)
    x = pixels.reshape(-1, 3).astype(np.float64) / 255
    covariance = np.cov(x.T, bias=True)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    meta = {
        'count': count, 'height': side, 'width': side, 'pixels': b64(pixels),
        'mean255': (x.mean(0) * 255).tolist(),
        'std255': (x.std(0) * 255).tolist(),
        'covariance': covariance.tolist(),
        'eigenvalues': values[order].tolist(),
        # Columns are eigenvectors: eigenvectors[:, i] belongs to eigenvalues[i].
        'eigenvectors': vectors[:, order].tolist(),
    }
    (folder / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')


def main():
    if ROOT.exists():
        shutil.rmtree(ROOT)
    write_kaggle(ROOT / 'kaggle')
    write_formats(ROOT / 'formats')
    write_resize(ROOT / 'resize')
    write_pca(ROOT / 'pca')
    print(f'wrote {ROOT}')


if __name__ == '__main__':
    main()
