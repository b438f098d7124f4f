"""The `osmis` command: turns flags into a config and calls the engine."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import warnings
from pathlib import Path

from .config import FIELDS, MAX_SEED, build_config, option_type, preset_names
from .errors import OsmisError
from .devices import resolve_device

EXIT_USER_ERROR = 2
MAX_SAMPLES = 100_000  # --n: the gallery's noise is drawn at once (~12 KB a sample at the paper's resolution)


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
        help_text = meta["help"] + (f" (default: {f.default})" if f.default is not None else "")
        t = option_type(name)
        if t is bool:
            groups[group].add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                       default=argparse.SUPPRESS, help=help_text)
        else:
            groups[group].add_argument(flag, dest=name, type=t, choices=meta["choices"], default=argparse.SUPPRESS,
                                       metavar=None if meta["choices"] else name.upper(), help=help_text)


def _overrides(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if k in FIELDS}


def _config_from_args(args):
    return build_config(getattr(args, "preset", None), getattr(args, "config", None), _overrides(args))


def _add_evaluate_flags(p: argparse.ArgumentParser, real_required: bool) -> None:
    g = p.add_argument_group("evaluation options")
    if real_required:
        g.add_argument("--real", required=True, help="the training data (image, folder or video)")
        g.add_argument("--mask", help="mask of the training data, if not found next to it")
        g.add_argument("--device", default="auto")
        g.add_argument("--json", action="store_true", help="print the result as JSON")
    g.add_argument("--metrics", default="sifid,lpips,lpips_train,diversity,miou",
                   help="comma-separated: sifid, lpips, lpips_train, diversity, miou")
    g.add_argument("--sifid-dims", default="64", help="comma-separated Inception layers: 64, 192, 768, 2048")
    g.add_argument("--weights-dir", help="folder holding pretrained weights files (else the torch hub cache)")
    g.add_argument("--random-weights", action="store_true",
                   help="randomly initialised networks: exercises the pipeline offline; NOT comparable with "
                   "published numbers")
    g.add_argument("--miou-steps", type=int, default=500, help="training steps of the mIoU segmenter")
    g.add_argument("--compat-lpips-unit-range", action="store_true",
                   help="reproduce the published code: LPIPS fed [0,1] images as if [-1,1]")
    g.add_argument("--compat-video-frame0", action="store_true",
                   help="reproduce the published code: video SIFID against frame 0 only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="osmis", description="OSMIS Studio: one-shot synthesis of images and "
                                     "segmentation masks from one image or one video.")
    parser.add_argument("--version", action="version", version=f"osmis {__import__('osmis_core').__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("inspect", help="resolution, classes, architecture and parameter counts for DATA")
    p.add_argument("data", help="image file, research-layout folder, frames folder or video file")
    p.add_argument("--mask", help="mask file (or folder of per-frame masks)")
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_option_flags(p, {"max_size", "masks", "background_color", "max_classes", "max_frames", "ch_g", "ch_d",
                          "noise_dim", "num_blocks_g", "num_blocks_d", "num_blocks_d0"})

    p = sub.add_parser("train", help="train a model on DATA (or continue a run with --resume)")
    p.add_argument("data", help="DATA, or a run folder with --resume")
    p.add_argument("--mask", help="mask file (or folder of per-frame masks)")
    p.add_argument("--out", help="run folder (default: runs/<data name>)")
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file (a run.json works too)")
    p.add_argument("--resume", action="store_true", help="continue the run folder from its latest checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_option_flags(p)

    p = sub.add_parser("generate", help="write a gallery of generated image-mask pairs from a run")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="gallery folder")
    p.add_argument("--checkpoint", default="latest", help="latest or a step number")
    p.add_argument("--n", type=int, default=100, help="number of samples (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--raw", action="store_true", help="use the raw generator instead of its EMA")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=None,
                   help="samples per forward pass (default: 10 on CPU, 50 on GPU)")
    p.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="fp32",
                   help="fp32 (default), or bf16 autocast (faster where native; images may differ by a level or "
                   "two of 255); auto = bf16 where native")

    p = sub.add_parser("evaluate", help="score a gallery against the training data (SIFID, LPIPS, mIoU, ...)")
    p.add_argument("dir", help="gallery folder (from osmis generate) or a folder of images")
    _add_evaluate_flags(p, real_required=True)

    p = sub.add_parser("run", help="the main job: train, generate, evaluate and export in one command")
    p.add_argument("data", help="image file, research-layout folder, frames folder or video file")
    p.add_argument("--mask", help="mask file (or folder of per-frame masks)")
    p.add_argument("--out", help="run folder (default: runs/<data name>); the gallery goes to RUN/gallery")
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file")
    p.add_argument("--n", type=int, default=100, help="number of generated samples (default 100)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_evaluate_flags(p, real_required=False)
    _add_option_flags(p)

    p = sub.add_parser("bench", help="measure training speed and memory (median s/iteration, peak memory)")
    p.add_argument("data", help="DATA to train on")
    p.add_argument("--mask", help="mask file (or folder of per-frame masks)")
    p.add_argument("--variant", default="fast", help="eager, fast, bf16, auto or compile (comma-separated to "
                   "compare several in one run)")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations first (default 2)")
    p.add_argument("--rounds", type=int, default=1, help="repeat the variants this many times in alternating order "
                   "and report medians (default 1)")
    p.add_argument("--same-process", action="store_true",
                   help="time all variants in this process instead of a fresh process each")
    p.add_argument("--json-out", help="write the results as JSON here (default: bench.json)", default="bench.json")
    p.add_argument("--preset", choices=preset_names())
    p.add_argument("--config", help="JSON/TOML options file")
    _add_option_flags(p)

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("path", nargs="?", help="run folder or DATA to open")
    return parser


def _console_safe() -> None:
    """Text the console cannot encode (a path with a character outside cp1252, say) is written escaped instead of
    ending the command with UnicodeEncodeError after its work is done."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _check_counts(args) -> None:
    """Every count flag outside the config (those inside are checked by the config) must be a sensible number."""
    for flag, minimum in (("n", 1), ("batch_size", 1), ("miou_steps", 1), ("warmup", 0), ("rounds", 1)):
        value = getattr(args, flag, None)
        if value is not None and not isinstance(value, bool) and isinstance(value, int) and value < minimum:
            raise OsmisError(f"--{flag.replace('_', '-')} must be at least {minimum}, got {value}.")
    if getattr(args, "n", None) is not None and args.n > MAX_SAMPLES:
        raise OsmisError(f"--n must be at most {MAX_SAMPLES:,} (a gallery of {args.n:,} samples would not fit in "
                         f"memory or on disk), got {args.n}.")
    if args.command == "generate" and not 0 <= args.seed <= MAX_SEED:
        raise OsmisError(f"--seed must be between 0 and {MAX_SEED}, got {args.seed}.")


