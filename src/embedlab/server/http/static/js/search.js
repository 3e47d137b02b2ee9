// Search: dense, hybrid or keyword, with k and a filter; results as you type. Query terms are
// marked in keyword and hybrid results; a click shows the item and its nearest neighbours.
import { api, enc } from "./api.js";
import { $, clearMessage, emit, escapeHtml, fmt, highlight, metaChips, showError, showItem, state } from "./util.js";

let inited = false;
let timer = null;
let sequence = 0;

export function init() {
  if (inited) return;
  inited = true;
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  $("#search-query").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  $("#search-mode").addEventListener("change", run);
}

export async function show() {
  $("#search-query").focus();
}

export async function search(collection, query, { mode = "dense", k = 10, where = null } = {}) {
  const body = { query, mode, k, include: ["text", "metadata"] };
  if (where) body.where = where;
  return api(`/v1/collections/${enc(collection)}/search`, { method: "POST", body });
}

function parseFilter(text) {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`The filter is not valid JSON (${error.message}). Write e.g. {"topic": "pets"} or {"year": {"$gte": 2020}}.`);
  }
}

async function run() {
  const query = $("#search-query").value;
  const status = $("#search-status");
  const list = $("#results");
  if (!query.trim() || !state.collection) {
    list.innerHTML = "";
    status.textContent = "";
    return;
  }
  const mode = $("#search-mode").value;
  const k = Number($("#search-k").value) || 10;
  const mine = ++sequence;
  const started = performance.now();
  try {
    const where = parseFilter($("#search-filter").value);
    const found = await search(state.collection, query, { mode, k, where });
    if (mine !== sequence) return;
    clearMessage();
    const marked = mode !== "dense";
    status.textContent = `${found.data.length} result(s), ${mode} search, ${Math.round(performance.now() - started)} ms`;
    list.innerHTML = found.data
      .map((hit, i) => `<li data-i="${i}" data-id="${escapeHtml(hit.id)}"><span class="score">${fmt(hit.score, 4)}</span><span class="text">${marked ? highlight(hit.text ?? "", query) : escapeHtml(hit.text ?? "")}</span><div class="chips">${metaChips(hit.metadata)}</div></li>`)
      .join("");
    list.querySelectorAll("li").forEach((li) => {
      li.addEventListener("click", () => {
        list.querySelectorAll("li.selected").forEach((x) => x.classList.remove("selected"));
        li.classList.add("selected");
        showItem(state.collection, found.data[Number(li.dataset.i)]).catch(showError);
      });
    });
    state.lastSearch = { collection: state.collection, query, mode, hits: found.data };
    emit("search", state.lastSearch);
  } catch (error) {
    if (mine !== sequence) return;
    list.innerHTML = "";
    status.textContent = "";
    showError(error);
  }
}
