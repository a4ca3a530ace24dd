#!/usr/bin/env bash
# The main job's package part: the CPU short run (configs/cpu_short.yaml, 300 steps, about
# half a minute on 2 idle CPU cores), a grid from its generator with the classifier's verdict on it,
# then grids from the shipped generator. Outputs go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
python3 -m ganlab_solution train configs/cpu_short.yaml | tee out/demo_train.log
run_dir=$(sed -n 's/^done: //p' out/demo_train.log | tail -n 1)
python3 -m ganlab_solution generate "$run_dir/generator.onnx" -n 64 -o out/demo_samples.png --seed 0
# Exits non-zero (and says what to try) if the run collapsed instead of drawing garments.
python3 -m ganlab_solution.diagnostics "$run_dir/generator.onnx" | tee out/demo_quality.txt
python3 -m ganlab_solution generate ganlab/assets/fashionmnist_generator.onnx -n 64 -o out/pretrained_samples.png --seed 0
python3 -m ganlab_solution interpolate ganlab/assets/fashionmnist_generator.onnx --mode grid -o out/pretrained_interpolation.png --seed 0
echo "demo: run in $run_dir, images in out/"
