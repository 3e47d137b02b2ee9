// The page's entry: the key box, the collection picker, and the tabs (#collections, #search, ...).
import { api, getKey, setKey } from "./api.js";
import { $, clearMessage, emit, showError, showInfo, state } from "./util.js";
import * as collections from "./collections.js";
import * as search from "./search.js";
import * as map from "./map.js";
import * as tokens from "./tokens.js";
import * as compare from "./compare.js";

const views = { collections, search, map, tokens, compare };
window.embedlabUi = window.embedlabUi || { frames: [], map: null, ready: false };

function params() {
  const [view, query] = location.hash.replace(/^#/, "").split("?");
  return { view: views[view] ? view : "search", query: new URLSearchParams(query || "") };
}

async function show(view) {
  for (const name of Object.keys(views)) {
    $(`#view-${name}`).hidden = name !== view;
    document.querySelector(`#tabs button[data-view=${name}]`).classList.toggle("active", name === view);
  }
  state.view = view;
  try {
    await views[view].show();
  } catch (error) {
    showError(error);
  }
}

let starts = 0;
async function start() {
  const mine = ++starts; // a start overtaken by a newer one (a new key) drops its result
  $("#api-key").value = getKey();
  window.embedlabUi.ready = false;
  let info;
  try {
    info = await api("/v1/ui/info");
  } catch (error) {
    if (mine !== starts) return;
    showError(error);
    window.embedlabUi.ready = "error";
    return;
  }
  if (mine !== starts) return;
  state.info = info;
  clearMessage();
  const select = $("#collection");
  const wanted = params().query.get("c") || state.collection;
  select.innerHTML = state.info.collections.map((c) => `<option>${c}</option>`).join("");
  if (!state.info.collections.length) showInfo("This server has no collections yet: create one (embedlab collection create, or POST /v1/collections).");
  state.collection = state.info.collections.includes(wanted) ? wanted : state.info.collections[0] || null;
  select.value = state.collection || "";
  for (const view of Object.values(views)) view.init?.();
  await show(params().view);
  if (mine === starts) window.embedlabUi.ready = true;
}

document.querySelectorAll("#tabs button").forEach((button) => {
  button.addEventListener("click", () => {
    const query = state.collection ? `?c=${encodeURIComponent(state.collection)}` : "";
    history.replaceState(null, "", `#${button.dataset.view}${query}`);
    show(button.dataset.view);
  });
});

$("#collection").addEventListener("change", (event) => {
  state.collection = event.target.value;
  history.replaceState(null, "", `#${state.view}?c=${encodeURIComponent(state.collection)}`);
  emit("collection", state.collection);
  show(state.view);
});

$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setKey($("#api-key").value.trim());
  start();
});

start();
