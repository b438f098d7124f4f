"""mIoU of generated masks: train a small U-Net on one side (generated or real pairs), test on the other.

Direction 1 ("gen_to_real"): train on the generated image-mask pairs, test on the real pair(s).
Direction 2 ("real_to_gen"): train on the real pair(s), test on the generated pairs (also per image).
The real pairs are resized to the generated size (image bilinear, mask nearest).

Two settings (MIoUSetting): FULL is the reference definition (docs/metrics.md section 5: 500 steps per direction,
segmenter at the gallery's size) and runs wherever a GPU is; AFFORDABLE bounds the segmenter's input to `max_side`
pixels on its longer side and trains fewer steps, so that a CPU scores a gallery in about a minute. Both score the
segmenter's predictions at the gallery's full size (logits upsampled bilinearly) against the full-size masks, so they
measure the same quantity; `benchmarks/bench_miou.py` measures how far the two numbers are apart. Early stopping on a
held-out split was not used: direction 2 trains on the single real pair, which leaves nothing to hold out.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..models.layers import class_ids
from ..optim import adam
from ._common import check_images, check_masks, resize_images, resize_masks
from .miou_settings import AFFORDABLE, FULL, MIN_SIZE, MIOU_SETTINGS, MIoUSetting, Progress, train_size
from .weights import RANDOM_SEED, build_resnet18, seeded


def miou_setting_for(device: str | torch.device, name: str = "auto") -> MIoUSetting:
    """ "full" or "affordable" by name; "auto": full on an accelerator, affordable on a CPU."""
    if name == "auto":
        return AFFORDABLE if torch.device(device).type == "cpu" else FULL
    if name not in MIOU_SETTINGS:
        raise ValueError(f"mIoU setting must be auto, {' or '.join(MIOU_SETTINGS)}, got '{name}'")
    return MIOU_SETTINGS[name]


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class _UpBlock(nn.Module):
    """Upsample to the skip's size, concatenate it, then `convs` x (conv3x3-BN-ReLU)."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, convs: int = 2):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [
                nn.Conv2d(
                    in_channels + skip_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False
                ),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
        self.convs = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], 1))


