/*
 * ganlab latent-space explorer: runs the generator ONNX in the browser with
 * onnxruntime-web (the site's own copy, single-threaded WebAssembly) and draws
 * G(z) on canvases as sliders move z.
 *
 * Markup: book/explorer.md. The page loads ../vendor/onnxruntime-web/ort.wasm.min.js and
 * ../common/seeded_random.js first, then this file. Everything is served by the site itself.
 *
 * Test hook (tests/test_book.py): window.ganlabExplorer
 *   .ready                 Promise resolved once the model is loaded and drawn
 *   .render(latent)        draws G(latent) on the main canvas, resolves to the raw
 *                          generator output (Array of C*H*W floats in [-1, 1])
 *   .frames                number of frames drawn so far
 *   .timings               ms per generate+draw of recent frames
 *   .busy()                number of generator runs queued or in progress
 */
(function () {
  "use strict";

  const root = document.getElementById("ganlab-explorer");
  if (!root) return;
  // This script's own URL locates the vendored runtime and the model, wherever
  // the site is hosted (wasmPaths must be absolute: the runtime imports from it).
  const here = document.currentScript ? document.currentScript.src : window.location.href;
  const siteRoot = new URL("../", here);
  const modelUrl = new URL(root.dataset.model || "models/fashionmnist_generator.onnx", siteRoot).href;
  const nSliders = parseInt(root.dataset.sliders || "6", 10);
  const status = root.querySelector("#gx-status");
  const timing = root.querySelector("#gx-timing");

  ort.env.wasm.wasmPaths = new URL("vendor/onnxruntime-web/", siteRoot).href;
  ort.env.wasm.numThreads = 1; // no SharedArrayBuffer needed: works on any static host
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";

  // -- random latents: N(0, 1) from the site's seeded generator (../common/seeded_random.js)
  const rand = ganlabRandom.mulberry32(2024); // a fixed first picture; later points are new draws
  const randn = (n) => ganlabRandom.normal(rand, n);

  // -- drawing -------------------------------------------------------------------
  // Generator output is in [-1, 1] (tanh); shown as x * 0.5 + 0.5, like to_display.
  function toImageData(out, offset, c, h, w) {
    const img = new ImageData(w, h);
    const plane = h * w;
    for (let p = 0; p < plane; p++) {
      for (let k = 0; k < 3; k++) {
        const v = out[offset + (c === 3 ? k * plane : 0) + p] * 0.5 + 0.5;
        img.data[4 * p + k] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
      img.data[4 * p + 3] = 255;
    }
    return img;
  }
  const scratch = document.createElement("canvas");
  function drawImage(canvas, out, offset, c, h, w, x = 0, y = 0, size = canvas.width) {
    scratch.width = w;
    scratch.height = h;
    scratch.getContext("2d").putImageData(toImageData(out, offset, c, h, w), 0, 0);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false; // show the generator's pixels, not a blur of them
    ctx.drawImage(scratch, x, y, size, size);
  }

  // -- state -----------------------------------------------------------------------
  let session = null;
  let latentSize = parseInt(root.dataset.latentSize || "100", 10);
  let z = null; // the point of the left panel
  let corners = null; // z1, z2, z3 of the plane
  let alpha = 0.5;
  let beta = 0.5;
  const api = {
    frames: 0,
    timings: [],
    busy: () => inflight, // runs queued or in progress (tests wait for 0)
  };
  window.ganlabExplorer = api;

  // Runs are serialised: one InferenceSession must not run twice at once.
  let queue = Promise.resolve();
  let inflight = 0;
  function enqueue(job) {
    inflight += 1;
    const next = queue.then(job, job).finally(() => (inflight -= 1));
    queue = next.catch(() => {});
    return next;
  }
  async function run(latents, batch) {
    const input = new ort.Tensor("float32", latents, [batch, latentSize]);
    const result = await session.run({ [session.inputNames[0]]: input });
    return result[session.outputNames[0]];
  }
  function record(ms) {
    api.frames += 1;
    api.timings.push(ms);
    if (api.timings.length > 500) api.timings.shift();
    const sorted = api.timings.slice(-50).sort((a, b) => a - b);
    timing.textContent =
      `last frame ${ms.toFixed(1)} ms, median of the last ${sorted.length}: ` +
      `${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms (generate + draw, onnxruntime-web, 1 thread)`;
  }
  // One frame: generate G(latent) and draw it; returns the raw output.
  function frame(canvas, latent) {
    return enqueue(async () => {
      const t0 = performance.now();
      const out = await run(latent, 1);
      const [, c, h, w] = out.dims;
      drawImage(canvas, out.data, 0, c, h, w);
      record(performance.now() - t0);
      return out.data;
    });
  }

  // Coalesce slider events: at most one frame in flight and one waiting per canvas.
  function coalesced(draw) {
    let busy = false;
    let again = false;
    return function request() {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      draw().finally(() => {
        busy = false;
        if (again) {
          again = false;
          request();
        }
      });
    };
  }

  // -- left panel: one point, a few coordinates as sliders ---------------------------
  const pointCanvas = root.querySelector("#gx-canvas");
  const sliderBox = root.querySelector("#gx-sliders");
  const sliders = [];
  const drawPoint = coalesced(() => frame(pointCanvas, z));
  function syncSliders() {
    sliders.forEach((s, i) => {
      s.input.value = z[i].toFixed(2);
      s.label.textContent = z[i].toFixed(2);
    });
  }
  function buildSliders() {
    for (let i = 0; i < Math.min(nSliders, latentSize); i++) {
      const row = document.createElement("label");
      row.className = "gx-row";
      const name = document.createElement("span");
      name.innerHTML = `z<sub>${i}</sub>`;
      const input = Object.assign(document.createElement("input"), { type: "range", min: "-3", max: "3", step: "0.01" });
      input.id = `gx-z${i}`;
      input.setAttribute("aria-label", `latent coordinate ${i}`);
      const label = document.createElement("output");
      input.addEventListener("input", () => {
        z[i] = parseFloat(input.value);
        label.textContent = z[i].toFixed(2);
        drawPoint();
      });
      row.append(name, input, label);
      sliderBox.append(row);
      sliders.push({ input, label });
    }
  }

  // -- right panel: the plane z1 + alpha (z2 - z1) + beta (z3 - z1) --------------------
  const planeCanvas = root.querySelector("#gx-plane-canvas");
  const pad = root.querySelector("#gx-pad");
  const alphaInput = root.querySelector("#gx-alpha");
  const betaInput = root.querySelector("#gx-beta");
  const alphaOut = root.querySelector("#gx-alpha-value");
  const betaOut = root.querySelector("#gx-beta-value");
  const PAD_STEPS = 6;
  let padMap = null; // the plane's thumbnails, drawn under the marker

  function planeLatent(a, b) {
    const [z1, z2, z3] = corners;
    const out = new Float32Array(latentSize);
    for (let i = 0; i < latentSize; i++) out[i] = z1[i] + a * (z2[i] - z1[i]) + b * (z3[i] - z1[i]);
    return out;
  }
  function drawPadMarker() {
    const ctx = pad.getContext("2d");
    if (padMap) ctx.putImageData(padMap, 0, 0);
    const cell = pad.width / PAD_STEPS;
    // Thumbnail centres sit at alpha, beta = k / (PAD_STEPS - 1).
    const x = cell / 2 + alpha * (pad.width - cell);
    const y = cell / 2 + beta * (pad.height - cell);
    ctx.strokeStyle = "#e4572e";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.arc(x, y, 9, 0, 2 * Math.PI);
    ctx.stroke();
  }
  function planeFrame() {
    drawPadMarker();
    return frame(planeCanvas, planeLatent(alpha, beta));
  }
  const drawPlane = coalesced(planeFrame);
  // Rows vary beta and columns alpha, like ganlab_solution.generate.plane_latents.
  function drawPadMap() {
    return enqueue(async () => {
      const n = PAD_STEPS * PAD_STEPS;
      const latents = new Float32Array(n * latentSize);
      for (let r = 0; r < PAD_STEPS; r++) {
        for (let c = 0; c < PAD_STEPS; c++) {
          latents.set(planeLatent(c / (PAD_STEPS - 1), r / (PAD_STEPS - 1)), (r * PAD_STEPS + c) * latentSize);
        }
      }
      const out = await run(latents, n);
      const [, ch, h, w] = out.dims;
      const ctx = pad.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, pad.width, pad.height);
      const cell = pad.width / PAD_STEPS;
      for (let k = 0; k < n; k++) {
        const r = Math.floor(k / PAD_STEPS);
        const c = k % PAD_STEPS;
        drawImage(pad, out.data, k * ch * h * w, ch, h, w, c * cell + 1, r * cell + 1, cell - 2);
      }
      padMap = ctx.getImageData(0, 0, pad.width, pad.height);
    });
  }
  function setAlphaBeta(a, b) {
    alpha = Math.min(1, Math.max(0, a));
    beta = Math.min(1, Math.max(0, b));
    alphaInput.value = alpha.toFixed(2);
    betaInput.value = beta.toFixed(2);
    alphaOut.textContent = alpha.toFixed(2);
    betaOut.textContent = beta.toFixed(2);
    drawPlane();
  }
  function padToAlphaBeta(event) {
    const rect = pad.getBoundingClientRect();
    const cell = rect.width / PAD_STEPS;
    const a = (event.clientX - rect.left - cell / 2) / (rect.width - cell);
    const b = (event.clientY - rect.top - cell / 2) / (rect.height - cell);
    setAlphaBeta(a, b);
  }

  function newPoint() {
    z = randn(latentSize);
    syncSliders();
    return frame(pointCanvas, z);
  }
  async function newCorners() {
    corners = [randn(latentSize), randn(latentSize), randn(latentSize)];
    await drawPadMap();
    return planeFrame();
  }

  async function start() {
    const t0 = performance.now();
    session = await ort.InferenceSession.create(modelUrl, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    const meta = session.inputMetadata && session.inputMetadata[0];
    if (meta && meta.shape && Number.isInteger(meta.shape[1])) latentSize = meta.shape[1];
    buildSliders();
    await newPoint();
    await newCorners();
    status.textContent =
      `Generator loaded in ${(performance.now() - t0).toFixed(0)} ms: ` +
      `${latentSize} latent coordinates, running in your browser with onnxruntime-web.`;
    root.querySelector("#gx-random").addEventListener("click", () => newPoint());
    root.querySelector("#gx-corners").addEventListener("click", () => newCorners());
    alphaInput.addEventListener("input", () => setAlphaBeta(parseFloat(alphaInput.value), beta));
    betaInput.addEventListener("input", () => setAlphaBeta(alpha, parseFloat(betaInput.value)));
    let dragging = false;
    pad.addEventListener("pointerdown", (e) => {
      dragging = true;
      pad.setPointerCapture(e.pointerId);
      padToAlphaBeta(e);
    });
    pad.addEventListener("pointermove", (e) => dragging && padToAlphaBeta(e));
    pad.addEventListener("pointerup", () => (dragging = false));
    root.classList.add("gx-ready");
  }

  api.render = function (latent) {
    if (latent.length !== latentSize) {
      return Promise.reject(new Error(`expected ${latentSize} numbers, got ${latent.length}`));
    }
    z = Float32Array.from(latent);
    syncSliders();
    return frame(pointCanvas, z).then((out) => Array.from(out));
  };
  api.ready = start().catch((err) => {
    status.textContent = `The explorer could not start: ${err.message || err}`;
    console.error("ganlab explorer:", err);
    throw err;
  });
})();
