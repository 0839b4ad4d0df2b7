// bareprop playground: the page. Training runs in Python; this file only sends the
// controls and draws the frames the server streams (server-sent events, /api/stream).
"use strict";

const COLORS = ["#f59322", "#0877bd", "#2ca02c", "#9467bd", "#d62728", "#8c564b",
  "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const $ = (id) => document.getElementById(id);
const page = { frames: 0, received: 0, dataId: null, data: null, history: null, latest: null,
  pending: false, charts: null, fileModel: null };
window.playground = page; // read by the tests and the frame-rate benchmark

// ---- talking to the server ------------------------------------------------------------
async function post(path, body) {
  let reply;
  try {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}) });
    reply = await r.json();
  } catch (e) {
    reply = { ok: false, error: "the playground server does not answer (" + e.message + ")" };
  }
  if (reply.error) showError(reply.error);
  return reply;
}

function showError(message) {
  const el = $("error");
  el.textContent = message || "";
  el.hidden = !message;
}

function bytes(b64) {
  const s = atob(b64), a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
  return a;
}

function hexRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

// ---- controls -------------------------------------------------------------------------
function fillChoices(choices) {
  for (const [name, values] of Object.entries(choices)) {
    const select = document.querySelector(`select[name="${name}"]`);
    select.innerHTML = values.map((v) => `<option value="${v}">${v}</option>`).join("");
  }
}

function showSettings(s) {
  for (const el of document.querySelectorAll("#controls [name]")) {
    if (el === document.activeElement && el.name !== "dataset") continue; // being typed in
    const v = s[el.name];
    el.value = Array.isArray(v) ? v.join(" ") : String(v);
  }
  for (const el of document.querySelectorAll("#controls .toy")) el.hidden = s.dataset === "mnist";
}

function wireControls() {
  for (const el of document.querySelectorAll("#controls [name]")) {
    if (el.name === "lr") {
      el.addEventListener("keydown", (e) => {
        if (e.key === "Enter") post("/api/settings", { lr: el.value });
      });
    } else {
      el.addEventListener("change", () => post("/api/settings", { [el.name]: el.value }));
    }
  }
  $("play").onclick = () => post("/api/play");
  $("pause").onclick = () => post("/api/pause");
  $("reset").onclick = () => post("/api/reset");
  $("step").onclick = async () => {
    const reply = await post("/api/step");
    if (reply.trace) showTrace(reply.trace);
  };
}

// ---- the live views -------------------------------------------------------------------
function makeCharts() {
  const opts = (title, fmt) => ({
    width: 420, height: 170, legend: { live: false }, cursor: { show: false },
    scales: { x: { time: false } },
    axes: [{ label: "step" }, { values: (u, vals) => vals.map(fmt) }],
    series: [{ label: "step" },
      { label: "train", stroke: COLORS[1], width: 2 },
      { label: "test", stroke: COLORS[0], width: 2 }],
  });
  return {
    loss: new uPlot(opts("loss", (v) => v.toPrecision(2)), [[], [], []], $("loss-chart")),
    acc: new uPlot(opts("accuracy", (v) => v.toFixed(2)), [[], [], []], $("acc-chart")),
  };
}

function addPoint(frame) {
  const h = page.history, m = frame.metrics;
  if (!h || m.loss === null) return;
  const last = h.step.length ? h.step[h.step.length - 1] : -1;
  if (frame.step === last) return;
  h.step.push(frame.step);
  for (const k of ["loss", "accuracy", "test_loss", "test_accuracy"]) h[k].push(m[k]);
}

function drawCurves() {
  const h = page.history;
  if (!h) return;
  page.charts.loss.setData([h.step, h.loss, h.test_loss]);
  page.charts.acc.setData([h.step, h.accuracy, h.test_accuracy]);
}

function drawBoundary(b) {
  const d = page.data, canvas = $("boundary"), ctx = canvas.getContext("2d");
  const px = bytes(b.pixels), n = b.size, img = new ImageData(n, n);
  const rgb = COLORS.map(hexRgb);
  for (let i = 0; i < n * n; i++) {
    const c = rgb[px[2 * i] % rgb.length], t = 0.15 + 0.55 * (px[2 * i + 1] / 255);
    for (let j = 0; j < 3; j++) img.data[4 * i + j] = Math.round(255 + t * (c[j] - 255));
    img.data[4 * i + 3] = 255;
  }
  const small = new OffscreenCanvas(n, n);
  small.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  if (!d || d.kind !== "2d") return;
  const [x0, x1, y0, y1] = d.extent;
  const sx = (x) => ((x - x0) / (x1 - x0)) * canvas.width;
  const sy = (y) => ((y1 - y) / (y1 - y0)) * canvas.height;
  for (const [set, filled] of [[d.train, true], [d.test, false]]) {
    for (const [x, y, c] of set) {
      ctx.beginPath();
      ctx.arc(sx(x), sy(y), filled ? 3 : 3.5, 0, 2 * Math.PI);
      ctx.fillStyle = COLORS[c % COLORS.length];
      ctx.strokeStyle = filled ? "#fff" : "#000";
      ctx.lineWidth = filled ? 0.8 : 1.2;
      if (filled) ctx.fill();
      ctx.stroke();
    }
  }
}

