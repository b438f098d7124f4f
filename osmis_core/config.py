"""Typed, frozen run configuration: the single source of defaults, help texts and validation.

The CLI builds its flags from these dataclasses and the GUI builds its settings form from them, so a default
lives in exactly one place. Defaults are the paper's model and recipe (docs/model.md).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

# Seeds feed torch.manual_seed (at most 2**64 - 1) and seed + 1 draws the preview noise.
MAX_SEED = 2**64 - 2


def last_first_seed(n: int = 1) -> int:
    """The largest seed that starts n consecutive seeds (a renderer gallery's photo i of a layout uses seed + i):
    every one of them must be a seed the random generators take. The CLI's --seed and the app's seed box are bound
    by it."""
    return MAX_SEED - (n - 1)


# The most samples one gallery holds (--n of generate, run and render): its noise is drawn at once (~12 KB a sample
# at the paper's resolution).
MAX_SAMPLES = 100_000
# --precision of training and of generate: fp32, bf16 autocast, or bf16 where native.
PRECISIONS = ("fp32", "bf16", "auto")
# The largest whole number an option takes unless its field says otherwise (iterations, intervals, counts): far
# beyond any run, and what the desktop app's number fields hold (Qt's int).
COUNT_LIMIT = 2**31 - 1


def _opt(
    default,
    help: str,
    choices: tuple | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    label: str | None = None,
    warn_above: float | None = None,
    words: Mapping[str, Mapping[str, Any]] | None = None,
    model: str | None = None,
    instead: tuple[str, str] | None = None,
    otherwise: str | None = None,
    open_range: bool = False,
    above_minimum: bool = False,
    below_maximum: bool = False,
    colour: bool = False,
    output_only: bool = False,
):
    """A config field with the metadata that the CLI (help) and the GUI (tooltip, range, choices) use.

    warn_above: values above it are accepted but almost surely a mistake (see `config_warnings`).
    words: values given as text that stand for other options, e.g. p_aug = "adaptive" -> {"ada": True}; the
    option itself then keeps its value (see OsmisConfig.replace).
    model: the only model whose runs read the option ("osmis" or "renderer"; None: both). instead: (what the
    option sets, the other model's option that sets it), named when the option is given to the other model
    (see check_model_options). otherwise: for an option without such a counterpart, what the other model does
    instead, in words (with the flag to use), named in the same refusal. open_range: the value must lie strictly
    between minimum and maximum (a decay of 0 or 1 would be another method, not a setting of this one).
    above_minimum: the value must lie above minimum, the maximum allowed (a learning rate of 0, or -0, trains nothing).
    below_maximum: the value must lie below maximum, the minimum allowed (Adam's betas: torch refuses 1 when the
    training starts, which ended in a traceback). colour: the text is a colour, #RRGGBB (parse_colour).
    output_only: the option changes no trained model, only what the run writes besides it (see OUTPUT_ONLY_OPTIONS).
    """
    meta = {
        "help": help,
        "choices": choices,
        "min": minimum,
        "max": maximum,
        "label": label,
        "warn_above": warn_above,
        "words": words,
        "model": model,
        "instead": instead,
        "otherwise": otherwise,
        "open": open_range,
        "above": above_minimum,
        "below": below_maximum,
        "colour": colour,
        "output_only": output_only,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DataOptions:
    max_size: int = _opt(
        330,
        "Larger side of the training resolution before fitting (paper: 330).",
        minimum=16,
        maximum=4096,
        label="Max size",
    )
    masks: bool = _opt(
        True,
        "Train OSMIS on image+mask when a mask is present; off = SIV-GAN on images only.",
        label="Use masks",
        model="osmis",
        otherwise="renderer runs always train on image + mask pairs (give the masks with --mask)",
    )
    background_color: str | None = _opt(
        None,
        "For RGB colour masks: the colour of class 0 as #RRGGBB "
        "(default: black if present, else the most common border colour).",
        label="Background colour",
        colour=True,
    )
    max_classes: int = _opt(
        32,
        "Largest number of mask classes accepted (background included).",
        minimum=2,
        maximum=256,
        label="Max classes",
    )
    max_frames: int = _opt(
        1000, "At most this many video frames are used (evenly spaced).", minimum=1, label="Max frames"
    )


@dataclass(frozen=True)
class GeneratorOptions:
    ch_g: int = _opt(
        32,
        "Generator channel width (ch_G).",
        minimum=1,
        maximum=256,
        label="Channels",
        model="osmis",
        instead=("generator width", "ch_r"),
    )
    noise_dim: int = _opt(64, "Dimension of the input noise z.", minimum=1, maximum=1024, label="Noise dim")
    norm_g: str = _opt(
        "none",
        "Normalisation in generator blocks.",
        choices=("none", "batch", "instance"),
        label="Norm",
        model="osmis",
        instead=("generator normalisation", "spade_norm"),
    )
    num_blocks_g: int | None = _opt(
        None,
        "Generator blocks n_g (default: recommended from the resolution).",
        minimum=5,
        maximum=9,
        label="Blocks",
        model="osmis",
        instead=("number of generator blocks", "num_blocks_r"),
    )


@dataclass(frozen=True)
class DiscriminatorOptions:
    ch_d: int = _opt(
        32,
        "Discriminator channel width (ch_D).",
        minimum=1,
        maximum=256,
        label="Channels",
        model="osmis",
        instead=("discriminator width", "ch_rd"),
    )
    norm_d: str = _opt(
        "none",
        "Normalisation in discriminator blocks.",
        choices=("none", "batch", "instance"),
        label="Norm",
        model="osmis",
    )
    num_blocks_d: int | None = _opt(
        None,
        "Total discriminator blocks n_d (default: recommended).",
        minimum=2,
        maximum=9,
        label="Blocks",
        model="osmis",
    )
    num_blocks_d0: int | None = _opt(
        None,
        "Low-level (multi-scale) discriminator blocks n_d0 (default: recommended).",
        minimum=1,
        maximum=8,
        label="Low-level blocks",
        model="osmis",
    )


@dataclass(frozen=True)
class AugmentationOptions:
    augment: bool = _opt(
        True,
        "Differentiable augmentation of real and fake batches (image pyramid + mask).",
        label="Differentiable augmentation",
    )
    p_aug: float = _opt(
        0.7,
        "Probability of each differentiable augmentation stage (paper runs: 0.7); "
        "'adaptive' turns on --ada (p_aug is then its starting value).",
        minimum=0.0,
        maximum=1.0,
        label="p_aug",
        words={"adaptive": {"ada": True}},
    )
    ada: bool = _opt(
        False,
        "Adaptive augmentation (StyleGAN2-ADA, Karras et al. 2020, section 3): p_aug is "
        "raised while r_t = E[sign(D(real))] is above --ada-target (D overfits the reals), lowered "
        "otherwise.",
        label="Adaptive p_aug",
        model="osmis",
    )
    ada_target: float = _opt(
        0.6,
        "Target of r_t = E[sign(D(real))] for adaptive augmentation (StyleGAN2-ADA: 0.6).",
        minimum=0.0,
        maximum=1.0,
        label="ADA target",
        model="osmis",
    )
    ada_images: int = _opt(
        20000,
        "Adaptive augmentation speed: real images shown for p_aug to move from 0 to 1 "
        "(it is adjusted every 4 iterations).",
        minimum=1,
        label="ADA speed (images)",
        model="osmis",
    )
    p_con: float = _opt(
        0.4,
        "Probability of each content feature augmentation (mix, drop) on real inputs.",
        minimum=0.0,
        maximum=1.0,
        label="p_content",
        model="osmis",
    )
    p_lay: float = _opt(
        0.4,
        "Probability of layout feature augmentation on real inputs.",
        minimum=0.0,
        maximum=1.0,
        label="p_layout",
        model="osmis",
    )


@dataclass(frozen=True)
class RegularisationOptions:
    lambda_dr: float = _opt(
        0.15,
        "Weight of the diversity regularisation (0 disables it). The term sums over every pair of the batch, so the "
        "same weight pushes samples apart harder at a larger batch.",
        minimum=0.0,
        label="lambda_DR",
    )
    bernoulli_warmup: int = _opt(
        15000,
        "Iterations during which fake masks are hardened by Bernoulli sampling (afterwards argmax).",
        minimum=0,
        label="Bernoulli warm-up",
        model="osmis",
    )
    r1_gamma: float = _opt(
        0.0,
        "Weight gamma of the R1 penalty gamma/2 * E||grad_x D(x)||^2 on the real images' D outputs (Mescheder et "
        "al. 2018), applied every r1_every iterations with its weight times r1_every (StyleGAN2's lazy "
        "regularisation); 0 disables it (the paper's recipe).",
        minimum=0.0,
        label="R1 gamma",
        warn_above=100.0,
        model="osmis",
        otherwise="renderer runs train with OASIS's losses, without an R1 penalty",
    )
    r1_every: int = _opt(
        16,
        "Iterations between two R1 penalties when r1_gamma is above 0.",
        minimum=1,
        label="R1 every",
        model="osmis",
        otherwise="renderer runs train with OASIS's losses, without an R1 penalty",
    )
    lecam_weight: float = _opt(
        0.0,
        "Weight lambda of the LeCam regulariser (Tseng et al. 2021, made for GANs trained on limited data): "
        "E[(D(x) - alpha_F)^2] + E[(D(G(z)) - alpha_R)^2] on D's real/fake logit maps, pixel-wise, where alpha_R "
        "and alpha_F are moving averages of D's mean outputs on reals and fakes; 0 disables it (the paper's "
        "recipe).",
        minimum=0.0,
        label="LeCam weight",
        warn_above=100.0,
        model="osmis",
        otherwise="renderer runs train with OASIS's losses, without the LeCam regulariser",
    )
    lecam_decay: float = _opt(
        0.99,
        "Decay of the moving averages of D's mean outputs that the LeCam regulariser pulls towards (Tseng et al.: "
        "0.99), when lecam_weight is above 0.",
        minimum=0.0,
        maximum=1.0,
        open_range=True,
        label="LeCam decay",
        model="osmis",
        otherwise="renderer runs train with OASIS's losses, without the LeCam regulariser",
    )


@dataclass(frozen=True)
class OptimisationOptions:
    batch_size: int = _opt(5, "Batch size B.", minimum=1, maximum=64, label="Batch size")
    lr_g: float = _opt(
        2e-4, "Adam learning rate of the generator.", minimum=0.0, above_minimum=True, label="LR G", warn_above=1e-2
    )
    lr_d: float = _opt(
        2e-4, "Adam learning rate of the discriminator.", minimum=0.0, above_minimum=True, label="LR D", warn_above=1e-2
    )
    beta1: float = _opt(0.5, "Adam beta1.", minimum=0.0, maximum=1.0, below_maximum=True, label="beta1")
    beta2: float = _opt(0.999, "Adam beta2.", minimum=0.0, maximum=1.0, below_maximum=True, label="beta2")
    loss: str = _opt("bce", "Adversarial loss.", choices=("bce", "hinge", "wgan"), label="Loss", model="osmis")
    ema_decay: float = _opt(
        0.9999, "Decay of the generator's exponential moving average.", minimum=0.0, maximum=1.0, label="EMA decay"
    )
    ema_warmup: bool = _opt(
        True, "Warm the EMA decay up as min(decay, (1+t)/(10+t)) so early samples are meaningful.", label="EMA warm-up"
    )
    lr_decay_from: float = _opt(
        1.0,
        "Share of the run after which both learning rates fall linearly towards 0 at its end (pix2pix and "
        "SPADE's schedule; the last iteration trains at 1 / (iters - share x iters) of the rate); 1 keeps them "
        "constant (the paper's recipe).",
        minimum=0.0,
        maximum=1.0,
        label="LR decay from",
    )


@dataclass(frozen=True)
class RunOptions:
    iters: int = _opt(150000, "Total length of the run in iterations (also on resume).", minimum=1, label="Iterations")
    seed: int = _opt(0, "Random seed.", minimum=0, maximum=MAX_SEED, label="Seed")
    device: str = _opt("auto", "auto, cpu, cuda or cuda:i.", label="Device")
    log_every: int = _opt(10, "Write a stats line every N iterations.", minimum=1, label="Log every")
    preview_every: int = _opt(1000, "Save a preview grid every N iterations.", minimum=1, label="Preview every")
    checkpoint_every: int = _opt(5000, "Save a checkpoint every N iterations.", minimum=1, label="Checkpoint every")
    keep_checkpoints: int = _opt(
        3, "Number of checkpoints kept (older ones are deleted; 0 keeps all).", minimum=0, label="Keep checkpoints"
    )
    channels_last: bool = _opt(
        True,
        "Use channels_last memory format (faster convolutions, same numbers).",
        label="channels_last",
        model="osmis",
    )
    fast_upsample: bool = _opt(
        True,
        "Compute each conv3x3 after a nearest x2 upsampling as one stride-2 "
        "transposed convolution of the low-resolution input (same numbers up to rounding, "
        "2.25x fewer multiply-adds), and sum the generator's residuals in place.",
        label="Fast upsample-conv",
        model="osmis",
    )
    precision: str = _opt(
        "fp32",
        "Arithmetic of the forward/backward passes: fp32, bf16 autocast (losses, "
        "decisions and weights stay fp32), or auto (bf16 where the GPU/CPU supports it natively).",
        choices=PRECISIONS,
        label="Precision",
    )
    compile: bool = _opt(
        False,
        "torch.compile the generator and discriminator (slow start, faster steps).",
        label="torch.compile",
        model="osmis",
    )
    eval_every: int = _opt(
        2500,
        "Compute training metrics (pixel diversity, mask class shares, class coverage, SIFID or its "
        "random-feature proxy) on fixed-noise EMA samples every N iterations (0: never).",
        minimum=0,
        label="Evaluate every",
        model="osmis",
    )
    keep_best: str = _opt(
        "sifid",
        "Keep checkpoints/best.pt, never pruned, by this training metric (sifid: "
        "lowest SIFID or its proxy; diversity: highest; mask_shares: closest class shares; "
        "class_coverage: every class in the most samples, the later one on ties).",
        choices=("sifid", "diversity", "mask_shares", "class_coverage", "none"),
        label="Keep best by",
        model="osmis",
    )
    on_collapse: str = _opt(
        "warn",
        "When a health check fires (discriminator spike, diversity collapse, empty "
        "masks): warn, stop, or rollback to the last healthy checkpoint with lr_d halved (a missing class, "
        "which is not a collapse, only warns).",
        choices=("warn", "stop", "rollback"),
        label="On collapse",
    )
    tensorboard: bool = _opt(
        False,
        "Also write losses, metrics and preview grids as TensorBoard logs in "
        "RUN/tensorboard (needs the tensorboard package).",
        label="TensorBoard",
        output_only=True,
    )
    compile_mode: str = _opt(
        "default",
        "torch.compile mode when compiling: default, reduce-overhead (CUDA graphs "
        "on a GPU: fewer kernel launches) or max-autotune.",
        choices=("default", "reduce-overhead", "max-autotune"),
        label="Compile mode",
        model="osmis",
    )


@dataclass(frozen=True)
class RendererOptions:
    """The layout renderer (docs/renderer.md): which model a run trains, and the renderer's own options. Shared
    options (max_size, noise_dim, lambda_dr, batch_size, lr_g, lr_d, beta1, beta2, ema_decay, iters, ...) keep their
    names; where the renderer's default differs, RENDERER_DEFAULTS gives it. Which model reads which option is the
    `model` marker of each field (see model_reads)."""

    model: str = _opt(
        "osmis",
        "Model to train: osmis (image + mask pairs from noise) or renderer (a photo for a given layout).",
        choices=("osmis", "renderer"),
        label="Model",
    )
    ch_r: int = _opt(
        32,
        "Renderer generator width ch (16 ch at the coarsest scale, down to ch).",
        minimum=1,
        maximum=256,
        label="Renderer channels",
        model="renderer",
        instead=("generator width", "ch_g"),
    )
    spade_hidden: int = _opt(
        64,
        "Hidden channels of each SPADE layer's shared conv.",
        minimum=1,
        maximum=1024,
        label="SPADE hidden",
        model="renderer",
    )
    spade_norm: str = _opt(
        "batch",
        "Parameter-free norm inside SPADE layers.",
        choices=("batch", "instance"),
        label="SPADE norm",
        model="renderer",
        instead=("generator normalisation", "norm_g"),
    )
    num_blocks_r: int | None = _opt(
        None,
        "SPADE blocks m (default: coarsest map 4..8 px on the short side).",
        minimum=2,
        maximum=9,
        label="Renderer blocks",
        model="renderer",
        instead=("number of generator blocks", "num_blocks_g"),
    )
    ch_rd: int = _opt(
        64,
        "Width of the renderer's U-Net discriminator at full resolution (OASIS: 128).",
        minimum=1,
        maximum=512,
        label="Renderer D channels",
        model="renderer",
        instead=("discriminator width", "ch_d"),
    )
    lambda_labelmix: float = _opt(
        10.0,
        "Weight of the LabelMix consistency loss (0 disables it).",
        minimum=0.0,
        label="lambda_LabelMix",
        model="renderer",
    )
    noise_spatial: int = _opt(
        0,
        "Of the noise_dim noise channels, how many are drawn per pixel instead of per image/instance (0 = the "
        "spec's OASIS noise). A layout with large one-class areas gives a spatially constant input there; "
        "per-pixel channels let the generator vary texture across them (docs/renderer.md section 8).",
        minimum=0,
        maximum=1024,
        label="Per-pixel noise channels",
        model="renderer",
    )
    p_instance_noise: float = _opt(
        0.5,
        "Share of batches trained with per-instance (piecewise) noise instead of one z per image.",
        minimum=0.0,
        maximum=1.0,
        label="p instance noise",
        model="renderer",
    )
    p_tps: float = _opt(
        0.9,
        "Probability of a thin-plate-spline warp of each training pair.",
        minimum=0.0,
        maximum=1.0,
        label="p TPS",
        model="renderer",
    )
    tps_strength: float = _opt(
        0.1,
        "Largest move of each of the 3x3 TPS control points, as a share of the width.",
        minimum=0.0,
        maximum=0.5,
        label="TPS strength",
        model="renderer",
    )
    p_flip: float = _opt(
        0.5,
        "Probability of a horizontal flip of each training pair.",
        minimum=0.0,
        maximum=1.0,
        label="p flip",
        model="renderer",
    )
    p_affine: float = _opt(
        0.5,
        "Probability of a mild affine map (scale, shift, crop) of each training pair.",
        minimum=0.0,
        maximum=1.0,
        label="p affine",
        model="renderer",
    )
    p_layout_edit: float = _opt(
        0.3,
        "Probability of an object edit of each training pair (duplicate / move an "
        "object into an object-free area, paste a background rectangle).",
        minimum=0.0,
        maximum=1.0,
        label="p layout edit",
        model="renderer",
    )
    unpaired: float = _opt(
        0.5,
        "Share of each generator batch drawn from unpaired layouts (warped masks without their photo).",
        minimum=0.0,
        maximum=1.0,
        label="Unpaired share",
        model="renderer",
    )
    layouts_from: str | None = _opt(
        None,
        "An OSMIS run of the same data: half of the unpaired layouts are masks "
        "sampled from it (what the two-stage pipeline feeds the renderer).",
        label="Layouts from run",
        model="renderer",
    )


# THE options that may change when a run is resumed (CLI `train --resume`, the app's "Continue run", the library's
# resume_training): the run's length, its logging and checkpointing, and how (not what) is computed. The model,
# the data and the rest of the optimisation stay those of the run. channels_last and fast_upsample give the same
# numbers (tests/test_fast_path.py); precision, compile and compile_mode change rounding and speed, not the model.
# The learning rates may change: lowering them is the way out of a divergence (each change is recorded in run.json
# and log.txt). Evaluation during training and the health checks watch the run without changing its numbers.
RESUMABLE_OPTIONS: tuple[str, ...] = (
    "iters",
    "log_every",
    "preview_every",
    "checkpoint_every",
    "keep_checkpoints",
    "device",
    "channels_last",
    "fast_upsample",
    "precision",
    "compile",
    "compile_mode",
    "lr_g",
    "lr_d",
    "eval_every",
    "keep_best",
    "on_collapse",
    "tensorboard",
)

# THE options of the training recipe that `osmis inspect` reports (what a preset sets besides the resolution) and
# takes as flags, so that it shows the recipe of the command line train or run will be given (those the model
# reads: eval_every is OSMIS's).
INSPECT_RECIPE: tuple[str, ...] = ("iters", "lr_g", "lr_d", "eval_every")


GROUPS: dict[str, type] = {
    "data": DataOptions,
    "generator": GeneratorOptions,
    "discriminator": DiscriminatorOptions,
    "augmentation": AugmentationOptions,
    "regularisation": RegularisationOptions,
    "optimisation": OptimisationOptions,
    "run": RunOptions,
    "renderer": RendererOptions,
}

# The renderer's defaults where a shared option's default is OSMIS's (docs/renderer.md section 4.2:
# OASIS's Adam settings). Applied under every preset, config file and flag when model is renderer.
RENDERER_DEFAULTS: dict[str, Any] = {
    "lr_g": 1e-4,
    "lr_d": 4e-4,
    "beta1": 0.0,
    "beta2": 0.999,
    "batch_size": 4,
    "max_size": 256,
}


@dataclass(frozen=True)
class OsmisConfig:
    """The resolved configuration of one training run."""

    data: DataOptions = field(default_factory=DataOptions)
    generator: GeneratorOptions = field(default_factory=GeneratorOptions)
    discriminator: DiscriminatorOptions = field(default_factory=DiscriminatorOptions)
    augmentation: AugmentationOptions = field(default_factory=AugmentationOptions)
    regularisation: RegularisationOptions = field(default_factory=RegularisationOptions)
    optimisation: OptimisationOptions = field(default_factory=OptimisationOptions)
    run: RunOptions = field(default_factory=RunOptions)
    renderer: RendererOptions = field(default_factory=RendererOptions)

    @property
    def model(self) -> str:
        """'osmis' or 'renderer'."""
        return self.renderer.model

    @property
    def keeps_best(self) -> bool:
        """Whether training keeps checkpoints/best.pt: an OSMIS run that evaluates (eval_every above 0) by a
        keep_best metric (renderer runs never evaluate)."""
        return self.model == "osmis" and self.run.eval_every > 0 and self.run.keep_best != "none"

    def __post_init__(self):
        # values and the noise channels only: the rules between options (_check_together) apply to options given
        # now (replace, with_options, build_config), so that a run stored by an earlier version, which had fewer
        # rules, still loads (from_dict)
        for key, value in self.flat().items():
            _validate(key, value, FIELDS[key][1])
        _check_noise_channels(self.flat())

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """{option name: value} over all groups (option names are unique)."""
        return {f.name: getattr(getattr(self, g), f.name) for g, cls in GROUPS.items() for f in dataclasses.fields(cls)}

    def replace(self, **options) -> OsmisConfig:
        """A copy with the given options (flat names) changed: `with_options(options)`."""
        return self.with_options(options)

    def with_options(
        self,
        options: Mapping[str, Any],
        flags: Collection[str] = (),
        kept: str | Callable[[str], str] = "option",
        fixed: Collection[str] = (),
        name_as: Callable[[str], str] | None = None,
        also_given: Collection[str] = (),
    ) -> OsmisConfig:
        """A copy with `options` (flat names; a word such as p_aug = "adaptive" stands for the options it sets)
        changed, checked as options given now.

        flags: names of options the user typed as command-line flags (or a library caller's explicit choices): each
        counts as given even at its value, and a message names it as its flag (--keep-best); one that is not in
        `options` (a flag equal to the value it already had) changes nothing but is still checked. Other options
        are named "option 'NAME'", a word by what was written (option 'p_aug' = 'adaptive', not the ada it sets);
        kept: the name of an option in neither, a value this config already held (a resume says "the run's option":
        its user typed neither keep_best nor eval_every when --iters breaks a rule with them), or a function naming
        such an option (a batch names its own options, flags included, apart from a source's); fixed: options that
        cannot change now (a resume's), which a message then does not advise changing; name_as: how a message names an
        option that is not a flag, instead of "option 'NAME'" (a form names its fields by `option_label`);
        also_given: options this config already held that the user typed (a batch's flags, under a source's
        overrides): they count as given even at their default value, as flags do, and are named by `kept`.
        The rules between options (_check_together) are checked where one of their options is in `options` or
        `flags`: a combination this config already held (a run stored by an earlier version) is not refused again.
        Raises ConfigError for an unknown name, a bad value or a rule broken."""
        _reject_unknown(options, "the given options")
        flags = set(flags)
        before = self.flat()

        def name_it(name: str) -> str:
            if name in flags:
                return flag_as_given(name, options.get(name, before.get(name)))
            if name_as is not None:
                return name_as(name)
            if name in options:
                return option_named(name)
            return kept(name) if callable(kept) else f"{kept} '{name}'"

        expanded = _expand_words(options, name_it)
        said = {k: _word_as_given(options, _word_of(options, k), name_it) for k in expanded if k not in options}
        for name, value in expanded.items():  # a bad value is named as it was given (--lr-d), as build_config does
            _validate_given(name, value, FIELDS[name][1], said.get(name) or name_it(name))
        # before the copy is made, whose own check (__post_init__) names the options "option 'NAME'" whatever named them
        _check_noise_channels({**before, **expanded}, lambda k: said.get(k) or name_it(k))
        config = self._changed(expanded)
        explicit = set(_expand_words({k: options[k] for k in flags if k in options})) | (flags - set(options))
        explicit |= set(also_given) - set(options)
        now = set(options) | set(expanded) | flags
        _check_together(config.flat(), lambda k: said.get(k) or name_it(k), explicit, now, fixed)
        return config

    def _changed(self, options: Mapping[str, Any]) -> OsmisConfig:
        """A copy with `options` (flat names, no words) changed; values are validated, rules not checked."""
        groups = {}
        for name, value in options.items():
            group = FIELDS[name][0]
            groups.setdefault(group, {})[name] = value
        return dataclasses.replace(self, **{g: dataclasses.replace(getattr(self, g), **v) for g, v in groups.items()})

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "the configuration", outdated: dict[str, str] | None = None
    ) -> OsmisConfig:
        """A stored configuration (a run.json's, a checkpoint's, a saved file's) from nested ({group: {option:
        value}}) or flat ({option: value}) mappings, over the defaults. Names and values are validated (ConfigError
        naming `source`); the rules between options are not, since a run stored by an earlier version, which had
        fewer rules, must still load: they apply to the options given now (with_options, build_config).

        outdated: for a reader of a stored run. A count above COUNT_LIMIT (see outdated_counts) is what an earlier
        version, which had no limit, stored: with a dict, it is read as COUNT_LIMIT, a count no run reaches either,
        and the sentence that names it is put in `outdated` under its option (the caller that needs the value, a
        resume, refuses unless the user gives another); without, that sentence is the ConfigError."""
        options = _expand_words(flatten_options(data, source))
        found = outdated_counts(options, source)
        if found and outdated is None:
            raise ConfigError(next(iter(found.values())))
        if found:
            outdated.update(found)
            options.update(dict.fromkeys(found, COUNT_LIMIT))
        try:
            return cls()._changed(options)
        except ConfigError as e:
            # a value refused: the message names the option; the file it came from is the user's to open
            raise ConfigError(f"{source}: {e}") from None


def outdated_counts(options: Mapping[str, Any], source: str) -> dict[str, str]:
    """The stored options of `options` (flat) that are counts above COUNT_LIMIT, each with the sentence that names
    it: options limited by COUNT_LIMIT alone (iterations, intervals, image and frame counts) took any whole number
    before the limit, and an earlier version stored what it was given. None of them shapes a model, so a run that
    holds one still generates; one the resume can change (RESUMABLE_OPTIONS) is given a new value to train on."""
    out = {}
    for name, value in options.items():
        f = FIELDS[name][1]
        if f.metadata.get("max") is not None or _base_type(f) is not int or isinstance(value, bool):
            continue
        if isinstance(value, int) and value > COUNT_LIMIT:
            if name in RESUMABLE_OPTIONS:
                todo = (
                    f"give the run a new one ({_flag(name)} N, or {f.metadata['label']} in the app's Settings, at "
                    f"most {COUNT_LIMIT}) to resume it"
                )
            else:
                todo = "it cannot change on resume, so the run can still generate but not train on"
            out[name] = (
                f"{source}: option '{name}' = {value}, stored by an earlier version, is above today's limit of "
                f"{COUNT_LIMIT}; {todo}."
            )
    return out


def flatten_options(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Accept nested or flat option mappings; reject unknown keys with a message naming the source."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping of options, got {type(data).__name__}.")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("_"):  # comments such as "_comment"
            continue
        if key in GROUPS and isinstance(value, Mapping):
            for name, v in value.items():
                if name not in FIELDS or FIELDS[name][0] != key:
                    _reject_unknown({f"{key}.{name}": v}, source)
                flat[name] = v
        else:
            flat[key] = value
    _reject_unknown(flat, source)
    return flat


def option_named(name: str) -> str:
    """How a message names an option when nothing says how the user gave it: "option 'NAME'"."""
    return f"option '{name}'"


def _expand_words(options: Mapping[str, Any], said=option_named) -> dict[str, Any]:
    """Replace an option given as one of its words (see _opt) by the options the word stands for.

    A word that sets an option given with another value in the same mapping (p_aug = "adaptive" with ada off) is a
    contradiction: ConfigError naming both (said(name): how the message names an option, see _validate)."""
    out = dict(options)
    for name, value in options.items():
        words = FIELDS[name][1].metadata.get("words") or {}
        if isinstance(value, str) and value in words:
            for other, implied in words[value].items():
                if other in options and options[other] != implied:
                    # a flag of an on/off option says its value (--no-ada); other namings are given the value
                    against = said(other)
                    if not (against.startswith("--") and option_type(other) is bool):
                        against = _word_as_given(options, other, said)
                    raise ConfigError(
                        f"{_word_as_given(options, name, said)} contradicts {against}: it sets {other} to "
                        f"{implied}; leave one of them out."
                    )
            del out[name]
            out.update(words[value])
    return out


def _word_as_given(options: Mapping[str, Any], name: str, said) -> str:
    """How a message names option `name` given as one of its words: "--p-aug adaptive", "option 'p_aug' =
    'adaptive'"."""
    named = said(name)
    return f"{named} {options[name]}" if named.startswith("--") else f"{named} = {options[name]!r}"


def flag_as_given(name: str, value: Any) -> str:
    """The command-line flag of an option as given: --no-augment for an on/off option given as off. A message names
    an option by it alone and says the value itself where it matters ("--noise-spatial (6)")."""
    flag = name.replace("_", "-")
    if option_type(name) is bool:
        return f"--no-{flag}" if value is False else f"--{flag}"
    return f"--{flag}"


def typed_flag(name: str, value: Any) -> str:
    """An option and its value as typed on the command line: "--ch-g 8", "--no-augment"."""
    flag = flag_as_given(name, value)
    return flag if option_type(name) is bool else f"{flag} {value}"


def flag_naming(typed: Mapping[str, Any], others: Callable[[str], str] | None = None) -> Callable[[str], str]:
    """How a message names an option where the user typed `typed` (option -> value) as command-line flags: by the
    flag as given (--lr-d, --no-augment); any other by `others` (default "option 'NAME'": a preset's, a file's)."""

    def name_it(name: str) -> str:
        if name in typed:
            return flag_as_given(name, typed[name])
        return (others or option_named)(name)

    return name_it


def given_naming(
    preset: str | None, config_file: str | Path | None, flags: Mapping[str, Any], model: str = "osmis"
) -> Callable[[str], str]:
    """How a message names an option of the config build_config(preset, config_file, flags) resolves, by where its
    value came from, in build_config's own words for them: the flag as typed (--lr-d), "FILE: option 'lr_d'",
    "preset 'quick': option 'lr_d'"; an option none of them gives (a default), "option 'NAME'". For the messages
    about values given (config_warnings) of a config build_config has already accepted."""
    file_keys = set(_expand_words(load_config_file(config_file))) if config_file else set()
    preset_keys = set(_expand_words(preset_options(preset, model))) if preset else set()

    def others(name: str) -> str:
        if name in file_keys:
            return f"{config_file}: option '{name}'"
        if name in preset_keys:
            return f"preset '{preset}': option '{name}'"
        return option_named(name)

    return flag_naming(flags, others)


def _word_of(given: Mapping[str, Any], name: str) -> str:
    """The option of `given` whose word (see _opt) sets `name`."""
    return next(k for k, v in given.items() if name in _stands_for(k, v))


def check_given_values(options: Mapping[str, Any], flags: Collection[str] = ()) -> None:
    """Refuse (ConfigError) an unknown option name or a value of the wrong type or out of range among options given
    now, before they are compared with anything (a resume compares them with the run's, where "8" > 4 or an
    unknown name would fail in Python, not in a sentence). A word (p_aug = "adaptive") stands for its options.
    flags: the names typed as flags, named so in the message; the others as "option 'NAME'"."""
    _reject_unknown(options, "the given options")

    def said(name: str) -> str:
        return flag_as_given(name, options.get(name)) if name in flags else option_named(name)

    for name, value in _expand_words(options, said).items():
        if name in options and name not in _stands_for(name, value):
            continue  # the word itself: the options it stands for are checked
        _validate_given(name, value, FIELDS[name][1], said(name))


def _reject_unknown(options: Mapping[str, Any], source: str) -> None:
    unknown = [k for k in options if k not in FIELDS]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key.split(".")[-1], list(FIELDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"{source}: unknown option '{key}'{hint}.")


def _validate(name: str, value: Any, f: dataclasses.Field, said: str | None = None) -> None:
    """Refuse a value of the wrong type or out of range (ConfigError). said: how the message names the option
    (default "option 'NAME'"; build_config names a flag as --flag and a config file's option with the file)."""
    said = said or f"option '{name}'"
    meta = f.metadata
    optional = f.default is None
    if value is None:
        if optional:
            return
        raise ConfigError(f"{said} must not be empty.")
    expected = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}[_base_type(f)]
    if isinstance(value, bool) and bool not in expected:
        raise ConfigError(f"{said} must be a number, got {value!r}.")
    if not isinstance(value, expected):
        raise ConfigError(f"{said} must be of type {_base_type(f).__name__}, got {value!r}.")
    # NaN passes every comparison below (NaN < min and NaN > max are both false): refuse it, and infinity, first
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{said} must be a finite number, got {value!r}.")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{said} must be one of {', '.join(meta['choices'])}, got {value!r}.")
    if meta.get("open") and not meta["min"] < value < meta["max"]:
        raise ConfigError(f"{said} must be above {meta['min']} and below {meta['max']}, got {value!r}.")
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(f"{said} must be at least {meta['min']}, got {value!r}.")
    if meta.get("above") and not value > meta["min"]:  # the minimum itself (0, and -0, which is not below 0)
        raise ConfigError(f"{said} must be above {meta['min']}, got {value!r}.")
    if meta.get("below") and not value < meta["max"]:
        raise ConfigError(f"{said} must be below {meta['max']}, got {value!r}.")
    limit = meta.get("max")
    if limit is None and _base_type(f) is int:
        limit = COUNT_LIMIT
    if limit is not None and value > limit:
        raise ConfigError(f"{said} must be at most {limit}, got {value!r}.")


def _validate_given(name: str, value: Any, f: dataclasses.Field, said: str) -> None:
    """_validate for a value given now (a flag, a config file, a library call): an empty or blank text is refused
    too (`--layouts-from ""` trained without layouts from any run, `--background-color ""` was ignored), and so is
    a colour not of the form #RRGGBB (`--background-color zzz` was taken, and stored, unless a colour mask read
    it), where a stored run's is not (OsmisConfig.__post_init__: an earlier version stored what it took)."""
    _validate(name, value, f, said)
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{said} is empty: give a value or leave it out.")
    if f.metadata.get("colour") and value is not None:
        parse_colour(value, said)


def _shown(text: str, longest: int = 24) -> str:
    """A typed text as a message quotes it: cut after `longest` characters (a pasted run of thousands of digits)."""
    return repr(text if len(text) <= longest else text[:longest] + "…")


def read_number(text: str, kind: type, maximum: int | None = None) -> int | float:
    """THE reading of a number typed as text, a whole number (kind int) or any (kind float): every numeric flag of the
    CLI, the app's Settings fields typed as text (decimals, the seed), a batch CSV's cells and
    $OSMIS_MAX_IMAGE_PIXELS read it so (the app's spin boxes hold digits only, widgets.WholeSpinBox). Surrounding
    whitespace is ignored. Python's int() and float() also take '_' between digits ('1_0' is 10, '0.1_5' is 0.15): a
    user typing 1_0 meant no grouping (a typo of 1.0 or 10?), so it is refused, not read as another number. A whole
    number's leading zeros are only zeros ('000…0' of any length is 0; int() refused past 4300 digits); one past
    what int() reads is refused as larger than `maximum`, by its value (the option's range check says so for any
    other). Raises ValueError whose text says what is wrong without naming the option ("must be a whole number, got
    'x'"): the CLI's argparse names the flag before it, parse_number the option."""
    whole = kind is int
    what = "a whole number" if whole else "a number"
    t = text.strip()
    if "_" in t:
        raise ValueError(f"must be {what} written without '_', got {_shown(text)}")
    if not whole:
        try:
            return float(t)
        except ValueError:
            raise ValueError(f"must be {what}, got {_shown(text)}") from None
    sign, digits = (t[0], t[1:]) if t[:1] in ("+", "-") else ("", t)
    if not digits.isdecimal():
        raise ValueError(f"must be {what}, got {_shown(text)}")
    try:
        return int(sign + (digits.lstrip("0") or "0"))
    except ValueError:  # more digits than int() reads: far past any limit of an option
        if maximum is not None and sign != "-":
            raise ValueError(f"must be at most {maximum}, got {_shown(text.strip())}") from None
        raise ValueError(f"must be {what} nearer 0, got {_shown(text.strip())}") from None


def expand_user(path: str | Path) -> Path:
    """`path` with a leading '~' or '~name' made that home folder (Path.expanduser). A '~name' of no user is refused
    in one sentence (ConfigError): expanduser's RuntimeError ("Could not determine home directory.") had ended the
    app's Start, a batch's sources list and --weights-dir in a traceback."""
    p = Path(path)
    try:
        return p.expanduser()
    except RuntimeError:
        raise ConfigError(f"{path}: {p.parts[0]} is no user's home folder.") from None


def parse_number(text: str, kind: type, said: str, maximum: int | None = None) -> int | float:
    """read_number, refusing with one sentence naming the option as `said` (ConfigError)."""
    try:
        return read_number(text, kind, maximum)
    except ValueError as exc:
        raise ConfigError(f"{said} {exc}.") from None


def option_maximum(name: str) -> int | None:
    """The largest value of whole-number option `name` (its field's, else COUNT_LIMIT); None for other options."""
    if option_type(name) is not int:
        return None
    limit = FIELDS[name][1].metadata.get("max")
    return COUNT_LIMIT if limit is None else int(limit)


def parse_colour(text: str, said: str = "background colour") -> tuple[int, int, int]:
    """A colour written #RRGGBB (the # may be left out) as (r, g, b); ConfigError naming it as `said` otherwise."""
    t = text.strip().lstrip("#")
    if len(t) == 6 and all(c in "0123456789abcdefABCDEF" for c in t):
        return tuple(int(t[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    raise ConfigError(f"{said} must be a colour of the form #RRGGBB, got {text!r}.")


# the keep_best metrics computed from the generated masks against the real ones: none without masks (SIV-GAN)
MASK_METRICS = ("mask_shares", "class_coverage")


def _check_noise_channels(flat: Mapping[str, Any], said=option_named) -> None:
    """noise_spatial counts noise_dim's channels drawn per pixel: at most noise_dim (ConfigError), or no model can
    be built; checked for every configuration, stored ones included."""
    if flat["noise_spatial"] > flat["noise_dim"]:
        raise ConfigError(
            f"{said('noise_spatial')} ({flat['noise_spatial']}) must be at most the number of noise channels, "
            f"{said('noise_dim')} ({flat['noise_dim']}): it counts the noise channels drawn per pixel."
        )


def _check_together(
    flat: Mapping[str, Any],
    said=option_named,
    explicit: Collection[str] = (),
    now: Collection[str] | None = None,
    fixed: Collection[str] = (),
) -> None:
    """Rules between options (ConfigError): noise_spatial counts noise_dim's channels drawn per pixel
    (_check_noise_channels); an OSMIS run with masks off keeps no best checkpoint by a mask metric (keep_best
    mask_shares or class_coverage compare the generated masks with the real ones); and an option that has no effect
    with the other options given is refused rather than silently ignored: keep_best without evaluations (eval_every
    0, or above iters), adaptive augmentation or p_aug without differentiable augmentation (augment off; p_aug for
    both models), ada_target or ada_images without adaptive augmentation, r1_every without R1 (r1_gamma 0),
    lecam_decay without LeCam (lecam_weight 0), an lr_decay_from that decays no step of the run; and R1 (a double
    backward) with compile.

    A rule applies where the run's model reads every option it names (model_reads) and, when `now` is given (the
    options given now to a configuration that held before, see OsmisConfig.with_options), where one of them is in
    `now`. An option counts as given when it differs from its default or is in `explicit` (flags typed, which count
    even at their default; a preset or a saved config, which lists every option, counts only where it differs).
    said(name): how the message names an option (see _validate). fixed: options that cannot change now (a resume's,
    all but RESUMABLE_OPTIONS): a message does not advise giving one of them another value."""
    _check_noise_channels(flat, said)

    def or_turn_on(name: str) -> str:
        return "" if name in fixed else f"give {said(name)} above 0, or "

    def applies(*names: str) -> bool:
        read = all(model_reads(n, flat["model"]) for n in names)
        return read and (now is None or any(n in now for n in names))

    def given(name: str) -> bool:
        return name in explicit or flat[name] != FIELDS[name][1].default

    if not flat["masks"] and flat["keep_best"] in MASK_METRICS and applies("keep_best", "masks"):
        raise ConfigError(
            f"{said('keep_best')} = {flat['keep_best']!r} compares the generated masks with the real ones, but "
            f"masks are off ({said('masks')}: images only); choose keep_best sifid or diversity, or turn masks on."
        )
    if flat["keep_best"] != "none" and given("keep_best") and applies("keep_best", "eval_every", "iters"):
        if flat["eval_every"] == 0:
            raise ConfigError(
                f"{said('keep_best')} = {flat['keep_best']!r} keeps the best checkpoint by the training metrics, "
                f"but {said('eval_every')} = 0 computes none; evaluate (eval_every above 0) or keep no best "
                f"checkpoint (keep_best none)."
            )
        if flat["eval_every"] > flat["iters"]:
            raise ConfigError(
                f"{said('keep_best')} = {flat['keep_best']!r} keeps the best checkpoint by the training metrics, "
                f"but {said('eval_every')} = {flat['eval_every']} computes none in a run of {said('iters')} = "
                f"{flat['iters']}; evaluate at least once (eval_every at most iters) or keep no best checkpoint "
                f"(keep_best none)."
            )
    if not flat["augment"]:
        if flat["ada"] and applies("ada", "augment"):
            raise ConfigError(
                f"adaptive augmentation ({said('ada')}) adapts the probability of the differentiable augmentation, "
                f"but {said('augment')} turns that augmentation off; turn adaptive augmentation off too or the "
                f"augmentation on."
            )
        unread = [n for n in ("p_aug", "ada_target", "ada_images") if given(n) and applies(n, "augment")]
        if unread:
            raise ConfigError(
                f"{said(unread[0])} sets the differentiable augmentation, but {said('augment')} turns that "
                f"augmentation off; leave {said(unread[0])} out or turn the augmentation on."
            )
    decay_start = math.ceil(flat["lr_decay_from"] * flat["iters"])
    if flat["lr_decay_from"] < 1 and decay_start >= flat["iters"] and applies("lr_decay_from", "iters"):
        raise ConfigError(
            f"{said('lr_decay_from')} = {flat['lr_decay_from']} decays no step of a run of {said('iters')} = "
            f"{flat['iters']} (the decay would start at step {flat['lr_decay_from'] * flat['iters']:g}); give a "
            f"smaller share, more iterations, or 1 for constant rates."
        )
    if flat["r1_gamma"] == 0 and given("r1_every") and applies("r1_every", "r1_gamma"):
        raise ConfigError(
            f"{said('r1_every')} spaces the R1 penalties, but {said('r1_gamma')} = 0 turns R1 off; "
            f"{or_turn_on('r1_gamma')}leave {said('r1_every')} out."
        )
    if flat["lecam_weight"] == 0 and given("lecam_decay") and applies("lecam_decay", "lecam_weight"):
        raise ConfigError(
            f"{said('lecam_decay')} sets the LeCam regulariser's moving averages, but {said('lecam_weight')} = 0 "
            f"turns it off; {or_turn_on('lecam_weight')}leave {said('lecam_decay')} out."
        )
    if flat["r1_gamma"] > 0 and flat["compile"] and applies("r1_gamma", "compile"):
        raise ConfigError(
            f"{said('r1_gamma')} needs the gradient of D's gradient, which torch.compile cannot take; turn "
            f"{said('compile')} off, or R1 off ({said('r1_gamma')} 0)."
        )
    if not flat["ada"]:
        unread = [n for n in ("ada_target", "ada_images") if given(n) and applies(n, "ada")]
        if unread:
            # the way to turn it on: --ada where the user typed --no-ada (said names an option as it was given)
            turn_on = said("ada")
            turn_on = f"--{turn_on[len('--no-') :]}" if turn_on.startswith("--no-") else turn_on
            raise ConfigError(
                f"{said(unread[0])} only applies to adaptive augmentation, which is off; turn it on "
                f"({turn_on} or p_aug adaptive), or leave {said(unread[0])} out."
            )


def config_warnings(config: OsmisConfig, name_as: Callable[[str], str] | None = None) -> list[str]:
    """Sentences about accepted values that are almost surely mistakes (e.g. a learning rate of 1e10).

    name_as: how a sentence names an option, as with_options' does (the CLI's `flag_naming` of the flags typed, the
    app's form `option_label`), so that a warning names what the user gave; default "option 'NAME'"."""
    out = []
    for name, value in config.flat().items():
        limit = FIELDS[name][1].metadata.get("warn_above")
        if limit is not None and value is not None and value > limit:
            default = FIELDS[name][1].default
            named = (name_as or option_named)(name)
            out.append(
                f"{named} = {value:g} is far above usual values (default {default:g}, usually at "
                f"most {limit:g}); training will probably diverge or produce garbage."
            )
    return out


def _base_type(f: dataclasses.Field) -> type:
    text = str(f.type)
    for t in (bool, int, float, str):
        if text.startswith(t.__name__):
            return t
    raise TypeError(f"unsupported config field type {f.type}")


# option name -> (group name, dataclass field); option names are unique across groups.
FIELDS: dict[str, tuple[str, dataclasses.Field]] = {
    f.name: (g, f) for g, cls in GROUPS.items() for f in dataclasses.fields(cls)
}
assert len(FIELDS) == sum(len(dataclasses.fields(c)) for c in GROUPS.values()), "option names must be unique"

# THE options that change no trained model, only what a run writes besides it: TensorBoard's logs, written from the
# trainer's events. Not log_every, preview_every, checkpoint_every, keep_checkpoints or eval_every: the health
# checks run at their ticks (the logged means, the finite checks before a write, the evaluations) and may stop the
# run or roll it back to a kept checkpoint, so they can change the model. A batch source that differs from another
# only in these is a repeat (batch.sources.mark_repeats).
OUTPUT_ONLY_OPTIONS: frozenset[str] = frozenset(n for n, (_, f) in FIELDS.items() if f.metadata.get("output_only"))


def option_label(name: str) -> str:
    """The words a form shows for option `name` (its field's label; the name where it has none): how the app's
    messages name it, where the CLI's name the flag."""
    return FIELDS[name][1].metadata.get("label") or name


# THE options whose change can change what an inspection of data (`osmis inspect`, the app's Data page) reports or
# warns about: those of the data and the models (the renderer's group, with `model`, included), the recipe it
# reports (INSPECT_RECIPE) and those config_warnings checks (a warn_above); an edit of any other leaves it as it was.
INSPECTED_OPTIONS: frozenset[str] = frozenset(
    name
    for name, (group, f) in FIELDS.items()
    if group in ("data", "generator", "discriminator", "renderer")
    or name in INSPECT_RECIPE
    or f.metadata.get("warn_above") is not None
)


def model_reads(name: str, model: str) -> bool:
    """Whether runs of `model` ("osmis" or "renderer") read option `name`: the `model` marker of its field."""
    only = FIELDS[name][1].metadata.get("model")
    return only is None or only == model


def _stands_for(name: str, value: Any) -> list[str]:
    """The options that `name` = `value` sets: those of its word (p_aug = "adaptive" sets ada), else itself."""
    words = FIELDS[name][1].metadata.get("words") or {}
    return list(words[value]) if isinstance(value, str) and value in words else [name]


def check_model_options(model: str, given: Mapping[str, Any], source: str | None = None) -> None:
    """Refuse options given explicitly that runs of `model` do not read (they would be silently ignored).

    given: flat {option: value}, as given (a word such as p_aug = "adaptive" counts as the options it stands for).
    source: the config file they come from, whose values at their defaults are accepted (a saved config or a
    run.json lists every option); None for flags or a library caller's overrides, each of which counts.
    Raises ConfigError naming the first such option, the model and, where one exists, the option to use instead,
    e.g. "--ch-g does not apply to --model renderer; its generator width is --ch-r."
    """
    if model not in FIELDS["model"][1].metadata["choices"]:
        return  # not a model: OsmisConfig's validation names the bad value
    for name, value in given.items():
        if source is not None and value == FIELDS[name][1].default:
            continue
        unread = [n for n in _stands_for(name, value) if not model_reads(n, model)]
        if not unread:
            continue
        meta = FIELDS[unread[0]][1].metadata
        instead, word = meta["instead"], unread != [name]
        if source is None:
            what = f"{_flag(name)} {value}" if word else _flag(name)
            if instead:
                hint = f"; its {instead[0]} is {_flag(instead[1])}."
            elif meta.get("otherwise"):
                hint = f": {meta['otherwise']}."
            else:
                hint = f" (only {meta['model']} runs read {_flag(unread[0]) if word else 'it'})."
            raise ConfigError(f"{what} does not apply to --model {model}{hint}")
        what = f"option '{name}' = {value!r}" if word else f"option '{name}'"
        if instead:
            hint = f"; its {instead[0]} is option '{instead[1]}'."
        elif meta.get("otherwise"):
            hint = f": {meta['otherwise']}."
        else:
            hint = f" (only {meta['model']} runs read {repr(unread[0]) if word else 'it'})."
        raise ConfigError(f"{source}: {what} does not apply to model '{model}'{hint}")


def _flag(name: str) -> str:
    """The command-line flag of an option (both spellings of an on/off one)."""
    flag = name.replace("_", "-")
    return f"--{flag}/--no-{flag}" if option_type(name) is bool else f"--{flag}"


def option_type(name: str) -> type:
    """Python type (bool, int, float or str) of an option."""
    return _base_type(FIELDS[name][1])


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or TOML options file into a flat {option: value} dict (validated names). Its numbers are the
    format's own, not typed text (read_number): TOML's digit grouping (iters = 1_000) is part of TOML and is
    taken as it defines it; JSON has none, and a number written as a string is refused by its type."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file; give a JSON or TOML file (a run's run.json, say).")
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found.")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a valid JSON/TOML config file ({exc}).") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a valid config file (nested too deeply).") from None
    if isinstance(data, Mapping) and "config" in data and isinstance(data["config"], Mapping):
        data = data["config"]  # a run.json is also a valid config file
    return flatten_options(data, str(path))


def save_config_file(config: OsmisConfig, path: str | Path) -> None:
    """Write `config` as a JSON options file, atomically. Raises ConfigError for a path that cannot hold the file
    (files.output_file_problem: a folder, a symbolic link, a loop of links), OSError when the write fails."""
    from .files import atomic_write_text, output_file_problem

    problem = output_file_problem(Path(path))
    if problem is not None:
        raise ConfigError(f"{path}: cannot be written ({problem}).")
    atomic_write_text(Path(path), json.dumps(config.to_dict(), indent=2) + "\n")


def preset_names() -> list[str]:
    from .resources import resource_path

    return sorted(p.stem for p in resource_path("presets").glob("*.json"))


# A preset file serves both models: its top-level options are OSMIS's, and its "renderer_runs" mapping holds the
# options of renderer runs instead ({"max_size": 160, ..., "renderer_runs": {"max_size": 128, ...}}): none of OSMIS's
# tuned values (such as its lr_d) leaks into a renderer run.
_PRESET_MODEL_KEY = "renderer_runs"


def preset_options(name: str, model: str = "osmis") -> dict[str, Any]:
    """Flat option overrides of a named preset (resources/presets/NAME.json) for `model`: its top-level options for
    OSMIS runs, its `renderer_runs` mapping for renderer runs. Raises ConfigError for an unknown or unreadable
    preset, and for a renderer run of a preset without `renderer_runs` (every shipped preset has one)."""
    from .resources import resource_path

    path = resource_path("presets") / f"{name}.json"
    if not path.is_file():
        raise ConfigError(f"unknown preset '{name}' (available: {', '.join(preset_names())}).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a valid JSON preset ({exc}).") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a valid preset (expected a mapping of options).")
    if model == "renderer":
        # every preset serves both models: without its own values a renderer run would get none of the preset
        # while the preset's name promises them (and OSMIS's tuned values must not leak into it)
        if not isinstance(data.get(_PRESET_MODEL_KEY), dict):
            raise ConfigError(
                f"preset '{name}' has no values for renderer runs (no '{_PRESET_MODEL_KEY}' mapping in {path}); "
                "choose another preset for --model renderer or leave --preset out."
            )
        return flatten_options(data[_PRESET_MODEL_KEY], f"{path} ({_PRESET_MODEL_KEY})")
    data.pop(_PRESET_MODEL_KEY, None)
    return flatten_options(data, str(path))


def model_default(name: str, model: str) -> Any:
    """The default of option `name` for runs of `model`: RENDERER_DEFAULTS for renderer runs where it holds the
    option, else the field's default."""
    return RENDERER_DEFAULTS[name] if model == "renderer" and name in RENDERER_DEFAULTS else FIELDS[name][1].default


def _without_other_models_defaults(file_options: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A config file's options for a run of `model`, less the values that only stand for another model's default.

    A saved config or a run.json lists every option; one saved for model A (its `model`) and
    used for a run of model B holds A's defaults of the shared options whose default differs between the models
    (RENDERER_DEFAULTS): such a value means "the default", so B's own default applies (an OSMIS config at lr_d
    2e-4 gives a renderer run lr_d 4e-4). Any other value is kept as given."""
    saved_for = file_options.get("model")  # a hand-written file without it means every value it gives
    if saved_for is None or saved_for == model or saved_for not in FIELDS["model"][1].metadata["choices"]:
        return dict(file_options)
    return {
        k: v
        for k, v in file_options.items()
        if not (k in RENDERER_DEFAULTS and v == model_default(k, saved_for) != model_default(k, model))
    }


def build_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    also_for: str | None = None,
) -> OsmisConfig:
    """Defaults <- model defaults (RENDERER_DEFAULTS for renderer runs) <- preset <- config file <- explicit
    overrides (flags).

    An option of the config file or the overrides that the model does not read is refused with a ConfigError
    (check_model_options); a preset gives each model its own options; a config file saved for the other model
    gives its values at that model's defaults no weight (_without_other_models_defaults). also_for: the other
    model of a command that trains both from the same options (osmis run --two-stage); options that only that
    model reads are then left to it instead of refused.
    """
    overrides = dict(overrides or {})
    _reject_unknown(overrides, "the given options")
    file_options = load_config_file(config_file) if config_file else {}
    model = overrides.get("model", file_options.get("model", "osmis"))
    if also_for is not None:

        def left_to_other(name: str, value: Any) -> bool:
            names = _stands_for(name, value)
            return not all(model_reads(n, model) for n in names) and all(model_reads(n, also_for) for n in names)

        file_options, overrides = (
            {k: v for k, v in given.items() if not left_to_other(k, v)} for given in (file_options, overrides)
        )
    check_model_options(model, overrides)
    if config_file:
        check_model_options(model, file_options, str(config_file))
        file_options = _without_other_models_defaults(file_options, model)
        # a count an earlier version stored above today's limit (a run's run.json given to start it again) that a
        # flag gives now is the flag's, as on resume (outdated_counts); one no flag replaces is refused below
        replaced = set(outdated_counts(file_options, str(config_file))) & set(overrides)
        file_options = {k: v for k, v in file_options.items() if k not in replaced}
    options: dict[str, Any] = dict(RENDERER_DEFAULTS) if model == "renderer" else {}
    said = {}  # option -> how a message names it: the flag, or the config file's option
    if preset:
        preset_opts = _expand_words(preset_options(preset, model), lambda k: f"preset '{preset}': option '{k}'")
        options.update({k: v for k, v in preset_opts.items() if k != "model"})
        said.update({k: f"preset '{preset}': option '{k}'" for k in preset_opts})
    for given, name_it in (
        (file_options, lambda k: f"{config_file}: option '{k}'"),
        (overrides, lambda k: flag_as_given(k, overrides[k])),
    ):
        for key, value in _expand_words(given, name_it).items():
            said[key] = name_it(key) if key in given else _word_as_given(given, _word_of(given, key), name_it)
            _validate_given(key, value, FIELDS[key][1], said[key])
            options[key] = value
    # a flag counts even at its default value; a preset's or a config file's value only where it differs from the
    # default (a saved config lists every option)
    explicit = set(_expand_words(overrides))
    sources = (f"{config_file}: ", f"preset '{preset}': ")
    named: set[str] = set()

    def said_once(name: str) -> str:
        """How the one message of a broken rule names an option: its config file or preset is named where the
        message first names one of its options, not again for the next."""
        text = said.get(name, flag_as_given(name, True))
        source = next((s for s in sources if text.startswith(s)), None)
        if source in named:
            return text[len(source) :]
        if source is not None:
            named.add(source)
        return text

    _check_together({**OsmisConfig().flat(), **options}, said_once, explicit)
    return OsmisConfig().replace(**options)


def preset_config(name: str | None, model: str = "osmis") -> OsmisConfig:
    """The configuration preset `name` gives a run of `model` ('osmis' or 'renderer'), resolved as `build_config`
    resolves it: the defaults, the model's own defaults (RENDERER_DEFAULTS for renderer runs), then the preset's
    values for that model (its `renderer_runs` mapping for renderer runs). name None: the model's defaults. What the
    app's settings form shows for a preset. Raises ConfigError for an unknown preset or model."""
    return build_config(name, overrides={"model": model})
