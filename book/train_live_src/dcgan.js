/*
 * The lab's DCGAN in TensorFlow.js (the site's own copy, ../vendor/tfjs/): the critic and
 * generator of ganlab_solution/models.py, the BCE losses of ganlab_solution/losses.py and the
 * two Adam optimizers of the trainer, so that the page trains the network the lab builds.
 *
 * Tensors are NHWC (TensorFlow.js's layout). Weights are kept in the shapes of PyTorch's
 * state dict where that costs nothing (Linear weights (out, in), BatchNorm vectors), and
 * convolutions as [kh, kw, in, out]; importWeights() converts a PyTorch state dict, so a
 * test can start the browser and PyTorch from the same numbers. The two places where a
 * layout changes meaning (the generator's reshape to (C, 7, 7), the critic's flatten) go
 * through NCHW, so the Linear layers keep PyTorch's ordering.
 *
 * Needs ../common/seeded_random.js. Exposes window.ganlabDCGAN = { createGAN(recipe, seed) }.
 */
(function () {
  "use strict";

  const BN_EPS = 1e-5; // nn.BatchNorm2d's default
  const BN_MOMENTUM = 0.1;
  const LEAK = 0.2;
  // v <- keep * v + (1 - keep) * x, in place: the EMA of the weights and BatchNorm's running statistics.
  const blend = (v, x, keep) => v.assign(tf.add(tf.mul(v, keep), tf.mul(x, 1 - keep)));
  const REAL = 1; // class indices of the critic's two logits (ganlab.harness.REAL, FAKE)
  const FAKE = 0;

  // -- convolution ---------------------------------------------------------------------
  // PyTorch's Conv2d(k, stride, padding=(k-1)/2): symmetric padding, then a valid convolution
  // ("same" padding differs for stride 2 on even sizes: TensorFlow pads one side only).
  //
  // Its gradients are computed here with forward convolutions only. The WebAssembly backend
  // of TensorFlow.js 4.22 has no Conv2DBackpropFilter kernel at all, and its
  // Conv2DBackpropInput is a plain loop many times slower than its forward Conv2D (XNNPACK):
  // profiled, the library's own gradient path took 2.3 s a step, this one a fraction of it.
  // - input: the output gradient (zeros between its rows and columns for stride 2), padded,
  //   convolved with the kernel turned by 180 degrees and in/out channels swapped;
  // - filter: the padded input with batch and channels swapped, convolved with the output
  //   gradient as a kernel dilated by the stride (the batch is summed as the channels are).
  function padded(x, pad) {
    return pad ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
  }
  // Zeros between rows and between columns: [B, H, W, C] -> [B, 2H - 1, 2W - 1, C].
  function dilate2(x) {
    const [b, h, w, c] = x.shape;
    const rows = tf.concat([tf.expandDims(x, 2), tf.zeros([b, h, 1, w, c])], 2).reshape([b, 2 * h, w, c]);
    const both = tf.concat([tf.expandDims(rows, 3), tf.zeros([b, 2 * h, w, 1, c])], 3).reshape([b, 2 * h, 2 * w, c]);
    return tf.slice(both, [0, 0, 0, 0], [b, 2 * h - 1, 2 * w - 1, c]);
  }
  function inputGrad(dy, w, xShape, stride) {
    const k = w.shape[0];
    const pad = (k - 1) / 2;
    const spread = stride === 2 ? dilate2(dy) : dy;
    const [, h, wd] = xShape;
    // Input row i receives dy[o] through kernel row i + pad - stride * o: a correlation of the
    // spread gradient, led by k - 1 - pad zeros and trailed by enough to give h rows back.
    const lead = k - 1 - pad;
    const padH = [lead, h + k - 1 - lead - spread.shape[1]];
    const padW = [lead, wd + k - 1 - lead - spread.shape[2]];
    const turned = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]);
    return tf.conv2d(tf.pad(spread, [[0, 0], padH, padW, [0, 0]]), turned, 1, "valid");
  }
  function filterGrad(x, dy, k, stride) {
    const xp = tf.transpose(padded(x, (k - 1) / 2), [3, 1, 2, 0]); // [Cin, H, W, B]
    const kernel = tf.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, B, Cout]
    const g = tf.conv2d(xp, kernel, 1, "valid", "NHWC", stride); // [Cin, >=k, >=k, Cout]
    return tf.transpose(tf.slice(g, [0, 0, 0, 0], [g.shape[0], k, k, g.shape[3]]), [1, 2, 0, 3]);
  }
  // One differentiable convolution per (stride, trained) pair. With `trained` false (the
  // critic during the generator's step, whose weights the step leaves alone) the filter
  // gradient, as costly as the convolution itself, is skipped: zeros stand in for it.
  const convOps = {};
  function conv(x, w, stride = 1, bias = null, trained = true) {
    const key = `${stride}/${trained}`;
    if (!convOps[key]) {
      convOps[key] = tf.customGrad((xi, wi, save) => {
        save([xi, wi]);
        return {
          value: tf.conv2d(padded(xi, (wi.shape[0] - 1) / 2), wi, stride, "valid"),
          gradFunc: (dy, [xs, ws]) => [
            inputGrad(dy, ws, xs.shape, stride),
            trained ? filterGrad(xs, dy, ws.shape[0], stride) : tf.zerosLike(ws),
          ],
        };
      });
    }
    const y = convOps[key](x, w);
    return bias ? tf.add(y, bias) : y;
  }

  // nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False): output pixel 2i is
  // 3/4 of input i and 1/4 of input i - 1, pixel 2i + 1 is 3/4 of i and 1/4 of i + 1 (edges
  // repeated). tf.image.resizeBilinear computes this forward (halfPixelCenters), but its
  // gradient kernel (ResizeBilinearGrad, 4.22) knows only alignCorners and would train
  // another network than the lab's; interleaving slices instead leaves gradients to Unpack
  // and SplitV, slow on wasm. So: one small matrix per axis, [n, 2n], applied by matMul.
  const upsampleMatrices = {};
  function upsampleMatrix(n) {
    if (!upsampleMatrices[n]) {
      const m = new Float32Array(n * 2 * n);
      for (let i = 0; i < n; i++) {
        m[i * 2 * n + 2 * i] += 0.75;
        m[Math.max(i - 1, 0) * 2 * n + 2 * i] += 0.25;
        m[i * 2 * n + 2 * i + 1] += 0.75;
        m[Math.min(i + 1, n - 1) * 2 * n + 2 * i + 1] += 0.25;
      }
      upsampleMatrices[n] = tf.keep(tf.tensor2d(m, [n, 2 * n]));
    }
    return upsampleMatrices[n];
  }
  function upsample2(x) {
    const [b, h, w, c] = x.shape;
    // [B, H, W, C] -> rows last, doubled -> columns last, doubled -> back to NHWC.
    const byRows = tf.matMul(tf.transpose(x, [0, 2, 3, 1]).reshape([b * w * c, h]), upsampleMatrix(h));
    const rowsDone = tf.transpose(byRows.reshape([b, w, c, 2 * h]), [0, 3, 2, 1]); // [B, 2H, C, W]
    const byCols = tf.matMul(rowsDone.reshape([b * 2 * h * c, w]), upsampleMatrix(w));
    return tf.transpose(byCols.reshape([b, 2 * h, c, 2 * w]), [0, 1, 3, 2]);
  }

  // -- parameters --------------------------------------------------------------------------
  // DCGAN initialisation (models.init_weights): weights N(0, 0.02), BatchNorm scales
  // N(1, 0.02), biases 0. `seeds` hands out one seed per tensor.
  function makeParams(recipe, seeds) {
    const p = { critic: {}, generator: {}, bn: {} };
    const normal = (shape, mean) => tf.variable(tf.randomNormal(shape, mean, 0.02, "float32", seeds()));
    const zeros = (shape) => tf.variable(tf.zeros(shape));
    const convW = (k, cin, cout) => normal([k, k, cin, cout], 0);
    function bn(group, name, c) {
      group[`${name}.weight`] = normal([c], 1);
      group[`${name}.bias`] = zeros([c]);
      // Running statistics are buffers, not trained: kept apart from the optimiser's lists.
      p.bn[`${name}.running_mean`] = tf.variable(tf.zeros([c]), false);
      p.bn[`${name}.running_var`] = tf.variable(tf.ones([c]), false);
    }
    const k = recipe.criticWidth;
    const widths = [1, k, 2 * k, 3 * k];
    const c = p.critic;
    for (let b = 0; b < 3; b++) {
      const pre = `discriminator.blocks.${b}.layers`;
      c[`${pre}.0.weight`] = convW(3, widths[b], widths[b + 1]);
      bn(c, `${pre}.1`, widths[b + 1]);
      c[`${pre}.3.weight`] = convW(3, widths[b + 1], widths[b + 1]);
      bn(c, `${pre}.4`, widths[b + 1]);
      c[`${pre}.6.weight`] = convW(3, widths[b + 1], widths[b + 1]);
      c[`${pre}.6.bias`] = zeros([widths[b + 1]]);
    }
    c["discriminator.head.weight"] = normal([2, widths[3] * 4 * 4], 0);
    c["discriminator.head.bias"] = zeros([2]);
    const g = p.generator;
    const base = recipe.generatorWidth;
    g["generator.project.0.weight"] = normal([base * 7 * 7, recipe.latentSize], 0);
    g["generator.project.0.bias"] = zeros([base * 7 * 7]);
    const gw = [base, base >> 1, base >> 2];
    for (let b = 0; b < 2; b++) {
      const pre = `generator.blocks.${b}.layers`;
      g[`${pre}.1.weight`] = convW(3, gw[b], gw[b + 1]);
      bn(g, `${pre}.2`, gw[b + 1]);
      g[`${pre}.4.weight`] = convW(3, gw[b + 1], gw[b + 1]);
      bn(g, `${pre}.5`, gw[b + 1]);
    }
    g["generator.to_image.0.weight"] = convW(1, gw[2], 1);
    g["generator.to_image.0.bias"] = zeros([1]);
    return p;
  }

  // -- the two networks ----------------------------------------------------------------------
  // BatchNorm: batch statistics in training (biased variance, as PyTorch normalises with),
  // running statistics in evaluation. Running statistics are only kept for the generator:
  // the critic is never run in evaluation mode here.
  // Written out rather than tf.batchNorm: that op's gradient tiles the statistics to the
  // input's shape, and the WebAssembly backend's Tile kernel is slow (a third of a step).
  function batchNorm(x, params, name, mode) {
    const gamma = params[`${name}.weight`];
    const beta = params[`${name}.bias`];
    let mean;
    let variance;
    if (mode.train) {
      ({ mean, variance } = tf.moments(x, [0, 1, 2]));
      if (mode.onStats) {
        const n = x.size / x.shape[3];
        mode.onStats(name, mean, variance.mul(n / Math.max(n - 1, 1))); // unbiased, like PyTorch's buffer
      }
    } else {
      mean = mode.stats[`${name}.running_mean`];
      variance = mode.stats[`${name}.running_var`];
    }
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPS)));
    return tf.add(tf.mul(tf.sub(x, mean), scale), beta);
  }

  function critic(params, x, recipe, mode, rng) {
    let h = x;
    if (mode.train && recipe.dnoise > 0) h = tf.add(h, tf.randomNormal(h.shape, 0, recipe.dnoise, "float32", rng()));
    for (let b = 0; b < 3; b++) {
      const pre = `discriminator.blocks.${b}.layers`;
      const t = !mode.frozen;
      h = tf.leakyRelu(batchNorm(conv(h, params[`${pre}.0.weight`], 1, null, t), params, `${pre}.1`, mode), LEAK);
      h = tf.leakyRelu(batchNorm(conv(h, params[`${pre}.3.weight`], 1, null, t), params, `${pre}.4`, mode), LEAK);
      h = tf.leakyRelu(conv(h, params[`${pre}.6.weight`], 2, params[`${pre}.6.bias`], t), LEAK);
      if (mode.train && recipe.dropout > 0) h = tf.dropout(h, recipe.dropout, null, rng());
    }
    // Flatten in PyTorch's (C, H, W) order so that the Linear weight is PyTorch's.
    const flat = tf.transpose(h, [0, 3, 1, 2]).reshape([h.shape[0], -1]);
    return tf.add(tf.matMul(flat, params["discriminator.head.weight"], false, true), params["discriminator.head.bias"]);
  }

  function generator(params, z, recipe, mode) {
    const base = recipe.generatorWidth;
    const projected = tf.relu(
      tf.add(tf.matMul(z, params["generator.project.0.weight"], false, true), params["generator.project.0.bias"])
    );
    // view(-1, C, 7, 7) in PyTorch, then NHWC for the convolutions.
    let h = tf.transpose(projected.reshape([z.shape[0], base, 7, 7]), [0, 2, 3, 1]);
    for (let b = 0; b < 2; b++) {
      const pre = `generator.blocks.${b}.layers`;
      h = upsample2(h);
      h = tf.relu(batchNorm(conv(h, params[`${pre}.1.weight`]), params, `${pre}.2`, mode));
      h = tf.relu(batchNorm(conv(h, params[`${pre}.4.weight`]), params, `${pre}.5`, mode));
    }
    return tf.tanh(conv(h, params["generator.to_image.0.weight"], 1, params["generator.to_image.0.bias"]));
  }

  // -- losses (ganlab_solution/losses.py) ---------------------------------------------------------
  // BCE with logits against one-hot targets, averaged over both columns, like
  // F.binary_cross_entropy_with_logits. `drop` (B values in [0, lblsmooth]) lowers each
  // sample's true-class target: the per-sample label smoothing of smooth_targets.
  function bce(logits, cls, drop) {
    const b = logits.shape[0];
    const hot = tf.oneHot(tf.fill([b], cls, "int32"), 2).toFloat();
    const targets = drop ? tf.sub(hot, tf.mul(hot, drop.reshape([b, 1]))) : hot;
    return tf.losses.sigmoidCrossEntropy(targets, logits, undefined, 0, tf.Reduction.MEAN);
  }
  // critic_accuracy (exercise 5.1): the share of images the critic puts in class `cls` (argmax of the two logits).
  function criticAccuracy(logits, cls) {
    return tf.equal(tf.argMax(logits, 1), tf.scalar(cls, "int32")).toFloat().mean();
  }

  // -- a GAN in training -----------------------------------------------------------------------
  /**
   * A GAN with its optimizers. recipe: {criticWidth, generatorWidth, latentSize, batch,
   * criticLr, generatorLr, lblsmooth, dnoise, dropout, ema}. Every random number (weights,
   * latents, noise, dropout, smoothing) derives from `seed`.
   */
  function createGAN(recipe, seed) {
    const rand = ganlabRandom.mulberry32(seed);
    const seeds = () => Math.floor(rand() * 2 ** 31);
    const params = makeParams(recipe, seeds);
    const criticVars = Object.values(params.critic);
    const generatorVars = Object.values(params.generator);
    const optC = tf.train.adam(recipe.criticLr, 0.5, 0.999, 1e-8);
    const optG = tf.train.adam(recipe.generatorLr, 0.5, 0.999, 1e-8);
    // The EMA generator draws the samples (weights and BatchNorm statistics, like the
    // trainer's AveragedModel with use_buffers=True).
    const ema = {};
    const emaStats = {};
    for (const [name, v] of Object.entries(params.generator)) ema[name] = tf.variable(v.clone(), false);
    for (const [name, v] of Object.entries(params.bn)) {
      if (name.startsWith("generator.")) emaStats[name] = tf.variable(v.clone(), false);
    }
    // Running statistics move at every generator forward in training, as in PyTorch; the
    // assignment happens at once (the batch moments are freed when the forward's scope ends).
    function updateStats(name, mean, variance) {
      blend(params.bn[`${name}.running_mean`], mean, 1 - BN_MOMENTUM);
      blend(params.bn[`${name}.running_var`], variance, 1 - BN_MOMENTUM);
    }
    const generatorMode = { train: true, onStats: updateStats };
    const criticMode = { train: true };
    const frozenCriticMode = { train: true, frozen: true }; // the generator's step

    function latents(n) {
      return tf.randomNormal([n, recipe.latentSize], 0, 1, "float32", seeds());
    }
    function smoothing(n) {
      return recipe.lblsmooth > 0 ? tf.randomUniform([n], 0, recipe.lblsmooth, "float32", seeds()) : null;
    }

    /**
     * One critic step then one generator step (Trainer.critic_step, generator_step).
     * `given` (tests): {zCritic, zGenerator} tensors instead of fresh latents.
     * Returns a tensor [critic_loss, generator_loss, acc_real, acc_fake].
     */
    function step(real, given = {}) {
      return tf.tidy(() => {
        const b = real.shape[0];
        const fake = generator(params.generator, given.zCritic || latents(b), recipe, generatorMode);
        const dropReal = smoothing(b);
        const dropFake = smoothing(b);
        let accReal = null;
        let accFake = null;
        const criticLoss = optC.minimize(
          () => {
            const realLogits = critic(params.critic, real, recipe, criticMode, seeds);
            const fakeLogits = critic(params.critic, fake, recipe, criticMode, seeds);
            accReal = tf.keep(criticAccuracy(realLogits, REAL));
            accFake = tf.keep(criticAccuracy(fakeLogits, FAKE));
            return tf.mul(0.5, tf.add(bce(realLogits, REAL, dropReal), bce(fakeLogits, FAKE, dropFake)));
          },
          true,
          criticVars
        );
        const zg = given.zGenerator || latents(b);
        const generatorLoss = optG.minimize(
          () => {
            const images = generator(params.generator, zg, recipe, generatorMode);
            return bce(critic(params.critic, images, recipe, frozenCriticMode, seeds), REAL, null);
          },
          true,
          generatorVars
        );
        if (recipe.ema > 0) {
          for (const [name, v] of Object.entries(params.generator)) blend(ema[name], v, recipe.ema);
          for (const name of Object.keys(emaStats)) blend(emaStats[name], params.bn[name], recipe.ema);
        }
        const out = tf.stack([criticLoss, generatorLoss, accReal, accFake]);
        accReal.dispose();
        accFake.dispose();
        return out;
      });
    }

    /** Images (n, 28, 28, 1) in [-1, 1] of latents z (n, latentSize), evaluation mode. */
    function sample(z) {
      return tf.tidy(() => {
        const useEma = recipe.ema > 0;
        const weights = useEma ? ema : params.generator;
        const stats = useEma ? emaStats : params.bn;
        return generator(weights, z, recipe, { train: false, stats });
      });
    }

    /**
     * Load a PyTorch state dict ({name: {shape, data}} in PyTorch's layout) of a GAN with
     * this recipe: conv weights (out, in, kh, kw) become [kh, kw, in, out]. The EMA copy
     * and the optimizers' moments are reset to match.
     */
    function importWeights(state) {
      const all = Object.assign({}, params.critic, params.generator, params.bn);
      for (const [name, variable] of Object.entries(all)) {
        const entry = state[name];
        if (!entry) throw new Error(`the state dict has no ${name}`);
        let t = tf.tensor(entry.data, entry.shape, "float32");
        if (entry.shape.length === 4) t = tf.transpose(t, [2, 3, 1, 0]);
        if (t.shape.join() !== variable.shape.join()) {
          throw new Error(`${name}: shape ${entry.shape} does not fit ${variable.shape}`);
        }
        variable.assign(t);
        t.dispose();
      }
      for (const name of Object.keys(ema)) ema[name].assign(params.generator[name]);
      for (const name of Object.keys(emaStats)) emaStats[name].assign(params.bn[name]);
    }

    function dispose() {
      for (const group of [params.critic, params.generator, params.bn, ema, emaStats]) {
        for (const v of Object.values(group)) v.dispose();
      }
      optC.dispose();
      optG.dispose();
    }

    const count = (vars) => vars.reduce((s, v) => s + v.size, 0);
    return {
      step,
      sample,
      importWeights,
      dispose,
      parameters: { critic: count(criticVars), generator: count(generatorVars) },
    };
  }

  window.ganlabDCGAN = { createGAN };
})();
