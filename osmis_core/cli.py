"""The `osmis` command: turns flags into a config and calls the engine."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import NoReturn

from .config import (
    FIELDS,
    INSPECT_RECIPE,
    MAX_SAMPLES,
    MAX_SEED,
    PRECISIONS,
    OsmisConfig,
    build_config,
    check_model_options,
    given_naming,
    last_first_seed,
    model_default,
    model_reads,
    option_maximum,
    option_type,
    preset_names,
    read_number,
)
from .errors import ConfigError, OsmisError
from .stops import Terminated, clear_stops, raise_stop, raise_stop_again, stop_raised

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse's parser (and, as their class, its subcommands' parsers) saying a mistyped flag, a bad value or a
    missing argument in one line, as every other bad input is said, instead of its usage block of ~45 lines before
    the sentence: `osmis train: error: MESSAGE (osmis train --help lists the options)`, exit 2."""

    def error(self, message: str) -> NoReturn:
        lists = "the commands" if self._subparsers is not None else "the options"
        flags = [a for a in getattr(self, "_given", ()) if a.startswith("-")]
        if lists == "the commands" and message.endswith("required: COMMAND") and flags:
            # `osmis --bogus` had read "the following arguments are required: COMMAND", as if nothing was given;
            # -h and --version are answered (and exit) before the command is looked for
            message = f"unrecognized arguments: {' '.join(flags)}; a command comes first"
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} ({self.prog} --help lists {lists})\n")

    def parse_args(self, args=None, namespace=None):
        """argparse's parse_args, with a flag the command does not know said by that command's parser (`osmis train:
        error: unrecognized arguments: --bogus`), whose --help lists the flags it does know, not by `osmis`'s."""
        args = sys.argv[1:] if args is None else list(args)
        self._given = args
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            commands = next((a for a in self._actions if isinstance(a, argparse._SubParsersAction)), None)
            command = getattr(parsed, "command", None)
            owner = commands.choices.get(command, self) if commands is not None else self
            owner.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed


def _add_option_flags(parser: argparse.ArgumentParser, names=None) -> None:
    """One flag per config option (defaults suppressed, so only flags actually given become overrides)."""
    groups = {}
    for name, (group, f) in FIELDS.items():
        if names is not None and name not in names:
            continue
        if group not in groups:
            groups[group] = parser.add_argument_group(f"{group} options")
        flag = "--" + name.replace("_", "-")
        meta = f.metadata
        help_text = meta["help"] + _default_text(name)
        if meta["model"]:
            help_text += f" [--model {meta['model']} only]"
        t = option_type(name)
        if t is bool:
            groups[group].add_argument(
                flag, dest=name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
            )
        else:
            groups[group].add_argument(
                flag,
                dest=name,
                type=_option_parser(name),
                choices=meta["choices"],
                default=argparse.SUPPRESS,
                metavar=None if meta["choices"] else name.upper(),
                help=help_text,
            )


def _default_text(name: str) -> str:
    """' (default: X)' of an option's help, with the renderer's own default where it differs (RENDERER_DEFAULTS)."""
    osmis, renderer = model_default(name, "osmis"), model_default(name, "renderer")
    if osmis is None:
        return ""
    if renderer == osmis:
        return f" (default: {osmis})"
    return f" (default: {osmis}; with --model renderer: {renderer})"


def _option_parser(name: str):
    """The flag's type: a number as the engine reads every typed number (config.read_number: '1_0' refused); an
    option with words (such as --p-aug adaptive) also accepts them as text."""
    t = option_type(name)
    words = FIELDS[name][1].metadata.get("words") or ()
    return _number(t, option_maximum(name), words) if t in (int, float) else t


def _number(kind: type, maximum: int | None = None, words=()):
    """An argparse type reading a flag's number as config.read_number reads it (argparse names the flag before its
    sentence); `words` are taken as they are."""

    def parse(text: str):
        if text in words:
            return text
        try:
            return read_number(text, kind, maximum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


_WHOLE = _number(int)
_DECIMAL = _number(float)
_SEED = _number(int, MAX_SEED)


def _overrides(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if k in FIELDS}


def _named_as_given(args: argparse.Namespace, model: str = "osmis"):
    """How the engine's warnings name an option: by the flag the user typed (--lr-d), the config file or the preset
    that gave it ("c.json: option 'lr_d'"), else "option 'NAME'"."""
    return given_naming(getattr(args, "preset", None), getattr(args, "config", None), _overrides(args), model)


def _config_from_args(args, also_for: str | None = None):
    return build_config(getattr(args, "preset", None), getattr(args, "config", None), _overrides(args), also_for)


def _thread_count(text: str) -> int:
    """--threads N: a whole number from 1 to the logical CPUs this process may run on (threads.most_threads)."""
    from .threads import most_threads

    try:
        value = read_number(text, int)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got '{text}'")
    if value > (most := most_threads()):
        raise argparse.ArgumentTypeError(
            f"must be at most {most}, the logical CPUs osmis may run on here (more threads only take turns on them "
            f"and slow torch down), got '{text}'"
        )
    return value


def _add_threads_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=_thread_count,
        metavar="N",
        help="CPU threads for torch (default: the free cores, re-checked while training; "
        "OMP_NUM_THREADS in the environment wins)",
    )


def _add_evaluate_flags(p: argparse.ArgumentParser, standalone: bool) -> None:
    """The evaluation options; standalone: `osmis evaluate`'s own flags too (its training data, device, output),
    which `osmis run` has as its training's."""
    from .metrics.inception_layers import INCEPTION_LAYERS
    from .metrics.miou_settings import MIOU_SETTINGS
    from .metrics.registry import REGISTRY, RENDERER_METRICS, metric_names

    g = p.add_argument_group("evaluation options")
    if standalone:
        g.add_argument(
            "--real",
            help="the training data (image, folder or video); default: the data the gallery's run was trained on, "
            "as its run.json records it",
        )
        g.add_argument("--mask", help="mask of the training data, if not found next to it")
        g.add_argument("--device", default="auto")
        g.add_argument("--json", action="store_true", help="print the result as JSON")
    g.add_argument(
        "--metrics",
        default=",".join(metric_names(default_only=True)),
        help="comma-separated: "
        + ", ".join(f"{name} ({e.label})" for name, e in REGISTRY.items())
        + "; for galleries of osmis render also "
        + ", ".join(RENDERER_METRICS),
    )
    g.add_argument(
        "--sifid-dims", default="64", help="comma-separated Inception layers: " + ", ".join(map(str, INCEPTION_LAYERS))
    )
    g.add_argument(
        "--weights-dir",
        help="folder holding pretrained weights files, or one such file (else the torch hub cache)",
    )
    g.add_argument(
        "--random-weights",
        action="store_true",
        help="randomly initialised networks: exercises the pipeline offline; NOT comparable with published numbers",
    )
    g.add_argument(
        "--miou-setting",
        choices=("auto", *MIOU_SETTINGS),
        default="auto",
        help="mIoU segmenter: full = 500 steps per direction at the gallery's size; affordable = fewer "
        "steps at a bounded size; auto (default) = full on a GPU, affordable on a CPU",
    )
    g.add_argument(
        "--miou-steps",
        type=_WHOLE,
        default=None,
        help="training steps per direction of the mIoU segmenter (default: the setting's)",
    )
    g.add_argument(
        "--time-budget",
        type=_DECIMAL,
        default=None,
        metavar="SECONDS",
        help="skip metrics whose estimated time would go past this many seconds (default: no limit "
        "for evaluate; for run, 180 on a CPU)",
    )
    g.add_argument(
        "--compat-lpips-unit-range",
        action="store_true",
        help="reproduce the published code: LPIPS fed [0,1] images as if [-1,1]",
    )
    g.add_argument(
        "--compat-video-frame0",
        action="store_true",
        help="reproduce the published code: video SIFID against frame 0 only",
    )


