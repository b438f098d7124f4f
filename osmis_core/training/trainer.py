"""The training loop of docs/model.md section 4, as a stream of typed events."""

from __future__ import annotations

import contextlib
import copy
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ..application.runfolder import CHECKPOINT_FORMAT, RunFolder, mismatch_reason
from ..config import OsmisConfig
from ..data.augment import augment_pair
from ..data.sources import TrainingData, load_training_data
from ..devices import autocast_dtype
from ..errors import CheckpointError
from ..events import (
    CheckpointSaved,
    Event,
    IterationDone,
    PreviewReady,
    RunDescription,
    StepEval,
    StepStats,
    TrainControl,
    TrainingFailed,
    TrainingFinished,
    TrainingPaused,
    TrainingResumed,
    TrainingStarted,
)
from ..files import atomic_write_bytes
from ..models import Discriminator, DiscriminatorOutput, Generator
from ..models.visual import mask_ids, preview_grid, to_uint8_images
from ..optim import adam
from ..rng import offset_seed, seeded_global_rng
from .ada import AdaptiveP, real_sign_mean
from .losses import discriminator_terms, diversity_regularisation
from .monitor import TrainingMonitor

PREVIEW_SAMPLES = 8


def load_data_for(
    config: OsmisConfig, data_path: str | Path, mask_path: str | Path | None, device: torch.device
) -> TrainingData:
    d, g, disc = config.data, config.generator, config.discriminator
    return load_training_data(
        data_path,
        mask_path,
        max_size=d.max_size,
        use_masks=d.masks,
        max_classes=d.max_classes,
        background_colour=d.background_color,
        max_frames=d.max_frames,
        num_blocks_g=g.num_blocks_g,
        num_blocks_d=disc.num_blocks_d,
        num_blocks_d0=disc.num_blocks_d0,
        device=device,
        channels_last=config.run.channels_last,
    )


def build_models(config: OsmisConfig, data: TrainingData) -> tuple[Generator, Discriminator]:
    a = data.architecture
    g = Generator(
        a.noise_shape,
        a.num_blocks_g,
        data.num_classes,
        ch=config.generator.ch_g,
        noise_dim=config.generator.noise_dim,
        norm=config.generator.norm_g,
        fast_upsample=config.run.fast_upsample,
    )
    d = Discriminator(
        a.num_blocks_d,
        a.num_blocks_d0,
        data.num_classes,
        ch=config.discriminator.ch_d,
        norm=config.discriminator.norm_d,
    )
    return g, d


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@dataclass
class StepLosses:
    """Detached loss tensors of one iteration (read back to the host only at logging ticks)."""

    terms: dict[str, torch.Tensor]
    d_real: torch.Tensor
    d_fake: torch.Tensor


def lr_decay_factor(step: int, iters: int, decay_from: float) -> float:
    """Factor in [0, 1] on both learning rates at 0-based `step` of a run of `iters` iterations: 1 before
    decay_from * iters, then falling linearly to 0 at step `iters` (pix2pix / SPADE's constant-then-linear-decay
    schedule, their niter + niter_decay); decay_from 1 keeps it at 1 throughout (the OSMIS paper's constant rates)."""
    start = decay_from * iters
    if step < start or iters <= start:
        return 1.0
    return max(0.0, (iters - step) / (iters - start))


def r1_penalty(out: DiscriminatorOutput, inputs: list[torch.Tensor]) -> torch.Tensor:
    """R1 (Mescheder, Geiger and Nowozin 2018, "Which training methods for GANs do actually converge?"): the
    squared norm of the gradient of D's real/fake score of each real image with respect to that image's pyramid,
    summed over the input scales, mean over the batch; a float32 scalar >= 0 with the graph kept (create_graph), so
    that D's backward includes it. The score of a sample is the mean over D's real/fake logit maps (low-level and
    layout; the content output too without masks, where it is a real/fake logit rather than the (K + 1)-way class
    score) of the map's mean over its patches: one number per image as in the single-logit discriminators R1 and
    its usual weights (StyleGAN2-ADA's gamma = 0.0002 * resolution^2 / batch) were made for. inputs: the real image
    pyramid D was given, each B x 3 x H_s x W_s with requires_grad."""
    score = torch.stack([m.float().flatten(1).mean(1) for m in real_fake_maps(out)]).mean(0)  # B
    grads = torch.autograd.grad(score.sum(), inputs, create_graph=True)
    return sum(g.float().pow(2).flatten(1).sum(1).mean() for g in grads)


