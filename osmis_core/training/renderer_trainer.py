"""Training the layout renderer (docs/renderer.md section 4): the renderer's step, state and previews inside the
project's training loop (Trainer.run: the same events, run folder, checkpoints and stop/pause control)."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F

from ..application.runfolder import CHECKPOINT_FORMAT, mismatch_reason
from ..config import OsmisConfig
from ..data.augment import augment_pair
from ..data.masks import class_values
from ..data.renderer_augment import (
    PairAugmentation,
    augment_pairs,
    edit_layout,
    tps_warp,
)
from ..data.sources import TrainingData, load_training_data
from ..errors import CheckpointError, DataError
from ..models.renderer import (
    RendererArchitecture,
    RendererDiscriminator,
    RendererGenerator,
    noise_map,
    recommend_renderer,
    refresh_batch_norm,
)
from ..models.visual import preview_grid, to_uint8_images
from ..rng import offset_seed
from .trainer import StepLosses, Trainer

BN_REFRESH_BATCHES = 10  # no-grad passes that re-estimate the EMA's batch-norm statistics before sampling
PREVIEW_WARPS = 3  # previews: the training layout, this many fixed TPS warps of it, and one edited layout


def renderer_architecture(config: OsmisConfig, width: int, height: int) -> RendererArchitecture:
    """The renderer's architecture for data of width x height pixels (its --max-size and --num-blocks-r). Raises
    ConfigError when the data is too small for it: `osmis run --two-stage` asks before OSMIS trains."""
    return recommend_renderer(width, height, config.data.max_size, config.renderer.num_blocks_r)


def load_renderer_data(
    config: OsmisConfig, data_path: str | Path, mask_path: str | Path | None, device: torch.device
) -> TrainingData:
    """The training pairs at the renderer's training size (sides multiples of 2^m); masks are required."""
    d = config.data
    data = load_training_data(
        data_path,
        mask_path,
        max_size=d.max_size,
        use_masks=True,
        max_classes=d.max_classes,
        background_colour=d.background_color,
        max_frames=d.max_frames,
        device=device,
        architecture_for=lambda w, h: renderer_architecture(config, w, h),
    )
    if data.masks is None:
        raise DataError(
            f"{data_path}: the renderer needs a mask for every frame (none found next to the data); "
            f"give it with --mask."
        )
    return data


def build_renderer(
    config: OsmisConfig, num_classes: int, arch: RendererArchitecture
) -> tuple[RendererGenerator, RendererDiscriminator]:
    r = config.renderer
    g = RendererGenerator(
        num_classes,
        arch.num_blocks,
        ch=r.ch_r,
        hidden=r.spade_hidden,
        z_dim=config.generator.noise_dim,
        norm=r.spade_norm,
        z_spatial=r.noise_spatial,
    )
    d = RendererDiscriminator(num_classes, arch.num_down, ch=r.ch_rd)
    return g, d


def class_balanced_weights(ids: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-pixel weights B x H x W: weight of class c = pixels / (classes present * pixels of c), over the batch."""
    counts = torch.bincount(ids.flatten(), minlength=num_classes).float()
    present = (counts > 0).sum()
    per_class = torch.where(counts > 0, ids.numel() / (present * counts.clamp_min(1)), torch.zeros_like(counts))
    return per_class[ids]


def oasis_loss(logits: torch.Tensor, ids: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """OASIS's per-pixel (K + 1)-way cross-entropy. ids given: target class + 1, class-balanced (a real image, or a
    fake one judged for G); ids None: target 0 ("fake"), unweighted. logits: B x (K+1) x H x W."""
    logits = logits.float()
    if ids is None:
        return F.cross_entropy(
            logits, torch.zeros(logits.shape[0], *logits.shape[2:], dtype=torch.long, device=logits.device)
        )
    loss = F.cross_entropy(logits, ids + 1, reduction="none")
    return (loss * class_balanced_weights(ids, num_classes)).mean()


def labelmix_coins(n: int, num_classes: int, gen: torch.Generator) -> torch.Tensor:
    """LabelMix's decisions: one coin flip per class and sample, n x K float 0/1."""
    return (torch.rand(n, num_classes, generator=gen) < 0.5).float()