# `osmis train`'s and `osmis run`'s --quiet: what a training writes where it draws no bar (_no_bar)
_TRAINING_QUIET_HELP = (
    "no progress bar: one line per checkpoint and evaluation instead (also when stderr is not a terminal)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="osmis",
        description="OSMIS Studio: one-shot synthesis of images and segmentation masks from one image or one video.",
    )
    parser.add_argument("--version", action="version", version=f"osmis {__import__('osmis_core').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "inspect", help="resolution, classes, architecture, parameter counts and training recipe for DATA"
    )
    p.add_argument("data", help="image file, research-layout folder, frames folder or video file")
    p.add_argument("--mask", help="mask file (or folder of per-frame masks)")
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_threads_flag(p)
    _add_option_flags(
        p,
        {
            "max_size",
            "masks",
            "background_color",
            "max_classes",
            "max_frames",
            "ch_g",
            "ch_d",
            "noise_dim",
            "num_blocks_g",
            "num_blocks_d",
            "num_blocks_d0",
            "model",
            "ch_r",
            "spade_hidden",
            "ch_rd",
            "num_blocks_r",
            *INSPECT_RECIPE,
        },
    )

    p = sub.add_parser("train", help="train a model on DATA (or continue a run with --resume)")
    p.add_argument("data", help="DATA, or a run folder with --resume")
    p.add_argument("--mask", help="mask file (or folder of per-frame masks)")
    p.add_argument("--out", help="run folder (default: runs/<data name>)")
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file (a run.json works too)")
    p.add_argument("--resume", action="store_true", help="continue the run folder from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help=_TRAINING_QUIET_HELP)
    _add_threads_flag(p)
    _add_option_flags(p)

    p = sub.add_parser("generate", help="write a gallery of generated image-mask pairs from a run")
    p.add_argument("run", help="run folder")
    p.add_argument(
        "--out",
        help="gallery folder (default: RUN/galleries/step_NNNNNNN-seedS-nN, -raw added with --raw); a generated "
        "gallery already there is replaced when the new one is complete (an export or a render gallery is not)",
    )
    p.add_argument(
        "--checkpoint", default="latest", help="latest, best (kept by --keep-best during training) or a step number"
    )
    p.add_argument("--n", type=_WHOLE, default=100, help="number of samples (default 100)")
    p.add_argument("--seed", type=_SEED, default=0)
    p.add_argument("--raw", action="store_true", help="use the raw generator instead of its EMA")
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--batch-size", type=_WHOLE, default=None, help="samples per forward pass (default: 20 on CPU, 50 on GPU)"
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32 (default), or bf16 autocast (faster where native; images may differ by a level or "
        "two of 255); auto = bf16 where native",
    )
    _add_threads_flag(p)

    p = sub.add_parser("animate", help="a latent-walk video of a run: image and mask overlay side by side")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="video file (.mp4, .mkv or .mov)")
    p.add_argument("--frames", type=_WHOLE, default=120, help="number of frames (default 120)")
    p.add_argument("--fps", type=_WHOLE, default=24, help="frames per second (default 24)")
    p.add_argument("--loop", action="store_true", help="end where it starts, so the video repeats seamlessly")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the noise path")
    p.add_argument("--checkpoint", default="latest", help="latest, best or a step number")
    p.add_argument("--device", default="auto")
    _add_threads_flag(p)

    p = sub.add_parser("render", help="photos for given layouts from a renderer run (a gallery with the seeds)")
    p.add_argument("run", help="renderer run folder (trained with --model renderer)")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--layout", help="one layout: an indexed, grey or colour mask image (default: the run's training layouts)"
    )
    src.add_argument("--layouts", help="a folder of layouts: every mask image in it")
    src.add_argument("--from", dest="from_gallery", help="every mask of an OSMIS gallery (the two-stage pipeline)")
    p.add_argument(
        "--out",
        help="gallery folder (default: RUN/galleries/step_NNNNNNN-seedS-nN-LAYOUT-HHHHHH, N = number of photos, "
        "LAYOUT = the layout file's name, or the folder or gallery of several, HHHHHH a hash of its path, neither "
        "for the training layouts; then "
        "-instance_noise for --noise instance and the re-drawn region and -resampleS2); a render "
        "gallery already there is replaced when the new one is complete (an export or a generated gallery is not)",
    )
    p.add_argument("--n", type=_WHOLE, default=4, help="photos per layout (default 4)")
    p.add_argument("--seed", type=_SEED, default=0, help="noise seed of the first photo (photo i: seed + i)")
    p.add_argument(
        "--noise",
        choices=("global", "instance"),
        default="global",
        help="one z per photo (global) or one z per instance (a connected component of one class)",
    )
    region = p.add_mutually_exclusive_group()
    region.add_argument(
        "--resample",
        metavar="REGION.png",
        help="re-draw the noise inside this mask's nonzero pixels; the mask has the layout file's size (another "
        "size is refused) and is resized with the layout; the gallery keeps it as rendered (regions/)",
    )
    region.add_argument("--resample-class", type=_WHOLE, metavar="C", help="re-draw the noise of class C")
    region.add_argument(
        "--resample-instance",
        metavar="X,Y",
        help="re-draw the noise of the instance (connected component of its class) under pixel X,Y",
    )
    p.add_argument("--resample-seed", type=_SEED, metavar="S2", help="seed of the re-drawn noise (photo i: S2 + i)")
    p.add_argument("--checkpoint", default="latest", help="latest or a step number")
    p.add_argument("--device", default="cpu")
    _add_threads_flag(p)

    p = sub.add_parser("evaluate", help="score a gallery against the training data (SIFID, LPIPS, mIoU, ...)")
    p.add_argument("dir", help="gallery folder (from osmis generate) or a folder of images")
    _add_evaluate_flags(p, standalone=True)
    _add_threads_flag(p)

    p = sub.add_parser("run", help="the main job: train, generate, evaluate and export in one command")
    p.add_argument("data", help="image file, research-layout folder, frames folder or video file")
    p.add_argument("--mask", help="mask file (or folder of per-frame masks)")
    p.add_argument(
        "--out", help="run folder (default: runs/<data name>); the gallery goes to RUN/galleries/step_NNNNNNN-seedS-nN"
    )
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file")
    p.add_argument("--n", type=_WHOLE, default=100, help="number of generated samples (default 100)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish a stopped main job in --out: train on from its latest checkpoint, then generate and evaluate",
    )
    p.add_argument("--quiet", action="store_true", help=_TRAINING_QUIET_HELP)
    p.add_argument(
        "--checkpoint",
        default="latest",
        help="checkpoint the gallery is generated from: latest (default), best (kept by --keep-best during "
        "training) or a step number",
    )
    _add_threads_flag(p)
    p.add_argument(
        "--two-stage",
        action="store_true",
        help="also train a renderer on the same data (RUN/renderer) and render OSMIS's masks with it "
        "(RUN/two_stage): the SB-GAN pipeline in one shot",
    )
    _add_evaluate_flags(p, standalone=False)
    _add_option_flags(p)

    p = sub.add_parser("export", help="copy chosen pairs of a gallery (with manifest, scores, index.html) to DIR")
    p.add_argument("gallery", help="gallery folder (one with a manifest.json)")
    p.add_argument("--select", required=True, help="item indices and ranges, e.g. 0,3,7-9")
    p.add_argument(
        "--out", required=True, help="export folder (new, empty, or an earlier export to replace; not another gallery)"
    )

    p = sub.add_parser("bench", help="measure training speed and memory (median s/iteration, peak memory)")
    p.add_argument("data", help="DATA to train on")
    p.add_argument("--mask", help="mask file (or folder of per-frame masks)")
    p.add_argument(
        "--variant",
        default="fast",
        help="eager, fast, bf16, auto or compile (comma-separated to compare several in one run)",
    )
    p.add_argument("--warmup", type=_WHOLE, default=2, help="untimed iterations first (default 2)")
    p.add_argument(
        "--rounds",
        type=_WHOLE,
        default=1,
        help="repeat the variants this many times in alternating order and report medians (default 1)",
    )
    p.add_argument(
        "--same-process", action="store_true", help="time all variants in this process instead of a fresh process each"
    )
    p.add_argument("--json-out", help="write the results as JSON here (default: bench.json)", default="bench.json")
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file")
    _add_threads_flag(p)
    _add_option_flags(p)

    _add_batch_parser(sub)

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("path", nargs="?", help="run folder or DATA to open")
    _add_threads_flag(p)
    return parser


