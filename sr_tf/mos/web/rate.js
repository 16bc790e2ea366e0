// The rating page: sign in (or resume) by rater id, calibration, then one image at a time in
// the rater's own order.  A score is sent to the server, which stores it before answering with
// the next image; nothing moves on until it is stored.  The body's data-* attributes (mode,
// item, rated, total, ready, expected) say what the page shows, for the browser test.
"use strict";
(() => {
  const KEY = "sr_tf.mos.rater";
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const image = $("image");
  const buttons = Array.from(document.querySelectorAll("#scale button"));
  const state = {
    rater: null, mode: "loading", ready: false, calibration: [], step: 0,
    item: null, rated: 0, total: 0, shownAt: 0, labels: {},
  };

  function setMode(mode) {
    state.mode = mode;
    body.dataset.mode = mode;
    $("signin").hidden = mode !== "signin";
    $("stage").hidden = mode !== "calibration" && mode !== "rating";
    $("scale").hidden = $("stage").hidden;
    $("done").hidden = mode !== "done";
  }

  function setReady(ready) {
    state.ready = ready;
    body.dataset.ready = ready ? "1" : "0";
    const shown = state.mode === "calibration" ? state.calibration[state.step] : null;
    const expected = shown ? shown.score : null;
    for (const button of buttons) {
      const score = Number(button.dataset.score);
      button.disabled = !ready || (expected !== null && score !== expected);
      button.classList.toggle("expected", score === expected);
    }
  }

  function say(text) { $("message").textContent = text || ""; }

  function showProgress() {
    const shown = Math.min(state.rated + 1, state.total);
    $("count").textContent = state.total ? `image ${shown} of ${state.total}` : "";
    $("bar").style.width = state.total ? `${(100 * state.rated) / state.total}%` : "0";
    body.dataset.rated = String(state.rated);
    body.dataset.total = String(state.total);
  }

  // One image pixel per screen pixel, whatever the display's scale or the browser's zoom.
  function fitNative() {
    if (!image.naturalWidth) return;
    const ratio = window.devicePixelRatio || 1;
    image.style.width = `${image.naturalWidth / ratio}px`;
    image.style.height = `${image.naturalHeight / ratio}px`;
  }

  function show(url, id) {
    setReady(false);
    body.dataset.item = id;
    image.classList.add("loading");
    image.onload = () => {
      fitNative();
      image.classList.remove("loading");
      state.shownAt = performance.now();
      setReady(true);
    };
    image.onerror = () => say("The image did not load; reload the page to continue.");
    image.src = url;
  }

  async function post(path, data) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(data),
      });
    } catch (err) {
      throw new Error("the study server cannot be reached");
    }
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
    return answer;
  }

  function showCalibration() {
    const item = state.calibration[state.step];
    const label = state.labels[item.score] || "";
    const what = item.score === 5 ? "the original photograph" : "the lowest quality in this study";
    body.dataset.expected = String(item.score);
    $("prompt").innerHTML = "";
    $("prompt").append(
      `Calibration ${state.step + 1} of ${state.calibration.length}: this is what `,
      Object.assign(document.createElement("b"), { textContent: `${item.score} (${label})` }),
      ` looks like: ${what}. Press ${item.score} to go on.`,
    );
    show(item.url, item.id);
  }

  function next(answer) {
    state.rated = answer.rated;
    state.total = answer.total;
    showProgress();
    delete body.dataset.expected;
    if (!answer.next) {
      body.dataset.item = "";
      setMode("done");
      return;
    }
    state.item = answer.next.id;
    setMode("rating");
    $("prompt").textContent = "How good is the quality of this image? 1 = bad ... 5 = excellent";
    show(answer.next.url, answer.next.id);
  }

  async function finishCalibration() {
    next(await post("/api/calibrated", { rater: state.rater }));
  }

  async function signIn(rater) {
    const answer = await post("/api/session", { rater });
    state.rater = answer.rater;
    state.labels = answer.scores || {};
    localStorage.setItem(KEY, answer.rater);
    $("rater-name").textContent = answer.rater;
    $("who").hidden = false;
    $("rater").blur();
    state.rated = answer.rated;
    state.total = answer.total;
    showProgress();
    state.calibration = answer.calibrated ? [] : answer.calibration;
    state.step = 0;
    if (state.calibration.length) {
      setMode("calibration");
      showCalibration();
    } else if (!answer.calibrated) {
      await finishCalibration();
    } else {
      next(answer);
    }
  }

  async function choose(score) {
    if (!state.ready) return;
    if (state.mode === "calibration") {
      if (score !== state.calibration[state.step].score) return;
      state.step += 1;
      if (state.step < state.calibration.length) {
        showCalibration();
        return;
      }
      setReady(false);
      try {
        await finishCalibration();
      } catch (err) {
        say(`${err.message}; reload the page to continue.`);
      }
      return;
    }
    if (state.mode !== "rating") return;
    setReady(false);
    const elapsed = Math.round(performance.now() - state.shownAt);
    try {
      const answer = await post("/api/rating", {
        rater: state.rater, item: state.item, score, elapsed_ms: elapsed,
      });
      say("");
      next(answer);
    } catch (err) {
      say(`Not saved: ${err.message}. Press the score again to retry.`);
      setReady(true);
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement) return;
    if (event.repeat || event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[1-5]$/.test(event.key)) {
      event.preventDefault();
      choose(Number(event.key));
    }
  });
  for (const button of buttons) {
    // A click leaves no focus behind, so Space or Enter afterwards cannot score the next image.
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", () => choose(Number(button.dataset.score)));
  }
  window.addEventListener("resize", fitNative); // zooming changes devicePixelRatio

  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    signIn($("rater").value.trim()).catch((err) => {
      $("signin-error").textContent = err.message;
    });
  });
  $("switch").addEventListener("click", () => localStorage.removeItem(KEY));

  const fromLink = new URLSearchParams(location.search).get("rater");
  const saved = fromLink || localStorage.getItem(KEY);
  if (saved) {
    $("rater").value = saved;
    signIn(saved).catch((err) => {
      setMode("signin");
      $("signin-error").textContent = err.message;
    });
  } else {
    setMode("signin");
  }
})();
