"""The training loop of spec/osmis-model.md section 4, as a stream of typed events."""
from __future__ import annotations

import copy
import math
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from ..data.augment import augment_pair
from ..config import OsmisConfig, config_warnings
from ..data.sources import TrainingData, load_training_data
from ..devices import autocast_dtype, resolve_device
from ..errors import CheckpointError, ConfigError
from ..events import (CheckpointSaved, Event, HealthEvent, IterationDone, PreviewReady, RolledBack, StepEval,
                      StepStats, TrainControl, TrainingFailed, TrainingFinished, TrainingPaused, TrainingResumed,
                      TrainingStarted)
from .ada import AdaptiveP, real_sign_mean
from .health import Alarm
from .monitor import EVAL_NOISE_SEED_OFFSET, EVAL_SAMPLES, BestTracker, HealthChecks, TrainingEvaluator
from .losses import diversity_regularisation, discriminator_terms
from ..models import Discriminator, Generator
from .optim import adam
from ..application.runfolder import CHECKPOINT_FORMAT, RunFolder, atomic_write_bytes, versions
from ..models.visual import mask_ids, preview_grid, to_uint8_images

PREVIEW_SAMPLES = 8
MAX_ROLLBACKS = 3  # --on-collapse rollback: after this many in one run (lr_d / 8), a further fault stops the run


def load_data_for(config: OsmisConfig, data_path: str | Path, mask_path: str | Path | None,
                  device: torch.device) -> TrainingData:
    d, g, disc = config.data, config.generator, config.discriminator
    return load_training_data(data_path, mask_path, max_size=d.max_size, use_masks=d.masks,
                              max_classes=d.max_classes, background_colour=d.background_color,
                              max_frames=d.max_frames, num_blocks_g=g.num_blocks_g, num_blocks_d=disc.num_blocks_d,
                              num_blocks_d0=disc.num_blocks_d0, device=device,
                              channels_last=config.run.channels_last)


def build_models(config: OsmisConfig, data: TrainingData) -> tuple[Generator, Discriminator]:
    a = data.architecture
    g = Generator(a.noise_shape, a.num_blocks_g, data.num_classes, ch=config.generator.ch_g,
                  noise_dim=config.generator.noise_dim, norm=config.generator.norm_g,
                  fast_upsample=config.run.fast_upsample)
    d = Discriminator(a.num_blocks_d, a.num_blocks_d0, data.num_classes, ch=config.discriminator.ch_d,
                      norm=config.discriminator.norm_d)
    return g, d


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@dataclass
class StepLosses:
    """Detached loss tensors of one iteration (read back to the host only at logging ticks)."""
    terms: dict[str, torch.Tensor]
    d_real: torch.Tensor
    d_fake: torch.Tensor


def _mean_logit(out) -> torch.Tensor:
    maps = out.low_level + out.layout
    return torch.stack([m.detach().float().mean() for m in maps]).mean()


