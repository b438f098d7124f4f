"""The training metrics (issue 16, with class_coverage) of a finished run's checkpoint, computed as the trainer's
evaluation computes them: the EMA generator on the monitor's fixed noise (run seed + EVAL_NOISE_SEED_OFFSET,
EVAL_SAMPLES samples) against the run's training data. Reads the run folder only; writes nothing.

Usage (CPU, about half a minute for a quick-preset run):
    python benchmarks/class_coverage_of_run.py /tmp/shots/example --checkpoint latest --data datasets/example_scene
--data: the training data when the path recorded in run.json has moved (default: run.json's data path).
--raw: the raw generator instead of its EMA (is the average behind the generator at the end of a short run?).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from osmis_core.application.generate import load_generator  # noqa: E402
from osmis_core.application.runfolder import RunFolder  # noqa: E402
from osmis_core.config import OsmisConfig  # noqa: E402
from osmis_core.training.monitor import EVAL_NOISE_SEED_OFFSET, EVAL_SAMPLES, TrainingEvaluator  # noqa: E402
from osmis_core.training.trainer import load_data_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--checkpoint", default="latest", help="latest, best or a step number")
    parser.add_argument("--data", default=None)
    parser.add_argument("--raw", action="store_true", help="the raw generator, not its EMA")
    args = parser.parse_args()
    checkpoint = int(args.checkpoint) if args.checkpoint.isdigit() else args.checkpoint
    info = RunFolder(args.run).read_run_json()
    generator, meta = load_generator(args.run, checkpoint, ema=not args.raw)
    config = OsmisConfig.from_dict(meta["config"])
    data_info = info.get("data") or {}
    data = load_data_for(
        config, args.data or data_info["path"], None if args.data else data_info.get("mask_path"), torch.device("cpu")
    )
    noise = generator.sample_noise(
        EVAL_SAMPLES, torch.Generator().manual_seed(config.run.seed + EVAL_NOISE_SEED_OFFSET)
    )
    evaluation = TrainingEvaluator(data, noise, "cpu").evaluate(generator.eval())
    real = [round(float(s), 6) for s in data.masks.float().mean(dim=(0, 2, 3))] if data.masks is not None else None
    print(
        json.dumps(
            {
                "run": str(args.run),
                "checkpoint_step": meta["step"],
                "generator": "raw" if args.raw else "ema",
                **evaluation.metrics,
                **{f"{k}_per_class": v for k, v in evaluation.per_class.items()},
                "real_class_shares": real,
                "sample_largest_shares": [round(s, 4) for s in evaluation.largest_shares],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
