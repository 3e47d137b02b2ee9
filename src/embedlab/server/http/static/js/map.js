// The map: the server's 2-D projection of a collection drawn on a canvas, pixel by pixel into one
// ImageData (so 100,000 points draw in a few milliseconds and panning stays smooth), with labels,
// hits, the placed query and neighbours drawn over it. Hover shows a point's text; a click shows
// its metadata and nearest neighbours; a search lights up its hits and places the query.
// The page's own timing is kept in window.embedlabUi: map (load times) and frames (draw times).
import { api, enc } from "./api.js";
import { $, clearMessage, escapeHtml, fmt, on, showError, showItem, state } from "./util.js";
import { search } from "./search.js";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"];
const BG = [255, 255, 255];
const G = 256; // hover/click grid: G x G cells
const MAX_FRAMES = 2000;

let inited = false;
let data = null; // the loaded map
let loading = null;
let canvas;
let ctx;
let image = null;
let pixels = null;
let W = 0;
let H = 0;
let dpr = 1;
const view = { cx: 0.5, cy: 0.5, zoom: 1 };
let colours = null; // Uint32Array per point
let faded = null;
let legend = [];
let colourBy = "";
let hover = -1;
let selected = -1;
let neighbours = [];
let hits = [];
let query = null;
let drag = null;
let pending = false;
const texts = new Map();

function packed(r, g, b) {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0; // ImageData's byte order, little-endian
}

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function fade([r, g, b], t = 0.78) {
  return [r + (BG[0] - r) * t, g + (BG[1] - g) * t, b + (BG[2] - b) * t].map(Math.round);
}

function ramp(t) {
  // a short blue -> teal -> yellow ramp for numbers
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  return stops[i].map((v, j) => Math.round(v + (stops[i + 1][j] - v) * f));
}

export function init() {
  if (inited) return;
  inited = true;
  canvas = $("#map-canvas");
  ctx = canvas.getContext("2d");
  window.embedlabUi.frames = [];
  window.embedlabUi.mapPoint = screenOf;
  window.embedlabUi.redraw = draw; // for benchmarks: one synchronous full redraw
  window.embedlabUi.mapState = () => {
    // for benchmarks: the points and the current view transform, in canvas pixels
    const k = scale();
    return data && { n: data.n, xs: data.xs, ys: data.ys, cluster: data.cluster, W, H, k, ox: W / 2 - view.cx * k, oy: H / 2 + view.cy * k };
  };
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.offsetX, y: e.offsetY, cx: view.cx, cy: view.cy, moved: 0 };
    canvas.setPointerCapture(e.pointerId);
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", (e) => {
    if (drag) {
      const k = scale();
      const dx = (e.offsetX - drag.x) * dpr;
      const dy = (e.offsetY - drag.y) * dpr;
      drag.moved = Math.max(drag.moved, Math.abs(dx), Math.abs(dy));
      view.cx = drag.cx - dx / k;
      view.cy = drag.cy + dy / k;
      $("#map-tip").hidden = true;
      request();
    } else {
      hoverAt(e.offsetX, e.offsetY);
    }
  });
  canvas.addEventListener("pointerup", (e) => {
    const click = drag && drag.moved < 4 * dpr;
    drag = null;
    canvas.classList.remove("dragging");
    if (click) clickAt(e.offsetX, e.offsetY);
  });
  canvas.addEventListener("pointerleave", () => {
    $("#map-tip").hidden = true;
    if (hover !== -1) {
      hover = -1;
      request();
    }
  });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const k = scale();
    const px = e.offsetX * dpr;
    const py = e.offsetY * dpr;
    const x = view.cx + (px - W / 2) / k;
    const y = view.cy - (py - H / 2) / k;
    view.zoom = Math.min(Math.max(view.zoom * Math.exp(-e.deltaY * 0.0015), 0.5), 400);
    const k2 = scale();
    view.cx = x - (px - W / 2) / k2;
    view.cy = y + (py - H / 2) / k2;
    request();
  }, { passive: false });
  window.addEventListener("resize", () => {
    if (!$("#view-map").hidden) {
      resize();
      request();
    }
  });
  $("#map-reset").addEventListener("click", () => {
    fit();
    request();
  });
  $("#map-colour").addEventListener("change", (e) => colourByField(e.target.value).catch(showError));
  $("#map-form").addEventListener("submit", (e) => {
    e.preventDefault();
    placeQuery($("#map-query").value).catch(showError);
  });
  on("collection", () => {
    data = null;
    hits = [];
    query = null;
    selected = -1;
    neighbours = [];
  });
  on("search", (found) => {
    if (data && found.collection === data.collection) {
      hits = indicesOf(found.hits.map((h) => h.id));
      query = null;
      request();
    }
  });
  on("neighbours", ({ collection, id, ids }) => {
    if (!data || collection !== data.collection) return;
    selected = data.index.get(id) ?? -1;
    neighbours = indicesOf(ids);
    request();
  });
}