def main(argv: list[str] | None = None) -> int:
    _console_safe()
    args = build_parser().parse_args(argv)
    warnings.showwarning = lambda msg, *a, **k: print(f"warning: {msg}", file=sys.stderr)
    # Image sizes are checked from the file header against osmis's own documented limit (data.sources.open_checked,
    # $OSMIS_MAX_IMAGE_PIXELS); Pillow's fixed one would refuse first, without saying how to raise it.
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    try:
        _check_counts(args)
        return COMMANDS[args.command](args)
    except OsmisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # the file system said no: a full disk, a read-only or vanished folder
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR


def cmd_inspect(args) -> int:
    from .application.generate import inspect_data
    report = inspect_data(args.data, args.mask, _config_from_args(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"data:          {report['source']['path']} ({report['source']['kind']}, {report['num_frames']} frame(s), "
          f"{report['original_size'][0]}x{report['original_size'][1]})")
    print(f"resolution:    {report['resolution'][1]}x{report['resolution'][0]} (W x H), noise {report['noise_shape']}")
    print(f"classes:       {report['mask_summary'] or 'no mask (SIV-GAN)'}")
    print(f"architecture:  n_g={report['num_blocks_g']} n_d={report['num_blocks_d']} n_d0={report['num_blocks_d0']}")
    print(f"parameters:    G {report['params_g']:,}  D {report['params_d']:,}")
    for note in report["notes"]:
        print(f"note:          {note}")
    return 0


def _default_run_dir(data: str) -> Path:
    stem = Path(data).stem or "run"
    base = Path("runs") / stem
    if not base.exists():
        return base
    i = 1
    while (Path("runs") / f"{stem}-{i:03d}").exists():
        i += 1
    return Path("runs") / f"{stem}-{i:03d}"


def cmd_train(args) -> int:
    from .application.runfolder import RunFolder
    from .training.trainer import resume_training, start_training
    if args.resume:
        run_dir = Path(args.out) if args.out else Path(args.data)
        if not RunFolder(run_dir).exists():
            raise OsmisError(f"{run_dir}: not a run folder (no run.json) to resume.")
        if args.preset or args.config:
            raise OsmisError("--preset/--config cannot be combined with --resume: the run keeps its config.")
        trainer = resume_training(run_dir, _overrides(args))
    else:
        config = _config_from_args(args)
        run_dir = Path(args.out) if args.out else _default_run_dir(args.data)
        trainer = start_training(config, args.data, run_dir, args.mask)
    return run_with_progress(trainer, resumed=args.resume, quiet=args.quiet)


def run_with_progress(trainer, resumed: bool = False, quiet: bool = False) -> int:
    """Drive trainer.run() with a progress bar; Ctrl-C stops after the current step and saves a checkpoint."""
    from tqdm import tqdm

    from .events import (CheckpointSaved, StepStats, TrainControl, TrainingFailed, TrainingFinished,
                         TrainingStarted)
    from .training.trainer import format_stats
    control = TrainControl()

    def on_sigint(signum, frame):
        if control.stop_requested:
            raise KeyboardInterrupt
        print("\nstopping after this iteration and saving a checkpoint (Ctrl-C again to abort)", file=sys.stderr)
        control.request_stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    bar = None
    code = 0
    try:
        for event in trainer.run(control, resumed=resumed):
            if isinstance(event, TrainingStarted):
                d = event.description
                a = d["architecture"]
                print(f"run folder {event.run_dir}: {a['width']}x{a['height']}, n_g={a['num_blocks_g']} "
                      f"n_d={a['num_blocks_d']} n_d0={a['num_blocks_d0']}, classes={d['data']['num_classes']}, "
                      f"G {d['params_g']:,} / D {d['params_d']:,} parameters, {d['device']}", file=sys.stderr)
                for note in a["notes"]:
                    print(f"note: {note}", file=sys.stderr)
                bar = tqdm(total=event.total, initial=event.step, unit="it", disable=quiet, dynamic_ncols=True,
                           file=sys.stderr)
            elif isinstance(event, StepStats):
                bar.update(event.step - bar.n)
                bar.set_postfix_str(format_stats(event), refresh=False)
            elif isinstance(event, CheckpointSaved) and quiet:
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
                state = "stopped" if event.stopped else "finished"
                print(f"{state} at step {event.step}; run folder: {event.run_dir}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
    return code


def cmd_generate(args) -> int:
    from .application.generate import generate_gallery
    checkpoint = args.checkpoint if args.checkpoint == "latest" else _int(args.checkpoint, "--checkpoint")
    t0 = time.perf_counter()
    out = generate_gallery(args.run, args.out, n=args.n, seed=args.seed, checkpoint=checkpoint, ema=not args.raw,
                           device=args.device, batch_size=args.batch_size, precision=args.precision)
    print(f"wrote {args.n} samples in {time.perf_counter() - t0:.2f} s: {out / 'index.html'}")
    return 0


def _int(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise OsmisError(f"{flag} must be 'latest' or a step number, got '{text}'.") from None


def _evaluate(args, gallery: Path, real, mask, device: str, config=None) -> tuple[dict, str | None]:
    """Score a gallery; missing pretrained weights give their message and the weight-free metrics still run."""
    from .application.evaluation import evaluate_gallery
    from .metrics import Compat, MissingWeightsError
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    try:
        dims = [int(d) for d in args.sifid_dims.split(",") if d.strip()]
    except ValueError:
        raise OsmisError(f"--sifid-dims must be numbers such as 64,192, got '{args.sifid_dims}'.") from None
    if args.random_weights:
        print("warning: --random-weights: scores are NOT comparable with published numbers", file=sys.stderr)
    stage_shown = set()

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in stage_shown:
            stage_shown.add(stage)
            print(f"evaluating: {stage} ({total})", file=sys.stderr)

    kwargs = dict(metrics=metrics, sifid_dims=dims, weights_dir=args.weights_dir, random_weights=args.random_weights,
                  compat=Compat(args.compat_lpips_unit_range, args.compat_video_frame0),
                  device=str(resolve_device(device)), miou_steps=args.miou_steps, progress=progress)
    if config is not None:
        kwargs.update(max_classes=config.data.max_classes, background_colour=config.data.background_color)
    missing = None
    try:
        from .metrics import missing_weights
        from .metrics.evaluate import REQUIRED_WEIGHTS
        files = [] if args.random_weights else list(dict.fromkeys(
            f for m in metrics if m in REQUIRED_WEIGHTS for f in missing_weights(REQUIRED_WEIGHTS[m], args.weights_dir)))
        if files:
            missing = str(MissingWeightsError(files, args.weights_dir))
    except ImportError:
        pass
    result = evaluate_gallery(gallery, real, mask, skip_missing=missing is not None, **kwargs)
    return result, missing


def cmd_evaluate(args) -> int:
    from .metrics import format_table
    result, missing = _evaluate(args, Path(args.dir), args.real, args.mask, args.device)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    print(f"metrics written to {Path(args.dir) / 'metrics.json'} and metrics.csv", file=sys.stderr)
    if missing:
        print(f"error: {missing}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def cmd_run(args) -> int:
    from .application.generate import generate_gallery
    from .metrics import format_table
    from .training.trainer import start_training
    config = _config_from_args(args)
    run_dir = Path(args.out) if args.out else _default_run_dir(args.data)
    trainer = start_training(config, args.data, run_dir, args.mask)
    code = run_with_progress(trainer, quiet=args.quiet)
    if code != 0:
        return code
    gallery = run_dir / "gallery"
    generate_gallery(run_dir, gallery, n=args.n, seed=config.run.seed, device=config.run.device)
    print(f"generated {args.n} samples", file=sys.stderr)
    result, missing = _evaluate(args, gallery, args.data, args.mask, config.run.device, config)
    print(format_table(result))
    if missing:
        print(f"warning: some scores were not computed: {missing}", file=sys.stderr)
    print(f"gallery: {(gallery / 'index.html').resolve()}")
    return 0


def cmd_bench(args) -> int:
    from .training.bench import VARIANTS, benchmark_variants
    from .application.runfolder import atomic_write_text
    names = [v.strip() for v in args.variant.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise OsmisError(f"unknown variant '{unknown[0]}' (available: {', '.join(VARIANTS)}).")
    if args.rounds < 1:
        raise OsmisError("--rounds must be at least 1.")
    overrides = _overrides(args)
    timed = overrides.pop("iters", 10)
    configs = {name: build_config(args.preset, args.config, {**overrides, **VARIANTS[name]}) for name in names}
    results = benchmark_variants(configs, args.data, args.mask, iters=timed, warmup=args.warmup, rounds=args.rounds,
                                 isolate=not args.same_process)
    for r in results:
        name = r["variant"]
        mem = f"{r['max_allocated_mb']:.0f} MB allocated" if "max_allocated_mb" in r else f"{r['peak_rss_mb']:.0f} MB RSS"
        print(f"{name:8s} {r['median_s_per_iter']:.3f} s/it  {r['iters_per_s']:.2f} it/s  start-up "
              f"{r['startup_s']:.2f} s  peak {mem}  150k-iteration run: {r['projected_paper_run_h']:.1f} h  "
              f"({r['device']}, {r['precision']}, {r['resolution'][1]}x{r['resolution'][0]})")
    if len(results) > 1:
        base = results[0]["median_s_per_iter"]
        for r in results[1:]:
            print(f"{r['variant']} vs {results[0]['variant']}: {base / r['median_s_per_iter']:.2f}x")
    atomic_write_text(Path(args.json_out), json.dumps(results, indent=2) + "\n")
    return 0


def cmd_gui(args) -> int:
    try:
        from osmis_gui.app import run_app
    except ImportError as exc:
        raise OsmisError(f"the desktop app needs PySide6 (pip install -e '.[gui]'): {exc}") from None
    return run_app(args.path)


COMMANDS = {"inspect": cmd_inspect, "train": cmd_train, "generate": cmd_generate, "evaluate": cmd_evaluate,
            "run": cmd_run, "bench": cmd_bench, "gui": cmd_gui}
