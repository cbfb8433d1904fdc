// Data & fits, the sweep form: a grid of calibration runs (POST /v1/sweeps) on
// a backend and trainer profile of those the server has (GET /v1/backends).
// Only obviously malformed input (a list item that is no number) is caught
// here; everything else is the server's to judge, and its error goes beside
// the field it names. The answer's grid warnings and estimate show as the
// sweep's card shows them (jobs.js), and the card opens. Needs the token.
import { api, getToken } from "../api.js";
import { busy, clearErrors, readForm, showError, showLocalError } from "../forms.js";
import { esc, num } from "../format.js";
import { sweepPlanHtml } from "./jobs.js";

let ctx, form;
let backends = []; // GET /v1/backends' list, in routing order

const DEFAULT_SIZES = [
  { layers: 2, width: 32, heads: 2 },
  { layers: 2, width: 64, heads: 2 },
  { layers: 2, width: 128, heads: 2 },
];
const SIZE_KEYS = ["layers", "width", "heads"];
const BACKENDS_MS = 3000; // how often the backends' active runs are read while a job goes on

export function init(c) {
  ctx = c;
  form = document.getElementById("sweep-form");
  for (const s of DEFAULT_SIZES) addSize(s);
  document.getElementById("sweep-add-size").addEventListener("click", () => addSize(lastSize()));
  document.getElementById("sweep-sizes").addEventListener("click", (e) => {
    const btn = e.target.closest("button[data-remove]");
    if (!btn) return;
    btn.closest(".size-row").remove();
    renumber();
  });
  form.querySelector('[name="backend"]').addEventListener("change", () => fillProfiles());
  form.querySelector('[name="profile"]').addEventListener("change", () => describe());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  // The lists were read again (every second while a job goes on): so are the backends' active
  // runs, every few seconds, and once more when the jobs have ended.
  let last = 0, wasGoing = false;
  window.addEventListener("sparselaw:jobs", (e) => {
    const going = e.detail.going, now = Date.now();
    if (getToken() && !document.getElementById("view-data").hidden && (going ? now - last >= BACKENDS_MS : wasGoing)) {
      last = now;
      loadBackends();
    }
    wasGoing = going;
  });
}

// ------------------------------------------------------------ model sizes

function lastSize() {
  const rows = sizeRows();
  return rows.length ? rows[rows.length - 1] : DEFAULT_SIZES[0];
}

/** A size row; its inputs are named as the server names their errors (grid.sizes[i].width). */
function addSize(size) {
  const row = document.createElement("div");
  row.className = "size-row";
  row.innerHTML = `${SIZE_KEYS.map((k) => `<label>${k}<input data-key="${k}" inputmode="numeric" value="${esc(size[k] ?? "")}"></label>`).join("")}
    <button type="button" class="link danger" data-remove>remove</button>
    <p class="field-error"></p>`;
  document.getElementById("sweep-sizes").append(row);
  renumber();
}

function renumber() {
  const rows = [...document.querySelectorAll("#sweep-sizes .size-row")];
  rows.forEach((row, i) => {
    row.dataset.index = String(i);
    for (const input of row.querySelectorAll("input")) input.name = `grid.sizes[${i}].${input.dataset.key}`;
    row.querySelector(".field-error").dataset.errorFor = `grid.sizes[${i}]`;
    row.querySelector("button[data-remove]").disabled = rows.length === 1;
  });
}

/** The rows as the server takes them: numbers where they are numbers, the text otherwise (so the server names it). */
function sizeRows() {
  return [...document.querySelectorAll("#sweep-sizes .size-row")].map((row) =>
    Object.fromEntries([...row.querySelectorAll("input")].map((input) => [input.dataset.key, numOrText(input.value.trim())]))
  );
}

function numOrText(s) {
  const n = Number(s);
  return s !== "" && Number.isFinite(n) ? n : s;
}

// ------------------------------------------------------------ backends and profiles

const deviceText = (d) => (d.device === "cuda" ? `cuda × ${d.device_count}` : "cpu");

/** The profiles the backend chosen offers (auto: those of every backend), each with the backends that have it. */
function offered(name) {
  const out = new Map();
  for (const b of backends)
    if (!name || b.name === name)
      for (const p of b.profiles) {
        if (!out.has(p.name)) out.set(p.name, { ...p, on: [] });
        out.get(p.name).on.push(b.name);
      }
  return [...out.values()];
}

function fillProfiles() {
  const sel = form.querySelector('[name="profile"]');
  const keep = sel.value;
  const chosen = form.querySelector('[name="backend"]').value;
  const b = backends.find((x) => x.name === chosen);
  const builtin = b && !b.builtin ? " (cannot run on this backend)" : "";
  sel.innerHTML = `<option value="">none: the built-in sparselaw-train${builtin}</option>` +
    offered(chosen)
      .map((p) => `<option value="${esc(p.name)}">${esc(p.name)} (needs ${esc(deviceText(p))}${chosen ? "" : `; on ${esc(p.on.join(", "))}`})</option>`)
      .join("");
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  describe();
}