export async function show() {
  resize();
  if (!state.collection) {
    $("#map-status").textContent = "No collection on this server.";
    return;
  }
  if (!data || data.collection !== state.collection) await load(state.collection);
  const last = state.lastSearch;
  if (last && last.collection === state.collection && !query) {
    hits = indicesOf(last.hits.map((h) => h.id));
    if (last.mode === "dense") placeOnly(last.query).catch(() => {});
  }
  request();
}

function indicesOf(ids) {
  return ids.map((id) => data.index.get(id)).filter((i) => i !== undefined);
}

function resize() {
  dpr = window.devicePixelRatio || 1;
  const rect = canvas.getBoundingClientRect();
  const w = Math.max(1, Math.round(rect.width * dpr));
  const h = Math.max(1, Math.round(rect.height * dpr));
  if (w !== W || h !== H || !image) {
    W = canvas.width = w;
    H = canvas.height = h;
    image = ctx.createImageData(W, H);
    pixels = new Uint32Array(image.data.buffer);
  }
}

function scale() {
  return Math.min(W, H) * 0.92 * view.zoom;
}

function fit() {
  if (!data) return;
  view.cx = (data.xmin + data.xmax) / 2;
  view.cy = (data.ymin + data.ymax) / 2;
  const m = Math.min(W, H);
  view.zoom = 1 / Math.max(((data.xmax - data.xmin) * m) / W, ((data.ymax - data.ymin) * m) / H, 1e-9);
}

async function load(collection) {
  const status = $("#map-status");
  status.textContent = "computing the map… (the first time for a collection version takes a while; later loads are cached)";
  const mine = (loading = {});
  performance.mark("embedlab-map-start");
  const t0 = performance.now();
  let got;
  try {
    got = await api(`/v1/ui/collections/${enc(collection)}/map`, { headers: true });
  } catch (error) {
    status.textContent = "";
    throw error;
  }
  if (mine !== loading) return;
  const t1 = performance.now();
  const body = got.data;
  const n = body.ids.length;
  const xs = Float32Array.from(body.x);
  const ys = Float32Array.from(body.y);
  const cluster = Int32Array.from(body.cluster);
  const index = new Map();
  body.ids.forEach((id, i) => index.set(id, i));
  let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
  for (let i = 0; i < n; i++) {
    if (xs[i] < xmin) xmin = xs[i];
    if (xs[i] > xmax) xmax = xs[i];
    if (ys[i] < ymin) ymin = ys[i];
    if (ys[i] > ymax) ymax = ys[i];
  }
  data = { ...body, collection, n, xs, ys, cluster, index, xmin, xmax, ymin, ymax };
  buildGrid();
  hits = [];
  neighbours = [];
  selected = -1;
  query = null;
  const select = $("#map-colour");
  select.innerHTML = '<option value="">cluster</option>' + body.fields.map((f) => `<option>${escapeHtml(f)}</option>`).join("");
  colourBy = "";
  clusterColours();
  resize();
  fit();
  draw();
  performance.mark("embedlab-map-drawn");
  performance.measure("embedlab-map-load", "embedlab-map-start", "embedlab-map-drawn");
  const t2 = performance.now();
  window.embedlabUi.map = {
    collection, points: n, count: body.count, sampled: body.sampled, method: body.method,
    source: got.headers.get("X-Embedlab-Map-Source"), serverSeconds: body.seconds,
    fetchMs: t1 - t0, buildMs: t2 - t1, loadMs: t2 - t0,
  };
  const shown = body.sampled ? `a random sample of ${fmt(n)} of ${fmt(body.count)} items (maps show at most ${fmt(body.max_points)})` : `all ${fmt(n)} items`;
  status.textContent = `${body.method.toUpperCase()} of ${shown}; ${body.clusters.length} k-means clusters labelled by c-TF-IDF terms. ` +
    `Projection ${body.seconds} s on the server (${window.embedlabUi.map.source}); loaded and drawn in ${Math.round(t2 - t0)} ms. Drag to pan, wheel to zoom.`;
  clearMessage();
}

