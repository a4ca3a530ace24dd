#!/usr/bin/env bash
# Build the course website into _build/html (what `make book` runs), in the five steps below.
#
# Environment: BOOK_SKIP_NPM=1 reuses book/node_modules as it is (offline rebuilds).
# GANLAB_BOOK_SOLUTIONS=1 builds the site for after the deadline: the exercise pages show the
# reference answers and the chapters their {only} solutions blocks. By default no answer is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BOOK=$ROOT/book
EXTRA=$BOOK/_extra
RELEASE_SRC=$ROOT/autograder/release/ganlab
RELEASE_DST=$BOOK/exercises/_release
PY=${PY:-python3}
start=$(date +%s)

say() { printf '[book] %s\n' "$*"; }

# -- 1. browser libraries from npm, pinned by book/package-lock.json (none is committed) -------
# Those of book/package.json; axe-core is for the tests only.
if [[ "${BOOK_SKIP_NPM:-0}" != 1 || ! -d $BOOK/node_modules ]]; then
    say "npm ci (book/package-lock.json)"
    (cd "$BOOK" && npm ci --no-audit --no-fund --loglevel=error)
fi
NM=$BOOK/node_modules

# -- 2. the site's own copies, in book/_extra/, which Sphinx copies to the site root --------
# (html_extra_path): the site never asks another origin for anything.
say "vendoring into book/_extra"
rm -rf "$EXTRA"
mkdir -p "$EXTRA/vendor/onnxruntime-web" "$EXTRA/vendor/requirejs" "$EXTRA/vendor/html-manager" \
    "$EXTRA/vendor/mathjax" "$EXTRA/models" "$EXTRA/explorer" "$EXTRA/vendor/tfjs" "$EXTRA/train_live" "$EXTRA/common"
ORT=$NM/onnxruntime-web/dist
# The plain-wasm build of onnxruntime-web: the script, and the module + binary it
# imports from ort.env.wasm.wasmPaths (the same file serves single-threaded use).
cp "$ORT/ort.wasm.min.js" "$ORT/ort-wasm-simd-threaded.mjs" "$ORT/ort-wasm-simd-threaded.wasm" \
    "$EXTRA/vendor/onnxruntime-web/"
cp "$NM/onnxruntime-web/LICENSE" "$EXTRA/vendor/onnxruntime-web/" 2>/dev/null || true
cp "$NM/requirejs/require.js" "$EXTRA/vendor/requirejs/require.min.js"
# embed-amd.js loads its chunks and fonts next to itself.
find "$NM/@jupyter-widgets/html-manager/dist" -maxdepth 1 -type f ! -name '*.map' \
    -exec cp {} "$EXTRA/vendor/html-manager/" \;
cp -r "$NM/mathjax/es5/." "$EXTRA/vendor/mathjax/"
cp "$ROOT/ganlab/assets/fashionmnist_generator.onnx" "$EXTRA/models/"
cp "$BOOK/explorer_src/explorer.js" "$BOOK/explorer_src/explorer.css" "$EXTRA/explorer/"
cp "$BOOK/common_src/seeded_random.js" "$EXTRA/common/"  # used by the explorer and the live trainer
# TensorFlow.js for "Watch a GAN learn": the bundle (cpu and webgl backends), the wasm
# backend with its three binaries (plain, SIMD, threaded SIMD: it picks one at run time; the
# threaded build's worker is inlined in its script) and the WebGPU backend (loaded by the page
# only where the browser has a WebGPU adapter).
TFJS=$NM/@tensorflow
cp "$TFJS/tfjs/dist/tf.min.js" "$TFJS/tfjs-backend-wasm/dist/tf-backend-wasm.min.js" \
    "$TFJS/tfjs-backend-wasm/dist/"*.wasm "$TFJS/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js" \
    "$EXTRA/vendor/tfjs/"
