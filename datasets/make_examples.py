"""Make the embedded examples procedurally (no third-party images): run `python datasets/make_examples.py`.

- example_scene/   a 320x192 landscape (sky, hills, trees, rocks) with a 3-class mask (research layout)
- example_texture/ a 320x192 pebble texture, image only (SIV-GAN)
- example_video/   a 24-frame 320x192 clip (clip.mp4) of a rolling ball, with per-frame 2-class masks
All are generated from a fixed seed and are dedicated to the public domain (CC0-1.0), see LICENSE.md.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent
W, H = 320, 192
PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9)


def smooth_noise(rng, h, w, scale):
    small = rng.random((max(2, h // scale), max(2, w // scale)))
    return np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)) / 255.0


def scene(rng):
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3))
    sky = np.stack([0.45 + 0.3 * yy / H, 0.65 + 0.2 * yy / H, np.full((H, W), 0.95)], -1)
    img[:] = sky + 0.05 * smooth_noise(rng, H, W, 24)[..., None]
    horizon = (0.55 * H + 12 * np.sin(xx / 37.0) + 8 * np.sin(xx / 13.0 + 1)).astype(int)
    ground = yy >= horizon
    grass = np.stack([0.25, 0.5, 0.18]) * (0.7 + 0.6 * smooth_noise(rng, H, W, 6))[..., None]
    img[ground] = grass[ground]
    mask = np.zeros((H, W), np.uint8)
    for _ in range(5):  # trees: trunk + round crown (class 1)
        cx, base = rng.integers(20, W - 20), rng.integers(int(0.62 * H), H - 8)
        r = rng.integers(10, 18)
        trunk = (abs(xx - cx) <= 2) & (yy <= base) & (yy >= base - 2 * r)
        crown = (xx - cx) ** 2 + (yy - (base - 2 * r)) ** 2 <= r * r
        img[trunk] = [0.35, 0.22, 0.1]
        img[crown] = np.array([0.1, 0.38, 0.12]) * (0.7 + 0.6 * smooth_noise(rng, H, W, 3)[crown])[:, None]
        mask[trunk | crown] = 1
    for _ in range(4):  # rocks: grey ellipses (class 2)
        cx, cy = rng.integers(15, W - 15), rng.integers(int(0.7 * H), H - 6)
        a, b = rng.integers(8, 16), rng.integers(5, 9)
        rock = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1
        shade = 0.45 + 0.25 * smooth_noise(rng, H, W, 4)[rock]
        img[rock] = np.stack([shade, shade, shade * 1.05], -1)
        mask[rock] = 2
    return (np.clip(img, 0, 1) * 255).astype(np.uint8), mask


def texture(rng):
    img = np.zeros((H, W, 3))
    img[:] = [0.55, 0.5, 0.42]
    yy, xx = np.mgrid[0:H, 0:W]
    for _ in range(70):
        cx, cy = rng.integers(0, W), rng.integers(0, H)
        a, b = rng.integers(6, 16), rng.integers(5, 12)
        t = rng.random() * np.pi
        u, v = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t), -(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1
        colour = np.array([0.4, 0.38, 0.35]) + 0.35 * rng.random(3)
        img[inside] = colour * (0.8 + 0.3 * (1 - (u[inside] / a) ** 2 - (v[inside] / b) ** 2))[:, None]
    img *= (0.85 + 0.3 * smooth_noise(rng, H, W, 5))[..., None]
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def save_indexed(ids, path):
    im = Image.fromarray(ids, "P")
    im.putpalette(PALETTE)
    im.save(path)


def video(rng, frames=24):
    import av

    out = ROOT / "example_video"
    (out / "mask").mkdir(parents=True, exist_ok=True)
    background = texture(np.random.default_rng(7))
    yy, xx = np.mgrid[0:H, 0:W]
    with av.open(str(out / "clip.mp4"), "w") as container:
        stream = container.add_stream("mpeg4", rate=12)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.bit_rate = 1_500_000
        for i in range(frames):
            cx, cy = 30 + i * (W - 60) / (frames - 1), H * 0.6 + 25 * np.sin(i / 3.0)
            ball = (xx - cx) ** 2 + (yy - cy) ** 2 <= 22**2
            frame = background.copy()
            frame[ball] = (
                np.array([200, 60, 40]) * (0.75 + 0.25 * np.cos((xx[ball] - cx + yy[ball] - cy) / 9.0))[:, None]
            )
            save_indexed(ball.astype(np.uint8) * 1, out / "mask" / f"{i:05d}.png")
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main():
    rng = np.random.default_rng(2026)
    img, mask = scene(rng)
    d = ROOT / "example_scene"
    (d / "image").mkdir(parents=True, exist_ok=True)
    (d / "mask").mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).filter(ImageFilter.SMOOTH).save(d / "image" / "00000.png")
    save_indexed(mask, d / "mask" / "00000.png")
    d = ROOT / "example_texture" / "image"
    d.mkdir(parents=True, exist_ok=True)
    Image.fromarray(texture(rng)).save(d / "00000.png")
    video(rng)


if __name__ == "__main__":
    main()