class Trainer:
    """Owns the models, optimisers and random state of one run; `run()` trains and yields events."""

    def __init__(self, config: OsmisConfig, data: TrainingData, run_dir: str | Path | None = None,
                 device: torch.device | None = None):
        self.config = config
        self.data = data
        self.device = device or data.images.device
        self.folder = RunFolder(run_dir) if run_dir is not None else None
        torch.manual_seed(config.run.seed)
        self.generator, self.discriminator = build_models(config, data)
        fmt = torch.channels_last if config.run.channels_last else torch.contiguous_format
        self.generator.to(self.device, memory_format=fmt)
        self.discriminator.to(self.device, memory_format=fmt)
        self.generator_ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        o = config.optimisation
        self.opt_g = adam(self.generator.parameters(), self.device, lr=o.lr_g, betas=(o.beta1, o.beta2))
        self.opt_d = adam(self.discriminator.parameters(), self.device, lr=o.lr_d, betas=(o.beta1, o.beta2))
        self.rng = torch.Generator().manual_seed(config.run.seed)  # every random decision and noise draw
        self.fixed_noise = self.generator.sample_noise(PREVIEW_SAMPLES, torch.Generator().manual_seed(
            config.run.seed + 1))
        self.step = 0
        a = config.augmentation
        self.ada = AdaptiveP(a.p_aug, a.ada_target, a.ada_images, o.batch_size) if a.ada else None
        self.health = HealthChecks()
        self._evaluator: TrainingEvaluator | None = None  # built at the first evaluation, with _best
        self._best: BestTracker | None = None
        self.amp_dtype = autocast_dtype(config.run.precision, self.device)
        self.g_forward, self.d_forward = self.generator, self.discriminator
        if config.run.compile:
            # G is one static graph. D's forward draws feature-augmentation decisions in Python, which would
            # recompile a whole-D graph at every new decision: its low-level part (most of its arithmetic, static)
            # is compiled instead; the small content and layout branches stay eager.
            mode = config.run.compile_mode
            self.g_forward = torch.compile(self.generator, mode=mode)
            self.discriminator.low_level = torch.compile(self.discriminator.low_level, mode=mode)
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
        self.opt_g.step()
        for p in self._d_params:
            p.requires_grad_(True)

        # 2. discriminator step: the real and the fake pass are back-propagated one after the other (gradients
        # add up to those of their sum), so only one pass's graph is alive at a time, and no saved tensor (such as
        # spectral norm's power-iteration vectors) is changed by a later pass before its backward.
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            real_pyr, real_mask = self._augment(*self.data.batch(cfg.optimisation.batch_size, self.rng))
            d_real = D(real_pyr, real_mask, real=True, p_con=cfg.augmentation.p_con, p_lay=cfg.augmentation.p_lay,
                       gen=self.rng)
        r_terms = discriminator_terms(d_real, True, loss_kind, n_d)
        if self.ada is not None:
            self.ada.observe(real_sign_mean(d_real.low_level + d_real.layout))
        loss_real = sum(r_terms.values())
        loss_real.backward()
        with self._autocast():
            with torch.no_grad():
                out2 = G(self._noise())
            fake_pyr, fake_mask = self._augment(out2.images[-n_d0:], out2.mask)
            d_fake = D(fake_pyr, fake_mask, real=False, harden=harden, gen=self.rng)
        f_terms = discriminator_terms(d_fake, False, loss_kind, n_d)
        loss_fake = sum(f_terms.values())
        loss_fake.backward()
        self.opt_d.step()
        loss_d = loss_real.detach() + loss_fake.detach()

        # 3. EMA of the generator
        self.update_ema()
        self.step += 1
        terms.update({f"d_real_{k}": v for k, v in r_terms.items()})
        terms.update({f"d_fake_{k}": v for k, v in f_terms.items()})
        terms["g_total"], terms["d_total"] = loss_g, loss_d
        return StepLosses({k: v.detach() for k, v in terms.items()}, _mean_logit(d_real), _mean_logit(d_fake))

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                              enabled=self.amp_dtype is not None)

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
            self.step = int(state["step"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(f"the checkpoint does not match this run's model ({str(exc)[:200]}).") from None
        # the optimiser states carry the learning rates they were saved with; the run's config may have changed them
        o = self.config.optimisation
        for opt, lr in ((self.opt_g, o.lr_g), (self.opt_d, o.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr

    def non_finite_weights(self) -> str | None:
        """Name of the first model (generator, generator_ema, discriminator) holding a NaN or infinite value."""
        for name, module in (("generator", self.generator), ("generator_ema", self.generator_ema),
                             ("discriminator", self.discriminator)):
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
        self.health.checkpoint_saved(self.step)
        return path

    def describe(self) -> dict:
        a = self.data.architecture
        return {"data": self.data.describe(), "architecture": a.to_dict(), "device": str(self.device),
                "params_g": count_parameters(self.generator), "params_d": count_parameters(self.discriminator)}

    # -- metrics and health (osmis_core/training/monitor.py, health.py) ------------------------------------------
    def evaluate(self) -> Iterator[Event]:
        """Training metrics of the EMA generator on fixed noise; keeps checkpoints/best.pt. Returns the action of
        the health checks that fired (None, "stop" or "rollback")."""
        if self._evaluator is None:
            noise = self.generator.sample_noise(EVAL_SAMPLES, torch.Generator().manual_seed(
                self.config.run.seed + EVAL_NOISE_SEED_OFFSET))
            self._evaluator = TrainingEvaluator(self.data, noise, self.device)
            self._best = BestTracker(self.config.run.keep_best, self.folder.read_best())
        evaluation = self._evaluator.evaluate(self.generator_ema)
        best = self._best.improves(evaluation.metrics)
        if best:
            self.folder.save_best(self.state_dict(), self._best.record(self.step, evaluation.metrics))
        self.folder.append_stats({"step": self.step, "event": "eval", **evaluation.metrics, "best": best})
        yield StepEval(self.step, evaluation.metrics, best)
        action = None
        for alarm in self.health.on_eval(self.step, evaluation, self._evaluator.real_largest_share):
            action = (yield from self._alarm(alarm)) or action
        return action

    def _alarm(self, alarm: Alarm) -> Iterator[Event]:
        """Report a health alarm (stats.jsonl, log.txt, event) and apply --on-collapse; returns the action."""
        action = self.config.run.on_collapse
        self.folder.append_stats({"step": self.step, "event": "health", "kind": alarm.kind,
                                  "message": alarm.message, "action": action})
        self.folder.log(f"health: {alarm.message} ({action})")
        yield HealthEvent(self.step, alarm.kind, alarm.message, action)
        return None if action == "warn" else action

    def rollback(self, reason: str) -> RolledBack | None:
        """Back to the last healthy checkpoint with the discriminator's learning rate halved (recorded in log.txt
        and run.json); None when there is no healthy checkpoint to go back to."""
        to_step = self.health.healthy_step
        info = self.folder.read_run_json()
        if (to_step is None or to_step not in self.folder.checkpoint_steps()
                or len(info.get("rollbacks", [])) >= MAX_ROLLBACKS):
            return None
        at_step = self.step
        lr_d = self.opt_d.param_groups[0]["lr"] / 2
        self.load_state_dict(self.folder.load_checkpoint(to_step, fallback=False))
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d
        self.health.reset()
        self.folder.discard_after(to_step)
        self.folder.truncate_stats(to_step)
        info.setdefault("rollbacks", []).append({"at_step": at_step, "to_step": to_step, "lr_d": lr_d,
                                                 "reason": reason})
        self.folder.write_run_json(info)
        self.folder.log(f"rollback at step {at_step} to checkpoint step {to_step}, lr_d halved to {lr_d:g}: {reason}")
        return RolledBack(at_step, to_step, lr_d, reason)

    # -- the loop ------------------------------------------------------------------------------------------
    def run(self, control: TrainControl | None = None, resumed: bool = False) -> Iterator[Event]:
        """Train up to config.run.iters, yielding events; stop/pause requests are honoured between steps.

        With --tensorboard the events are also written as TensorBoard logs in RUN/tensorboard."""
        board = None
        if self.config.run.tensorboard:
            from .tensorboard import TensorBoardLog
            board = TensorBoardLog(self.folder.tensorboard)
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
                if self.step % rc.checkpoint_every == 0 or self.step % rc.preview_every == 0:
                    # divergence is found before anything is written, not only at the next logging tick
                    if not all(math.isfinite(float(v)) for v in sums.values()):
                        raise FloatingPointError("a loss became NaN or infinite")
                action = None  # of a health check that fired at this step: None, "stop" or "rollback"
                if self.step % rc.log_every == 0 or self.step == total:
                    now = time.perf_counter()
                    n = self.step - tick_step
                    vals = {k: float(v) / n for k, v in sums.items()}
                    if (alarm := self.health.nonfinite.update(self.step, {k.lstrip("_"): v for k, v in vals.items()})):
                        yield HealthEvent(self.step, alarm.kind, alarm.message, "stop")
                        raise FloatingPointError(alarm.message)
                    ips = n / max(now - tick_time, 1e-9)
                    elapsed = now - t_start
                    d_real, d_fake = vals.pop("_d_real"), vals.pop("_d_fake")
                    extra = {"p_aug": round(self.ada.p, 6)} if self.ada is not None else {}
                    stats = StepStats(self.step, total, vals, d_real, d_fake, ips, elapsed,
                                      (total - self.step) / max(ips, 1e-9), extra)
                    folder.append_stats({"step": self.step, **{k: round(v, 6) for k, v in vals.items()},
                                         "d_real": round(d_real, 6), "d_fake": round(d_fake, 6), **extra,
                                         "it_per_s": round(ips, 4), "elapsed": round(elapsed, 2)})
                    yield stats
                    sums, tick_step, tick_time = {}, self.step, now
                    for alarm in self.health.on_stats(self.step, d_real):
                        action = (yield from self._alarm(alarm)) or action
                if rc.eval_every and self.step % rc.eval_every == 0:
                    action = (yield from self.evaluate()) or action
                if action == "rollback":
                    rolled = self.rollback(f"health check at step {self.step}")
                    if rolled is not None:
                        yield rolled
                        sums, tick_step, tick_time = {}, self.step, time.perf_counter()
                        continue
                    folder.log(f"no healthy checkpoint to roll back to; stopping at step {self.step}")
                if action is not None:
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
            message, user_error = _failure_message(exc, self.step, folder, self.config)
            try:
                folder.log(f"FAILED at step {self.step}: {message}")
            except OSError:
                pass  # the disk that failed may not take the log line either
            yield TrainingFailed(self.step, message, traceback.format_exc(), user_error)
            return
        yield TrainingFinished(self.step, folder.root, stopped)


def _failure_message(exc: Exception, step: int, folder: RunFolder, config: OsmisConfig) -> tuple[str, bool]:
    """(one sentence saying what happened and only what is true of the run folder, whether the user can fix it)."""
    saved = folder.checkpoint_steps()
    kept = (f"the last checkpoint {folder.checkpoint_path(saved[-1]).name} is kept as latest" if saved
            else "no checkpoint had been saved yet")
    if isinstance(exc, torch.OutOfMemoryError):
        return f"out of memory at step {step}; lower --max-size or --batch-size ({kept}).", True
    if isinstance(exc, FloatingPointError):
        o = config.optimisation
        lower = f"--lr-g {o.lr_g / 2:g} --lr-d {o.lr_d / 2:g}"
        how = (f"resume with a lower learning rate: osmis train {folder.root} --resume {lower}" if saved else
               f"start again in place with a lower learning rate: osmis train DATA --out {folder.root} {lower}")
        return f"training diverged at step {step}: {exc}; {kept}; {how}.", True
    if isinstance(exc, OSError):
        where = f"{exc.filename}: cannot be written" if exc.filename else "a file could not be written"
        return f"{where} at step {step} ({exc.strerror or exc}); {kept}.", True
    return f"{type(exc).__name__} at step {step}: {exc}", False


# -- sessions: new run or resume ---------------------------------------------------------------------------------

# Options that may change when a run is resumed: run length, logging, how (not what) is computed, and the learning
# rates (the way out of a divergence; each change is recorded in run.json and log.txt).
_RESUMABLE_CHANGES = {"iters", "log_every", "preview_every", "checkpoint_every", "keep_checkpoints", "device",
                      "channels_last", "fast_upsample", "precision", "compile",
                      "compile_mode", "lr_g", "lr_d", "eval_every", "keep_best", "on_collapse", "tensorboard"}


def _model_parts(config: OsmisConfig):
    """(trainer class, data loader) of the config's model."""
    if config.model == "renderer":
        from .renderer_trainer import RendererTrainer, load_renderer_data
        return RendererTrainer, load_renderer_data
    return Trainer, load_data_for


def start_training(config: OsmisConfig, data_path: str | Path, run_dir: str | Path,
                   mask_path: str | Path | None = None) -> Trainer:
    """Create a new run folder (must not hold a run yet) and a trainer at step 0."""
    folder = RunFolder(run_dir)
    restart = False
    if folder.exists():
        if folder.checkpoint_steps():
            raise ConfigError(f"{folder.root}: already holds a run; use --resume to continue it or another --out.")
        restart = True  # killed before its first checkpoint: nothing to keep, so it starts again in place
    if config.run.tensorboard:
        from .tensorboard import require_tensorboard
        require_tensorboard()
    device = resolve_device(config.run.device)
    trainer_class, load_data = _model_parts(config)
    data = load_data(config, data_path, mask_path, device)
    _warn_config(config)
    folder.create()
    if restart:
        folder.clear_for_restart()
        warnings.warn(f"{folder.root} held a run stopped before its first checkpoint; it starts again in place")
        folder.log("restarted in place (the earlier start saved no checkpoint)")
    trainer = trainer_class(config, data, folder.root, device)
    folder.write_run_json({
        "config": config.to_dict(),
        "data": {"path": str(Path(data_path).resolve()),
                 "mask_path": str(Path(mask_path).resolve()) if mask_path else None, **data.describe()},
        "architecture": data.architecture.to_dict(),
        "params_g": count_parameters(trainer.generator),
        "params_d": count_parameters(trainer.discriminator),
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    return trainer


def resume_training(run_dir: str | Path, overrides: dict | None = None) -> Trainer:
    """A trainer restored from the run's newest good checkpoint, with the config that checkpoint was trained with;
    only the options in _RESUMABLE_CHANGES may be changed by `overrides` (each change is recorded in run.json's
    `resume_changes` and in log.txt)."""
    folder = RunFolder(run_dir)
    info = folder.read_run_json()
    if not isinstance(info.get("config"), dict):
        raise CheckpointError(f"{folder.run_json}: holds no config.")
    OsmisConfig.from_dict(info["config"], str(folder.run_json))  # a run.json edited by hand is checked too
    removed = folder.remove_temporaries()
    if not folder.checkpoint_steps():
        data_path = (info.get("data") or {}).get("path", "DATA")
        raise CheckpointError(f"{folder.root}: the run stopped before its first checkpoint, so there is nothing to "
                              f"resume; start it again in place with: osmis train {data_path} --out {folder.root}")
    state = folder.load_checkpoint("latest")
    # the checkpoint's own config, not run.json's: a session that failed after changing run.json (a learning rate
    # that diverged, say) saved no checkpoint with it
    saved = OsmisConfig.from_dict(state["config"], f"{folder.checkpoint_path(int(state['step']))}")

    def fixed(cfg: OsmisConfig) -> dict:
        return {k: v for k, v in cfg.flat().items() if k not in _RESUMABLE_CHANGES}
    if fixed(saved) != fixed(OsmisConfig.from_dict(info["config"])):
        raise CheckpointError(f"{folder.root}: the checkpoint was made with another config than run.json.")
    changes = {k: v for k, v in (overrides or {}).items() if saved.flat().get(k) != v}
    bad = sorted(set(changes) - _RESUMABLE_CHANGES)
    if bad:
        k = bad[0]
        raise ConfigError(f"{folder.root} was made with another config ({k} = {saved.flat()[k]!r}, asked "
                          f"{changes[k]!r}); only {', '.join(sorted(_RESUMABLE_CHANGES))} can change on resume.")
    config = saved.replace(**changes)
    device = resolve_device(config.run.device)
    data_info = info.get("data") or {}
    trainer_class, load_data = _model_parts(config)
    data = load_data(config, data_info.get("path", ""), data_info.get("mask_path"), device)
    _warn_config(config)
    trainer = trainer_class(config, data, folder.root, device)
    trainer.load_state_dict(state)
    trainer.health.healthy_step = trainer.step
    folder.truncate_stats(trainer.step)
    if removed:
        folder.log(f"removed {len(removed)} temporary file(s) left by an interrupted write")
    if changes or info["config"] != config.to_dict():
        record = [{"step": trainer.step, "option": k, "from": saved.flat()[k], "to": v} for k, v in changes.items()]
        info["config"] = config.to_dict()
        info["resume_changes"] = info.get("resume_changes", []) + record
        folder.write_run_json(info)
        if record:
            folder.log("resumed with " + ", ".join(f"{r['option']} changed from {r['from']!r} to {r['to']!r}"
                                                   for r in record))
    return trainer


def _warn_config(config: OsmisConfig) -> None:
    for message in config_warnings(config):
        warnings.warn(message)


def format_stats(stats: StepStats) -> str:
    keys = ("g_total", "d_total")
    return " ".join(f"{k}={stats.losses[k]:.3f}" for k in keys if k in stats.losses)


def format_eval(ev: StepEval) -> str:
    """The training metrics of an evaluation for a progress line (* = a new best checkpoint)."""
    names = {"diversity": "div", "mask_shares": "masks"}
    text = " ".join(f"{names.get(k, k)}={v:.3f}" for k, v in ev.metrics.items())
    return text + (" *" if ev.best else "")
