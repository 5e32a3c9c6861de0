// vaelab explore: the page's behaviour. No libraries, no network beyond this server.
"use strict";

const $ = (id) => document.getElementById(id);

function showError(message) { $("error").textContent = message || ""; }

async function call(path, options) {
  const response = await fetch(path, options);
  let body;
  try { body = await response.json(); } catch (e) { body = { error: "the server sent no answer" }; }
  if (!response.ok || body.error) {
    showError(body.error || ("request failed: " + response.status));
    throw new Error(body.error || String(response.status));
  }
  showError("");
  return body;
}

const post = (path, payload) => call(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });

// ---------------------------------------------------------------- image runs
function imageView(info) {
  $("image-view").hidden = false;
  const sliders = [];
  let busy = false, again = false;

  async function decode() {
    if (busy) { again = true; return; }
    busy = true;
    const started = performance.now();
    try {
      const answer = await post("/api/decode", { values: sliders.map((s) => Number(s.value)),
                                                 label: Number($("slider-class").value) || 0 });
      $("decoded").src = answer.image;
      $("latency").textContent = "(" + Math.round(performance.now() - started) + " ms)";
    } catch (e) { /* shown */ }
    busy = false;
    if (again) { again = false; decode(); }
  }

  if (info.semisupervised) {
    $("slider-class-label").hidden = false;
    $("slider-class").max = info.classes - 1;
    $("slider-class").addEventListener("input", () => decode());
  }
  if (info.sliders.length === 0) {
    $("sliders").textContent = "This model's latent is not one vector; sliders are not available.";
  }
  info.sliders.forEach((name, i) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -info.slider_range, max: info.slider_range, step: 0.05, value: 0 });
    input.dataset.index = String(i);
    input.addEventListener("input", decode);
    label.append(name + " ", input);
    $("sliders").append(label);
    sliders.push(input);
  });
  if (sliders.length) decode();

  let seed = 0;
  $("sample-button").addEventListener("click", async () => {
    const answer = await call("/api/sample?seed=" + seed++);
    $("samples").src = answer.image;
  });

  // drawing: white strokes on black, like the digits the models learned from
  const canvas = $("canvas"), pen = canvas.getContext("2d");
  const clear = () => { pen.fillStyle = "#000"; pen.fillRect(0, 0, canvas.width, canvas.height); };
  clear();
  let drawing = false;
  const point = (e) => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true; const [x, y] = point(e); pen.beginPath(); pen.moveTo(x, y);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = point(e);
    Object.assign(pen, { strokeStyle: "#fff", lineWidth: 22, lineCap: "round", lineJoin: "round" });
    pen.lineTo(x, y); pen.stroke();
  });
  window.addEventListener("pointerup", () => { drawing = false; });
  $("clear-button").addEventListener("click", clear);

  const [channels, height, width] = info.shape;
  function drawingAsPng() {
    const small = document.createElement("canvas");
    small.width = width; small.height = height;
    const context = small.getContext("2d");
    context.imageSmoothingEnabled = true;
    context.drawImage(canvas, 0, 0, width, height);
    return new Promise((resolve) => small.toBlob(resolve, "image/png"));
  }

  let scatterData = { points: [], labels: [] };
  function drawScatter(position) {
    const plot = $("scatter"), context = plot.getContext("2d");
    context.clearRect(0, 0, plot.width, plot.height);
    const points = scatterData.points.concat(position ? [position] : []);
    if (!points.length) return;
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const sx = (x) => 10 + (plot.width - 20) * (x - x0) / ((x1 - x0) || 1);
    const sy = (y) => plot.height - 10 - (plot.height - 20) * (y - y0) / ((y1 - y0) || 1);
    scatterData.points.forEach((p, i) => {
      const label = scatterData.labels[i];
      context.fillStyle = label === undefined ? "#888" : "hsl(" + (label * 36) % 360 + ",70%,45%)";
      context.fillRect(sx(p[0]) - 1.5, sy(p[1]) - 1.5, 3, 3);
    });
    if (position) {
      context.strokeStyle = "#000"; context.lineWidth = 3;
      const [x, y] = [sx(position[0]), sy(position[1])];
      context.beginPath(); context.moveTo(x - 8, y - 8); context.lineTo(x + 8, y + 8);
      context.moveTo(x + 8, y - 8); context.lineTo(x - 8, y + 8); context.stroke();
    }
  }
  call("/api/scatter").then((answer) => { scatterData = answer; drawScatter(null); }).catch(() => {});

  async function score(blob) {
    const form = new FormData();
    form.append("image", blob, "image.png");
    const k = Number($("k").value) || 200;
    const answer = await call("/api/score?k=" + k, { method: "POST", body: form });
    $("input-image").src = answer.input;
    $("reconstruction").src = answer.reconstruction;
    $("elbo").textContent = answer.elbo.toFixed(2);
    $("logpx").textContent = answer.log_px.toFixed(2);
    $("k-used").textContent = String(answer.k);
    $("pareto-k").textContent = answer.pareto_k === null ? "–" : answer.pareto_k.toFixed(2);
    $("pareto-k-warning").textContent = answer.pareto_k_warning || "";
    $("pareto-k-warning").hidden = !answer.pareto_k_warning;
    drawScatter(answer.position || null);
    const table = $("classes");
    table.textContent = "";
    if (answer.classes) {
      answer.classes.forEach((p, c) => {
        const row = table.insertRow();
        row.insertCell().textContent = "class " + c;
        row.insertCell().textContent = p.toFixed(3);
      });
      $("styles").src = answer.styles;
      $("styles-figure").hidden = false;
    }
  }
  $("score-button").addEventListener("click", async () => {
    try { await score(await drawingAsPng()); } catch (e) { /* shown */ }
  });
  $("upload").addEventListener("change", async () => {
    const file = $("upload").files[0];
    if (file) { try { await score(file); } catch (e) { /* shown */ } }
  });

  $("interp-button").addEventListener("click", async () => {
    try {
      const answer = await call("/api/interpolate?a=" + Number($("interp-a").value) +
                                "&b=" + Number($("interp-b").value) + "&steps=8");
      $("interp").src = answer.image;
    } catch (e) { /* shown */ }
  });
}

