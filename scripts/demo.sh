#!/usr/bin/env bash
# The main job's package part: a short real training run, then grids from its generator
# and from the shipped one. Outputs go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
python3 -m ganlab_solution train configs/demo.yaml | tee out/demo_train.log
run_dir=$(sed -n 's/^done: //p' out/demo_train.log | tail -n 1)
python3 -m ganlab_solution generate "$run_dir/generator.onnx" -n 64 -o out/demo_samples.png --seed 0
python3 -m ganlab_solution generate ganlab_solution/assets/fashionmnist_generator.onnx -n 64 -o out/pretrained_samples.png --seed 0
python3 -m ganlab_solution interpolate ganlab_solution/assets/fashionmnist_generator.onnx --mode grid -o out/pretrained_interpolation.png --seed 0
echo "demo: run in $run_dir, images in out/"
