// Tokens: the walkthrough of one text for a served model (tokens, ids, the lookup and contextual
// vectors as heatmaps, the pooled vector) and one word across contexts with its cosine matrix.
import { api } from "./api.js";
import { $, clearMessage, escapeHtml, fmt, showError, state } from "./util.js";

let inited = false;

export function init() {
  if (inited) return;
  inited = true;
  $("#tokens-form").addEventListener("submit", (e) => {
    e.preventDefault();
    walk().catch(showError);
  });
  $("#contexts-form").addEventListener("submit", (e) => {
    e.preventDefault();
    contexts().catch(showError);
  });
}

export async function show() {
  const select = $("#tokens-model");
  if (!select.options.length) {
    select.innerHTML = state.info.models.map((m) => `<option value="${escapeHtml(m.id)}">${escapeHtml(m.id)}${m.contextual ? "" : " (static)"}</option>`).join("");
  }
  if (!$("#tokens-out").innerHTML) await walk();
}

function heat(matrix, title, labels) {
  // rows x dims as a diverging heatmap (blue negative, red positive), scaled to the largest
  // value, each row named by its token on the left
  const rows = matrix.length;
  const cols = matrix[0].length;
  const cell = cols > 200 ? 2 : 6;
  const left = 96;
  const c = document.createElement("canvas");
  c.width = left + cols * cell;
  c.height = rows * 14;
  c.className = "heat";
  c.title = title;
  const g = c.getContext("2d");
  let max = 1e-9;
  for (const row of matrix) for (const v of row) max = Math.max(max, Math.abs(v));
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "middle";
  matrix.forEach((row, r) => {
    g.fillStyle = "#1d2430";
    g.fillText((labels[r] ?? "").slice(0, 14), 4, r * 14 + 7);
    row.forEach((v, j) => {
      const t = Math.min(1, Math.abs(v) / max);
      const [R, G, B] = v >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 - t), 255 * (1 - t), 255];
      g.fillStyle = `rgb(${R | 0},${G | 0},${B | 0})`;
      g.fillRect(left + j * cell, r * 14, cell, 14);
    });
  });
  return c;
}

async function walk() {
  const text = $("#tokens-text").value;
  const model = $("#tokens-model").value || undefined;
  const out = $("#tokens-out");
  const w = await api("/tokenize", { method: "POST", body: { text, model, dims: null } });
  clearMessage();
  const tokens = w.tokens
    .map((t, i) => `<span class="token" data-i="${i}">${escapeHtml(t)}<small>${w.ids[i]}</small></span>`)
    .join("");
  out.innerHTML = `<p>${escapeHtml(w.model)}: ${w.tokens.length} tokens, pooled by <b>${escapeHtml(w.pooling)}</b> into a ${w.vector.length}-dimensional vector (norm ${fmt(w.vector_norm, 3)}).</p>
    <div class="tokens" id="token-list">${tokens}</div>
    <h3>Lookup vectors (the embedding table's rows, before any context)</h3><div id="heat-lookup"></div>
    ${w.contextual ? '<h3>Contextual vectors (after the last layer)</h3><div id="heat-contextual"></div>' : ""}
    <h3>Pooled text vector</h3><div id="heat-vector"></div>
    ${w.notes && w.notes.length ? `<p class="muted">${w.notes.map(escapeHtml).join("<br>")}</p>` : ""}
    <p class="muted">Each row is a token, each column a dimension; red is positive, blue negative.</p>`;
  $("#heat-lookup").append(heat(w.lookup, "lookup", w.tokens));
  if (w.contextual) $("#heat-contextual").append(heat(w.contextual, "contextual", w.tokens));
  $("#heat-vector").append(heat([w.vector], "pooled", [w.pooling.split(" ")[0]]));
}

async function contexts() {
  const word = $("#contexts-word").value.trim();
  const texts = $("#contexts-texts").value.split("\n").map((t) => t.trim()).filter(Boolean);
  const model = $("#tokens-model").value || undefined;
  const out = $("#contexts-out");
  const r = await api("/v1/ui/contexts", { method: "POST", body: { word, texts, model } });
  clearMessage();
  const marked = r.contexts
    .map((c, i) => {
      const [a, b] = c.span;
      return `<li>${escapeHtml(c.text.slice(0, a))}<mark>${escapeHtml(c.text.slice(a, b))}</mark>${escapeHtml(c.text.slice(b))} <span class="muted">(${c.tokens.map(escapeHtml).join(" ")})</span></li>`;
    })
    .join("");
  const head = r.contexts.map((_, i) => `<th>${i + 1}</th>`).join("");
  const rows = r.cosine_similarity
    .map((row, i) => `<tr><th>${i + 1}</th>${row.map((v) => `<td style="background:rgba(31,111,235,${(Math.max(0, v) * 0.6).toFixed(2)})">${v.toFixed(3)}</td>`).join("")}</tr>`)
    .join("");
  out.innerHTML = `<p>${escapeHtml(r.word)} in ${r.contexts.length} contexts, ${escapeHtml(r.model)} (${escapeHtml(r.layer)}):</p>
    <ol>${marked}</ol>
    <table class="grid matrix" id="cosine-matrix"><thead><tr><th></th>${head}</tr></thead><tbody>${rows}</tbody></table>
    <p>The embedding-table rows (no context) have mean cosine ${fmt(r.lookup_cosine, 3)}; by layer:
    ${r.mean_cosine_by_layer.map((v) => v.toFixed(2)).join(" → ")}</p>
    ${r.notes.length ? `<p class="muted">${r.notes.map(escapeHtml).join("<br>")}</p>` : ""}`;
}