def real_fake_maps(out: DiscriminatorOutput) -> list[torch.Tensor]:
    """D's real/fake logit maps: the low-level and layout outputs, and the content output without masks (SIV-GAN's
    real/fake logit; with masks it is OSMIS's (K + 1)-way class score, which no real/fake regulariser reads)."""
    return out.low_level + out.layout + (out.content if out.mask is None else [])


def lecam_penalty(maps: list[torch.Tensor], anchors: torch.Tensor) -> torch.Tensor:
    """One half of the LeCam regulariser (Tseng, Jiang, Liu, Yang and Yang 2021, "Regularizing Generative
    Adversarial Networks under Limited Data", eq. 3): the squared distance of each logit of each of D's real/fake
    maps (`real_fake_maps`) of one pass to that map's anchor (`anchors`, one per map: the moving average of the
    other pass's mean output), mean over the pixels and the batch, averaged over the maps; a float32 scalar with
    the graph kept. The paper's D gives one logit per image; OSMIS's gives a map per scale and branch, so each map
    is pulled towards the anchor of its own kind of output rather than all maps towards one number. This is the
    paper's two-sided square; the authors' code squares only relu(D(x) - alpha_F) and relu(alpha_R - D(G(z)))."""
    return torch.stack([(m.float() - a).pow(2).mean() for m, a in zip(maps, anchors)]).mean()


class LeCamAnchors:
    """The moving averages alpha_R and alpha_F of the LeCam regulariser, one per real/fake map of D: training
    state that a checkpoint keeps, so that a resumed (or rolled back) run pulls towards the same anchors. They start
    at 0, as in the authors' code (which also divides out that start's bias, TensorFlow's zero_debias; here the
    first hundred or so steps pull towards anchors still near 0), and each pass updates its own kind's anchors from
    its detached map means before its penalty is taken (the authors' order); the real pass, back-propagated first,
    reads the fake anchors of the step before."""

    def __init__(self, decay: float):
        self.decay = decay
        self.real: torch.Tensor | None = None  # float32, one per map; None until the first step
        self.fake: torch.Tensor | None = None

    def update(self, maps: list[torch.Tensor], real: bool) -> None:
        """Move the real (or fake) anchors towards this pass's map means (detached): alpha <- decay * alpha +
        (1 - decay) * mean."""
        means = torch.stack([m.detach().float().mean() for m in maps])
        if self.real is None:
            self.real, self.fake = torch.zeros_like(means), torch.zeros_like(means)
        if real:
            self.real = torch.lerp(self.real, means, 1.0 - self.decay)
        else:
            self.fake = torch.lerp(self.fake, means, 1.0 - self.decay)

    def state_dict(self) -> dict:
        return {"real": self.real, "fake": self.fake}

    def load_state_dict(self, state: dict | None, device: torch.device) -> None:
        """The anchors of `state` (None: those of a checkpoint saved before the first step or by an earlier
        version, which start again at 0)."""
        state = state or {"real": None, "fake": None}
        self.real, self.fake = (None if state[k] is None else state[k].to(device).float() for k in ("real", "fake"))


def _mean_logit(out) -> torch.Tensor:
    maps = out.low_level + out.layout
    return torch.stack([m.detach().float().mean() for m in maps]).mean()