/** What the chosen backend has: its device, run slots, runs active and throughput; why it cannot say more. */
function describe() {
  const info = document.getElementById("sweep-backend-info");
  const chosen = form.querySelector('[name="backend"]').value;
  const profile = form.querySelector('[name="profile"]').value;
  const line = (b) => {
    const rate = b.flops_per_s === null ? "throughput unknown (none measured or configured)" : `${num(b.flops_per_s, 3)} FLOP/s a run (${esc(b.throughput)})`;
    const why = [!profile && !b.builtin ? b.builtin_problem : null, b.problem].filter(Boolean).map(esc).join("; ");
    return `<span data-backend="${esc(b.name)}"><strong>${esc(b.name)}</strong>: ${esc(deviceText(b))}, ${b.slots} run${b.slots === 1 ? "" : "s"} at a time,
      ${b.active} active now, ${rate}${why ? ` · <span class="why">${why}</span>` : ""}</span>`;
  };
  const shown = backends.filter((b) => !chosen || b.name === chosen);
  info.innerHTML = shown.length ? `${chosen ? "" : "In routing order: "}${shown.map(line).join("<br>")}` : "";
}

async function loadBackends() {
  const sel = form.querySelector('[name="backend"]');
  const keep = sel.value;
  try {
    backends = (await api("/v1/backends", { auth: true })).backends;
  } catch (err) {
    backends = [];
    showError(form, err, { fallback: document.getElementById("sweep-backend-info") });
    return;
  }
  sel.innerHTML = `<option value="">auto: the first that can run it</option>` +
    backends.map((b) => `<option value="${esc(b.name)}">${esc(b.name)} (${esc(deviceText(b))}, ${b.slots} at a time)</option>`).join("");
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  fillProfiles();
}

// ------------------------------------------------------------ submit

/** A comma list as numbers; null with the message shown at field when an item is no number. */
function numbers(v, field, what, integers = false) {
  const items = (v[field] || "").split(",").map((s) => s.trim()).filter(Boolean);
  const bad = items.find((s) => !Number.isFinite(Number(s)) || (integers && !Number.isInteger(Number(s))));
  if (bad !== undefined) {
    showLocalError(form, field, `“${bad}” is not ${integers ? "a whole number" : "a number"}: ${what} are a comma list of numbers.`);
    return null;
  }
  return items.map(Number);
}

function body(v) {
  const sparsities = numbers(v, "grid.sparsities", "sparsities");
  const tokens = numbers(v, "grid.tokens", "token counts", true);
  const seeds = numbers(v, "grid.seeds", "seeds", true);
  const patterns = (v["grid.patterns"] || "").split(",").map((s) => s.trim()).filter(Boolean);
  const badPattern = patterns.find((p) => !/^\d+:\d+$/.test(p));
  if (badPattern !== undefined) showLocalError(form, "grid.patterns", `“${badPattern}” is not n:m (e.g. 2:4).`);
  if (!sparsities || !tokens || !seeds || badPattern !== undefined) return null;
  const grid = { sizes: sizeRows(), tokens };
  if (sparsities.length) grid.sparsities = sparsities;
  if (patterns.length) grid.patterns = patterns;
  if (seeds.length) grid.seeds = seeds;
  const b = { law: v.law, grid };
  if (v.backend) b.backend = v.backend;
  if (v.profile) b.profile = v.profile;
  if (v.strict) b.strict = true;
  if (v["fit.bootstrap"] !== "") b.fit = { bootstrap: numOrText(v["fit.bootstrap"]) };
  return b;
}

async function submit() {
  clearErrors(form);
  const posted = document.getElementById("sweep-posted");
  posted.innerHTML = "";
  form.dataset.state = "";
  const b = body(readForm(form));
  if (!b) {
    form.dataset.state = "error";
    return;
  }
  let s;
  try {
    s = await busy(form, () => api("/v1/sweeps", { json: b, auth: true }));
  } catch (err) {
    form.dataset.state = "error";
    showError(form, err);
    return;
  }
  form.dataset.state = "ok";
  posted.innerHTML = `<p class="ok" data-sweep="${s.id}">Sweep <a class="open-sweep" href="#/data?sweep=${s.id}">${s.id}</a> queued on the
      ${esc(s.backend)} backend: ${s.counts.total} runs${s.request.profile ? ` of the ${esc(s.request.profile)} profile` : ""}.</p>
    ${sweepPlanHtml(s)}`;
  ctx.navigate({ sweep: s.id }); // the view shows again: the backends' active runs too
}

/** Lists the backends again (the token may be new). */
export async function show() {
  if (!getToken()) {
    backends = [];
    document.getElementById("sweep-backend-info").textContent = "Enter the token to list the backends.";
    return;
  }
  await loadBackends();
}