// ---------------------------------------------------------------- sequence runs
function sequenceView(info) {
  $("sequence-view").hidden = false;
  $("sequence-index").max = info.sequences - 1;
  const learned = info.learned;
  $("constants").textContent = learned
    ? "learned g/L " + learned.g_over_L.toFixed(2) + ", b " + learned.damping.toFixed(3) +
      ", input gain " + learned.input_gain.toFixed(2) + " (true g/L " + info.true.g_over_L.toFixed(2) +
      ", b " + info.true.damping.toFixed(3) + ")"
    : "transition '" + info.transition + "' (no physical constants)";
  let shown = null;
  function showFrame() {
    if (!shown) return;
    const t = Number($("frame-slider").value);
    $("frame").src = shown.frames[t];
    $("frame-number").textContent = String(t);
    const f = (v) => (v === null || v === undefined ? "–" : v.toFixed(2));
    $("state").textContent = "filtered θ " + f(shown.filtered_theta && shown.filtered_theta[t]) +
      ", ω " + f(shown.filtered_omega && shown.filtered_omega[t]) + " · true θ " + f(shown.true_theta[t]) +
      ", ω " + f(shown.true_omega[t]) + " · torque " + f(shown.torque[t]);
  }
  async function load() {
    try {
      shown = await call("/api/sequence?index=" + Number($("sequence-index").value));
      $("frame-slider").max = shown.frames.length - 1;
      showFrame();
    } catch (e) { /* shown */ }
  }
  $("load-sequence").addEventListener("click", load);
  $("frame-slider").addEventListener("input", showFrame);
  $("torque-value").addEventListener("input", () => {
    $("torque-shown").textContent = Number($("torque-value").value).toFixed(1);
  });

  let rolled = null;
  function showStep() {
    if (!rolled) return;
    const t = Number($("rollout-slider").value);
    $("rollout-model").src = rolled.model[t];
    $("rollout-sim").src = rolled.simulator[t];
    $("rollout-step").textContent = String(t + 1);
    $("rollout-mse").textContent = rolled.mse[t].toFixed(4);
  }
  $("intervene-button").addEventListener("click", async () => {
    const pattern = $("torque-pattern").value, value = Number($("torque-value").value);
    const torque = pattern === "constant" ? "constant:" + value
      : pattern === "sine" ? "sine:" + value + ",0.5" : "none";
    try {
      rolled = await post("/api/intervene", { index: Number($("sequence-index").value),
        start: Number($("frame-slider").value), torque: torque, horizon: Number($("horizon").value) });
      $("rollout-slider").max = rolled.model.length - 1;
      $("rollout-slider").value = 0;
      $("vpt").textContent = rolled.valid_prediction_time.toFixed(2);
      showStep();
    } catch (e) { /* shown */ }
  });
  $("rollout-slider").addEventListener("input", showStep);
  load();
}

// ---------------------------------------------------------------- start
call("/api/describe").then((info) => {
  $("run-title").textContent = info.run + " (" + info.kind + ")";
  $("note").textContent = info.note || "";
  document.title = "vaelab explore: " + info.run;
  if (info.view === "sequence") sequenceView(info); else imageView(info);
}).catch(() => {});
