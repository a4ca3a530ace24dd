/*
 * Cross-origin isolation for "Watch a GAN learn" (book/train_live.md), on any static host.
 *
 * TensorFlow.js's WebAssembly backend runs its multi-threaded build only in a cross-origin
 * isolated page (SharedArrayBuffer), which takes two response headers a static host cannot send
 * (Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp). The
 * npm package coi-serviceworker adds them in a service worker: book/build.sh copies its
 * coi-serviceworker.js to the site root, and this script registers it for this page only
 * (scope: this page's own path, so no other page of the site is ever controlled by it). The page
 * was loaded before the worker existed, so it reloads once; from then on every visit is isolated
 * at once. The package's own start-up half would register it for the whole folder: hence these
 * few lines instead.
 *
 * Loaded before TensorFlow.js. Exposes window.ganlabIsolation = {
 *   ready      Promise of {isolated, reason}, resolved once no reload is pending (never, when one is)
 *   settled    true once ready has resolved: this page stays (tests wait for it)
 * }
 * The reload is asked for once per minute at most (sessionStorage), so a browser that keeps the
 * page unisolated (no service worker in a private window, plain http on another host) is not
 * reloaded in a loop: the page then trains on one thread.
 */
(function () {
  "use strict";

  const KEY = "ganlab-coi-reload";
  const WAIT_MS = 10000; // a worker not in control by then (or a registration never answered) is given up on
  const here = document.currentScript ? document.currentScript.src : window.location.href;
  const worker = new URL("../coi-serviceworker.js", here); // the site root (train_live/ is one level down)
  const storage = (() => {
    try {
      return window.sessionStorage;
    } catch (err) {
      return null; // storage disabled: no reload then, rather than a loop
    }
  })();
  let decided = false; // to stay (done) or to reload
  let resolveReady;
  const state = { ready: new Promise((resolve) => (resolveReady = resolve)), settled: false };
  window.ganlabIsolation = state;

  function done(reason) {
    if (decided) return;
    decided = state.settled = true;
    resolveReady({ isolated: window.crossOriginIsolated === true, reason });
  }
  function reload() {
    if (decided) return;
    const last = storage ? parseInt(storage.getItem(KEY) || "0", 10) : Date.now();
    if (Date.now() - last < 60000) {
      done("the service worker did not isolate the page");
      return;
    }
    storage.setItem(KEY, String(Date.now()));
    decided = true;
    window.location.reload();
  }

  if (window.crossOriginIsolated === true) {
    if (storage) storage.removeItem(KEY);
    done("cross-origin isolated");
    return;
  }
  if (window.crossOriginIsolated === undefined) return done("this browser has no cross-origin isolation");
  if (!window.isSecureContext) return done("not a secure context (https or localhost)");
  if (!navigator.serviceWorker) return done("no service workers in this window");

  const sw = navigator.serviceWorker;
  sw.addEventListener("controllerchange", reload);
  window.setTimeout(() => done("the service worker did not take control in time"), WAIT_MS);
  sw.register(worker.href, { scope: window.location.pathname }).then(
    (registration) => {
      if (!registration) return done("the service worker was not registered");
      // Already active (a hard reload bypasses it) or in control of an unisolated page: reload.
      // Otherwise it installs, activates, claims this page (controllerchange) and then reloads.
      if (registration.active || sw.controller) reload();
      const installing = registration.installing || registration.waiting;
      if (installing) {
        installing.addEventListener("statechange", () => {
          if (installing.state === "redundant") done("the service worker could not be installed");
        });
      }
    },
    (err) => done(`the service worker could not be registered (${err.message || err})`)
  );
})();