def labelmix_map(coins: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The binary map m of LabelMix: the coin of each pixel's class. coins n x K, ids n x H x W -> n x 1 x H x W."""
    return torch.gather(coins.to(ids.device), 1, ids.flatten(1)).view(ids.shape[0], 1, *ids.shape[1:])


def pair_diversity(features: list[torch.Tensor], pairs: int) -> torch.Tensor:
    """Minus the mean absolute difference between samples i and i + pairs (the same layout, two noises), averaged
    over the blocks' outputs: the OSMIS diversity regulariser for pairs of noises of one layout."""
    return -torch.stack([(f[:pairs] - f[pairs : 2 * pairs]).abs().float().mean() for f in features]).mean()


def _onehot(ids: torch.Tensor, k: int) -> torch.Tensor:
    return F.one_hot(ids, k).permute(0, 3, 1, 2).float()


class RendererTrainer(Trainer):
    """Owns the renderer's networks, optimisers and random state; `run()` (Trainer's) trains and yields events."""

    evaluates = False  # the training metrics sample OSMIS's noise-to-image generator; the renderer needs layouts

    def __init__(
        self,
        config: OsmisConfig,
        data: TrainingData,
        run_dir: str | Path | None = None,
        device: torch.device | None = None,
    ):
        self._set_up(config, data, run_dir, device, lambda: build_renderer(config, data.num_classes, data.architecture))
        self.ids = data.masks.argmax(1)  # F x H x W
        r = config.renderer
        self.pair_aug = PairAugmentation(r.p_tps, r.tps_strength, r.p_flip, r.p_affine, r.p_layout_edit)
        self.preview_layouts, self.preview_seeds = self._make_preview_layouts()
        self.osmis_layouts = (
            sample_osmis_layouts(r.layouts_from, self.ids.shape[-2:], config.run.seed, self.device)
            if r.layouts_from
            else None
        )
        self.ada = None  # the renderer's discriminator augmentation has its own fixed probabilities
        self._render_cache: tuple[int, RendererGenerator] | None = None

    # -- batches -------------------------------------------------------------------------------------------
    def _frames(self, n: int) -> torch.Tensor:
        if self.data.num_frames == 1:
            return torch.zeros(n, dtype=torch.long)
        return torch.randint(self.data.num_frames, (n,), generator=self.rng)

    def real_batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n augmented training pairs: images n x 3 x H x W, ids n x H x W."""
        idx = self._frames(n).to(self.device)
        return augment_pairs(self.data.images[idx], self.ids[idx], self.num_classes, self.pair_aug, self.rng)

    def unpaired_layouts(self, n: int) -> torch.Tensor:
        """n layouts without photos: training masks with their own augmentation draws, or (with layouts_from, for
        half of them) masks sampled from an OSMIS run."""
        if self.osmis_layouts is not None:
            from_osmis = torch.rand(n, generator=self.rng) < 0.5
            picks = torch.randint(self.osmis_layouts.shape[0], (n,), generator=self.rng)
        else:
            from_osmis = torch.zeros(n, dtype=torch.bool)
            picks = None
        idx = self._frames(n).to(self.device)
        layouts = self.ids[idx]
        if from_osmis.any():
            layouts = layouts.clone()
            layouts[from_osmis.to(self.device)] = self.osmis_layouts[picks[from_osmis].to(self.device)]
        return augment_pairs(None, layouts, self.num_classes, self.pair_aug, self.rng)[1]

    def noise(self, ids: torch.Tensor, mode: str | None = None) -> torch.Tensor:
        """B x z_dim x H x W noise for layouts ids (B x H x W), one seed per sample drawn from the trainer's stream;
        half of the batches (p_instance_noise) get per-instance noise so local resampling is in-distribution."""
        if mode is None:
            mode = (
                "instance"
                if float(torch.rand((), generator=self.rng)) < self.config.renderer.p_instance_noise
                else "global"
            )
        seeds = torch.randint(2**62, (ids.shape[0],), generator=self.rng).tolist()
        z_dim = self.generator.z_dim
        maps = [noise_map(lab, z_dim, s, mode, self.generator.z_spatial) for lab, s in zip(ids.cpu().numpy(), seeds)]
        return torch.stack(maps).to(self.device)

    def fake_layouts(self, real_ids: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """The generator's layouts for one iteration, with (pairs, paired):

        with the diversity regulariser on, the first `pairs` layouts are repeated right after themselves (two noises
        per layout); of the distinct layouts, the first `paired` are the real batch's (LabelMix mixes them with
        their photo), the rest are unpaired layouts (docs/renderer.md section 4.4), each with probability `unpaired`.
        """
        b = real_ids.shape[0]
        pairs = b // 2 if self.config.regularisation.lambda_dr > 0 and b >= 2 else 0
        distinct = b - pairs
        # each distinct layout is unpaired with probability `unpaired`: the right share for any batch size
        unpaired = int((torch.rand(distinct, generator=self.rng) < self.config.renderer.unpaired).sum())
        paired = distinct - unpaired
        parts = [real_ids[:paired]]
        if unpaired:
            parts.append(self.unpaired_layouts(unpaired))
        ids = torch.cat(parts)
        ids = torch.cat([ids[:pairs], ids]) if pairs else ids
        # layouts are [d_0..d_{p-1}, d_0..d_{p-1}, d_p..]: the real batch's paired layouts sit at pairs + i
        return ids, pairs, paired

    def _d_augment(self, images: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The project's differentiable augmentation before D, with the per-pixel targets carried along."""
        a = self.config.augmentation
        if not a.augment or a.p_aug <= 0:
            return images, ids
        (out,), onehot = augment_pair([images], _onehot(ids, self.num_classes), a.p_aug, self.rng)
        return out, onehot.argmax(1)

    # -- one iteration -------------------------------------------------------------------------------------
    def train_step(self) -> StepLosses:
        """One iteration: G step (D frozen), D step (real, fake and LabelMix in one pass), EMA update."""
        cfg, k = self.config, self.num_classes
        G, D = self.generator, self.discriminator
        b = cfg.optimisation.batch_size
        real_img, real_ids = self.real_batch(b)
        ids, pairs, paired = self.fake_layouts(real_ids)
        layout = _onehot(ids, k)

        # 1. generator step
        for p in self._d_params:
            p.requires_grad_(False)
        with self._autocast():
            fake, feats = G(layout, self.noise(ids), features=True)
            aug_fake, aug_ids = self._d_augment(fake, ids)
            loss_adv = oasis_loss(D(aug_fake), aug_ids, k)
        terms = {"g_adversarial": loss_adv}
        loss_g = loss_adv
        if pairs:
            dr = pair_diversity(feats, pairs)
            loss_g = loss_g + cfg.regularisation.lambda_dr * dr
            terms["g_diversity"] = dr
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimiser_step(self.opt_g)
        for p in self._d_params:
            p.requires_grad_(True)

        # 2. discriminator step: reals, fakes of the same layouts (new noise) and LabelMix of paired ones, stacked
        # into one pass so that one augmentation draw gives them all the same geometry
        with torch.no_grad(), self._autocast():
            fake = G(layout, self.noise(ids)).float()
        use_lm = cfg.renderer.lambda_labelmix > 0 and paired > 0
        stack, stack_ids = [real_img, fake], [real_ids, ids]
        if use_lm:
            lm_real, lm_fake, lm_ids = real_img[:paired], fake[pairs : pairs + paired], ids[pairs : pairs + paired]
            coins = labelmix_coins(paired, k, self.rng)
            m = labelmix_map(coins, lm_ids)
            stack.append(m * lm_real + (1 - m) * lm_fake)
            stack_ids.append(lm_ids)
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            aug, aug_ids = self._d_augment(torch.cat(stack), torch.cat(stack_ids))
            out = D(aug)
        out_real, out_fake = out[:b], out[b : 2 * b]
        loss_real = oasis_loss(out_real, aug_ids[:b], k)
        loss_fake = oasis_loss(out_fake, None, k)
        loss_d = loss_real + loss_fake
        terms.update(d_real_loss=loss_real, d_fake_loss=loss_fake)  # d_real/d_fake name the mean logits
        if use_lm:
            # the three parts were warped alike, so the mixed image's map is the coins of its warped classes
            m_aug = labelmix_map(coins, aug_ids[2 * b :])
            target = m_aug * out_real[:paired] + (1 - m_aug) * out_fake[pairs : pairs + paired]
            lm = F.mse_loss(out[2 * b :].float(), target.float())
            loss_d = loss_d + cfg.renderer.lambda_labelmix * lm
            terms["d_labelmix"] = lm
        elif cfg.renderer.lambda_labelmix > 0:
            terms["d_labelmix"] = loss_d.new_zeros(())  # no paired layout this time: every step logs the same terms
        loss_d.backward()
        self.optimiser_step(self.opt_d)

        # 3. EMA of the generator
        self.update_ema()
        self.step += 1
        self._render_cache = None
        terms["g_total"], terms["d_total"] = loss_g, loss_d
        return StepLosses(
            {key: v.detach() for key, v in terms.items()},
            _realness(out_real, aug_ids[:b]),
            _realness(out_fake, aug_ids[b : 2 * b]),
        )

    # -- state ---------------------------------------------------------------------------------------------
    def render_generator(self) -> RendererGenerator:
        """The EMA generator with batch-norm statistics re-estimated on training layouts (fixed draws, so the same
        step always gives the same sampler; the training stream is not touched). Cached until the next step."""
        if self._render_cache is not None and self._render_cache[0] == self.step:
            return self._render_cache[1]
        g = copy.deepcopy(self.generator_ema)
        gen = torch.Generator().manual_seed(offset_seed(self.config.run.seed, 2))
        b = self.config.optimisation.batch_size
        batches = []
        for i in range(BN_REFRESH_BATCHES):
            idx = (torch.randint(self.data.num_frames, (b,), generator=gen)).to(self.device)
            ids = augment_pairs(None, self.ids[idx], self.num_classes, self.pair_aug, gen)[1]
            mode = "instance" if i % 2 else "global"
            z = torch.stack(
                [
                    noise_map(lab, g.z_dim, offset_seed(self.config.run.seed, 100 * i + j), mode, g.z_spatial)
                    for j, lab in enumerate(ids.cpu().numpy())
                ]
            ).to(self.device)
            batches.append((_onehot(ids, self.num_classes), z))
        refresh_batch_norm(g, batches)
        self._render_cache = (self.step, g)
        return g

    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": "renderer",
            "step": self.step,
            "config": self.config.to_dict(),
            "architecture": self.data.architecture.to_dict(),
            "num_classes": self.num_classes,
            "class_colours": _class_colours(self.data),
            "class_values": class_values(self.data.mask_report.to_dict() if self.data.mask_report else None),
            "mask_kind": self.data.mask_report.kind if self.data.mask_report else None,
            "generator": self.generator.state_dict(),
            "generator_ema": self.generator_ema.state_dict(),
            "generator_render": self.render_generator().state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": {"trainer": self.rng.get_state(), "torch": torch.get_rng_state()},
            "health": self.monitor.health.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        try:
            if state.get("model") != "renderer":
                raise ValueError("not a renderer checkpoint")
            self.generator.load_state_dict(state["generator"])
            self.generator_ema.load_state_dict(state["generator_ema"])
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.rng.set_state(state["rng"]["trainer"])
            torch.set_rng_state(state["rng"]["torch"])
            self.monitor.health.load_state_dict(state.get("health"))
            self.step = int(state["step"])
            self._render_cache = None
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(f"the checkpoint does not match this run's model ({mismatch_reason(exc)}).") from None

    # -- outputs -------------------------------------------------------------------------------------------
    def _make_preview_layouts(self) -> tuple[torch.Tensor, list[int]]:
        """The training layout, PREVIEW_WARPS fixed TPS warps of it and one edited (flipped, object-edited) layout,
        with one fixed noise seed each: the same on every preview and after a resume."""
        gen = torch.Generator().manual_seed(offset_seed(self.config.run.seed, 1))
        base = self.ids[0]
        onehot = _onehot(base[None], self.num_classes)
        layouts = [base]
        for _ in range(PREVIEW_WARPS):
            layouts.append(tps_warp(None, onehot, max(self.config.renderer.tps_strength, 0.05), gen)[1].argmax(1)[0])
        edited = base
        for _ in range(4):  # an edit may find no room; a few tries
            _, edited = edit_layout(None, base.flip(-1), gen)
            if not torch.equal(edited, base.flip(-1)):
                break
        layouts.append(edited)
        return torch.stack(layouts), [offset_seed(self.config.run.seed, 1 + i) for i in range(len(layouts))]

    @torch.no_grad()
    def save_preview(self) -> Path:
        g = self.render_generator()
        ids = self.preview_layouts
        z = torch.stack(
            [noise_map(lab, g.z_dim, s, "global", g.z_spatial) for lab, s in zip(ids.cpu().numpy(), self.preview_seeds)]
        ).to(self.device)
        images = g(_onehot(ids, self.num_classes), z)
        grid = preview_grid(to_uint8_images(images), ids.to(torch.uint8).cpu().numpy())
        path = self.folder.samples / f"step_{self.step:07d}.png"
        grid.save(path)
        return path