def _console_safe() -> None:
    """Text the console cannot encode (a path with a character outside cp1252, say) is written escaped instead of
    ending the command with UnicodeEncodeError after its work is done."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


# the arguments that name a file or folder: an empty one names none (argparse takes `--out ""` as given, and an
# empty path would read or write the working folder, or a file named "")
_PATH_ARGUMENTS = frozenset(
    {"data", "mask", "out", "config", "run", "layout", "layouts", "from_gallery", "dir", "real", "weights_dir"}
    | {"gallery", "json_out", "sources", "path", "resample"}
)


def _check_paths_named(parser: argparse.ArgumentParser, args) -> None:
    """Every file or folder argument given must name one: an empty (or blank) one is refused in one sentence naming
    the argument, before anything is read or written (OsmisError)."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in commands.choices[args.command]._actions:
        value = getattr(args, action.dest, None) if action.dest in _PATH_ARGUMENTS else None
        if any(isinstance(v, str) and not v.strip() for v in (value if isinstance(value, list) else [value])):
            name = (
                max(action.option_strings, key=len) if action.option_strings else action.metavar or action.dest.upper()
            )
            raise OsmisError(f"{name} is empty: give a file or folder.")


def _check_counts(args) -> None:
    """Every count flag outside the config (those inside are checked by the config) must be a sensible number."""
    for flag, minimum in (("n", 1), ("batch_size", 1), ("miou_steps", 1), ("warmup", 0), ("rounds", 1)):
        value = getattr(args, flag, None)
        if value is not None and not isinstance(value, bool) and isinstance(value, int) and value < minimum:
            raise OsmisError(f"--{flag.replace('_', '-')} must be at least {minimum}, got {value}.")
    if getattr(args, "n", None) is not None and args.n > MAX_SAMPLES:
        raise OsmisError(
            f"--n must be at most {MAX_SAMPLES:,} (a gallery of {args.n:,} samples would not fit in "
            f"memory or on disk), got {args.n}."
        )
    if args.command in ("generate", "render"):
        # photo/sample i uses seed + i: every one of them must be a seed the random generators accept
        last = last_first_seed(args.n if args.command == "render" and args.n else 1)
        for flag in ("seed", "resample_seed"):
            value = getattr(args, flag, None)
            if value is not None and not 0 <= value <= last:
                raise OsmisError(f"--{flag.replace('_', '-')} must be between 0 and {last}, got {value}.")
        region_given = any(
            getattr(args, f, None) is not None for f in ("resample", "resample_class", "resample_instance")
        )
        if getattr(args, "resample_seed", None) is not None and not region_given:
            raise OsmisError(
                "--resample-seed needs a region to re-draw: give --resample REGION.png, --resample-class C or "
                "--resample-instance X,Y."
            )


def main(argv: list[str] | None = None) -> int:
    """The `osmis` entry point. Parsing (and --help) imports no torch; a command that computes first sets the CPU
    thread plan (environment variables the OpenMP runtime reads when torch loads: see osmis_core/threads.py)."""
    _console_safe()
    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM (kill, a job scheduler, a closing session) stops a command as Ctrl-C does, through the same clean-up;
    # the app's event loop has its own way to close. Set before the command's first work (the thread plan, Pillow's
    # import): a Ctrl-C there ended in a traceback.
    own_signals = args.command != "gui" and _on_main_thread()
    clear_stops()
    previous_sigterm = signal.signal(signal.SIGTERM, _terminate_as_interrupt) if own_signals else None
    own_sigint = own_signals and _sigint_heard()
    previous_sigint = signal.signal(signal.SIGINT, _interrupt) if own_sigint else None
    try:
        args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed: `run` prints it back to resume a job
        from .threads import configure_threads

        args.thread_plan = configure_threads(getattr(args, "threads", None))
        # a warning is said once a command: `osmis run` reads its data to train and again to score the gallery
        said: set[str] = set()

        def say_once(message, *args, **kwargs) -> None:
            if str(message) not in said:
                said.add(str(message))
                print(f"warning: {message}", file=sys.stderr)

        warnings.showwarning = say_once
        # Image sizes are checked from the file header against osmis's own documented limit
        # (data.sources.open_checked, $OSMIS_MAX_IMAGE_PIXELS); Pillow's fixed one would refuse first, without
        # saying how to raise it.
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None
        _check_paths_named(parser, args)
        _check_counts(args)
        code = COMMANDS[args.command](args)
        raise_stop_again()
        return code
    except OsmisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:
        # training handles Ctrl-C itself (a checkpoint, exit 0); elsewhere the work in progress was built beside
        # its place (a gallery) or is not written at all, so nothing half-written is left
        # the signal is the one recorded when its interrupt was raised: code it passed through may raise it again
        # as a plain KeyboardInterrupt (Ray's waits do: a batch aborted by SIGTERM said "interrupted", exit 130)
        signum = stop_raised() or (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
        how = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        print(f"{how}: osmis {args.command} stopped; nothing half-written was left behind", file=sys.stderr)
        return 128 + signum
    except OSError as exc:  # the file system said no: a full disk, a read-only or vanished folder
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        clear_stops()
        if own_signals:
            signal.signal(signal.SIGTERM, previous_sigterm)
        if own_sigint:
            # Called without argv, this is the `osmis` process itself, which ends with the command: a Ctrl-C while
            # Python shuts down (threads joined, atexit callbacks) would be a KeyboardInterrupt there, printed as a
            # traceback ("Exception ignored in atexit callback"); it ends the process as SIGTERM's default does,
            # once what the command printed is out (a kill loses what is still buffered for a pipe)
            if argv is None:
                sys.stdout.flush()
                sys.stderr.flush()
            signal.signal(signal.SIGINT, previous_sigint if argv is not None else signal.SIG_DFL)


def _stop_words(signum: int) -> str:
    """What a first stop signal is called in the sentence that answers it, with how to abort: the signal actually
    received (a job scheduler's SIGTERM is not a Ctrl-C)."""
    if signum == signal.SIGTERM:
        return "SIGTERM received (send SIGTERM again, or press Ctrl-C, to abort)"
    return "Ctrl-C (SIGINT) received (Ctrl-C again to abort)"


def _on_main_thread() -> bool:
    """Whether stop signal handlers can be set here: only the main thread can. A command called from another thread
    (a library user's worker) leaves the process's handlers as they are; no stop signal reaches it."""
    return threading.current_thread() is threading.main_thread()


def _sigint_heard() -> bool:
    """Whether this process answers SIGINT: not where it was started with SIGINT ignored (a background job of a
    shell script: sh ignores it there, so that a Ctrl-C meant for the script does not stop the job; Python keeps it
    ignored, and so does the `osmis` command, where it took it up and stopped the job)."""
    return signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, None)