# coi-serviceworker at the site root, so that it may control book/train_live.html (isolation.js
# registers it for that page only and says why).
cp "$NM/coi-serviceworker/coi-serviceworker.js" "$EXTRA/coi-serviceworker.js"
cp "$TFJS/tfjs/LICENSE" "$EXTRA/vendor/tfjs/LICENSE" 2>/dev/null || true
cp "$BOOK/train_live_src/"*.js "$BOOK/train_live_src/"*.css "$EXTRA/train_live/"
# Its training images with their licence, and the shipped classifier as ONNX (train_live_assets.py).
"$PY" "$BOOK/train_live_assets.py" "$EXTRA/train_live" --images 10000
mv "$EXTRA/train_live/fashionmnist_classifier.onnx" "$EXTRA/models/"
# /favicon.ico at the site root: the pages link the favicon, but the root index.html is a bare
# redirect that links nothing, and a browser then asks for /favicon.ico (a 404 in its console).
"$PY" -c "import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], sizes=[(16, 16), (32, 32)])" \
    "$BOOK/images/favicon.png" "$EXTRA/favicon.ico"

# -- 3. release notebooks, rendered with a download link on top, never executed -----------
rm -rf "$RELEASE_DST"
say "make -C autograder release"
make -C "$ROOT/autograder" release
shopt -s nullglob
released=("$RELEASE_SRC"/*.ipynb)
if ((${#released[@]} == 0)); then
    echo "[book] ERROR: nbgrader wrote no release notebook to $RELEASE_SRC" >&2
    exit 1
fi
say "rendering ${#released[@]} release notebooks (not executed)"
if [[ "${GANLAB_BOOK_SOLUTIONS:-0}" == 1 ]]; then
    say "GANLAB_BOOK_SOLUTIONS=1: the exercise pages show the reference answers"
    "$PY" "$BOOK/prepare_release.py" "$RELEASE_SRC" "$RELEASE_DST" --solutions "$ROOT/notebooks/ganlab"
else
    "$PY" "$BOOK/prepare_release.py" "$RELEASE_SRC" "$RELEASE_DST"
fi

# -- 4. build, the demo pages executed ---------------------------------------------
say "jupyter-book build (demo pages executed on CPU)"
# -W: every warning (a failed cell, a broken reference) fails the build; no --keep-going.
# --all: every page written afresh (a stale page from an earlier build never survives).
# Threads: the demos are small, two threads is what this kind of machine has.
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} CUDA_VISIBLE_DEVICES="" \
    jupyter-book build "$ROOT" --builder html --all -W

# -- 5. the pages and the vendored files are really there -------------------------------
HTML=$ROOT/_build/html
missing=0
for f in index.html book/index.html book/explorer.html book/setup.html book/demos/samples.html \
    vendor/onnxruntime-web/ort.wasm.min.js vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm \
    vendor/mathjax/tex-chtml.js vendor/requirejs/require.min.js vendor/html-manager/embed-amd.js \
    models/fashionmnist_generator.onnx explorer/explorer.js favicon.ico \
    book/train_live.html vendor/tfjs/tf.min.js vendor/tfjs/tf-backend-wasm.min.js \
    vendor/tfjs/tfjs-backend-wasm-simd.wasm vendor/tfjs/tfjs-backend-wasm-threaded-simd.wasm \
    vendor/tfjs/tf-backend-webgpu.min.js coi-serviceworker.js train_live/isolation.js \
    models/fashionmnist_classifier.onnx \
    train_live/fashion-mnist-train.u8 train_live/fashion-mnist-LICENSE.txt train_live/train_live.js \
    common/seeded_random.js; do
    if [[ ! -s $HTML/$f ]]; then
        echo "[book] ERROR: $HTML/$f is missing or empty" >&2
        missing=1
    fi
done
for nb in "${released[@]}"; do
    page=$HTML/book/exercises/_release/$(basename "${nb%.ipynb}").html
    [[ -s $page ]] || { echo "[book] ERROR: $page is missing" >&2; missing=1; }
done
npages=$(find "$HTML" -name '*.html' | wc -l)
if ((missing)) || ((npages < 10)); then
    echo "[book] ERROR: incomplete site ($npages html pages)" >&2
    exit 1
fi
say "site in $HTML ($npages pages) built in $(($(date +%s) - start)) s"
