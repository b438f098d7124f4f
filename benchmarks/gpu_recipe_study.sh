#!/usr/bin/env bash
# Issue 16's seed study on one CUDA GPU: every recipe x 5 seeds x {datasets/example_scene,
# ../shared/data/example_image}, all runs at once (benchmarks/bench_recipes.py --jobs: the quick model keeps a
# GPU busy only a fraction of the time, so runs side by side share it well), then a gallery of each recipe's
# seed 0 on the scene and a tar of every run's stats, log and last preview grid (no checkpoints).
# Run from the repository root: bash benchmarks/gpu_recipe_study.sh OUT RECIPES [SECONDS] [JOBS]
#   RECIPES  comma-separated names from bench_recipes.py (e.g. quick)
#   SECONDS  wall-time limit of the study (default 330); runs still going then are cut, their stats kept
set -u
OUT=${1:?usage: gpu_recipe_study.sh OUT RECIPES [SECONDS] [JOBS]}
RECIPES=${2:?usage: gpu_recipe_study.sh OUT RECIPES [SECONDS] [JOBS]}
LIMIT=${3:-330}
JOBS=${4:-10}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
# runs/gpu-study is this script's scratch folder (runs and checkpoints); what it measures is copied into OUT
rm -rf runs/gpu-study
mkdir -p "$OUT" runs/gpu-study
timeout "$LIMIT" $PY benchmarks/bench_recipes.py --recipes "$RECIPES" \
  --cases datasets/example_scene,../shared/data/example_image --seeds 0,1,2,3,4 --eval-cost "" \
  --device cuda --jobs "$JOBS" --out runs/gpu-study/recipes
status=$?
echo "bench_recipes exit $status"
[ "$status" -eq 2 ] && exit 2  # refused its arguments: there is no study to hand back
cp runs/gpu-study/recipes/bench_recipes.json "$OUT/"
for recipe in ${RECIPES//,/ }; do
  timeout 30 $PY -m osmis_core generate "runs/gpu-study/recipes/example_scene-$recipe-seed0" --n 16 --seed 0 \
    --out "runs/gpu-study/gallery-example_scene-$recipe-seed0"
done
LIST=$(mktemp)
(cd runs/gpu-study && find . \( -name stats.jsonl -o -name log.txt -o -name run.json -o -name '*.json' \
  -o -path './gallery-*' \) -not -name '*.pt' -type f > "$LIST";
 for d in recipes/*/; do ls -1 "$d"samples/*.png 2>/dev/null | tail -1; done >> "$LIST")
tar czf "$OUT/runs_gpu_study.tar.gz" -C runs/gpu-study -T "$LIST"
ls -la "$OUT"
