// Curves: loss against data for several sparsities at fixed N
// (GET curves/loss-vs-data) and S_opt against the budget for several N
// (GET curves/optimal-sparsity). Data and compute span decades: log x axes.
import { api, lawPath } from "../api.js";
import { drawChart, join, markStale, PALETTE } from "../charts.js";
import { clearErrors, fillForm, readForm, showError, busy } from "../forms.js";
import { sci, shortUnit } from "../format.js";
import { LawPicker } from "../lawpicker.js";
import { compare, ComparePicker } from "../compare.js";

const DEFAULTS = { law: "t5-c4", nonzeros: "1e9", sparsities: "0,0.5,0.75,0.875", nonzeros_list: "1e8,1e9,1e10", cost_model: "dense", budget: "compute" };
const FIELDS = ["law", "version", "nonzeros", "sparsities", "data_min", "data_max", "nonzeros_list", "cost_model", "budget", "budget_min", "budget_max"];
// One dash per law when several are overlaid: the first solid.
const DASHES = [undefined, [8, 4], [2, 3], [12, 3, 2, 3]];

let form, picker, comparePicker, ctx;
let generation = 0;

export function init(c) {
  ctx = c;
  form = document.getElementById("curves-form");
  comparePicker = new ComparePicker(form.querySelector(".compare-picker"));
  picker = new LawPicker(form.querySelector(".law-picker"), async (law) => {
    syncBudget();
    await comparePicker.set(comparePicker.value, law?.name);
  });
  form.addEventListener("change", (e) => {
    if (e.target.name === "budget") syncBudget();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = readForm(form);
    ctx.navigate({ ...Object.fromEntries(FIELDS.map((k) => [k, v[k]])), compare: comparePicker.value });
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
  await comparePicker.set(params.compare || "", law?.name || v.law);
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
  let answers;
  try {
    answers = await curves("curves/loss-vs-data", v, { nonzeros: v.nonzeros, sparsities: v.sparsities, data_min: v.data_min, data_max: v.data_max });
  } catch (err) {
    if (gen !== generation) return;
    showError(form, err, { fieldMap: { name: "law" } });
    markStale(el, err.message);
    return;
  }
  if (gen !== generation) return;
  const r = answers[0];
  const u = r.units;
  document.getElementById("curves-lvd-sub").textContent = `${lawsText(answers)}, N = ${sci(r.nonzeros)} ${u.nonzeros}`;
  drawChart(el, overlay(answers, "data", "loss", (s) => `S = ${s.sparsity}`, {
    x: { label: `data D (${u.data}, log)`, short: "D", unit: u.data, log: true },
    y: { label: "loss (law's units)", unit: "loss" },
  }));
}

/** One curves query for the law, or for it and the laws compared with. */
async function curves(query, v, params) {
  const others = comparePicker.names;
  if (!others.length) return [await api(lawPath(v.law, "/" + query), { query: { ...params, version: v.version } })];
  return (await compare(query, v.law, v.version, others, params)).filter((a) => !a.error);
}

function lawsText(answers) {
  return answers.map((a) => `${a.law.name} v${a.law.version}`).join(" vs ");
}

/**
 * The chart spec of every series of every answer on shared x values: colour
 * by series, dash by law, and for a fitted law's series its band (x_lo,
 * x_hi columns) as two thin lines with the 95 % interval filled between.
 */
function overlay(answers, xKey, yKey, name, axes) {
  const cols = [];
  const series = [];
  const bands = [];
  answers.forEach((a, j) => {
    const prefix = answers.length > 1 ? `${a.law.name} · ` : "";
    a.series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      cols.push([s[xKey], s[yKey]]);
      series.push({ label: prefix + name(s), color, dash: DASHES[j % DASHES.length] });
      const lo = s[yKey + "_lo"], hi = s[yKey + "_hi"];
      if (Array.isArray(lo) && Array.isArray(hi)) {
        const at = series.length; // this line's index among uPlot's series (x is 0)
        cols.push([s[xKey], lo], [s[xKey], hi]);
        series.push({ label: `${prefix}${name(s)} 95 % low`, color, width: 1, dash: [3, 3] });
        series.push({ label: `${prefix}${name(s)} 95 % high`, color, width: 1, dash: [3, 3] });
        bands.push({ series: [at + 2, at + 1], fill: color + "22" });
      }
    });
  });
  return { ...axes, series, data: join(cols), bands: bands.length ? bands : undefined };
}

async function soptCurve(gen) {
  const v = readForm(form);
  const el = document.getElementById("curves-sopt");
  const range = v.budget === "data" ? { data_min: v.budget_min, data_max: v.budget_max } : { compute_min: v.budget_min, compute_max: v.budget_max };
  let answers;
  try {
    answers = await curves("curves/optimal-sparsity", v, { nonzeros: v.nonzeros_list, cost_model: v.cost_model, ...range });
  } catch (err) {
    if (gen !== generation) return;
    showError(form, err, {
      fieldMap: { name: "law", nonzeros: "nonzeros_list", compute_min: "budget_min", compute_max: "budget_max", data_min: "budget_min", data_max: "budget_max" },
    });
    markStale(el, err.message);
    return;
  }
  if (gen !== generation) return;
  const r = answers[0];
  const u = r.units;
  // laws whose x differs from the first's (a law in examples has no compute axis) cannot share the chart
  const shown = answers.filter((a) => a.x === r.x);
  const xKey = r.x === "dense_data" ? "dense_data" : "compute";
  const xLabel = xKey === "compute" ? `compute C (${shortUnit(u.compute)}, log)` : `dense data D_dense (${u.dense_data}, log)`;
  document.getElementById("curves-sopt-sub").textContent = `${lawsText(shown)}, cost model ${r.cost_model}`;
  drawChart(el, overlay(shown, xKey, "sparsity", (s) => `N = ${sci(s.nonzeros)} ${u.nonzeros}`, {
    x: { label: xLabel, short: xKey === "compute" ? "C" : "D_dense", unit: xKey === "compute" ? shortUnit(u.compute) : u.dense_data, log: true },
    y: { label: "S_opt (fraction zero)", unit: "", range: [0, 1] },
  }));
}

export function hide() {
  generation++;
}
