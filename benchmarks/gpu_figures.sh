#!/usr/bin/env bash
# The GPU figures of issues 13 and 16 in one pass, for a machine with one CUDA GPU (README, "GPU figures").
# Run from the repository root: bash benchmarks/gpu_figures.sh OUT [SECONDS]
#   OUT      folder for the results (JSON, logs, a tar of the runs' stats and samples)
#   SECONDS  wall-time budget of the parallel study (default 270)
# Phase 1, nothing else on the GPU: OSMIS s/iteration at the paper and quick presets (fp32 fast path, bf16), the
# renderer's cost at the paper and quick presets, and the --eval-every cost of quick and short.
# Phase 2, in parallel: the recipe study (benchmarks/bench_recipes.py --jobs) and a quick renderer run on
# datasets/example_scene, then that run's quality measures and README figure.
# Needs ../shared/data (the real photo) beside the repository, like the rest of the benchmarks.
set -u
OUT=${1:?usage: gpu_figures.sh OUT [SECONDS]}
BUDGET=${2:-270}
PY=${PYTHON:-python3}
# runs/gpu is this script's scratch folder (runs and checkpoints); what it measures is copied into OUT
rm -rf runs/gpu
mkdir -p "$OUT" runs/gpu
export PYTHONUNBUFFERED=1
step() { echo "=== $(date +%T) $*"; }

step "device"
nvidia-smi -L
$PY -c "import torch, kornia, lpips; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"

step "phase 1: OSMIS s/iteration, paper and quick presets"
$PY -m osmis_core bench ../shared/data/example_image --preset paper --variant fast,bf16 --iters 10 --device cuda \
  --json-out "$OUT/bench_osmis_paper.json"
$PY -m osmis_core bench ../shared/data/example_image --preset quick --variant fast,bf16 --iters 20 --device cuda \
  --json-out "$OUT/bench_osmis_quick.json"
step "phase 1: renderer cost, paper and quick presets"
$PY benchmarks/bench_renderer.py --data ../shared/data/example_image --preset paper --iters 10 --device cuda \
  --json-out "$OUT/bench_renderer_paper.json"
$PY benchmarks/bench_renderer.py --data ../shared/data/example_image --preset quick --iters 20 --device cuda \
  --json-out "$OUT/bench_renderer_quick.json"
step "phase 1: --eval-every cost"
$PY benchmarks/bench_recipes.py --recipes "" --cases ../shared/data/example_image --eval-cost quick,short \
  --device cuda --out runs/gpu/eval-cost
cp runs/gpu/eval-cost/bench_recipes.json "$OUT/eval_cost.json"

step "phase 2: recipe study and renderer run, in parallel"
(
  timeout $((BUDGET - 90)) $PY -m osmis_core train datasets/example_scene --model renderer --preset quick \
    --device cuda --out runs/gpu/renderer-scene-quick > runs/gpu/renderer-train.log 2>&1
  echo "renderer training exit $?" >> runs/gpu/renderer-train.log
  timeout 85 $PY benchmarks/bench_renderer.py --no-cost --run runs/gpu/renderer-scene-quick \
    --data datasets/example_scene --random-weights --json-out "$OUT/bench_renderer_scene_quality.json" \
    >> runs/gpu/renderer-train.log 2>&1
  $PY benchmarks/renderer_figure.py runs/gpu/renderer-scene-quick --data datasets/example_scene \
    --out runs/gpu/renderer_scene.png >> runs/gpu/renderer-train.log 2>&1
) &
RENDERER=$!
timeout "$BUDGET" $PY benchmarks/bench_recipes.py \
  --recipes quick,quick-paper-3x,quick-half-lr-d,quick-ada,quick-no-ema-warmup,quick-paper-warmup \
  --cases datasets/example_scene,../shared/data/example_image --seeds 0,1,2,3,4 --eval-cost "" \
  --device cuda --jobs 12 --stop-after $((BUDGET / 2)) --out runs/gpu/recipes
echo "bench_recipes exit $?"
wait $RENDERER
cat runs/gpu/renderer-train.log | tail -30
cp runs/gpu/recipes/bench_recipes.json "$OUT/bench_recipes.json"

step "galleries of seed 0 of quick"
for case in example_scene example_image; do
  timeout 40 $PY -m osmis_core generate "runs/gpu/recipes/$case-quick-seed0" --n 16 --seed 0 \
    --out "runs/gpu/gallery-$case-quick-seed0"
done

step "pack"
LIST=$(mktemp)
# stats, logs, run.json, the last preview grid of each run, the galleries; no checkpoints
(cd runs/gpu && find . \( -name stats.jsonl -o -name log.txt -o -name run.json -o -name '*.log' -o -name '*.json' \
  -o -path './gallery-*' -o -name 'renderer_scene.png' \) -not -name '*.pt' -type f > "$LIST";
 for d in recipes/*/ renderer-scene-quick/; do ls -1 "$d"samples/*.png 2>/dev/null | tail -1; done >> "$LIST")
tar czf "$OUT/runs_gpu.tar.gz" -C runs/gpu -T "$LIST"
ls -la "$OUT"
step "done"