# The stop handler of the command running now (a training's, a batch's: stop after the step, abort on a second
# signal), which SIGTERM calls as Ctrl-C does; None while no command set one (a stop aborts).
_command_stop = None


def _answer_stops(handler):
    """Make `handler(signum, frame)` the command's answer to Ctrl-C and SIGTERM; returns what _restore_stops puts
    back. SIGINT itself stays ignored where the process ignores it (_sigint_heard); SIGTERM reaches the handler all
    the same. Nothing is set off the main thread, which no signal reaches."""
    global _command_stop
    if not _on_main_thread():
        return None
    saved = (_command_stop, signal.signal(signal.SIGINT, handler) if _sigint_heard() else None)
    _command_stop = handler
    return saved


def _restore_stops(saved) -> None:
    global _command_stop
    if saved is not None:
        _command_stop, previous = saved
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _interrupt(signum, frame) -> None:
    """The SIGINT handler of the `osmis` command while no command set its own: Python's KeyboardInterrupt, recorded
    so that raise_stop_again finds it if it was swallowed."""
    raise_stop(signum)


def _terminate_as_interrupt(signum, frame) -> None:
    """The SIGTERM handler of the `osmis` command: what SIGINT would do now. A command's own Ctrl-C handler (a
    training stops after its step and saves a checkpoint; a second signal aborts) is called; otherwise Terminated
    is raised in the main thread."""
    if _command_stop is not None:
        _command_stop(signal.SIGTERM, frame)
    else:
        raise_stop(signal.SIGTERM)


def cmd_inspect(args) -> int:
    from .application.session import inspect_data

    config = _config_from_args(args)
    report = inspect_data(args.data, args.mask, config, name_as=_named_as_given(args, config.model))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 0


def _resume_overrides(args, also_for: str | None = None) -> dict:
    """Options asked of a resumed run. The command that started it may be repeated with --resume: with its
    --preset/--config the whole resolved config is compared with the run's, and only resumable options (iters,
    logging, device, ...) may differ (resume_training names any other); without them, only the flags given.
    also_for: the other model of a two-stage job, whose options the command also carries (left out here). The
    flags typed (`_overrides`) are passed to resume_training as `typed`: they count even at the run's values."""
    asked = _config_from_args(args, also_for).flat() if args.preset or args.config else _overrides(args)
    model = asked.get("model", "osmis")
    return {k: v for k, v in asked.items() if also_for is None or model_reads(k, model)}


def _renderer_resume_overrides(args, renderer_config) -> dict:
    """Options asked of the renderer stage of a resumed two-stage job: the command's options that the renderer reads
    change its run as they change OSMIS's (a longer --iters trains both on, as a new job trains both for --iters)."""
    if args.preset or args.config:
        return renderer_config.flat()
    return {k: v for k, v in _overrides(args).items() if k != "model" and model_reads(k, "renderer")}


def cmd_train(args) -> int:
    from .application.runfolder import RunFolder
    from .application.session import check_resume_data, new_run_dir, resume_training, start_training

    if args.resume:
        run_dir = Path(args.out) if args.out else Path(args.data)
        RunFolder(run_dir).require(to_resume=True)
        check_resume_data(run_dir, args.data if args.out else None, args.mask)  # DATA is the run without --out
        trainer = resume_training(
            run_dir, _resume_overrides(args), typed=set(_overrides(args)), name_as=_named_as_given(args)
        )
    else:
        config = _config_from_args(args)
        run_dir = Path(args.out) if args.out else new_run_dir(args.data)
        trainer = start_training(config, args.data, run_dir, args.mask, name_as=_named_as_given(args, config.model))
    with trainer:  # the run's training lock, let go however this ends (Trainer.close)
        if args.resume and trainer.step >= trainer.config.run.iters:
            print(
                f"note: {run_dir} is already at step {trainer.step} of --iters {trainer.config.run.iters}; nothing "
                f"to train (--iters is the total length of the run: give a larger one to train on)",
                file=sys.stderr,
            )
        return run_with_progress(trainer, resumed=args.resume, quiet=args.quiet, governor=args.thread_plan.governor())


def run_with_progress(
    trainer, resumed: bool = False, quiet: bool = False, governor=None, stop_signals: list | None = None
) -> int:
    """Drive trainer.run() with a progress bar (or, where _no_bar says none, a line per checkpoint and evaluation);
    Ctrl-C stops after the current step and saves a checkpoint.

    The bar moves after every iteration (redrawn at most twice a second) and shows the losses of the latest
    logging tick as soon as they come. `governor` (osmis_core.threads.ThreadGovernor) is checked after every
    iteration, in this thread, which is the one that runs the training steps. `stop_signals` receives the number of
    the signal (SIGINT or SIGTERM) that asked the training to stop, if one did."""
    from tqdm import tqdm

    from .application.session import health_stop_message
    from .events import (
        CheckpointSaved,
        HealthEvent,
        IterationDone,
        RolledBack,
        StepEval,
        StepStats,
        TrainControl,
        TrainingFailed,
        TrainingFinished,
        TrainingStarted,
    )
    from .training.trainer import format_eval, format_stats

    control = TrainControl()

    def on_sigint(signum, frame):
        if control.stop_requested:
            raise_stop(signum)
            return
        control.request_stop()  # first: a second signal landing in this handler's print is the abort
        if stop_signals is not None:
            stop_signals.append(signum)
        print(f"\n{_stop_words(signum)}: stopping after this iteration and saving a checkpoint", file=sys.stderr)

    saved_stops = _answer_stops(on_sigint)
    no_bar = _no_bar(quiet)
    bar = None
    code = 0
    last_stats = last_eval = ""
    halt = None  # the HealthEvent that stopped the run, if one did

    def say(text: str) -> None:
        (bar.write if bar is not None else print)(text, file=sys.stderr)

    try:
        for event in trainer.run(control, resumed=resumed):
            raise_stop_again()  # a second stop signal whose interrupt the training code swallowed
            if isinstance(event, TrainingStarted):
                print(event.summary(), file=sys.stderr)
                bar = tqdm(
                    total=event.total,
                    initial=event.step,
                    unit="it",
                    disable=no_bar,
                    dynamic_ncols=True,
                    mininterval=0.5,
                    miniters=1,
                    file=sys.stderr,
                )
                if governor is not None:
                    governor.check()
            elif isinstance(event, IterationDone):
                bar.update(event.step - bar.n)
                if governor is not None:
                    governor.check()
            elif isinstance(event, (StepStats, StepEval)):
                # the latest losses and the latest evaluation's metrics (an evaluation comes after its step's
                # losses), drawn by this step's IterationDone
                if isinstance(event, StepStats):
                    last_stats = format_stats(event)
                else:
                    last_eval = format_eval(event)
                    if no_bar:
                        print(f"step {event.step}: {last_eval}", file=sys.stderr)
                bar.set_postfix_str(" ".join(filter(None, (last_stats, last_eval))), refresh=False)
            elif isinstance(event, HealthEvent):
                say(f"warning: {event.message} ({'stopping' if event.action == 'stop' else event.action})")
                if event.action == "stop":
                    halt = event
            elif isinstance(event, RolledBack):
                if bar is not None:
                    bar.update(event.to_step - bar.n)
                say(
                    f"rolled back from step {event.step} to the checkpoint of step {event.to_step}; discriminator "
                    f"learning rate now {event.lr_d:g}"
                )
            elif isinstance(event, CheckpointSaved) and no_bar:
                print(f"checkpoint {event.path}", file=sys.stderr)
            elif isinstance(event, TrainingFailed):
                if bar is not None:
                    bar.close()
                print(f"error: training failed: {event.message}", file=sys.stderr)
                code = EXIT_USER_ERROR if event.user_error else 1
            elif isinstance(event, TrainingFinished):
                if bar is not None:
                    bar.update(event.step - bar.n)
                    bar.close()
                if halt is not None:
                    # a health check ended the run: a failure of the run, not a finish nor a stop on request
                    print(f"error: {health_stop_message(halt, trainer.folder)}", file=sys.stderr)
                    code = EXIT_USER_ERROR
                else:
                    state = "stopped" if event.stopped else "finished"
                    print(f"{state} at step {event.step}; run folder: {event.run_dir}", file=sys.stderr)
    finally:
        _restore_stops(saved_stops)
        if bar is not None:
            bar.close()
    return code


