#!/usr/bin/env python3
"""Writes the decoder fixtures (test/fixtures/decoders/): image files of every format and JPEG
variant the decoders meet, with Pillow's decoding of each in meta.json, the reference both
decoders (sharp and jpeg-js + pngjs, lib/data/decoder.ts) are tested against.

Run from anywhere:  /usr/bin/python3 scripts/make_decoder_fixtures.py
Needs numpy and Pillow with WebP (Debian: python3-numpy, python3-pil), and libavif's avifenc
and avifdec for test/fixtures/avif/ (Debian: libavif-bin). Deterministic: a fixed seed, and the
encoders give the same bytes for the same settings.

Pillow decodes JPEG with libjpeg(-turbo), as Caffe did through OpenCV when it trained the bvlc
weights: default settings, so "fancy" (triangle) chroma upsampling and the slow-integer IDCT,
and no colour management (ICC profiles and EXIF orientation ignored). The reference for each
file is Image.open(file).convert('RGB'), except where meta.json says otherwise:

- images with alpha: Pillow's RGBA composited over white, rounded to nearest, in integers;
- the EXIF-oriented JPEG also carries ImageOps.exif_transpose's pixels ('oriented').

Each entry of meta.json: format, width, height, pixels (base64 of HWC RGB bytes), and what the
test should know (subsampled chroma, lossless, oriented pixels).
"""
import base64
import io
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'decoders'
rng = np.random.default_rng(20261201)


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode()


