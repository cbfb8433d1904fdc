// The dashboard's entry: a hash router (#/view?inputs, so every view and its
// inputs can be shared as a link) and the token for writes.
import { getToken, setToken } from "./api.js";
import * as planner from "./views/planner.js";
import * as curves from "./views/curves.js";
import * as contours from "./views/contours.js";
import * as lawsView from "./views/laws.js";
import * as data from "./views/data.js";

const views = { planner, curves, contours, laws: lawsView, data };
let current = null;

/** "#/planner?law=t5-c4&..." -> {view, params} */
export function parseHash(hash = location.hash) {
  const m = /^#\/?([a-z]*)(?:\?(.*))?$/.exec(hash || "");
  const view = m && views[m[1]] ? m[1] : "planner";
  const params = Object.fromEntries(new URLSearchParams((m && m[2]) || ""));
  return { view, params };
}

export function hashFor(view, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && String(v) !== "") q.set(k, v);
  const qs = q.toString().replace(/%2C/g, ",").replace(/%3A/g, ":");
  return `#/${view}${qs ? "?" + qs : ""}`;
}

/** Puts a view's inputs in the URL and shows it (runs its queries). */
export function navigate(view, params) {
  const hash = hashFor(view, params);
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  const { view, params } = parseHash();
  for (const a of document.querySelectorAll(".tabs a")) a.classList.toggle("active", a.dataset.view === view);
  for (const [name] of Object.entries(views)) document.getElementById(`view-${name}`).hidden = name !== view;
  if (current && current !== view) views[current].hide?.();
  current = view;
  document.title = `sparselaw · ${document.querySelector(`.tabs a[data-view="${view}"]`).textContent}`;
  for (const a of document.querySelectorAll(`#view-${view} a.share`)) a.href = location.hash || `#/${view}`;
  views[view].show(params);
}

// ------------------------------------------------------------------ token

function tokenUi() {
  const form = document.getElementById("token-form");
  const state = document.getElementById("token-state");
  const input = document.getElementById("token-input");
  const slot = form.querySelector('[data-error-for="token"]');
  const render = () => {
    const has = !!getToken();
    form.classList.toggle("has-token", has);
    state.textContent = has ? "token set for writes (this tab)" : "";
    input.value = "";
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const t = input.value.trim();
    slot.textContent = "";
    if (t) setToken(t);
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    slot.textContent = "";
    setToken("");
  });
  window.addEventListener("sparselaw:token", render);
  render();
}

for (const [name, v] of Object.entries(views)) v.init({ navigate: (params) => navigate(name, params), goto: navigate });
tokenUi();
window.addEventListener("hashchange", route);
route();