OSMIS_LAYOUTS = 64  # masks sampled once from a --layouts-from run


def check_layouts_from(run_dir: str, num_classes: int, said: str = "--layouts-from") -> None:
    """The run --layouts-from names must be an OSMIS run whose masks have the training data's `num_classes`
    classes; checked before a run folder is written (session._check_config_for_data). Raises ConfigError naming
    the option as `said` (the app's label: it has no flags): a folder that is no run, a renderer run or a run without
    such masks."""
    from ..application.generate import load_generator
    from ..application.runfolder import RunFolder
    from ..errors import ConfigError, OsmisError

    folder = RunFolder(run_dir)
    try:
        folder.require()
        if OsmisConfig.from_dict(folder.read_run_json().get("config", {}), str(folder.run_json), {}).model != "osmis":
            raise OsmisError(f"{run_dir}: is a renderer run; give an OSMIS run of the same data.")
        _, meta = load_generator(run_dir)
    except OsmisError as exc:
        raise ConfigError(f"{said}: {exc}") from None
    if meta["num_classes"] != num_classes:
        raise ConfigError(
            f"{run_dir}: {said} needs an OSMIS run with masks of {num_classes} classes, it has "
            f"{meta['num_classes'] or 'no masks'}."
        )


def sample_osmis_layouts(run_dir: str, size: tuple[int, int], seed: int, device: torch.device) -> torch.Tensor:
    """OSMIS_LAYOUTS masks (N x H x W int64 at the renderer's size, nearest) sampled with a fixed seed from the EMA
    generator of an OSMIS run with masks of the training data's classes (one check_layouts_from accepted)."""
    from ..application.generate import load_generator, sample

    generator, _ = load_generator(run_dir, device=device)
    masks = torch.cat([m.argmax(1) for _, _, m in sample(generator, OSMIS_LAYOUTS, seed, device=device)])
    return F.interpolate(masks[:, None].float(), size=tuple(size), mode="nearest")[:, 0].long()


def _realness(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of (logit of the layout's class - logit of 'fake'): > 0 where D says real."""
    logits = logits.detach().float()
    return (logits.gather(1, (ids + 1)[:, None]) - logits[:, :1]).mean()


def _class_colours(data: TrainingData) -> list | None:
    """Colour of each class in the training masks (colour masks only), so layouts drawn in those colours decode."""
    report = data.mask_report
    if report is None or not report.classes or any(c.colour is None for c in report.classes):
        return None
    return [list(c.colour) for c in sorted(report.classes, key=lambda c: c.id)]