function buildGrid() {
  const { n, xs, ys, xmin, ymin } = data;
  const cw = Math.max(data.xmax - xmin, 1e-9) / G;
  const ch = Math.max(data.ymax - ymin, 1e-9) / G;
  const cell = new Int32Array(n);
  const counts = new Int32Array(G * G + 1);
  for (let i = 0; i < n; i++) {
    const gx = Math.min(G - 1, Math.floor((xs[i] - xmin) / cw));
    const gy = Math.min(G - 1, Math.floor((ys[i] - ymin) / ch));
    cell[i] = gy * G + gx;
    counts[cell[i] + 1]++;
  }
  for (let c = 0; c < G * G; c++) counts[c + 1] += counts[c];
  const fill = counts.slice(0, G * G);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[cell[i]]++] = i;
  data.grid = { cw, ch, starts: counts, order };
}

function nearest(px, py, radius) {
  // the point nearest (px, py) in canvas pixels, within radius pixels; -1 if none
  if (!data) return -1;
  const k = scale();
  const x = view.cx + (px - W / 2) / k;
  const y = view.cy - (py - H / 2) / k;
  const r = radius / k;
  const { cw, ch, starts, order } = data.grid;
  const gx0 = Math.max(0, Math.floor((x - r - data.xmin) / cw));
  const gx1 = Math.min(G - 1, Math.floor((x + r - data.xmin) / cw));
  const gy0 = Math.max(0, Math.floor((y - r - data.ymin) / ch));
  const gy1 = Math.min(G - 1, Math.floor((y + r - data.ymin) / ch));
  let best = -1;
  let bestD = r * r;
  for (let gy = gy0; gy <= gy1; gy++) {
    for (let gx = gx0; gx <= gx1; gx++) {
      const c = gy * G + gx;
      for (let j = starts[c]; j < starts[c + 1]; j++) {
        const i = order[j];
        const d = (data.xs[i] - x) ** 2 + (data.ys[i] - y) ** 2;
        if (d <= bestD) {
          bestD = d;
          best = i;
        }
      }
    }
  }
  return best;
}

function screenOf(id) {
  // CSS pixels from the canvas' top-left corner of the point with this id (for tests), or null
  if (!data) return null;
  const i = typeof id === "number" ? id : data.index.get(id);
  if (i === undefined) return null;
  const k = scale();
  const px = (data.xs[i] - view.cx) * k + W / 2;
  const py = H / 2 - (data.ys[i] - view.cy) * k;
  return { x: px / dpr, y: py / dpr, id: data.ids[i] };
}

function setColours(list) {
  colours = new Uint32Array(data.n);
  faded = new Uint32Array(data.n);
  for (let i = 0; i < data.n; i++) {
    const c = list(i);
    colours[i] = packed(...c);
    faded[i] = packed(...fade(c));
  }
}

function clusterColours() {
  const byId = new Map(data.clusters.map((c, rank) => [c.id, rgb(PALETTE[rank % PALETTE.length])]));
  setColours((i) => byId.get(data.cluster[i]) || [120, 120, 120]);
  legend = data.clusters.map((c, rank) => ({ colour: PALETTE[rank % PALETTE.length], label: `${c.terms.slice(0, 4).join(", ") || "cluster " + c.id}`, size: c.size }));
  drawLegend();
}

