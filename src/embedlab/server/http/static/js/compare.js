// Compare: compare's cached results as a table and a quality-against-speed chart, and a small
// compare run in the background on the server, with its progress.
import { api, enc } from "./api.js";
import { $, clearMessage, escapeHtml, fmt, showError, state } from "./util.js";

let inited = false;
let polling = null;

export function init() {
  if (inited) return;
  inited = true;
  $("#compare-cached").addEventListener("click", () => cached(formModels()).catch(showError));
  $("#compare-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run().catch(showError);
  });
}

function form() {
  const limit = Number($("#compare-limit").value) || null;
  return { models: $("#compare-models").value, tasks: $("#compare-tasks").value, limit };
}

function formModels() {
  const f = form();
  return { ...f, models: [...new Set([...state.info.compare_defaults.models, ...f.models.split(",").map((m) => m.trim()).filter(Boolean)])].join(",") };
}

export async function show() {
  await cached(formModels());
}

async function cached({ models, tasks, limit }) {
  const q = `?models=${enc(models)}&tasks=${enc(tasks)}${limit ? `&limit=${limit}` : ""}`;
  const got = await api(`/v1/ui/compare${q}`);
  clearMessage();
  $("#compare-status").textContent = got.data.length
    ? `${got.data.length} model(s) in compare's cache for ${got.tasks.join(", ")}${limit ? ` (first ${limit} items of each task)` : ""}.`
    : `compare's cache holds nothing for these models and tasks yet: run a compare here or with embedlab compare.`;
  render(got.tasks, got.data);
}

function render(tasks, rows) {
  const head = ["model", ...tasks, "sentences/s", "load s", "peak MB", "dims"];
  $("#compare-table").innerHTML = `<thead><tr>${head.map((h, i) => `<th class="${i ? "num" : ""}">${escapeHtml(h)}</th>`).join("")}</tr></thead>
    <tbody>${rows
      .map((r) => `<tr><td>${escapeHtml(r.model)}</td>${tasks.map((t) => `<td class="num">${fmt(r[t], 3)}</td>`).join("")}
        <td class="num">${fmt(r.sentences_per_second, 0)}</td><td class="num">${fmt(r.load_seconds, 1)}</td>
        <td class="num">${fmt(r.peak_memory_mb, 0)}</td><td class="num">${fmt(r.dim)}</td></tr>`)
      .join("")}</tbody>`;
  chart(tasks, rows);
}

function chart(tasks, rows) {
  const points = rows
    .map((r) => {
      const scores = tasks.map((t) => r[t]).filter((v) => typeof v === "number");
      return scores.length && r.sentences_per_second ? { model: r.model, speed: r.sentences_per_second, quality: scores.reduce((a, b) => a + b, 0) / scores.length } : null;
    })
    .filter(Boolean);
  const box = $("#compare-chart");
  if (!points.length) {
    box.innerHTML = "";
    return;
  }
  const w = 640, h = 320, pad = 48;
  const lx = points.map((p) => Math.log10(p.speed));
  const x0 = Math.floor(Math.min(...lx)), x1 = Math.max(Math.ceil(Math.max(...lx)), x0 + 1);
  const qs = points.map((p) => p.quality);
  const y0 = Math.min(...qs, 0), y1 = Math.max(...qs, 0.1);
  const X = (v) => pad + ((Math.log10(v) - x0) / (x1 - x0)) * (w - 2 * pad);
  const Y = (v) => h - pad - ((v - y0) / (y1 - y0 || 1)) * (h - 2 * pad);
  let ticks = "";
  for (let e = x0; e <= x1; e++) ticks += `<line x1="${X(10 ** e)}" x2="${X(10 ** e)}" y1="${pad}" y2="${h - pad}" stroke="#eee"/><text x="${X(10 ** e)}" y="${h - pad + 16}" text-anchor="middle">${fmt(10 ** e)}</text>`;
  const dots = points
    .map((p) => `<circle cx="${X(p.speed)}" cy="${Y(p.quality)}" r="5" fill="#1f6feb"/><text x="${X(p.speed) + 8}" y="${Y(p.quality) - 6}">${escapeHtml(p.model)} (${p.quality.toFixed(3)})</text>`)
    .join("");
  box.innerHTML = `<svg width="${w}" height="${h}" role="img" aria-label="quality against speed">
    <rect x="${pad}" y="${pad}" width="${w - 2 * pad}" height="${h - 2 * pad}" fill="#fff" stroke="#ccc"/>${ticks}${dots}
    <text x="${w / 2}" y="${h - 8}" text-anchor="middle">sentences per second (log scale, this machine)</text>
    <text x="14" y="${h / 2}" transform="rotate(-90 14 ${h / 2})" text-anchor="middle">mean main score (${escapeHtml(tasks.join(", "))})</text></svg>`;
}

async function run() {
  const f = form();
  const started = await api("/v1/ui/compare/runs", { method: "POST", body: f });
  clearMessage();
  const box = $("#compare-progress");
  box.hidden = false;
  clearInterval(polling);
  const update = (r) => {
    box.querySelector("progress").value = r.progress;
    box.querySelector("span").textContent = `${r.status}: ${r.models_done} of ${r.models_total} models${r.current ? `, measuring ${r.current}` : ""}${r.error ? ` (${r.error})` : ""}`;
  };
  update(started);
  await new Promise((resolve) => {
    polling = setInterval(async () => {
      try {
        const r = await api(`/v1/ui/compare/runs/${enc(started.id)}`);
        update(r);
        if (r.status === "succeeded" || r.status === "failed") {
          clearInterval(polling);
          if (r.status === "failed") showError(new Error(`The compare failed: ${r.error}`));
          else render(r.tasks, r.rows);
          resolve();
        }
      } catch (error) {
        clearInterval(polling);
        showError(error);
        resolve();
      }
    }, 700);
  });
}