def blocks(height, width, low=40, high=216):
    """Random colour blocks of 5-13 pixels over a smooth gradient: colour edges at every block
    border (where chroma upsampling shows), away from 0 and 255 so that no decoder clips."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3))
    for c in range(3):
        image[..., c] = low + (high - low) * (0.5 + 0.25 * np.sin(x / 7 + c) * np.cos(y / 5 - c))
    top = 0
    while top < height:
        h = int(rng.integers(5, 14))
        left = 0
        while left < width:
            w = int(rng.integers(5, 14))
            if rng.random() < 0.6:
                image[top:top + h, left:left + w] = rng.integers(low, high, 3)
            left += w
        top += h
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def over_white(rgba):
    """Over white, rounded half up: (c a + 255 (255 - a)) / 255 + 1/2, floored."""
    colour = rgba[..., :3].astype(np.int64)
    alpha = rgba[..., 3:].astype(np.int64)
    return ((2 * (colour * alpha + 255 * (255 - alpha)) + 255) // 510).astype(np.uint8)


def encoded(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def entry(folder, name, data, **extra):
    (folder / name).write_bytes(data)
    decoded = Image.open(folder / name)
    if decoded.mode in ('RGBA', 'LA', 'PA') or 'transparency' in decoded.info:
        pixels = over_white(np.asarray(decoded.convert('RGBA')))
    else:
        pixels = np.asarray(decoded.convert('RGB'))
    return {'format': decoded.format.lower(), 'width': pixels.shape[1],
            'height': pixels.shape[0], 'pixels': b64(pixels), **extra}


def jpegs(folder):
    meta = {}
    # Pillow's subsampling: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0.
    for name, (h, w), options in [
        ('baseline-444.jpg', (40, 48), {'subsampling': 0}),
        ('baseline-422.jpg', (40, 48), {'subsampling': 1}),
        ('baseline-420.jpg', (40, 48), {'subsampling': 2}),
        ('progressive-420.jpg', (40, 48), {'subsampling': 2, 'progressive': True}),
        ('odd-420.jpg', (37, 53), {'subsampling': 2}),
        ('odd-progressive-422.jpg', (29, 43), {'subsampling': 1, 'progressive': True}),
    ]:
        data = encoded(Image.fromarray(blocks(h, w)), 'JPEG', quality=90, **options)
        meta[name] = entry(folder, name, data, subsampled=options['subsampling'] != 0)

    grey = blocks(30, 34)[..., 1]
    meta['grey.jpg'] = entry(folder, 'grey.jpg', encoded(Image.fromarray(grey, 'L'), 'JPEG'),
                             subsampled=False)

    # Adobe CMYK (Pillow writes the APP14 marker and inverted samples), K varying across the image:
    # where K > 0 the CMYK -> RGB conventions differ (naive inverse vs an ICC transform).
    cmyk = np.dstack([blocks(32, 40), np.tile(np.linspace(0, 200, 40), (32, 1))]).astype(np.uint8)
    meta['cmyk.jpg'] = entry(folder, 'cmyk.jpg',
                             encoded(Image.fromarray(cmyk, 'CMYK'), 'JPEG', quality=95),
                             subsampled=False)

    # EXIF orientation 6 (rotate 90 clockwise to display): decoders leave the stored pixels alone.
    exif = Image.Exif()
    exif[0x0112] = 6
    image = Image.fromarray(blocks(24, 36))
    name = 'exif-orientation-6.jpg'
    meta[name] = entry(folder, name, encoded(image, 'JPEG', quality=95, subsampling=0,
                                             exif=exif.tobytes()), subsampled=False)
    oriented = np.asarray(ImageOps.exif_transpose(Image.open(folder / name)).convert('RGB'))
    meta[name].update({'oriented': b64(oriented), 'orientedWidth': oriented.shape[1],
                       'orientedHeight': oriented.shape[0]})
    return meta


def lossless(folder):
    meta = {}
    rgb = blocks(21, 27)
    rgba = np.dstack([blocks(21, 27), rng.integers(0, 256, (21, 27), dtype=np.uint8)])
    rgba[0, :, 3] = 0
    rgba[1, :, 3] = 255
    grey = blocks(18, 22)[..., 0]
    grey_alpha = np.dstack([grey, rng.integers(0, 256, grey.shape, dtype=np.uint8)])
    cases = [
        ('rgb.png', Image.fromarray(rgb), 'PNG', {}),
        ('rgba.png', Image.fromarray(rgba, 'RGBA'), 'PNG', {}),
        ('grey.png', Image.fromarray(grey, 'L'), 'PNG', {}),
        ('grey-alpha.png', Image.fromarray(grey_alpha, 'LA'), 'PNG', {}),
        ('palette.png', Image.fromarray(rgb).quantize(16), 'PNG', {}),
        ('lossless.webp', Image.fromarray(rgb), 'WEBP', {'lossless': True}),
        ('alpha.webp', Image.fromarray(rgba, 'RGBA'), 'WEBP', {'lossless': True}),
        ('lossy.webp', Image.fromarray(rgb), 'WEBP', {'quality': 90}),
        ('rgb.tiff', Image.fromarray(rgb), 'TIFF', {'compression': 'tiff_lzw'}),
    ]
    for name, image, fmt, options in cases:
        meta[name] = entry(folder, name, encoded(image, fmt, **options), lossless=name != 'lossy.webp')
    # An animated GIF: decoders take the first frame.
    frames = [Image.fromarray(blocks(20, 24)).quantize(32) for _ in range(2)]
    meta['animated.gif'] = entry(folder, 'animated.gif',
                                 encoded(frames[0], 'GIF', save_all=True,
                                         append_images=frames[1:], duration=100, loop=0),
                                 lossless=True)
    return meta


def avif(source):
    """test/fixtures/avif/lossless.avif: `source` (a PNG) encoded losslessly by libavif's avifenc
    (libaom; Debian: libavif-bin), an encoder other than sharp's libheif, so that sharp's AVIF
    decoding is checked against pixels it did not make. Pillow 9 reads no AVIF: avifdec decodes
    the file back here, and it must give the source's pixels, or nothing is written."""
    if shutil.which('avifenc') is None or shutil.which('avifdec') is None:
        print('avifenc/avifdec not found (apt-get install libavif-bin): the AVIF fixture is left as it is')
        return
    folder = ROOT.parent / 'avif'
    folder.mkdir(exist_ok=True)
    target = folder / 'lossless.avif'
    with tempfile.TemporaryDirectory() as scratch:
        encoded_file = Path(scratch) / 'lossless.avif'
        decoded_file = Path(scratch) / 'decoded.png'
        # One job and a fixed speed: the same bytes on every run.
        subprocess.run(['avifenc', '--lossless', '--jobs', '1', '--speed', '6', str(source),
                        str(encoded_file)], check=True, capture_output=True)
        subprocess.run(['avifdec', str(encoded_file), str(decoded_file)], check=True,
                       capture_output=True)
        expected = np.asarray(Image.open(source).convert('RGB'))
        if not np.array_equal(np.asarray(Image.open(decoded_file).convert('RGB')), expected):
            raise SystemExit('avifdec does not give the source pixels back: not lossless')
        shutil.copyfile(encoded_file, target)
    print(f'wrote {target}')


def main():
    if ROOT.exists():
        shutil.rmtree(ROOT)
    ROOT.mkdir(parents=True)
    meta = {'pillow': Image.__version__, 'files': {**jpegs(ROOT), **lossless(ROOT)}}
    (ROOT / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')
    print(f'wrote {ROOT}')
    avif(ROOT / 'rgb.png')


if __name__ == '__main__':
    main()
