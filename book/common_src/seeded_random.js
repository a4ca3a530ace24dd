/*
 * Seeded random numbers for the site's browser pages (the explorer, the live trainer): the
 * same seed gives the same numbers in every browser, so a page's "random" pictures and a
 * test's expectations agree.
 *
 * window.ganlabRandom = {
 *   mulberry32(seed)   a function returning uniform numbers in [0, 1) (Mulberry32, 32-bit state)
 *   normal(rand, n)    a Float32Array of n draws from N(0, 1) (Box-Muller over rand)
 * }
 */
(function () {
  "use strict";

  function mulberry32(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function normal(rand, n) {
    const z = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const u = Math.max(rand(), 1e-12); // log(0) would be -infinity
      const v = rand();
      const r = Math.sqrt(-2 * Math.log(u));
      z[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < n) z[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    return z;
  }

  window.ganlabRandom = { mulberry32, normal };
})();
