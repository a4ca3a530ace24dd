/*
 * "Watch a GAN learn" (book/train_live.md): trains the lab's DCGAN (dcgan.js) in the page on
 * Fashion-MNIST images served by the site, draws its curves and its fixed-noise grid, and
 * asks the shipped classifier (onnxruntime-web) what it recognises in the samples.
 *
 * Loaded last by book/train_live.md, after the site's own copies of the scripts it needs
 * (isolation.js first: the page may reload once); loads tf-backend-webgpu.min.js itself when the
 * browser offers a WebGPU adapter.
 *
 * The backend: ?backend=wasm|webgpu|webgl|cpu, else WebGPU when the browser has a hardware
 * adapter, else WebAssembly (also the fallback when WebGPU fails to start). WebAssembly runs
 * navigator.hardwareConcurrency threads (?threads=N to choose) when the page is cross-origin
 * isolated, one otherwise.
 *
 * Handle for tests and benchmarks: window.ganlabTrainer (defined once no reload is pending)
 *   .ready            Promise: data, classifier and backend loaded, first grid drawn
 *   .start() .pause() .reset(seed?)   (reset pauses; start resumes)
 *   .step             steps done;  .backend   the TensorFlow.js backend's name
 *   .threads          WebAssembly threads (null for another backend)
 *   .crossOriginIsolated   whether the page is (SharedArrayBuffer, hence threads);  .isolation  why (not)
 *   .running          whether steps are being taken
 *   .stepsPerSecond   over the last few seconds of training
 *   .garmentsAt       GARMENTS_AT, the steps after which the recipe's samples look like garments
 *   .etaSeconds       seconds of training left until then at the measured speed (null until measured,
 *                     0 once passed);  .etaText   the sentence the page shows (#gt-eta)
 *   .history          {critic_loss, generator_loss, critic_acc_real, critic_acc_fake}: arrays, one value a step
 *   .samples(n)       Promise of a Float32Array of n*28*28 values in [-1, 1]: the EMA generator on the
 *                     first n of a fixed set of latents (the same latents at every call and every seed)
 *   .verdict()        Promise of {confident, classes, histogram}: the classifier on samples(512)
 *   .replay(spec)     tests: a fresh GAN from given weights trained on given batches and latents
 *                     (see replay below); resolves to one [critic_loss, generator_loss] a step
 */