def _no_bar(quiet: bool) -> bool:
    """The one rule for every progress bar of the CLI (tqdm's `disable`): no bar with --quiet, and none when stderr
    is not a terminal (a log file, a pipe, a job scheduler), where a bar's carriage-return redraws would flood the
    log. Where no bar is drawn the command writes, instead, the lines --quiet users read (a training's checkpoints
    and evaluations, a batch's finished sources), so a log is never silent."""
    if quiet:
        return True
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # a stream without isatty, or closed: no terminal either
        return True


def _settle_threads(args) -> None:
    """Commands without a training loop look at the machine once, before their work, in the thread that does it."""
    args.thread_plan.governor().check()


def cmd_generate(args) -> int:
    _settle_threads(args)
    checkpoint = _checkpoint_arg(args.checkpoint)
    out = _generate_with_progress(
        args.run,
        args.out,
        n=args.n,
        seed=args.seed,
        checkpoint=checkpoint,
        ema=not args.raw,
        device=args.device,
        batch_size=args.batch_size,
        precision=args.precision,
    )
    print(f"gallery: {out / 'index.html'}")
    return 0


def cmd_animate(args) -> int:
    from .application.animate import latent_walk

    _settle_threads(args)
    checkpoint = _checkpoint_arg(args.checkpoint)
    t0 = time.perf_counter()
    out = latent_walk(
        args.run,
        args.out,
        frames=args.frames,
        fps=args.fps,
        loop=args.loop,
        seed=args.seed,
        checkpoint=checkpoint,
        device=args.device,
    )
    print(f"wrote {args.frames} frames in {time.perf_counter() - t0:.2f} s: {out}")
    return 0


def cmd_render(args) -> int:
    from .application.render import Region, layouts_in, layouts_of_gallery, read_region, render_gallery_events
    from .events import GenerationFinished

    checkpoint = _checkpoint_arg(args.checkpoint, ("latest",))
    if args.layout:
        layouts = [Path(args.layout)]
    elif args.layouts:
        layouts = layouts_in(args.layouts)
    elif args.from_gallery:
        layouts = layouts_of_gallery(args.from_gallery, args.run)
    else:
        layouts = None  # the run's training layouts
    region = None
    if args.resample:
        region = read_region(args.resample)
    elif args.resample_class is not None:
        region = Region(class_id=args.resample_class)
    elif args.resample_instance:
        try:
            x, y = (read_number(v, int) for v in args.resample_instance.split(","))
        except ValueError:
            raise OsmisError(
                f"--resample-instance must be X,Y pixel coordinates, got '{args.resample_instance}'."
            ) from None
        region = Region(instance_at=(x, y))
    t0 = time.perf_counter()
    for event in render_gallery_events(
        args.run,
        layouts,
        args.out,
        n=args.n,
        seed=args.seed,
        noise=args.noise,
        region=region,
        resample_seed=args.resample_seed,
        device=args.device,
        checkpoint=checkpoint,
        one_class_ok=bool(args.from_gallery),  # OSMIS may invent all-background masks
    ):
        if isinstance(event, GenerationFinished):
            total, out = event.total, event.out_dir
    print(
        f"rendered {total} photo{'s' if total != 1 else ''} of {total // args.n} "
        f"layout{'s' if total // args.n != 1 else ''} in {time.perf_counter() - t0:.2f} s: "
        f"{out / 'index.html'}"
    )
    return 0


def _generate_with_progress(run_dir, out_dir, quiet: bool = False, **kwargs) -> Path:
    """Write a gallery with a progress bar on stderr; returns the gallery folder."""
    from tqdm import tqdm

    from .application.gallery import gallery_events
    from .events import GenerationFinished, GenerationStarted, SamplesWritten

    bar, out = None, None
    events = gallery_events(run_dir, out_dir, **kwargs)
    try:
        for event in events:
            if isinstance(event, GenerationStarted):
                bar = tqdm(
                    total=event.total,
                    unit="sample",
                    disable=_no_bar(quiet),
                    dynamic_ncols=True,
                    file=sys.stderr,
                )
            elif isinstance(event, SamplesWritten):
                bar.update(event.done - bar.n)
            elif isinstance(event, GenerationFinished):
                bar.close()
                out = event.out_dir
                print(f"wrote {event.total} samples in {event.seconds:.2f} s into {out}", file=sys.stderr)
    finally:
        events.close()  # interrupted between two batches: the generator removes its staging folder now
        if bar is not None:
            bar.close()
    return out


def _checkpoint_arg(text: str, words: tuple[str, ...] = ("latest", "best")) -> str | int:
    """--checkpoint, read by the engine's one reading of a checkpoint's name (a renderer run keeps no best
    checkpoint: it never evaluates)."""
    from .application.runfolder import checkpoint_name

    return checkpoint_name(text, words)


