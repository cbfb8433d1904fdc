// Curves: loss against data for several sparsities at fixed N
// (GET curves/loss-vs-data) and S_opt against the budget for several N
// (GET curves/optimal-sparsity). Data and compute span decades: log x axes.
import { api, lawPath } from "../api.js";
import { drawChart, join, markStale, PALETTE } from "../charts.js";
import { clearErrors, fillForm, readForm, showError, busy } from "../forms.js";
import { sci, shortUnit } from "../format.js";
import { LawPicker } from "../lawpicker.js";

const DEFAULTS = { law: "t5-c4", nonzeros: "1e9", sparsities: "0,0.5,0.75,0.875", nonzeros_list: "1e8,1e9,1e10", cost_model: "dense", budget: "compute" };
const FIELDS = ["law", "version", "nonzeros", "sparsities", "data_min", "data_max", "nonzeros_list", "cost_model", "budget", "budget_min", "budget_max"];

let form, picker, ctx;
let generation = 0;

export function init(c) {
  ctx = c;
  form = document.getElementById("curves-form");
  picker = new LawPicker(form.querySelector(".law-picker"), () => syncBudget());
  form.addEventListener("change", (e) => {
    if (e.target.name === "budget") syncBudget();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = readForm(form);
    ctx.navigate(Object.fromEntries(FIELDS.map((k) => [k, v[k]])));
  });
}

/** Budget units in the selected law's units: FLOPs only for a law in tokens. */
function syncBudget() {
  const v = readForm(form);
  const compute = picker.computeUnit;
  for (const el of form.querySelectorAll(".budget-unit")) {
    el.textContent = v.budget === "compute" ? shortUnit(compute) : picker.dataUnit || "data units";
    el.title = v.budget === "compute" ? compute : "";
  }
}

export async function show(params) {
  const gen = ++generation;
  const v = { ...DEFAULTS, ...params };
  const blank = Object.fromEntries(FIELDS.filter((k) => k !== "law" && k !== "version").map((k) => [k, ""]));
  fillForm(form, { ...blank, ...v, law: undefined, version: undefined });
  const law = await picker.set(v.law || DEFAULTS.law, v.version || "");
  if (gen !== generation) return;
  // A law whose data is not in tokens has no FLOPs: give its budget as data.
  if (law && law.units.data !== "tokens" && !params.budget) fillForm(form, { budget: "data" });
  syncBudget();
  clearErrors(form);
  await busy(form, () => Promise.all([lossVsData(gen), soptCurve(gen)]));
}

async function lossVsData(gen) {
  const v = readForm(form);
  const el = document.getElementById("curves-lvd");
  let r;
  try {
    r = await api(lawPath(v.law, "/curves/loss-vs-data"), {
      query: { nonzeros: v.nonzeros, sparsities: v.sparsities, data_min: v.data_min, data_max: v.data_max, version: v.version },
    });
  } catch (err) {
    if (gen !== generation) return;
    showError(form, err, { fieldMap: { name: "law" } });
    markStale(el, err.message);
    return;
  }
  if (gen !== generation) return;
  const u = r.units;
  document.getElementById("curves-lvd-sub").textContent = `${r.law.name} v${r.law.version}, N = ${sci(r.nonzeros)} ${u.nonzeros}`;
  const data = join(r.series.map((s) => [s.data, s.loss]));
  drawChart(el, {
    x: { label: `data D (${u.data}, log)`, short: "D", unit: u.data, log: true },
    y: { label: "loss (law's units)", unit: "loss" },
    series: r.series.map((s, i) => ({ label: `S = ${s.sparsity}`, color: PALETTE[i % PALETTE.length] })),
    data,
  });
}

async function soptCurve(gen) {
  const v = readForm(form);
  const el = document.getElementById("curves-sopt");
  const range = v.budget === "data" ? { data_min: v.budget_min, data_max: v.budget_max } : { compute_min: v.budget_min, compute_max: v.budget_max };
  let r;
  try {
    r = await api(lawPath(v.law, "/curves/optimal-sparsity"), {
      query: { nonzeros: v.nonzeros_list, cost_model: v.cost_model, version: v.version, ...range },
    });
  } catch (err) {
    if (gen !== generation) return;
    showError(form, err, {
      fieldMap: { name: "law", nonzeros: "nonzeros_list", compute_min: "budget_min", compute_max: "budget_max", data_min: "budget_min", data_max: "budget_max" },
    });
    markStale(el, err.message);
    return;
  }
  if (gen !== generation) return;
  const u = r.units;
  const xKey = r.x === "dense_data" ? "dense_data" : "compute";
  const xLabel = xKey === "compute" ? `compute C (${shortUnit(u.compute)}, log)` : `dense data D_dense (${u.dense_data}, log)`;
  document.getElementById("curves-sopt-sub").textContent = `${r.law.name} v${r.law.version}, cost model ${r.cost_model}`;
  const data = join(r.series.map((s) => [s[xKey], s.sparsity]));
  drawChart(el, {
    x: { label: xLabel, short: xKey === "compute" ? "C" : "D_dense", unit: xKey === "compute" ? shortUnit(u.compute) : u.dense_data, log: true },
    y: { label: "S_opt (fraction zero)", unit: "", range: [0, 1] },
    series: r.series.map((s, i) => ({ label: `N = ${sci(s.nonzeros)} ${u.nonzeros}`, color: PALETTE[i % PALETTE.length] })),
    data,
  });
}

export function hide() {
  generation++;
}