async function colourByField(field) {
  colourBy = field;
  if (!field) {
    clusterColours();
    request();
    return;
  }
  const got = await api(`/v1/ui/collections/${enc(data.collection)}/map/field?field=${enc(field)}`);
  if (got.kind === "number") {
    const span = got.max - got.min || 1;
    setColours((i) => (got.values[i] === null ? [200, 200, 200] : ramp((got.values[i] - got.min) / span)));
    legend = [
      { colour: `rgb(${ramp(0).join(",")})`, label: `${field} = ${fmt(got.min)}` },
      { colour: `rgb(${ramp(1).join(",")})`, label: `${field} = ${fmt(got.max)}` },
    ];
  } else {
    const cols = got.categories.map((name, i) => (name === "(missing)" ? [200, 200, 200] : rgb(PALETTE[i % PALETTE.length])));
    setColours((i) => cols[got.codes[i]]);
    legend = got.categories.map((name, i) => ({ colour: `rgb(${cols[i].join(",")})`, label: `${field}: ${name}` }));
  }
  drawLegend();
  request();
}

function drawLegend() {
  $("#map-legend").innerHTML = legend
    .map((l) => `<li><span class="swatch" style="background:${l.colour}"></span>${escapeHtml(l.label)}${l.size ? ` <span class="muted">(${fmt(l.size)})</span>` : ""}</li>`)
    .join("");
}

function request() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    draw();
  });
}