function greyTile(ctx, px, offset, x, y, scale, signed) {
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = px[offset + i];
    let rgb = [v, v, v];
    if (signed) {
      const t = Math.abs(v - 128) / 127, c = hexRgb(v >= 128 ? COLORS[1] : COLORS[0]);
      rgb = c.map((ch) => Math.round(255 + t * (ch - 255)));
    }
    img.data.set([...rgb, 255], 4 * i);
  }
  const tile = new OffscreenCanvas(28, 28);
  tile.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tile, x, y, 28 * scale, 28 * scale);
}

function drawTiles(tiles) {
  const canvas = $("tiles"), ctx = canvas.getContext("2d"), px = bytes(tiles.pixels);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let k = 0; k < tiles.count; k++) {
    greyTile(ctx, px, 784 * k, 2 + (k % 8) * 58, 2 + Math.floor(k / 8) * 58, 2, true);
  }
}

function buildStrip() {
  const d = page.data, px = bytes(d.strip), strip = $("strip");
  strip.innerHTML = "";
  d.strip_labels.forEach((label, k) => {
    const fig = document.createElement("figure"), c = document.createElement("canvas");
    c.width = c.height = 28;
    greyTile(c.getContext("2d"), px, 784 * k, 0, 0, 1, false);
    const cap = document.createElement("figcaption");
    fig.append(c, cap);
    strip.append(fig);
  });
}

function drawStrip(preds) {
  const figs = $("strip").children, labels = page.data.strip_labels;
  preds.forEach((p, k) => {
    if (!figs[k]) return;
    figs[k].className = p === labels[k] ? "" : "wrong";
    figs[k].lastChild.textContent = String(p);
  });
}

function drawHist(canvas, hist, color) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const counts = hist.counts, top = Math.max(1, ...counts), bw = w / Math.max(1, counts.length);
  ctx.fillStyle = color;
  counts.forEach((c, i) => {
    const bh = (c / top) * (h - 12);
    ctx.fillRect(i * bw + 0.5, h - 12 - bh, bw - 1, bh);
  });
  ctx.fillStyle = "#777";
  ctx.font = "10px sans-serif";
  ctx.fillText(hist.lo.toPrecision(2), 0, h - 1);
  const hi = hist.hi.toPrecision(2);
  ctx.fillText(hi, w - ctx.measureText(hi).width, h - 1);
}

const fmt = (v, digits = 3) => (v === null || v === undefined ? "-" : Number(v).toPrecision(digits));
const pct = (v) => (v === null || v === undefined ? "-" : (100 * v).toFixed(1) + "%");

function drawLayers(layers) {
  const box = $("layers");
  if (box.children.length !== layers.length) {
    box.innerHTML = layers.map((_, k) => `<div class="layer" id="layer-${k}">
      <b class="name"></b><div>activations <span class="after"></span></div><canvas class="act" width="200" height="56"></canvas>
      <div>weight gradient</div><canvas class="grad" width="200" height="56"></canvas>
      <div class="num stats"></div></div>`).join("");
  }
  layers.forEach((L, k) => {
    const el = $(`layer-${k}`);
    el.querySelector(".name").textContent = L.name;
    el.querySelector(".after").textContent = `(after ${L.after})`;
    drawHist(el.querySelector(".act"), L.activation, COLORS[1]);
    drawHist(el.querySelector(".grad"), L.grad, COLORS[0]);
    const parts = [];
    if (L.dead !== null) parts.push(`<span class="${L.dead > 0.5 ? "warn" : ""}">dead ReLUs ${pct(L.dead)}</span>`);
    if (L.saturated !== null) parts.push(`<span class="${L.saturated > 0.5 ? "warn" : ""}">saturated ${pct(L.saturated)}</span>`);
    parts.push(`update/weight ${fmt(L.update_ratio, 2)}`, `grad norm ${fmt(L.grad_norm)}`);
    el.querySelector(".stats").innerHTML = parts.join("<br>");
  });
}