class UNetResNet18(nn.Module):
    """U-Net on a torchvision ResNet-18 encoder: B x 3 x H x W in [0, 1] -> B x K x H x W logits.

    The decoder is kept light (one conv at the two finest levels): on a CPU it costs about what the
    encoder does.
    """

    def __init__(self, encoder: nn.Module, num_classes: int):
        super().__init__()
        self.stem = nn.Sequential(encoder.conv1, encoder.bn1, encoder.relu)  # 64 @ H/2
        self.pool = encoder.maxpool
        self.layer1, self.layer2 = encoder.layer1, encoder.layer2  # 64 @ H/4, 128 @ H/8
        self.layer3, self.layer4 = encoder.layer3, encoder.layer4  # 256 @ H/16, 512 @ H/32
        self.up4 = _UpBlock(512, 256, 128)  # @ H/16
        self.up3 = _UpBlock(128, 128, 64)  # @ H/8
        self.up2 = _UpBlock(64, 64, 32)  # @ H/4
        self.up1 = _UpBlock(32, 64, 16, convs=1)  # @ H/2
        self.up0 = _UpBlock(16, 3, 16, convs=1)  # @ H, with the input itself as skip
        self.head = nn.Conv2d(16, num_classes, 1)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN)[None, :, None, None])
        self.register_buffer("std", torch.tensor(_IMAGENET_STD)[None, :, None, None])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x0 = ((images - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        s1 = self.stem(x0)
        s2 = self.layer1(self.pool(s1))
        s3 = self.layer2(s2)
        s4 = self.layer3(s3)
        x = self.layer4(s4)
        for up, skip in ((self.up4, s4), (self.up3, s3), (self.up2, s2), (self.up1, s1), (self.up0, x0)):
            x = up(x, skip)
        return self.head(x)


def _augment(
    images: torch.Tensor, onehot: torch.Tensor, generator: torch.Generator, max_shift: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """One random resized crop (75-100 % of each side), horizontal flip and shift per sample, shared by
    image and mask; areas shifted in from outside are reflected. Shapes are kept."""
    b = images.shape[0]
    scale = 0.75 + 0.25 * torch.rand(b, generator=generator)  # B
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)  # B
    reach = 1 - scale + max_shift  # B: crop centres stay within the image plus a small shift
    shift = (2 * torch.rand(b, 2, generator=generator) - 1) * reach[:, None]  # B x 2
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(images.device), list(images.shape), align_corners=False)  # B x H x W x 2
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    onehot = F.grid_sample(onehot, grid, mode="nearest", padding_mode="reflection", align_corners=False)
    return images, onehot


def _loss(logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """0.5 * BCE + 0.5 * soft Dice (per class, averaged), both on per-class sigmoids of B x K x H x W."""
    bce = F.binary_cross_entropy_with_logits(logits, onehot)
    probs = torch.sigmoid(logits)
    dims = (0, 2, 3)
    dice = (2 * (probs * onehot).sum(dims) + 1) / (probs.sum(dims) + onehot.sum(dims) + 1)  # K
    return 0.5 * bce + 0.5 * (1 - dice.mean())


def _confusion(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-image confusion matrices: B x H x W predictions and targets -> B x K x K (rows: target)."""
    index = target * num_classes + pred  # B x H x W
    offsets = torch.arange(pred.shape[0], device=pred.device)[:, None, None] * num_classes**2
    counts = torch.bincount((index + offsets).flatten(), minlength=pred.shape[0] * num_classes**2)
    return counts.view(-1, num_classes, num_classes)


def _scores(confusion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel accuracy and mIoU (over classes present in target or prediction) from ... x K x K matrices."""
    confusion = confusion.double()
    tp = torch.diagonal(confusion, dim1=-2, dim2=-1)  # ... x K
    union = confusion.sum(-1) + confusion.sum(-2) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.nan)
    accuracy = tp.sum(-1) / confusion.sum((-2, -1))
    return accuracy, iou.nanmean(-1)


class MIoUResult(NamedTuple):
    """Pixel accuracy and mIoU in both directions, and per generated image for direction 2."""

    accuracy_gen_to_real: float
    miou_gen_to_real: float
    accuracy_real_to_gen: float
    miou_real_to_gen: float
    per_image_accuracy: torch.Tensor  # N, float64
    per_image_miou: torch.Tensor  # N, float64
    steps: int  # training steps per direction
    train_size: tuple[int, int]  # (h, w) of the segmenter's input


class MIoUCost(NamedTuple):
    """What `SegmentationMIoU.probe` measured (wall seconds on its device): building a U-Net with its optimiser
    and training pairs, one training step (mean over the timed steps after an untimed one), one test batch of
    `eval_batch_size` images at the gallery's size (forward, upsampling, confusion); `done`: steps of the
    real-direction training already done (compute goes on from there), `spent_s`: what the probe took in all."""

    build_s: float
    step_s: float
    test_s: float
    done: int
    spent_s: float


class _Training:
    """One segmenter's training on fixed pairs: `step()` does one Adam step on a random augmented batch; `done`
    counts them. The model, optimiser and random stream persist between calls, so a training may be stopped and
    continued with the same result as running it in one go."""

    def __init__(self, model, optimiser, images, masks, num_classes: int, batch_size: int, seed: int):
        self.model, self.optimiser = model, optimiser
        self.images, self.batch_size = images, batch_size
        self.onehot = F.one_hot(masks, num_classes).permute(0, 3, 1, 2).float()  # N x K x H x W
        self.generator = torch.Generator().manual_seed(seed)
        self.done = 0

    def step(self) -> None:
        pick = torch.randint(len(self.images), (self.batch_size,), generator=self.generator).to(self.images.device)
        x, y = _augment(self.images[pick], self.onehot[pick], self.generator)
        loss = _loss(self.model(x), y)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.done += 1


class SegmentationMIoU:
    """Train-on-one-side, test-on-the-other segmentation scores of generated image-mask pairs.

    The encoder starts from ImageNet ResNet-18 weights (weights.py); `random_weights` starts it from a
    fixed-seed random initialisation instead. `steps`, `batch_size` and `lr` default to the reference
    500 / 5 / 1e-4 (Adam). `max_side` bounds the segmenter's input (see MIoUSetting); scores are always taken
    at the gallery's size. `progress(stage, step, steps)` is called during training.
    """

    # Steps of the real-direction training timed by `probe` (after one untimed step): at least PROBE_STEPS and
    # at least PROBE_MIN_S seconds of them, so that cheap steps are timed over a window longer than their jitter.
    PROBE_STEPS = 3
    PROBE_MIN_S = 1.0

    def __init__(
        self,
        num_classes: int,
        *,
        steps: int = 500,
        batch_size: int = 5,
        lr: float = 1e-4,
        max_side: int | None = None,
        weights_dir: str | Path | None = None,
        random_weights: bool = False,
        device: str | torch.device = "cpu",
        seed: int = RANDOM_SEED,
        eval_batch_size: int = 8,
        progress: Progress | None = None,
    ):
        if num_classes < 2:
            raise ValueError(f"mIoU needs at least 2 mask classes, got {num_classes}")
        if max_side is not None and max_side < MIN_SIZE:
            raise ValueError(f"mIoU max_side must be at least {MIN_SIZE}, got {max_side}")
        self.num_classes = num_classes
        self.steps, self.batch_size, self.lr, self.max_side = steps, batch_size, lr, max_side
        self.device = torch.device(device)
        self.seed = seed
        self.eval_batch_size = eval_batch_size
        self.progress = progress
        self._encoder = build_resnet18(weights_dir, random_weights)
        self._real: tuple[torch.Tensor, torch.Tensor] | None = None
        self._fake_images: list[torch.Tensor] = []
        self._fake_masks: list[torch.Tensor] = []
        self._real_training: _Training | None = None  # started by `probe`, finished by `compute`
        self._probe_s = 0.0  # wall seconds of `probe` calls: counted in the real-direction training's phase
        self._phases: dict[str, float] = {}

    def _check_classes(self, masks: torch.Tensor, name: str) -> None:
        if int(masks.max()) >= self.num_classes:
            raise ValueError(f"{name} contain class id {int(masks.max())} but num_classes is {self.num_classes}")

    def set_real(self, real_images: torch.Tensor, real_masks: torch.Tensor) -> None:
        """Set the training pair(s): T x 3 x H x W images in [0, 1] and T x H x W int64 masks."""
        check_masks(real_masks, check_images(real_images, "real images"), "real masks")
        self._check_classes(real_masks, "real masks")
        self._real = (real_images, real_masks)
        self._real_training, self._probe_s = None, 0.0  # a probe's training was on the previous pair

    def update(self, fake_images: torch.Tensor, fake_masks: torch.Tensor) -> None:
        """Add generated pairs: N x 3 x H x W images in [0, 1] and N x H x W int64 masks."""
        check_masks(fake_masks, check_images(fake_images, "generated images"), "generated masks")
        self._check_classes(fake_masks, "generated masks")
        if min(fake_images.shape[-2:]) < MIN_SIZE:
            raise ValueError(
                f"mIoU needs images of at least {MIN_SIZE} pixels per side (the encoder downsamples "
                f"32x), got {fake_images.shape[-2]}x{fake_images.shape[-1]}"
            )
        self._fake_images.append(fake_images)
        self._fake_masks.append(fake_masks)

    def _training(self, images: torch.Tensor, masks: torch.Tensor) -> _Training:
        """A fresh U-Net with its optimiser, ready to train on the given pairs (on the device, at the training
        size)."""
        with seeded(self.seed):
            model = UNetResNet18(copy.deepcopy(self._encoder), self.num_classes)
        model = model.to(self.device, memory_format=torch.channels_last).train()
        optimiser = adam(model.parameters(), self.device, lr=self.lr)
        return _Training(model, optimiser, images, masks, self.num_classes, self.batch_size, self.seed)

    def _train(self, training: _Training, stage: str) -> UNetResNet18:
        """Train on until `steps` steps are done (a training `probe` started counts its steps)."""
        if training.done and self.progress is not None:
            self.progress(stage, training.done, self.steps)
        while training.done < self.steps:
            training.step()
            if self.progress is not None:
                self.progress(stage, training.done, self.steps)
        return training.model.eval()

    def _real_pairs(self, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The real pair(s) on the device at the generated images' `size` (h, w)."""
        assert self._real is not None
        return resize_images(self._real[0].to(self.device), size), resize_masks(self._real[1].to(self.device), size)

    def _start_real_training(self, size: tuple[int, int]) -> _Training:
        images, masks = self._real_pairs(size)
        small = train_size(size, self.max_side)
        return self._training(resize_images(images, small), resize_masks(masks, small))

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def probe(self) -> MIoUCost:
        """Measure what `compute` will cost, on the pairs set so far (set_real and at least one update), by doing
        the first steps of its real-direction training (which `compute` goes on from, so they are not thrown away)
        and two test batches of the generated images on that model (the second timed). Wall times; see MIoUCost."""
        if self._real is None or not self._fake_images:
            raise RuntimeError("SegmentationMIoU: call set_real() and update() before probe()")
        size = tuple(self._fake_images[0].shape[-2:])
        start = time.perf_counter()
        training = self._real_training or self._start_real_training(size)
        self._real_training = training
        build_s = time.perf_counter() - start
        if training.done < self.steps:
            training.step()  # untimed: it also pays one-time work (kernels, allocations, optimiser state)
        timed, timed_s = 0, 0.0
        while training.done < self.steps and (timed < self.PROBE_STEPS or timed_s < self.PROBE_MIN_S):
            step_start = time.perf_counter()
            training.step()
            self._sync()
            timed_s += time.perf_counter() - step_start
            timed += 1
        steps_s = time.perf_counter() - start - build_s
        step_s = timed_s / timed if timed else steps_s / max(training.done, 1)
        images = self._fake_images[0][: self.eval_batch_size].to(self.device)
        masks = self._fake_masks[0][: self.eval_batch_size].to(self.device)
        model = training.model.eval()
        self._test(model, images, masks)  # untimed: the first inference pass pays one-time work
        test_start = time.perf_counter()
        self._test(model, images, masks)
        self._sync()
        test_s = (time.perf_counter() - test_start) * self.eval_batch_size / len(images)
        model.train()
        spent_s = time.perf_counter() - start
        self._probe_s += spent_s
        return MIoUCost(build_s, step_s, test_s, training.done, spent_s)

    @torch.inference_mode()
    def _test(self, model: UNetResNet18, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Per-image confusion matrices of the model's predictions at the masks' size: N x K x K.
        Images are resized to the training size; logits are upsampled bilinearly to the masks' size."""
        size = train_size(tuple(masks.shape[-2:]), self.max_side)
        confusions = []
        for x, y in zip(images.split(self.eval_batch_size), masks.split(self.eval_batch_size)):
            logits = model(resize_images(x, size))
            logits = (
                F.interpolate(logits, size=y.shape[-2:], mode="bilinear", align_corners=False)
                if size != tuple(y.shape[-2:])
                else logits
            )
            confusions.append(_confusion(class_ids(logits), y, self.num_classes))
        return torch.cat(confusions)

    def compute(self) -> MIoUResult:
        """Train and test in both directions."""
        if self._real is None:
            raise RuntimeError("SegmentationMIoU: call set_real() before compute()")
        if not self._fake_images:
            raise RuntimeError("SegmentationMIoU: no generated pairs; call update() first")
        fake_images = torch.cat(self._fake_images).to(self.device)
        fake_masks = torch.cat(self._fake_masks).to(self.device)
        size = tuple(fake_images.shape[-2:])
        real_images, real_masks = self._real_pairs(size)
        small = train_size(size, self.max_side)
        phases: dict[str, float] = {}
        start = time.perf_counter()
        training = self._training(resize_images(fake_images, small), resize_masks(fake_masks, small))
        gen_model = self._train(training, "mIoU: train on generated")
        self._sync()
        phases["train on generated"] = time.perf_counter() - start
        start = time.perf_counter()
        accuracy_1, miou_1 = _scores(self._test(gen_model, real_images, real_masks).sum(0))
        phases["test on real"] = time.perf_counter() - start
        del gen_model, training
        start = time.perf_counter()
        training = self._real_training or self._start_real_training(size)
        self._real_training = None  # consumed: another compute trains afresh
        real_model = self._train(training, "mIoU: train on real")
        self._sync()
        phases["train on real"] = time.perf_counter() - start + self._probe_s
        self._probe_s = 0.0
        start = time.perf_counter()
        per_image = self._test(real_model, fake_images, fake_masks)  # N x K x K
        accuracy_2, miou_2 = _scores(per_image.sum(0))
        per_accuracy, per_miou = _scores(per_image)
        phases["test on generated"] = time.perf_counter() - start
        self._phases = phases
        return MIoUResult(
            float(accuracy_1),
            float(miou_1),
            float(accuracy_2),
            float(miou_2),
            per_accuracy.cpu(),
            per_miou.cpu(),
            self.steps,
            small,
        )

    def phase_seconds(self) -> dict[str, float]:
        """Wall seconds of each phase of the last `compute`: "train on generated", "test on real", "train on real"
        (with the `probe` that started it), "test on generated"."""
        return dict(self._phases)

    def reset(self) -> None:
        """Forget the generated pairs added so far (the real pair, and a real-direction training a `probe`
        started, are kept)."""
        self._fake_images, self._fake_masks = [], []