class Trainer:
    """Owns the models, optimisers and random state of one run; `run()` trains and yields events."""

    evaluates = True  # --eval-every computes training metrics on this model's EMA generator (training/monitor.py)
    # the run's training lock taken by start_training / resume_training for this trainer (keep_training_lock)
    _held: contextlib.ExitStack | None = None

    def __init__(
        self,
        config: OsmisConfig,
        data: TrainingData,
        run_dir: str | Path | None = None,
        device: torch.device | None = None,
    ):
        fmt = torch.channels_last if config.run.channels_last else torch.contiguous_format
        self._set_up(config, data, run_dir, device, lambda: build_models(config, data), fmt)
        self.fixed_noise = self.generator.sample_noise(
            PREVIEW_SAMPLES, torch.Generator().manual_seed(offset_seed(config.run.seed, 1))
        )
        a = config.augmentation
        self.ada = AdaptiveP(a.p_aug, a.ada_target, a.ada_images, config.optimisation.batch_size) if a.ada else None
        reg = config.regularisation
        self.lecam = LeCamAnchors(reg.lecam_decay) if reg.lecam_weight > 0 else None
        self.g_forward, self.d_forward = self.generator, self.discriminator
        if config.run.compile:
            # G is one static graph. D's forward draws feature-augmentation decisions in Python, which would
            # recompile a whole-D graph at every new decision: its low-level part (most of its arithmetic, static)
            # is compiled instead; the small content and layout branches stay eager.
            mode = config.run.compile_mode
            self.g_forward = torch.compile(self.generator, mode=mode)
            self.discriminator.low_level = torch.compile(self.discriminator.low_level, mode=mode)

    def _set_up(
        self,
        config: OsmisConfig,
        data: TrainingData,
        run_dir: str | Path | None,
        device: torch.device | None,
        networks: Callable[[], tuple[torch.nn.Module, torch.nn.Module]],
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        """The set-up every model's trainer shares, in the order its numbers depend on: the run's config, data,
        device (default: the data's) and folder (None: no run folder); `networks()` -> (generator,
        discriminator) built right after the global torch RNG is seeded with the run's seed, then moved to the
        device in `memory_format`; the generator's EMA copy; Adam for each network (lr_g / lr_d, beta1, beta2);
        the trainer's own random stream (every random decision and noise draw, seeded with the run's seed); step
        0; the autocast dtype of --precision; the monitor (health checks, and metrics where `evaluates`)."""
        self.config = config
        self.data = data
        self.device = device or data.images.device
        self.folder = RunFolder(run_dir) if run_dir is not None else None
        self.num_classes = data.num_classes
        # the networks' random initialisation (weights, spectral-norm vectors) draws from the global RNG: two
        # trainers built at once in two threads would interleave their draws (osmis_core.rng)
        with seeded_global_rng(config.run.seed, restore=False):
            self.generator, self.discriminator = networks()
        self.generator.to(self.device, memory_format=memory_format)
        self.discriminator.to(self.device, memory_format=memory_format)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        o = config.optimisation
        self.opt_g = adam(self.generator.parameters(), self.device, lr=o.lr_g, betas=(o.beta1, o.beta2))
        self.opt_d = adam(self.discriminator.parameters(), self.device, lr=o.lr_d, betas=(o.beta1, o.beta2))
        self.rng = torch.Generator().manual_seed(config.run.seed)
        self.step = 0
        self.amp_dtype = autocast_dtype(config.run.precision, self.device)
        self.monitor = TrainingMonitor(self)
        self._ema_params = list(self.generator_ema.parameters())
        self._g_params = list(self.generator.parameters())
        self._d_params = list(self.discriminator.parameters())

    # -- one iteration -------------------------------------------------------------------------------------
    def _noise(self) -> torch.Tensor:
        z = self.generator.sample_noise(self.config.optimisation.batch_size, self.rng)
        return z.to(self.device, non_blocking=True)

    def _augment(self, pyramid, mask):
        a = self.config.augmentation
        p = self.ada.p if self.ada is not None else a.p_aug
        if not a.augment or p <= 0:
            return pyramid, mask
        return augment_pair(pyramid, mask, p, self.rng)

    def train_step(self) -> StepLosses:
        """One iteration: G step (D frozen), D step, EMA update."""
        cfg = self.config
        n_d, n_d0 = self.data.architecture.num_blocks_d, self.data.architecture.num_blocks_d0
        harden = "bernoulli" if self.step < cfg.regularisation.bernoulli_warmup else "argmax"
        loss_kind = cfg.optimisation.loss
        G, D = self.g_forward, self.d_forward

        # 1. generator step; D's weights get no gradients
        for p in self._d_params:
            p.requires_grad_(False)
        with self._autocast():
            out = G(self._noise())
            fake_pyr, fake_mask = self._augment(out.images[-n_d0:], out.mask)
            d_out = D(fake_pyr, fake_mask, real=False, harden=harden, gen=self.rng)
        g_terms = discriminator_terms(d_out, True, loss_kind, n_d, for_generator=True)
        loss_g = g_terms["low_level"] + g_terms["content"] + g_terms["layout"]
        terms = {f"g_{k}": v for k, v in g_terms.items()}
        if cfg.regularisation.lambda_dr > 0:
            dr = diversity_regularisation(out.features)
            loss_g = loss_g + cfg.regularisation.lambda_dr * dr
            terms["g_diversity"] = dr
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimiser_step(self.opt_g)
        for p in self._d_params:
            p.requires_grad_(True)

        # 2. discriminator step: the real and the fake pass are back-propagated one after the other (gradients
        # add up to those of their sum), so only one pass's graph is alive at a time, and no saved tensor (such as
        # spectral norm's power-iteration vectors) is changed by a later pass before its backward.
        self.opt_d.zero_grad(set_to_none=True)
        reg = cfg.regularisation
        r1_now = reg.r1_gamma > 0 and self.step % reg.r1_every == 0
        with self._autocast():
            real_pyr, real_mask = self._augment(*self.data.batch(cfg.optimisation.batch_size, self.rng))
            if r1_now:
                real_pyr = [t.detach().requires_grad_(True) for t in real_pyr]
            d_real = D(
                real_pyr, real_mask, real=True, p_con=cfg.augmentation.p_con, p_lay=cfg.augmentation.p_lay, gen=self.rng
            )
        r_terms = discriminator_terms(d_real, True, loss_kind, n_d)
        if self.ada is not None:
            self.ada.observe(real_sign_mean(d_real.low_level + d_real.layout))
        loss_real = sum(r_terms.values())
        if reg.r1_gamma > 0:
            # lazy regularisation: the penalty of every r1_every-th step, weighted r1_every times, stands for the
            # steps without it; the logged term is its share per step (0 on the steps without it)
            r1 = 0.5 * reg.r1_gamma * reg.r1_every * r1_penalty(d_real, real_pyr) if r1_now else loss_real.new_zeros(())
            loss_real = loss_real + r1
            terms["d_r1"] = r1
        if self.lecam is not None:
            maps = real_fake_maps(d_real)
            self.lecam.update(maps, real=True)
            lecam_real = reg.lecam_weight * lecam_penalty(maps, self.lecam.fake)
            loss_real = loss_real + lecam_real
        loss_real.backward()
        with self._autocast():
            with torch.no_grad():
                out2 = G(self._noise())
            fake_pyr, fake_mask = self._augment(out2.images[-n_d0:], out2.mask)
            d_fake = D(fake_pyr, fake_mask, real=False, harden=harden, gen=self.rng)
        f_terms = discriminator_terms(d_fake, False, loss_kind, n_d)
        loss_fake = sum(f_terms.values())
        if self.lecam is not None:
            maps = real_fake_maps(d_fake)
            self.lecam.update(maps, real=False)
            lecam_fake = reg.lecam_weight * lecam_penalty(maps, self.lecam.real)
            loss_fake = loss_fake + lecam_fake
            terms["d_lecam"] = lecam_real + lecam_fake
        loss_fake.backward()
        self.optimiser_step(self.opt_d)
        loss_d = loss_real.detach() + loss_fake.detach()

        # 3. EMA of the generator
        self.update_ema()
        self.step += 1
        terms.update({f"d_real_{k}": v for k, v in r_terms.items()})
        terms.update({f"d_fake_{k}": v for k, v in f_terms.items()})
        terms["g_total"], terms["d_total"] = loss_g, loss_d
        return StepLosses({k: v.detach() for k, v in terms.items()}, _mean_logit(d_real), _mean_logit(d_fake))

    def _autocast(self):
        return torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        )

    def lr_scale(self, step: int | None = None) -> float:
        """The learning-rate schedule's factor at 0-based `step` (default: the next one; see `lr_decay_factor`)."""
        step = self.step if step is None else step
        return lr_decay_factor(step, self.config.run.iters, self.config.optimisation.lr_decay_from)

    def optimiser_step(self, opt: torch.optim.Optimizer) -> None:
        """opt.step() at the schedule's rate: the rate in use times `lr_scale()`. The optimiser keeps the unscaled
        rate, so that a rollback's halving, a resume's new rate and `learning_rates()` all speak of the rate the
        schedule starts from."""
        scale = self.lr_scale()
        if scale == 1.0:
            opt.step()
            return
        rates = [g["lr"] for g in opt.param_groups]
        for g in opt.param_groups:
            g["lr"] = g["lr"] * scale
        try:
            opt.step()
        finally:
            for g, rate in zip(opt.param_groups, rates):
                g["lr"] = rate

    def ema_decay(self) -> float:
        o = self.config.optimisation
        return min(o.ema_decay, (1 + self.step) / (10 + self.step)) if o.ema_warmup else o.ema_decay

    @torch.no_grad()
    def update_ema(self) -> None:
        torch._foreach_lerp_(self._ema_params, self._g_params, 1.0 - self.ema_decay())
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)

    # -- state ---------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "config": self.config.to_dict(),
            "architecture": self.data.architecture.to_dict(),
            "num_classes": self.data.num_classes,
            "generator": self.generator.state_dict(),
            "generator_ema": self.generator_ema.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": {"trainer": self.rng.get_state(), "torch": torch.get_rng_state()},
            "fixed_noise": self.fixed_noise,
            "ada": self.ada.state_dict() if self.ada is not None else None,
            "lecam": self.lecam.state_dict() if self.lecam is not None else None,
            "health": self.monitor.health.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        try:
            self.generator.load_state_dict(state["generator"])
            self.generator_ema.load_state_dict(state["generator_ema"])
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.rng.set_state(state["rng"]["trainer"])
            torch.set_rng_state(state["rng"]["torch"])
            self.fixed_noise = state["fixed_noise"]
            if self.ada is not None and state.get("ada"):
                self.ada.load_state_dict(state["ada"])
            if self.lecam is not None:
                self.lecam.load_state_dict(state.get("lecam"), self.device)
            self.monitor.health.load_state_dict(state.get("health"))
            self.step = int(state["step"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(f"the checkpoint does not match this run's model ({mismatch_reason(exc)}).") from None
        # the optimiser states keep the learning rates the run trained with (a rollback's halved lr_d included);
        # a rate changed on resume is set by set_learning_rates

    def learning_rates(self) -> dict[str, float]:
        """{"lr_g": ..., "lr_d": ...}: the Adam learning rates training uses now (after any rollback or resume
        change; the config holds the rates the run started with)."""
        return {"lr_g": self.opt_g.param_groups[0]["lr"], "lr_d": self.opt_d.param_groups[0]["lr"]}

    def set_learning_rates(self, lr_g: float | None = None, lr_d: float | None = None) -> None:
        """Set the Adam learning rate of the generator and/or the discriminator (None: keep it)."""
        for opt, lr in ((self.opt_g, lr_g), (self.opt_d, lr_d)):
            if lr is not None:
                for group in opt.param_groups:
                    group["lr"] = lr

    def non_finite_weights(self) -> str | None:
        """Name of the first model (generator, generator_ema, discriminator) holding a NaN or infinite value."""
        for name, module in (
            ("generator", self.generator),
            ("generator_ema", self.generator_ema),
            ("discriminator", self.discriminator),
        ):
            tensors = [t.detach().reshape(-1) for t in module.state_dict().values() if t.is_floating_point()]
            if tensors and not bool(torch.isfinite(torch.cat(tensors)).all()):
                return name
        return None

    # -- outputs -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def save_preview(self) -> Path:
        out = self.generator_ema(self.fixed_noise.to(self.device), all_scales=False)
        ids = mask_ids(out.mask) if out.mask is not None else None
        grid = preview_grid(to_uint8_images(out.images[-1]), ids)
        path = self.folder.samples / f"step_{self.step:07d}.png"
        atomic_write_bytes(path, lambda f: grid.save(f, format="PNG"), durable=False)
        return path

    def save_checkpoint(self) -> Path:
        """Write a checkpoint and point `latest` at it; weights that are not finite are never saved (the last
        finite checkpoint stays `latest`) and raise FloatingPointError instead."""
        bad = self.non_finite_weights()
        if bad is not None:
            raise FloatingPointError(f"the {bad} weights became NaN or infinite")
        path = self.folder.save_checkpoint(self.state_dict(), self.step, self.config.run.keep_checkpoints)
        self.monitor.checkpoint_saved(self.step)
        return path

    def describe(self) -> RunDescription:
        return RunDescription(
            self.data.describe(),
            self.data.architecture.to_dict(),
            str(self.device),
            count_parameters(self.generator),
            count_parameters(self.discriminator),
            self.config.model,
        )

    # -- the run's training lock -----------------------------------------------------------------------------
    def keep_training_lock(self, held: contextlib.ExitStack) -> None:
        """Hold the run's training lock (`held`: an ExitStack that holds RunFolder.training()) from the start or
        resume that made this trainer until its run() ends or close() is called: no other start, resume or
        training of the run comes between them."""
        self.close()
        self._held = held

    def close(self) -> None:
        """Let go of the run's training lock that start_training / resume_training took for this trainer, for a
        trainer whose run() will not be called (a start given up, an error before training): until then the run is
        refused to every other training, start and resume. Does nothing when run() has taken the lock over (it
        lets go when its training ends) or when nothing is held; may be called again. `with trainer:` closes it
        on leaving the block."""
        held, self._held = self._held, None
        if held is not None:
            held.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the loop ------------------------------------------------------------------------------------------
    def run(self, control: TrainControl | None = None, resumed: bool = False) -> Iterator[Event]:
        """Train up to config.run.iters, yielding events; stop/pause requests are honoured between steps. Raises
        OsmisError, before the first event, while another training (of this process or another) holds the run
        folder. The training lock its start or resume took is held until the training ends (or the iterator is
        closed); a trainer that holds none (close() was called, or run() is called again) takes it now.

        With --tensorboard the events are also written as TensorBoard logs in RUN/tensorboard."""
        held, self._held = self._held, None
        with held if held is not None else self.folder.training():  # one training of a run at a time
            board = None
            if self.config.run.tensorboard:
                from .tensorboard import TensorBoardLog

                board = TensorBoardLog(self.folder.tensorboard, self.step if resumed else None)
            try:
                for event in self._run(control, resumed):
                    if board is not None:
                        board.write(event)
                    yield event
            finally:
                if board is not None:
                    board.close()

    def _run(self, control: TrainControl | None, resumed: bool) -> Iterator[Event]:
        control = control or TrainControl()
        rc = self.config.run
        total = rc.iters
        folder = self.folder
        yield TrainingStarted(folder.root, self.step, total, resumed, self.describe())
        folder.log(f"{'resumed' if resumed else 'started'} at step {self.step} of {total} on {self.device}")
        t_start = time.perf_counter()
        start_step, tick_step, tick_time = self.step, self.step, t_start
        sums: dict[str, torch.Tensor] = {}
        last_saved = self.step
        halted = False  # stopped by a health check: the faulty state is not saved over the last good checkpoint
        try:
            while self.step < total:
                if control.paused and not control.stop_requested:
                    yield TrainingPaused(self.step)
                    folder.log(f"paused at step {self.step}")
                    paused_at = time.perf_counter()
                    while control.paused and not control.stop_requested:
                        control.wait_while_paused()
                    pause_len = time.perf_counter() - paused_at
                    t_start += pause_len
                    tick_time += pause_len
                    yield TrainingResumed(self.step)
                if control.stop_requested:
                    break
                losses = self.train_step()
                for k, v in losses.terms.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                sums["_d_real"] = sums.get("_d_real", 0) + losses.d_real
                sums["_d_fake"] = sums.get("_d_fake", 0) + losses.d_fake
                log_tick = self.step % rc.log_every == 0 or self.step == total
                writes = self.step % rc.checkpoint_every == 0 or self.step % rc.preview_every == 0
                if writes and not log_tick:
                    # divergence is found before anything is written (a logging tick checks its own means below)
                    yield from self.monitor.check_finite({k.lstrip("_"): float(v) for k, v in sums.items()})
                action = None  # of a health check that fired at this step: None, "stop" or "rollback"
                if log_tick:
                    now = time.perf_counter()
                    n = self.step - tick_step
                    vals = {k: float(v) / n for k, v in sums.items()}
                    yield from self.monitor.check_finite({k.lstrip("_"): v for k, v in vals.items()})
                    ips = n / max(now - tick_time, 1e-9)
                    elapsed = now - t_start
                    d_real, d_fake = vals.pop("_d_real"), vals.pop("_d_fake")
                    extra = {"p_aug": round(self.ada.p, 6)} if self.ada is not None else {}
                    if self.config.optimisation.lr_decay_from < 1:
                        extra["lr_scale"] = round(self.lr_scale(self.step - 1), 6)  # of the line's last step
                    stats = StepStats(
                        self.step,
                        total,
                        vals,
                        d_real,
                        d_fake,
                        ips,
                        elapsed,
                        (total - self.step) / max(ips, 1e-9),
                        extra,
                    )
                    folder.append_stats(
                        {
                            "step": self.step,
                            **{k: round(v, 6) for k, v in vals.items()},
                            "d_real": round(d_real, 6),
                            "d_fake": round(d_fake, 6),
                            **extra,
                            "it_per_s": round(ips, 4),
                            "elapsed": round(elapsed, 2),
                        }
                    )
                    yield stats
                    sums, tick_step, tick_time = {}, self.step, now
                    action = yield from self.monitor.on_stats(d_real)
                if rc.eval_every and self.step % rc.eval_every == 0:
                    action = (yield from self.monitor.evaluate()) or action
                if action is not None:
                    outcome = yield from self.monitor.act(action)
                    if outcome == "rolled_back":
                        sums, tick_step, tick_time = {}, self.step, time.perf_counter()
                        continue
                    if outcome == "stop":
                        halted = True
                        break
                yield IterationDone(self.step, total)
                if self.step % rc.preview_every == 0:
                    yield PreviewReady(self.step, self.save_preview())
                if self.step % rc.checkpoint_every == 0:
                    path = self.save_checkpoint()
                    last_saved = self.step
                    folder.log(f"checkpoint {path.name}")
                    yield CheckpointSaved(self.step, path)
            stopped = self.step < total
            if not halted and (self.step != last_saved or self.step == start_step == 0):
                if self.step % rc.preview_every != 0:
                    yield PreviewReady(self.step, self.save_preview())
                path = self.save_checkpoint()
                folder.log(f"checkpoint {path.name}")
                yield CheckpointSaved(self.step, path)
            folder.log(f"{'stopped' if stopped else 'finished'} at step {self.step}")
        except Exception as exc:  # noqa: BLE001 - reported as an event; the last checkpoint stays usable
            message, user_error = _failure_message(exc, self.step, folder, self.learning_rates())
            try:
                folder.log(f"FAILED at step {self.step}: {message}")
            except OSError:
                pass  # the disk that failed may not take the log line either
            yield TrainingFailed(self.step, message, traceback.format_exc(), user_error)
            return
        yield TrainingFinished(self.step, folder.root, stopped)


def _failure_message(exc: Exception, step: int, folder: RunFolder, rates: dict[str, float]) -> tuple[str, bool]:
    """(one sentence saying what happened and only what is true of the run folder, whether the user can fix it)."""
    saved = folder.checkpoint_steps()
    kept = (
        f"the last checkpoint {folder.checkpoint_path(saved[-1]).name} is kept as latest"
        if saved
        else "no checkpoint had been saved yet"
    )
    if isinstance(exc, torch.OutOfMemoryError):
        return f"out of memory at step {step}; lower --max-size or --batch-size ({kept}).", True
    if isinstance(exc, FloatingPointError):
        lower = " ".join(f"--{name.replace('_', '-')} {_lower_rate(name, rate):g}" for name, rate in rates.items())
        how = (
            f"resume with a lower learning rate: osmis train {folder.root} --resume {lower}"
            if saved
            else f"start again in place with a lower learning rate: osmis train DATA --out {folder.root} {lower}"
        )
        return f"training diverged at step {step}: {exc}; {kept}; {how}.", True
    if isinstance(exc, OSError):
        where = f"{exc.filename}: cannot be written" if exc.filename else "a file could not be written"
        return f"{where} at step {step} ({exc.strerror or exc}); {kept}.", True
    return f"{type(exc).__name__} at step {step}: {exc}", False


def model_parts(config: OsmisConfig):
    """(trainer class, data loader) of the config's model: OSMIS or the layout renderer."""
    if config.model == "renderer":
        from .renderer_trainer import RendererTrainer, load_renderer_data

        return RendererTrainer, load_renderer_data
    return Trainer, load_data_for


def _lower_rate(name: str, value: float) -> float:
    """Half the rate `value` of option `name` that diverged, or the default where it was far above usual values."""
    from ..config import FIELDS

    f = FIELDS[name][1]
    return value / 2 if value <= f.metadata["warn_above"] else f.default


def format_stats(stats: StepStats) -> str:
    keys = ("g_total", "d_total")
    return " ".join(f"{k}={stats.losses[k]:.3f}" for k in keys if k in stats.losses)


def format_eval(ev: StepEval) -> str:
    """The training metrics of an evaluation for a progress line (* = a new best checkpoint)."""
    names = {"diversity": "div", "mask_shares": "masks", "class_coverage": "coverage"}
    text = " ".join(f"{names.get(k, k)}={v:.3f}" for k, v in ev.metrics.items())
    return text + (" *" if ev.best else "")
