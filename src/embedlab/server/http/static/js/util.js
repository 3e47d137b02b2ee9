// Small helpers shared by the views: messages, escaping, metadata tables, the side panel.
import { api, enc } from "./api.js";

export const state = { info: null, collection: null, lastSearch: null };
const listeners = {};

export function on(event, fn) {
  (listeners[event] ||= []).push(fn);
}

export function emit(event, value) {
  for (const fn of listeners[event] || []) fn(value);
}

export function $(selector) {
  return document.querySelector(selector);
}

export function showError(error) {
  const box = $("#message");
  box.className = "";
  box.textContent = error && error.message ? error.message : String(error);
  box.hidden = false;
}

export function showInfo(text) {
  const box = $("#message");
  box.className = "info";
  box.textContent = text;
  box.hidden = false;
}

export function clearMessage() {
  $("#message").hidden = true;
}

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString("en") : value.toFixed(digits);
  return String(value);
}

function flatten(meta, prefix = "", out = {}) {
  for (const [key, value] of Object.entries(meta || {})) {
    if (value && typeof value === "object" && !Array.isArray(value)) flatten(value, `${prefix}${key}.`, out);
    else out[`${prefix}${key}`] = value;
  }
  return out;
}

export function metaChips(meta) {
  return Object.entries(flatten(meta))
    .map(([k, v]) => `<span>${escapeHtml(k)}: ${escapeHtml(typeof v === "string" ? v : JSON.stringify(v))}</span>`)
    .join("");
}

export function metaTable(meta) {
  const rows = Object.entries(flatten(meta));
  if (!rows.length) return '<p class="muted">no metadata</p>';
  return `<table class="meta">${rows
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(typeof v === "string" ? v : JSON.stringify(v))}</td></tr>`)
    .join("")}</table>`;
}

// Query terms marked in a text (keyword and hybrid results): whole words, any case.
const STOP = new Set("a an and are as at be by for from has he in is it its of on or that the to was were will with".split(" "));
export function highlight(text, query) {
  const terms = [...new Set((query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).filter((t) => t.length > 1 && !STOP.has(t)))];
  const safe = escapeHtml(text);
  if (!terms.length) return safe;
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(${terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})[\\p{L}]{0,3}(?![\\p{L}\\p{N}])`, "giu");
  return safe.replace(pattern, "<mark>$&</mark>");
}

// The side panel: an item's metadata and its nearest neighbours (each clickable in turn).
let sideToken = 0;
export async function showItem(collection, item) {
  const side = $("#side");
  const token = ++sideToken;
  side.innerHTML = `<h3>${escapeHtml(item.id)}</h3><p>${escapeHtml(item.text ?? "")}</p>${metaTable(item.metadata)}
    <h3>Nearest neighbours</h3><p class="muted">loading…</p>`;
  try {
    const found = await api(`/v1/ui/collections/${enc(collection)}/neighbors`, { method: "POST", body: { id: item.id, k: 8 } });
    if (token !== sideToken) return found;
    const list = found.data
      .map((hit, i) => `<li data-i="${i}"><span class="score">${fmt(hit.score, 3)}</span>${escapeHtml(hit.text ?? hit.id)}</li>`)
      .join("");
    side.querySelector("p.muted:last-child").outerHTML = `<ol class="neighbours" id="neighbours">${list}</ol>`;
    side.querySelectorAll("#neighbours li").forEach((li) => {
      li.addEventListener("click", () => {
        const hit = found.data[Number(li.dataset.i)];
        emit("select", { collection, id: hit.id });
        showItem(collection, hit);
      });
    });
    emit("neighbours", { collection, id: item.id, ids: found.data.map((h) => h.id) });
    return found;
  } catch (error) {
    if (token === sideToken) side.querySelector("p.muted:last-child").textContent = error.message;
    throw error;
  }
}