function table(header, rows) {
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return `<table><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("") + "</table>";
}

function showTrace(t) {
  $("trace-title").textContent = t.title;
  $("trace").innerHTML = "<h3>Forward</h3>" + table(["formula", "shape", "values"], t.forward) +
    "<h3>Backward: deltas and gradients</h3>" + table(["formula", "shape", "values"], t.backward) +
    "<h3>Numerical gradient beside the analytic one</h3>" +
    table(["entry", "analytic", "numerical", "abs difference"], t.probes);
}

// ---- one frame ------------------------------------------------------------------------
async function loadState() {
  const r = await fetch("/api/state");
  const s = await r.json();
  if (s.error) { showError(s.error); return; }
  if (!page.charts) {
    fillChoices(s.choices);
    page.fileModel = s.file_model;
    if (s.file_model) {
      $("draw-model").insertAdjacentHTML("afterbegin", `<option value="file">MODEL.npz</option>`);
      $("draw-model").value = "file";
    }
    page.charts = makeCharts();
  }
  page.data = s.data;
  page.history = s.history;
  $("toy-view").hidden = s.data.kind !== "2d";
  $("mnist-view").hidden = s.data.kind !== "mnist";
  if (s.data.kind === "mnist") buildStrip();
}

async function render() {
  page.pending = false;
  const f = page.latest;
  if (!f || f.step === undefined) return;
  if (f.data_id !== page.dataId) {
    page.dataId = f.data_id;
    await loadState();
  }
  addPoint(f);
  $("state").textContent = f.state;
  $("steps").textContent = f.step;
  $("epoch").textContent = f.epoch.toFixed(2);
  $("loss").textContent = fmt(f.metrics.loss, 4);
  $("test-loss").textContent = fmt(f.metrics.test_loss, 4);
  $("test-acc").textContent = pct(f.metrics.test_accuracy);
  showError(f.error);
  $("notice").textContent = f.notice || "";
  showSettings(f.settings);
  drawCurves();
  if (f.boundary) drawBoundary(f.boundary);
  if (f.tiles) drawTiles(f.tiles);
  if (f.strip_pred) drawStrip(f.strip_pred);
  drawLayers(f.layers);
  page.frames += 1;
}

function listen() {
  const source = new EventSource("/api/stream");
  source.onmessage = (e) => {
    page.latest = JSON.parse(e.data);
    page.received += 1;
    if (!page.pending) {
      page.pending = true;
      requestAnimationFrame(() => render().catch((err) => showError("page error: " + err.message)));
    }
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) showError("lost the connection to the server");
  };
}

// ---- draw a digit ---------------------------------------------------------------------
function wireDrawing() {
  const canvas = $("draw"), ctx = canvas.getContext("2d");
  const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); };
  clear();
  let drawing = false, last = null, lastSent = 0;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  const send = async () => {
    lastSent = performance.now();
    const reply = await post("/api/draw", { image: canvas.toDataURL("image/png"), model: $("draw-model").value });
    if (reply.ok === false || reply.error) return;
    showDigit(reply);
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true; last = at(e); canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = at(e);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 18; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...p); ctx.stroke();
    last = p;
    if (performance.now() - lastSent > 250) send();
  });
  const end = () => { if (drawing) { drawing = false; send(); } };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  $("clear").onclick = () => { clear(); $("prediction").textContent = "-"; $("probs").innerHTML = ""; };
}

function showDigit(r) {
  $("prediction").textContent = String(r.prediction);
  $("draw-model-label").textContent = "by " + r.model;
  $("probs").innerHTML = r.probabilities.map((p, k) =>
    `<span>${k}</span><div><div class="bar" style="width:${(100 * p).toFixed(1)}%"></div></div><span>${(100 * p).toFixed(1)}%</span>`).join("");
  const seen = $("seen").getContext("2d");
  greyTile(seen, bytes(r.image), 0, 0, 0, 3, false);
  const box = $("hidden-acts");
  box.innerHTML = "";
  r.hidden.forEach((acts, k) => {
    const cols = Math.min(64, acts.length), rows = Math.ceil(acts.length / cols), cell = 6;
    const c = document.createElement("canvas");
    c.width = cols * cell; c.height = rows * cell; c.title = `hidden layer ${k + 1}: ${acts.length} units`;
    const ctx = c.getContext("2d"), top = Math.max(1e-9, ...acts.map(Math.abs));
    acts.forEach((a, i) => {
      const t = Math.abs(a) / top, rgb = hexRgb(a >= 0 ? COLORS[1] : COLORS[0]).map((ch) => Math.round(255 + t * (ch - 255)));
      ctx.fillStyle = `rgb(${rgb.join(",")})`;
      ctx.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
    });
    const label = document.createElement("div");
    label.className = "muted"; label.textContent = `hidden layer ${k + 1} (${acts.length} units)`;
    box.append(label, c);
  });
}

wireControls();
wireDrawing();
listen();