class _EvaluationProgress:
    """The plan before the work, then one progress bar with ETA per stage (stderr)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar = None
        self.stage = None
        self.plan = None
        self.skipped: list[str] = []  # metrics of every plan skipped for the time budget

    def on_plan(self, plan) -> None:
        """Show a plan; an evaluation may make several (the metrics, then a render gallery's renderer measures),
        whose skipped metrics add up."""
        self.skipped += plan.over_budget()
        self.plan = plan
        print(plan.summary(), file=sys.stderr)

    def progress(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(
                total=total,
                desc=stage,
                unit="step" if stage.startswith("mIoU") else "img",
                disable=_no_bar(self.quiet),
                dynamic_ncols=True,
                file=sys.stderr,
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _metric_list(args) -> list[str]:
    """The --metrics names, after checking them and the other evaluation flags (--sifid-dims where SIFID is
    asked)."""
    from .metrics.registry import RENDERER_METRICS, check_sifid_dims, metric_names

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in metric_names() and m not in RENDERER_METRICS]
    if unknown or not metrics:
        problem = f"unknown metric '{unknown[0]}'" if unknown else "no metric given"
        raise OsmisError(
            f"--metrics: {problem}; choose from {', '.join(metric_names())}, and for galleries of osmis render "
            f"{', '.join(RENDERER_METRICS)}."
        )
    if args.miou_steps is not None and args.miou_steps < 1:
        raise OsmisError(f"--miou-steps must be at least 1, got {args.miou_steps}.")
    if args.time_budget is not None and not 0 <= args.time_budget < math.inf:
        raise OsmisError(
            f"--time-budget must be a finite number of seconds >= 0 (leave it out for the default), "
            f"got {args.time_budget}."
        )
    if "sifid" in metrics:
        check_sifid_dims(_sifid_dims(args))
    return metrics


def _sifid_dims(args) -> list[int]:
    try:
        return [read_number(d, int) for d in args.sifid_dims.split(",") if d.strip()]
    except ValueError:
        raise OsmisError(f"--sifid-dims must be numbers such as 64,192, got '{args.sifid_dims}'.") from None


def _evaluate(
    args, gallery: Path, real, mask, device: str, config=None, time_budget: float | None = None
) -> tuple[dict, str | None]:
    """Score a gallery; missing pretrained weights give their message and the weight-free metrics still run."""
    from .application.evaluation import evaluate_gallery
    from .devices import resolve_device
    from .metrics import Compat, MissingWeightsError

    metrics = _metric_list(args)
    dims = _sifid_dims(args)
    if args.random_weights:
        print("warning: --random-weights: scores are NOT comparable with published numbers", file=sys.stderr)
    shown = _EvaluationProgress(quiet=getattr(args, "quiet", False))
    kwargs = dict(
        metrics=metrics,
        sifid_dims=dims,
        weights_dir=args.weights_dir,
        random_weights=args.random_weights,
        compat=Compat(args.compat_lpips_unit_range, args.compat_video_frame0),
        device=str(resolve_device(device)),
        miou_setting=args.miou_setting,
        miou_steps=args.miou_steps,
        time_budget=time_budget,
        progress=shown.progress,
        on_plan=shown.on_plan,
    )
    if config is not None:
        kwargs.update(
            max_classes=config.data.max_classes,
            background_colour=config.data.background_color,
            max_frames=config.data.max_frames,
        )
    missing = None
    if not args.random_weights:
        from .metrics.evaluate import missing_weights_for

        files = list(dict.fromkeys(f for fs in missing_weights_for(metrics, args.weights_dir).values() for f in fs))
        if files:
            missing = str(MissingWeightsError(files, args.weights_dir))
    try:
        result = evaluate_gallery(gallery, real, mask, skip_missing=missing is not None, **kwargs)
    finally:
        shown.close()
    if shown.plan is not None and shown.skipped:
        # every requested metric, not only the skipped ones: the command rewrites the gallery's metrics.json
        later = ["osmis", "evaluate", str(gallery), "--real", str(real), "--metrics", ",".join(metrics)]
        if mask:
            later += ["--mask", str(mask)]
        if args.random_weights:
            later.append("--random-weights")
        if args.weights_dir:
            later += ["--weights-dir", str(args.weights_dir)]
        print(
            f"note: {', '.join(shown.skipped)} not computed: estimated past the time budget of "
            f"{time_budget:.0f} s; run later with: {shlex.join(later)}",
            file=sys.stderr,
        )
    return result, missing


def cmd_evaluate(args) -> int:
    from .metrics import format_table

    _settle_threads(args)
    real, mask = args.real, args.mask
    if real is None:
        from .application.evaluation import recorded_real_data

        real, mask, run = recorded_real_data(args.dir, mask)
        print(
            f"scoring against {real}, the training data of {run} (its run.json; --real for other data)", file=sys.stderr
        )
    result, missing = _evaluate(args, Path(args.dir), real, mask, args.device, time_budget=args.time_budget)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    print(f"metrics written to {Path(args.dir) / 'metrics.json'} and metrics.csv", file=sys.stderr)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def cmd_run(args) -> int:
    from .application.runfolder import RunFolder, check_checkpoint_will_exist
    from .application.session import check_resume_data, new_run_dir, plan_resume, resume_training, start_training
    from .metrics.weights import check_weights_dir

    metrics = _metric_list(args)  # a typo is reported now, not after the training
    from .metrics.registry import RENDERER_METRICS, metric_names

    measures = [m for m in metrics if m in RENDERER_METRICS]
    if measures:  # every gallery is scored with --metrics, the first a generated one: refused now, not after training
        raise OsmisError(
            f"--metrics {measures[0]}: a measure of the galleries of osmis render, and osmis run scores its generated "
            f"gallery with {', '.join(metric_names())}; score a render gallery (a two-stage job's "
            "RUN/galleries/two-stage-NAME) with osmis evaluate GALLERY --metrics " + ",".join(measures) + "."
        )
    check_weights_dir(args.weights_dir)

    def evaluation_fits(size) -> None:
        """The evaluation asked can score images of size (h, w) (None: not known): checked once the data is known,
        before training."""
        from .metrics.registry import check_sifid_size

        if "sifid" in metrics and size is not None:
            check_sifid_size(_sifid_dims(args), tuple(size))

    checkpoint = _checkpoint_arg(args.checkpoint)
    renderer_config = None

    def renderer_fits(size) -> None:
        """The renderer stage can train on data of size (W, H): checked before OSMIS trains, not after."""
        from .training.renderer_trainer import renderer_architecture

        if renderer_config is not None:
            try:
                renderer_architecture(renderer_config, *size)
            except ConfigError as exc:
                raise ConfigError(f"{args.data}: {exc}") from None

    def renderer_place(run_dir: Path) -> None:
        """The renderer stage's run folder can be made in RUN: a file there ended the job after OSMIS trained."""
        place = RunFolder(run_dir).two_stage_renderer
        if renderer_config is not None and (place.is_symlink() or place.exists()) and not place.is_dir():
            raise OsmisError(
                f"{place}: is no folder, where --two-stage trains its renderer; move it, or give another --out."
            )

    if args.two_stage and _overrides(args).get("model", "osmis") != "osmis":
        raise OsmisError(
            f"--two-stage trains OSMIS, then the renderer, on the same data; --model {args.model} does not apply "
            "to it (leave --model out)."
        )
    if args.two_stage:
        # the renderer is checked before any training starts: its config and its need for masks
        from .application.runfolder import find_data

        # one command line for both models: each takes the options it reads (build_config's also_for)
        renderer_config = build_config(args.preset, args.config, {**_overrides(args), "model": "renderer"}, "osmis")
        if args.resume and args.out and RunFolder(args.out).exists():
            # the run's own options, not a new run's from the flags (whose rules would miss the run's values: a
            # typed --lecam-decay with the run's LeCam weight); a flag it cannot change is refused by its resume
            folder = RunFolder(args.out)
            osmis_config = OsmisConfig.from_dict(folder.read_run_json().get("config") or {}, str(folder.run_json), {})
        else:
            osmis_config = _config_from_args(args, "renderer")
        if not osmis_config.data.masks:  # the masks are there: the options turn them off
            raise OsmisError(
                "--two-stage needs masks (the renderer draws photos for masks); leave out --no-masks (or "
                '"masks": false in the config file).'
            )
        if not find_data(args.data, args.mask).masks:
            raise OsmisError(
                f"{args.data}: --two-stage needs masks (the renderer draws photos for masks); give them with --mask."
            )
    if args.resume:
        if not args.out:
            raise OsmisError("--resume needs --out RUN: the run folder of the main job to finish.")
        run_dir = Path(args.out)
        RunFolder(run_dir).require(to_resume=True, instead="leave out --resume to start it")
        check_resume_data(run_dir, args.data, args.mask)
        # the run's own data and masks, as recorded: the training and the scoring then name them alike (a warning
        # about them is one sentence, said once)
        recorded = RunFolder(run_dir).read_run_json().get("data", {})
        args.data, args.mask = recorded.get("path") or args.data, recorded.get("mask_path")
    # a job stopped before its first checkpoint has nothing to keep: --resume starts it again in place
    restart = args.resume and not RunFolder(run_dir).checkpoint_steps()
    if args.resume and renderer_config is not None:
        renderer_dir = RunFolder(run_dir).two_stage_renderer
        if RunFolder(renderer_dir).checkpoint_steps():
            # the renderer stage's resume is checked by the same rules now, before the OSMIS stage trains anything:
            # a renderer option its run cannot change is refused before an hour of OSMIS training, not after
            asked = _renderer_resume_overrides(args, renderer_config)
            plan_resume(renderer_dir, asked, typed=set(_overrides(args)) & set(asked))
    if args.resume and not restart:
        asked = _resume_overrides(args, "renderer" if args.two_stage else None)
        trainer = resume_training(
            run_dir,
            asked,
            typed=set(_overrides(args)),
            name_as=_named_as_given(args),
            check=lambda planned, folder: (
                check_checkpoint_will_exist(checkpoint, planned, folder),
                evaluation_fits(folder.training_size()),
                renderer_place(folder.root),
            ),
        )
        config = trainer.config
    else:
        config = _config_from_args(args, "renderer" if args.two_stage else None)
        if config.model != "osmis" and args.two_stage:  # the config file's model
            raise OsmisError(
                f"{args.config}: model '{config.model}' does not apply to --two-stage, which trains OSMIS, then the "
                "renderer, on the same data (leave model out of the file)."
            )
        if config.model != "osmis":
            raise OsmisError(
                "osmis run trains OSMIS; for a renderer use --two-stage, or osmis train --model renderer "
                "and osmis render."
            )
        run_dir = Path(args.out) if args.out else new_run_dir(args.data)
        if RunFolder(run_dir).exists() and not restart:
            raise OsmisError(
                f"{run_dir}: already holds a run; add --resume to finish it (train on from its latest "
                "checkpoint, then generate and evaluate) or choose another --out."
            )
        check_checkpoint_will_exist(checkpoint, config)
        trainer = start_training(
            config,
            args.data,
            run_dir,
            args.mask,
            check=lambda _, data: (
                evaluation_fits(data.images.shape[-2:]),
                renderer_fits(data.original_size),
                renderer_place(run_dir),
            ),
            name_as=_named_as_given(args, config.model),
        )
    stop_signals: list[int] = []

    def stopped(stage_trainer, what: str) -> int | None:
        """The exit code of a job whose training stage was stopped (Ctrl-C / SIGTERM) before its end, else None:
        the job is unfinished (a scheduler must not count it as done), and --resume finishes it."""
        if stage_trainer.step >= stage_trainer.config.run.iters:
            return None
        print(
            f"{what} stopped at step {stage_trainer.step} of {stage_trainer.config.run.iters} (checkpoint saved); "
            f"finish the job with: {finish_command()}",
            file=sys.stderr,
        )
        return 128 + (stop_signals[-1] if stop_signals else signal.SIGINT)

    def finish_command() -> str:
        """The command that finishes this job from what it has kept: the same one, with --out and --resume."""
        again = [*args.argv, *([] if args.out else ["--out", str(run_dir)]), *([] if args.resume else ["--resume"])]
        return f"osmis {shlex.join(again)}"

    with trainer:  # the run's training lock, let go however this ends (Trainer.close)
        code = run_with_progress(
            trainer,
            resumed=args.resume and not restart,
            quiet=args.quiet,
            governor=args.thread_plan.governor(),
            stop_signals=stop_signals,
        )
    if code != 0:
        return code
    if (code := stopped(trainer, "training")) is not None:
        return code
    try:
        return _run_after_training(args, run_dir, config, renderer_config, checkpoint, stop_signals, stopped)
    except OsmisError as exc:
        # an hour of training is not lost to a full disk or an unwritable gallery: say that it is kept, and how the
        # job goes on from it
        raise OsmisError(
            f"{str(exc).rstrip('.')}; the training in {run_dir} is kept: after fixing this, finish the job with "
            f"{finish_command()}"
        ) from None


def _run_after_training(args, run_dir, config, renderer_config, checkpoint, stop_signals, stopped) -> int:
    """osmis run's stages after OSMIS's training: generate, the two-stage renderer (train, render), evaluate."""
    from .application.runfolder import RunFolder
    from .application.session import resume_training, start_training
    from .devices import resolve_device
    from .metrics import default_time_budget, format_table

    gallery = _generate_with_progress(
        run_dir, None, quiet=args.quiet, n=args.n, seed=config.run.seed, checkpoint=checkpoint, device=config.run.device
    )
    budget = (
        args.time_budget if args.time_budget is not None else default_time_budget(resolve_device(config.run.device))
    )
    galleries = [("OSMIS", gallery, config)]
    if renderer_config is not None:
        from .application.render import render_gallery_masks

        renderer_dir = RunFolder(run_dir).two_stage_renderer
        # the renderer stage of a stopped job goes on from its checkpoint; one stopped before its first checkpoint
        # has nothing to keep and starts again in place
        resuming = bool(RunFolder(renderer_dir).checkpoint_steps())
        if resuming:
            asked = _renderer_resume_overrides(args, renderer_config)
            renderer = resume_training(
                renderer_dir, asked, typed=set(_overrides(args)) & set(asked), name_as=_named_as_given(args, "renderer")
            )
        else:
            renderer = start_training(
                renderer_config, args.data, renderer_dir, args.mask, name_as=_named_as_given(args, "renderer")
            )
        with renderer:
            code = run_with_progress(
                renderer,
                resumed=resuming,
                quiet=args.quiet,
                governor=args.thread_plan.governor(),
                stop_signals=stop_signals,
            )
        if code != 0:
            return code
        if (code := stopped(renderer, "the renderer's training")) is not None:
            return code
        two_stage = RunFolder(run_dir).galleries / f"two-stage-{gallery.name}"
        render_gallery_masks(
            renderer_dir, gallery, seed=config.run.seed, device=renderer_config.run.device, out_dir=two_stage
        )
        print(f"rendered OSMIS's {args.n} masks with the renderer", file=sys.stderr)
        galleries.append(("two-stage (OSMIS masks, rendered photos)", two_stage, renderer_config))
    for title, folder, cfg in galleries:
        result, missing = _evaluate(args, folder, args.data, args.mask, cfg.run.device, cfg, budget)
        if len(galleries) > 1:
            print(f"{title}:")
        print(format_table(result))
        if missing:
            print(f"warning: some scores were not computed: {missing}", file=sys.stderr)
    for _, folder, _ in galleries:
        print(f"gallery: {(folder / 'index.html').resolve()}")
    return 0


def cmd_export(args) -> int:
    from .application.gallery import export_selection, parse_selection

    result = export_selection(args.gallery, parse_selection(args.select), args.out)
    print(f"exported {result.count} pair{'s' if result.count != 1 else ''} ({result.files} files) to {result.dest}")
    return 0


def cmd_bench(args) -> int:
    from .application.runfolder import normalise_path, output_place_problem
    from .files import atomic_write_text, output_file_problem
    from .training.bench import VARIANTS, benchmark_variants

    names = [v.strip() for v in args.variant.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise OsmisError(f"unknown variant '{unknown[0]}' (available: {', '.join(VARIANTS)}).")
    json_out = normalise_path(args.json_out)
    problem = output_file_problem(json_out)  # before the benchmark runs (minutes), not when its results are written
    if problem == "is a folder":
        raise OsmisError(f"{json_out}: --json-out is a folder; give a file name such as {json_out / 'bench.json'}.")
    if problem:
        raise OsmisError(f"{json_out}: --json-out cannot be written ({problem}).")
    place = output_place_problem(json_out, "file")
    if place is not None:
        raise OsmisError(f"{json_out}: --json-out {place}.")
    overrides = _overrides(args)
    timed = overrides.pop("iters", 10)
    base = build_config(args.preset, args.config, overrides)
    for name in names:  # a variant that changes what the model does not read would time the same thing twice
        check_model_options(base.model, VARIANTS[name], f"--variant {name}")
    configs = {name: base.replace(**VARIANTS[name]) for name in names}
    results = benchmark_variants(
        configs,
        args.data,
        args.mask,
        iters=timed,
        warmup=args.warmup,
        rounds=args.rounds,
        isolate=not args.same_process,
    )
    for r in results:
        name = r["variant"]
        mem = (
            f"{r['max_allocated_mb']:.0f} MB allocated" if "max_allocated_mb" in r else f"{r['peak_rss_mb']:.0f} MB RSS"
        )
        print(
            f"{name:8s} {r['median_s_per_iter']:.3f} s/it  {r['iters_per_s']:.2f} it/s  start-up "
            f"{r['startup_s']:.2f} s  peak {mem}  150k-iteration run: {r['projected_paper_run_h']:.1f} h  "
            f"({r['device']}, {r['precision']}, {r['resolution'][1]}x{r['resolution'][0]})"
        )
    if len(results) > 1:
        base = results[0]["median_s_per_iter"]
        for r in results[1:]:
            print(f"{r['variant']} vs {results[0]['variant']}: {base / r['median_s_per_iter']:.2f}x")
    try:
        atomic_write_text(json_out, json.dumps(results, indent=2) + "\n")
    except OSError as exc:
        raise OsmisError(f"{json_out}: --json-out cannot be written ({exc.strerror or exc}).") from None
    return 0


def _add_batch_parser(sub) -> None:
    p = sub.add_parser(
        "batch",
        help="train one model per source (labelled image or video) on Ray, locally or on a "
        "cluster, and merge the galleries into one dataset",
    )
    p.add_argument("sources", help="folder (image/ + mask/ pairs, or videos) or a .json/.csv list of sources")
    p.add_argument("--out", required=True, help="batch folder BATCH (runs/, dataset/, summary.json, index.html)")
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file")
    p.add_argument("--n-per-source", type=_WHOLE, default=100, help="generated pairs per source (default 100)")
    p.add_argument(
        "--address",
        help="join an existing Ray cluster (auto or HOST:PORT); BATCH must then be on "
        "storage every node mounts at the same path. Default: start a local Ray",
    )
    p.add_argument("--num-cpus", type=_WHOLE, help="local Ray only: CPUs to use (default: all of this machine's)")
    p.add_argument("--num-gpus", type=_WHOLE, help="local Ray only: GPUs to use (default: all of this machine's)")
    p.add_argument("--cpus-per-run", type=_DECIMAL, default=1, help="CPUs reserved by each run (default 1)")
    p.add_argument(
        "--gpus-per-run",
        type=_DECIMAL,
        default=None,
        help="GPUs reserved by each run; a fraction lets runs share a GPU, e.g. 0.25 (default: 1 when "
        "Ray has GPUs, else 0)",
    )
    p.add_argument("--max-concurrent", type=_WHOLE, help="at most this many runs at once (default: as resources allow)")
    p.add_argument(
        "--retries",
        type=_WHOLE,
        default=3,
        help="times a run is retried after its worker process or node died (default 3)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars: one line per finished source (also when stderr is not a terminal)",
    )
    _add_option_flags(p)


def cmd_batch(args) -> int:
    """Drive run_batch with an overall bar and one live line per running source (or, where _no_bar says none, one
    line per finished source); Ctrl-C stops every run with a checkpoint (a second Ctrl-C aborts). A batch so stopped
    is unfinished, as `osmis run` stopped in its training is: it exits 130 (143 after SIGTERM), so that a job
    scheduler does not count it as done."""
    from tqdm import tqdm

    try:
        import ray  # noqa: F401 - only to say clearly when the extra is missing

        from .batch import BatchControl, BatchFinished, BatchStarted, RunFinished, RunProgress, RunStarted, run_batch
    except ImportError as exc:
        raise OsmisError(f"osmis batch needs Ray (pip install -e '.[batch]'): {exc}") from None
    control = BatchControl()
    stop_signals: list[int] = []

    def on_sigint(signum, frame):
        if control.stop_requested:
            raise_stop(signum)
            return
        control.request_stop()  # first: a second signal landing in this handler's print is the abort
        stop_signals.append(signum)
        print(
            f"\n{_stop_words(signum)}: every running source saves a checkpoint after this iteration",
            file=sys.stderr,
        )

    events = run_batch(
        args.sources,
        _config_from_args(args),
        args.out,
        n_per_source=args.n_per_source,
        address=args.address,
        num_cpus=args.num_cpus,
        num_gpus=args.num_gpus,
        cpus_per_run=args.cpus_per_run,
        gpus_per_run=args.gpus_per_run,
        max_concurrent=args.max_concurrent,
        retries=args.retries,
        control=control,
        typed={k for k, v in _overrides(args).items() if v is not None},
    )
    saved_stops = _answer_stops(on_sigint)
    no_bar = _no_bar(args.quiet)
    overall, lines, slots, free = None, {}, {}, []
    code = 0

    def say(text: str) -> None:
        (tqdm.write(text, file=sys.stderr) if overall is not None else print(text, file=sys.stderr))

    try:
        for event in events:
            raise_stop_again()  # a second stop signal whose interrupt the batch driver swallowed
            if isinstance(event, BatchStarted):
                res = ", ".join(f"{v:g} {k}" for k, v in event.resources.items())
                say(
                    f"batch {event.out}: {len(event.sources)} sources, {len(event.to_run)} to train or resume; "
                    f"Ray: {res}"
                )
                overall = tqdm(
                    total=len(event.sources),
                    unit="source",
                    desc="batch",
                    position=0,
                    disable=no_bar,
                    dynamic_ncols=True,
                    file=sys.stderr,
                )
            elif isinstance(event, RunStarted):
                pos = slots[event.name] = free.pop(0) if free else len(lines) + 1
                lines[event.name] = tqdm(
                    total=event.total,
                    initial=event.step,
                    desc=event.name,
                    position=pos,
                    leave=False,
                    disable=no_bar,
                    dynamic_ncols=True,
                    file=sys.stderr,
                    bar_format="{desc}: {n_fmt}/{total_fmt} {bar} {postfix}",
                )
                if event.resumed or event.attempt > 1:
                    say(f"{event.name}: resumed at step {event.step} (attempt {event.attempt})")
            elif isinstance(event, RunProgress) and event.name in lines:
                bar = lines[event.name]
                bar.update(event.step - bar.n)
                bar.set_postfix_str(f"{event.it_per_s:.2f} it/s, ETA {_duration(event.eta)}")
            elif isinstance(event, RunFinished):
                bar = lines.pop(event.name, None)
                if bar is not None:
                    free.append(slots.pop(event.name))
                    bar.close()
                if event.status == "failed":
                    code = 1
                if event.status != "skipped" or no_bar:
                    say(
                        f"{event.name}: {event.status} at step {event.step}/{event.total}"
                        + (f": {event.message}" if event.message else "")
                    )
                if overall is not None:
                    overall.update(1)
            elif isinstance(event, BatchFinished):
                if overall is not None:
                    overall.close()
                    overall = None
                counts = ", ".join(f"{v} {k}" for k, v in event.counts.items() if v)
                print(
                    f"{'stopped' if event.stopped else 'done'} in {_duration(event.seconds)}: {counts}; "
                    f"summary: {Path(event.out) / 'index.html'}"
                    + ("" if event.dataset is not None else "; no run finished, so no dataset")
                    + ("; the same command again resumes it" if event.stopped else ""),
                    file=sys.stderr,
                )
                if event.stopped and stop_signals:
                    code = 128 + stop_signals[0]
    finally:
        _restore_stops(saved_stops)
        for bar in lines.values():
            bar.close()
        if overall is not None:
            overall.close()
    return code


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def cmd_gui(args) -> int:
    try:
        from osmis_gui.app import run_app
    except ImportError as exc:
        raise OsmisError(f"the desktop app needs PySide6 (pip install -e '.[gui]'): {exc}") from None
    return run_app(args.path, args.threads)


COMMANDS = {
    "inspect": cmd_inspect,
    "train": cmd_train,
    "generate": cmd_generate,
    "animate": cmd_animate,
    "render": cmd_render,
    "evaluate": cmd_evaluate,
    "run": cmd_run,
    "export": cmd_export,
    "bench": cmd_bench,
    "batch": cmd_batch,
    "gui": cmd_gui,
}