(function () {
  "use strict";

  const root = document.getElementById("ganlab-train");
  if (!root) return;
  const here = document.currentScript ? document.currentScript.src : window.location.href;
  const siteRoot = new URL("../", here);
  const url = (path) => new URL(path, siteRoot).href;
  const $ = (id) => root.querySelector(`#${id}`);

  // The CPU short run (configs/cpu_short.yaml), chosen to show garments by step 300 (bench/browser_recipe.py).
  const RECIPE = {
    criticWidth: 16,
    generatorWidth: 64,
    latentSize: 100,
    batch: 32,
    criticLr: 1.2e-3,
    generatorLr: 6e-3,
    lblsmooth: 0.2,
    dnoise: 0.2,
    dropout: 0.25,
    ema: 0.95,
  };
  // Steps of this recipe after which most samples look like garments (bench/browser_training.py
  // measures it): the page's estimate "garments in about N min" is this over the measured speed.
  const GARMENTS_AT = 300;
  const ETA_AFTER_S = 4; // seconds of training measured before the first estimate
  const GRID_EVERY = 10; // steps between two redraws of the fixed-noise grid
  const VERDICT_EVERY_S = 60; // seconds of training between two classifier verdicts
  const VERDICT_SAMPLES = 512;
  const CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
  const params = new URLSearchParams(window.location.search);

  // -- state ---------------------------------------------------------------------------
  let images = null; // Uint8Array, count * 784
  let count = 0;
  let gan = null;
  let seed = parseInt(params.get("seed") || "0", 10) || 0;
  let recipe = Object.assign({}, RECIPE);
  let order = null;
  let cursor = 0;
  let shuffle = null;
  let loopDone = Promise.resolve();
  let classifier = null;
  let trainedMs = 0; // time spent running steps since the last reset
  let lastVerdictAt = 0;
  let recent = []; // [time, step] pairs for steps per second
  let measuredFrom = 0; // when Start was last pressed
  let gpuAdapter = null; // "hardware" or "software" once WebGPU is loaded
  let wasmThreads = 1; // asked of the wasm backend: ?threads=N, else navigator.hardwareConcurrency (8 at most)
  const history = { critic_loss: [], generator_loss: [], critic_acc_real: [], critic_acc_fake: [] };
  const api = {
    step: 0,
    backend: null,
    threads: null,
    crossOriginIsolated: window.crossOriginIsolated === true,
    isolation: "",
    running: false,
    stepsPerSecond: 0,
    garmentsAt: GARMENTS_AT,
    etaSeconds: null,
    etaText: "",
    history,
    recipe: () => Object.assign({}, recipe),
  };

  // -- data: the site's copy of the first Fashion-MNIST training images, streamed --------
  async function loadImages() {
    const response = await fetch(url("train_live/fashion-mnist-train.u8"));
    if (!response.ok) throw new Error(`training images: HTTP ${response.status}`);
    const total = parseInt(response.headers.get("Content-Length") || "0", 10);
    const reader = response.body.getReader();
    const chunks = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      if (total) setStatus(`Loading training images: ${Math.round((100 * received) / total)}%`);
    }
    const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
    if (received % 784 !== 0) throw new Error(`training images: ${received} bytes is not a whole number of 28x28 images`);
    return bytes;
  }

  function newEpoch() {
    order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(shuffle() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    cursor = 0;
  }
  // A batch (B, 28, 28, 1) in [-1, 1] (x / 127.5 - 1, like data.to_unit_range).
  function nextBatch(b) {
    if (!order || cursor + b > count) newEpoch();
    const data = new Float32Array(b * 784);
    for (let k = 0; k < b; k++) {
      const offset = order[cursor + k] * 784;
      for (let p = 0; p < 784; p++) data[k * 784 + p] = images[offset + p] / 127.5 - 1;
    }
    cursor += b;
    return tf.tensor4d(data, [b, 28, 28, 1]);
  }

  // -- samples from fixed latents ------------------------------------------------------------
  let fixedLatents = null; // Float32Array, grows on demand, the same numbers at every reset
  function latentsFor(n) {
    const size = recipe.latentSize;
    if (!fixedLatents || fixedLatents.length < n * size) {
      fixedLatents = ganlabRandom.normal(ganlabRandom.mulberry32(20240611), Math.max(n, 64) * size);
    }
    return fixedLatents.subarray(0, n * size);
  }
  async function samples(n) {
    const out = new Float32Array(n * 784);
    const size = recipe.latentSize;
    const z = latentsFor(n);
    for (let i = 0; i < n; i += 128) {
      const m = Math.min(128, n - i);
      const zt = tf.tensor2d(z.subarray(i * size, (i + m) * size), [m, size]);
      const imgs = gan.sample(zt);
      out.set(await imgs.data(), i * 784);
      zt.dispose();
      imgs.dispose();
    }
    return out;
  }

  // -- drawing ------------------------------------------------------------------------------
  const gridCanvas = $("gt-grid");
  async function redrawGrid() {
    const side = 8;
    const pixels = await samples(side * side);
    const img = new ImageData(side * 28, side * 28);
    for (let k = 0; k < side * side; k++) {
      const r = Math.floor(k / side);
      const c = k % side;
      for (let y = 0; y < 28; y++) {
        for (let x = 0; x < 28; x++) {
          const v = Math.round(255 * Math.min(1, Math.max(0, pixels[k * 784 + y * 28 + x] * 0.5 + 0.5)));
          const at = 4 * ((r * 28 + y) * side * 28 + c * 28 + x);
          img.data[at] = img.data[at + 1] = img.data[at + 2] = v;
          img.data[at + 3] = 255;
        }
      }
    }
    const scratch = document.createElement("canvas");
    scratch.width = scratch.height = side * 28;
    scratch.getContext("2d").putImageData(img, 0, 0);
    const ctx = gridCanvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(scratch, 0, 0, gridCanvas.width, gridCanvas.height);
    $("gt-grid-step").textContent = `step ${api.step}`;
  }

  // Curves: each series averaged over windows so that a long run stays readable.
  function drawCurves(canvas, series, colours, yMax) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width;
    const h = canvas.height;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, w, h);
    ctx.strokeStyle = "#ccc";
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, 0.5, w - 1, h - 1);
    const n = series[0].length;
    if (n < 2) return;
    const top = yMax || Math.max(1e-3, ...series.map((s) => Math.max(...s.slice(-2000)))) * 1.05;
    const points = Math.min(n, w - 10);
    series.forEach((s, k) => {
      ctx.strokeStyle = colours[k];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let p = 0; p < points; p++) {
        const lo = Math.floor((p * n) / points);
        const hi = Math.max(lo + 1, Math.floor(((p + 1) * n) / points));
        let sum = 0;
        const from = Math.max(0, hi - Math.max(hi - lo, 10)); // at least 10 steps per point
        for (let i = from; i < hi; i++) sum += s[i];
        const v = sum / (hi - from);
        const x = 5 + ((w - 10) * p) / Math.max(points - 1, 1);
        const y = h - 5 - ((h - 10) * Math.min(v, top)) / top;
        if (p === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    });
    ctx.fillStyle = "#444";
    ctx.font = "11px sans-serif";
    ctx.fillText(top.toFixed(2), 4, 12);
  }
  function drawAllCurves() {
    drawCurves($("gt-losses"), [history.critic_loss, history.generator_loss], ["#1f77b4", "#e4572e"]);
    drawCurves($("gt-accuracy"), [history.critic_acc_real, history.critic_acc_fake], ["#2a9d8f", "#8e44ad"], 1.0);
  }

  const setStatus = (text) => ($("gt-status").textContent = text);
  // "wasm, 2 threads, cross-origin isolated": what runs the steps.
  function engine() {
    if (api.backend === "webgpu") return `webgpu, ${gpuAdapter === "software" ? "a software adapter" : "the graphics card"}`;
    if (api.backend !== "wasm") return api.backend;
    const threads = `wasm, ${api.threads} thread${api.threads === 1 ? "" : "s"}`;
    if (api.crossOriginIsolated) return `${threads}, cross-origin isolated`;
    return `${threads} (not cross-origin isolated: ${api.isolation})`;
  }
  // The estimate: seconds until GARMENTS_AT at the speed of the last few seconds.
  function showEta(measured) {
    if (measured) {
      api.etaSeconds = Math.max(0, GARMENTS_AT - api.step) / Math.max(api.stepsPerSecond, 1e-6);
      const speed = `${api.stepsPerSecond.toFixed(2)} steps/s on ${engine()}`;
      if (api.step >= GARMENTS_AT) {
        api.etaText = `${speed}: past step ${GARMENTS_AT}, the samples should look like garments by now.`;
      } else {
        const minutes = Math.round(api.etaSeconds / 60);
        const when = minutes < 1 ? "in less than a minute" : `in about ${minutes} min`;
        api.etaText = `${speed}: garments ${when} on this machine (at step ${GARMENTS_AT}).`;
      }
    } else if (api.etaSeconds === null) {
      api.etaText =
        `Runs on ${engine()}. Its speed on this machine, and when garments appear, ` +
        `show after the first ${ETA_AFTER_S} seconds of training.`;
    }
    $("gt-eta").textContent = api.etaText;
  }
  function showSpeed() {
    const mean = (key) => {
      const s = history[key].slice(-50);
      return s.length ? (s.reduce((a, b) => a + b, 0) / s.length).toFixed(3) : "-";
    };
    $("gt-speed").textContent =
      `step ${api.step} · ${api.stepsPerSecond.toFixed(2)} steps/s · backend ${api.backend} · ` +
      `last 50 steps: critic loss ${mean("critic_loss")}, generator loss ${mean("generator_loss")}, ` +
      `critic accuracy real ${mean("critic_acc_real")}, fake ${mean("critic_acc_fake")}`;
  }

  // -- the classifier's verdict (diagnostics.sample_quality's numbers) ------------------------
  async function verdict() {
    if (!classifier) throw new Error("the classifier is not loaded");
    const pixels = await samples(VERDICT_SAMPLES);
    const input = new ort.Tensor("float32", pixels, [VERDICT_SAMPLES, 1, 28, 28]);
    const result = await classifier.run({ [classifier.inputNames[0]]: input });
    const logits = result[classifier.outputNames[0]].data;
    const counts = new Array(10).fill(0);
    let confident = 0;
    for (let i = 0; i < VERDICT_SAMPLES; i++) {
      const row = logits.subarray(i * 10, i * 10 + 10);
      const top = Math.max(...row);
      let sum = 0;
      for (const v of row) sum += Math.exp(v - top);
      const best = row.indexOf(top);
      counts[best] += 1;
      if (1 / sum >= 0.9) confident += 1; // softmax probability of the top class
    }
    const histogram = counts.map((c) => c / VERDICT_SAMPLES);
    return {
      step: api.step,
      confident: confident / VERDICT_SAMPLES,
      classes: histogram.filter((h) => h >= 0.05).length,
      histogram,
    };
  }
  async function showVerdict() {
    const v = await verdict();
    const top = v.histogram.indexOf(Math.max(...v.histogram));
    $("gt-verdict").textContent =
      `At step ${v.step}: ${Math.round(100 * v.confident)}% recognised with confidence, ${v.classes} classes ` +
      `(classes with 5% or more of ${VERDICT_SAMPLES} samples; most often ${CLASSES[top]}, ` +
      `${Math.round(100 * v.histogram[top])}%).`;
  }

  // -- training loop ----------------------------------------------------------------------------
  async function loop() {
    while (api.running) {
      const t0 = performance.now();
      const real = nextBatch(recipe.batch);
      const metrics = gan.step(real);
      const values = await metrics.data(); // waits for the step: the timing is the step's
      real.dispose();
      metrics.dispose();
      const now = performance.now();
      trainedMs += now - t0;
      Object.values(history).forEach((series, i) => series.push(values[i])); // in gan.step's order
      api.step += 1;
      recent.push([now, api.step]);
      while (recent.length > 2 && now - recent[0][0] > 5000) recent.shift();
      if (recent.length > 1) {
        const [t1, s1] = recent[0];
        api.stepsPerSecond = ((api.step - s1) * 1000) / Math.max(now - t1, 1);
        if (now - measuredFrom >= ETA_AFTER_S * 1000) showEta(true);
      }
      if (api.step % GRID_EVERY === 0) {
        await redrawGrid();
        drawAllCurves();
      }
      showSpeed();
      if (classifier && trainedMs - lastVerdictAt >= VERDICT_EVERY_S * 1000) {
        lastVerdictAt = trainedMs;
        await showVerdict();
      }
      await new Promise((resolve) => setTimeout(resolve, 0)); // let the page handle clicks
    }
  }

  function start() {
    if (api.running || !gan) return;
    api.running = true;
    recent = []; // the speed of this run of steps, not of the pause before it
    measuredFrom = performance.now();
    setStatus(`Training on ${count.toLocaleString()} images with ${engine()}.`);
    loopDone = loop().catch((err) => {
      api.running = false;
      setStatus(`Training stopped: ${err.message || err}`);
      console.error("ganlab trainer:", err);
    });
  }
  async function pause() {
    api.running = false;
    await loopDone;
    if (gan) setStatus(`Paused at step ${api.step}.`);
  }
  async function reset(newSeed) {
    await pause();
    if (Number.isInteger(newSeed)) seed = newSeed;
    $("gt-seed").value = String(seed);
    if (gan) gan.dispose();
    gan = window.ganlabDCGAN.createGAN(recipe, seed);
    shuffle = ganlabRandom.mulberry32(seed ^ 0x5bd1e995);
    order = null;
    Object.assign(api, { step: 0, stepsPerSecond: 0, etaSeconds: null });
    trainedMs = 0;
    lastVerdictAt = 0;
    recent = [];
    for (const key of Object.keys(history)) history[key].length = 0;
    $("gt-verdict").textContent = "The classifier looks at the samples every minute of training.";
    await redrawGrid();
    drawAllCurves();
    showSpeed();
    showEta(false);
    setStatus(`Ready: seed ${seed}, ${gan.parameters.critic.toLocaleString()} critic and ` +
      `${gan.parameters.generator.toLocaleString()} generator parameters, on ${engine()}. Press Start.`);
  }

  /**
   * Tests: trains a fresh GAN of `spec.recipe` (defaults: the page's) from the PyTorch state
   * dict `spec.state` on `spec.batches` (arrays of B*784 values in [-1, 1]) with the latents
   * `spec.zCritic[k]`, `spec.zGenerator[k]` (arrays of B*latentSize) of each step k, and returns
   * [critic_loss, generator_loss] per step. The page's own GAN is not touched.
   */
  async function replay(spec) {
    const r = Object.assign({}, recipe, spec.recipe || {});
    const g = window.ganlabDCGAN.createGAN(r, 0);
    const losses = [];
    try {
      g.importWeights(spec.state);
      for (let k = 0; k < spec.batches.length; k++) {
        const b = spec.batches[k].length / 784;
        const out = tf.tidy(() =>
          g.step(tf.tensor4d(spec.batches[k], [b, 28, 28, 1]), {
            zCritic: tf.tensor2d(spec.zCritic[k], [b, r.latentSize]),
            zGenerator: tf.tensor2d(spec.zGenerator[k], [b, r.latentSize]),
          })
        );
        const v = await out.data();
        out.dispose();
        losses.push([v[0], v[1]]);
      }
    } finally {
      g.dispose();
    }
    return losses;
  }

  // -- start-up ---------------------------------------------------------------------------------
  // tfjs-backend-wasm 4.22 sizes its thread pool once, when the backend starts, at
  // min(threads asked for, navigator.hardwareConcurrency / 2, 8): it takes every core for two
  // hyper-threads, so a 2-vCPU machine would get one thread. Asked for `threads`, it is shown
  // twice that many logical cores for that moment only.
  async function startWasm(threads) {
    Object.defineProperty(navigator, "hardwareConcurrency", { configurable: true, get: () => 2 * threads });
    try {
      return await tf.setBackend("wasm");
    } finally {
      delete navigator.hardwareConcurrency; // the browser's own value (Navigator.prototype's) again
    }
  }
  async function chooseBackend(name) {
    const started = name === "wasm" ? await startWasm(wasmThreads) : await tf.setBackend(name);
    if (!started) throw new Error(`the ${name} backend could not start in this browser`);
    await tf.ready();
    api.backend = tf.getBackend();
    api.threads = api.backend === "wasm" ? tf.wasm.getThreadsCount() : null;
    $("gt-backend").value = api.backend;
  }

  // WebGPU: an adapter, a hardware one unless asked for by name (?backend=webgpu), then the
  // site's copy of the backend.
  async function loadWebGPU(anyAdapter) {
    if (!navigator.gpu) return false;
    try {
      const adapter = await navigator.gpu.requestAdapter();
      const software = adapter && (adapter.isFallbackAdapter || (adapter.info && adapter.info.isFallbackAdapter));
      if (!adapter || (software && !anyAdapter)) return false;
      gpuAdapter = software ? "software" : "hardware";
      await new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = url("vendor/tfjs/tf-backend-webgpu.min.js");
        script.onload = resolve;
        script.onerror = () => reject(new Error("tf-backend-webgpu.min.js did not load"));
        document.head.appendChild(script);
      });
    } catch (err) {
      return false;
    }
    const option = document.createElement("option");
    option.value = option.textContent = "webgpu";
    $("gt-backend").prepend(option);
    return true;
  }

  async function init() {
    setStatus("Loading TensorFlow.js…");
    // Cross-origin isolation first (isolation.js): when the page is about to reload, nothing
    // more is loaded, and the handle appears only in the page that stays.
    api.isolation = window.ganlabIsolation ? (await window.ganlabIsolation.ready).reason : "isolation.js is not loaded";
    window.ganlabTrainer = api;
    // wasm: the site's copies of the .wasm files; cross-origin isolated, TensorFlow.js picks the
    // threaded SIMD build by itself (tfjs-backend-wasm-threaded-simd.wasm, its worker inlined),
    // else the single-threaded SIMD build.
    tf.wasm.setWasmPaths(url("vendor/tfjs/"));
    const asked = parseInt(params.get("threads") || "0", 10) || navigator.hardwareConcurrency || 1;
    wasmThreads = Math.min(8, Math.max(1, asked));
    tf.wasm.setThreadsCount(wasmThreads);
    ort.env.wasm.wasmPaths = url("vendor/onnxruntime-web/");
    ort.env.wasm.numThreads = 1; // one verdict a minute: its threads would only compete with training
    ort.env.logLevel = "error";
    const gpu = await loadWebGPU(params.get("backend") === "webgpu");
    const wanted = params.get("backend") || (gpu ? "webgpu" : "wasm");
    try {
      await chooseBackend(wanted);
    } catch (err) {
      if (params.get("backend")) throw err;
      await chooseBackend("wasm"); // WebGPU offered an adapter but did not start: WebAssembly then
    }
    const [bytes, session] = await Promise.all([
      loadImages(),
      ort.InferenceSession.create(url("models/fashionmnist_classifier.onnx"), { executionProviders: ["wasm"] }),
    ]);
    images = bytes;
    count = bytes.length / 784;
    classifier = session;
    await reset(seed);
    $("gt-start").addEventListener("click", start);
    $("gt-pause").addEventListener("click", () => pause());
    $("gt-reset").addEventListener("click", () => reset(parseInt($("gt-seed").value, 10) || 0));
    $("gt-backend").addEventListener("change", async (event) => {
      await pause();
      await chooseBackend(event.target.value);
      await reset(seed);
    });
    for (const [id, key, on] of [
      ["gt-smoothing", "lblsmooth", RECIPE.lblsmooth],
      ["gt-ttur", "generatorLr", RECIPE.generatorLr],
    ]) {
      $(id).addEventListener("change", async (event) => {
        recipe[key] = event.target.checked ? on : key === "generatorLr" ? RECIPE.criticLr : 0;
        await reset(seed);
      });
    }
    root.classList.add("gt-ready");
  }

  Object.assign(api, { start, pause, reset, samples, verdict, replay });
  api.ready = init().catch((err) => {
    setStatus(`The trainer could not start: ${err.message || err}`);
    console.error("ganlab trainer:", err);
    throw err;
  });
})();