function draw() {
  if (!data || !pixels) return;
  const t0 = performance.now();
  const k = scale();
  const ox = W / 2 - view.cx * k;
  const oy = H / 2 + view.cy * k;
  const bg = packed(...BG);
  pixels.fill(bg);
  const { n, xs, ys } = data;
  const dim = hits.length > 0 || neighbours.length > 0 || query !== null;
  const cols = dim ? faded : colours;
  // squares of 2 pixels for many points, bigger when there are few or the view is zoomed in
  const size = Math.round((n < 2000 ? 5 : n < 20000 || view.zoom > 8 ? 3 : 2) * Math.min(dpr, 2));
  const half = size >> 1;
  if (size === 2) {
    for (let i = 0; i < n; i++) {
      const px = (xs[i] * k + ox) | 0;
      const py = (oy - ys[i] * k) | 0;
      if (px < 0 || py < 0 || px >= W - 1 || py >= H - 1) continue;
      const c = cols[i];
      const o = py * W + px;
      pixels[o] = c;
      pixels[o + 1] = c;
      pixels[o + W] = c;
      pixels[o + W + 1] = c;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const px = ((xs[i] * k + ox) | 0) - half;
      const py = ((oy - ys[i] * k) | 0) - half;
      if (px < 0 || py < 0 || px >= W - size || py >= H - size) continue;
      const c = cols[i];
      for (let dy = 0; dy < size; dy++) {
        const o = (py + dy) * W + px;
        for (let dx = 0; dx < size; dx++) pixels[o + dx] = c;
      }
    }
  }
  ctx.putImageData(image, 0, 0);
  const at = (i) => [xs[i] * k + ox, oy - ys[i] * k];
  ctx.lineWidth = 1.5 * dpr;
  if (colourBy === "") {
    ctx.font = `${12 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.lineJoin = "round";
    data.clusters.forEach((c) => {
      const label = c.terms.slice(0, 3).join(", ");
      if (!label) return;
      const x = c.x * k + ox;
      const y = oy - c.y * k;
      ctx.strokeStyle = "rgba(255,255,255,.9)";
      ctx.lineWidth = 4 * dpr;
      ctx.strokeText(label, x, y);
      ctx.fillStyle = "#1d2430";
      ctx.fillText(label, x, y);
    });
    ctx.lineWidth = 1.5 * dpr;
  }
  for (const i of hits) ring(...at(i), 5, "#d62728", colours[i]);
  if (selected >= 0) {
    ctx.strokeStyle = "rgba(31,111,235,.6)";
    for (const i of neighbours) {
      ctx.beginPath();
      ctx.moveTo(...at(selected));
      ctx.lineTo(...at(i));
      ctx.stroke();
    }
  }
  for (const i of neighbours) ring(...at(i), 5, "#1f6feb", colours[i]);
  if (selected >= 0) ring(...at(selected), 7, "#000", colours[selected]);
  if (query) {
    const [x, y] = [query.x * k + ox, oy - query.y * k];
    ctx.fillStyle = "#d62728";
    ctx.beginPath();
    for (let j = 0; j < 10; j++) {
      const r = (j % 2 ? 4 : 10) * dpr;
      const a = (Math.PI / 5) * j - Math.PI / 2;
      ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
    }
    ctx.fill();
    ctx.font = `bold ${12 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = "left";
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 4 * dpr;
    const label = `query: ${query.text.slice(0, 40)}`;
    ctx.strokeText(label, x + 12 * dpr, y + 4 * dpr);
    ctx.fillText(label, x + 12 * dpr, y + 4 * dpr);
    ctx.lineWidth = 1.5 * dpr;
  }
  if (hover >= 0) ring(...at(hover), 6, "#000", colours[hover]);
  const frames = window.embedlabUi.frames;
  frames.push({ at: t0, ms: performance.now() - t0 });
  if (frames.length > MAX_FRAMES) frames.splice(0, frames.length - MAX_FRAMES);
}

function ring(x, y, r, stroke, fill) {
  ctx.beginPath();
  ctx.arc(x, y, r * dpr, 0, Math.PI * 2);
  ctx.fillStyle = `#${[fill & 255, (fill >> 8) & 255, (fill >> 16) & 255].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
  ctx.fill();
  ctx.strokeStyle = stroke;
  ctx.stroke();
}

async function textOf(id) {
  if (!texts.has(id)) {
    const got = await api(`/v1/collections/${enc(data.collection)}/get`, { method: "POST", body: { ids: [id], include: ["text", "metadata"] } });
    texts.set(id, got.data[0] || { id, text: "", metadata: {} });
  }
  return texts.get(id);
}

let hoverTimer = null;
function hoverAt(x, y) {
  const i = nearest(x * dpr, y * dpr, 8 * dpr);
  const tip = $("#map-tip");
  if (i !== hover) {
    hover = i;
    request();
  }
  if (i < 0) {
    tip.hidden = true;
    return;
  }
  const id = data.ids[i];
  const c = data.clusters.find((cl) => cl.id === data.cluster[i]);
  const head = `<b>${escapeHtml(id)}</b>${c && c.terms.length ? ` <span style="opacity:.7">(${escapeHtml(c.terms.slice(0, 3).join(", "))})</span>` : ""}`;
  tip.innerHTML = `${head}<br>${texts.has(id) ? escapeHtml(texts.get(id).text) : "…"}`;
  tip.style.left = `${Math.min(x + 14, canvas.clientWidth - 300)}px`;
  tip.style.top = `${y + 14}px`;
  tip.hidden = false;
  clearTimeout(hoverTimer);
  if (!texts.has(id)) {
    hoverTimer = setTimeout(async () => {
      const item = await textOf(id).catch(() => null);
      if (item && hover === i) tip.innerHTML = `${head}<br>${escapeHtml(item.text)}`;
    }, 60);
  }
}

async function clickAt(x, y) {
  const i = nearest(x * dpr, y * dpr, 8 * dpr);
  if (i < 0) return;
  selected = i;
  neighbours = [];
  request();
  const item = await textOf(data.ids[i]);
  await showItem(data.collection, item).catch(showError);
}

async function placeOnly(text) {
  const placed = await api(`/v1/ui/collections/${enc(data.collection)}/map/place`, { method: "POST", body: { query: text } });
  query = { ...placed, text };
  request();
  return placed;
}

async function placeQuery(text) {
  if (!text.trim() || !data) return;
  const found = await search(data.collection, text, { mode: "dense", k: 10 });
  hits = indicesOf(found.data.map((h) => h.id));
  selected = -1;
  neighbours = [];
  state.lastSearch = { collection: data.collection, query: text, mode: "dense", hits: found.data };
  const placed = await placeOnly(text);
  clearMessage();
  const side = $("#side");
  side.innerHTML = `<h3>“${escapeHtml(text)}”</h3><p class="muted">placed on the map ${placed.how === "projected" ? "by projecting its vector" : "at the mean of its nearest items"}; its ${found.data.length} hits are ringed in red${found.data.length > hits.length ? ` (${found.data.length - hits.length} are outside the sample)` : ""}.</p>
    <ol class="neighbours" id="map-hits">${found.data.map((h, j) => `<li data-j="${j}"><span class="score">${fmt(h.score, 3)}</span>${escapeHtml(h.text ?? h.id)}</li>`).join("")}</ol>`;
  side.querySelectorAll("#map-hits li").forEach((li) => {
    li.addEventListener("click", () => showItem(data.collection, found.data[Number(li.dataset.j)]).catch(showError));
  });
}
