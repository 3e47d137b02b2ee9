// Collections: the chosen collection's model, counts, storage and index, and its items page by
// page, narrowed by a metadata filter in the collection's own syntax.
import { api, enc } from "./api.js";
import { $, clearMessage, escapeHtml, fmt, metaChips, showError, showItem, state } from "./util.js";

const PAGE = 25;
let offset = 0;
let filter = "";
let inited = false;

export function init() {
  if (inited) return;
  inited = true;
  $("#items-form").addEventListener("submit", (event) => {
    event.preventDefault();
    filter = $("#items-filter").value.trim();
    offset = 0;
    loadItems();
  });
  $("#items-prev").addEventListener("click", () => {
    offset = Math.max(0, offset - PAGE);
    loadItems();
  });
  $("#items-next").addEventListener("click", () => {
    offset += PAGE;
    loadItems();
  });
}

export async function show() {
  const box = $("#collection-info");
  if (!state.collection) {
    box.innerHTML = '<p class="muted">No collection on this server.</p>';
    return;
  }
  const info = await api(`/v1/collections/${enc(state.collection)}`);
  const index = info.index || {};
  box.innerHTML = `<h2>${escapeHtml(info.name)}</h2><dl>
    <dt>model</dt><dd>${escapeHtml(info.model)} (${info.dim} dimensions, ${escapeHtml(info.metric)})</dd>
    <dt>items</dt><dd id="info-count">${fmt(info.count)}</dd>
    <dt>storage</dt><dd>${escapeHtml(info.storage)} (${fmt(info.bytes_per_vector)} bytes a vector)</dd>
    <dt>index</dt><dd>${escapeHtml(index.mode || "")} ${escapeHtml(index.kind || "")}</dd>
    <dt>backend</dt><dd>${escapeHtml(info.backend)}${info.disk_bytes ? `, ${fmt(info.disk_bytes / 1e6, 2)} MB on disk` : ""}</dd>
    <dt>on this server</dt><dd>${state.info.collections.map(escapeHtml).join(", ")}</dd></dl>`;
  await loadItems();
}

async function loadItems() {
  const where = filter ? `&where=${enc(filter)}` : "";
  const body = $("#items tbody");
  try {
    const page = await api(`/v1/ui/collections/${enc(state.collection)}/items?offset=${offset}&limit=${PAGE}${where}`);
    clearMessage();
    $("#items-count").textContent = `${fmt(page.total)} item(s)${filter ? " match the filter" : ""}`;
    const last = Math.min(page.total, offset + page.data.length);
    $("#items-page").textContent = page.total ? `${fmt(offset + 1)}–${fmt(last)} of ${fmt(page.total)}` : "";
    $("#items-prev").disabled = offset === 0;
    $("#items-next").disabled = last >= page.total;
    body.innerHTML = page.data
      .map((item, i) => `<tr data-i="${i}"><td>${escapeHtml(item.id)}</td><td>${escapeHtml(item.text ?? "")}</td><td class="chips">${metaChips(item.metadata)}</td></tr>`)
      .join("");
    body.querySelectorAll("tr").forEach((tr) => {
      tr.addEventListener("click", () => showItem(state.collection, page.data[Number(tr.dataset.i)]).catch(showError));
    });
  } catch (error) {
    body.innerHTML = "";
    $("#items-count").textContent = "";
    $("#items-page").textContent = "";
    showError(error);
  }
}
