// Contours: iso-S_opt lines over (non-zeros, compute), log-log, beside the
// dense compute-optimal line (GET contours).
import { api, lawPath } from "../api.js";
import { drawChart, join, markStale, PALETTE } from "../charts.js";
import { clearErrors, fillForm, readForm, showError, busy } from "../forms.js";
import { esc, shortUnit } from "../format.js";
import { LawPicker } from "../lawpicker.js";

const DEFAULTS = { law: "t5-c4", levels: "0.1,0.25,0.5,0.75,0.9", nonzeros_min: "1e7", nonzeros_max: "1e12" };
const FIELDS = ["law", "version", "levels", "nonzeros_min", "nonzeros_max"];

let form, picker, ctx;
let generation = 0;

export function init(c) {
  ctx = c;
  form = document.getElementById("contours-form");
  picker = new LawPicker(form.querySelector(".law-picker"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = readForm(form);
    ctx.navigate(Object.fromEntries(FIELDS.map((k) => [k, v[k]])));
  });
}

export async function show(params) {
  const gen = ++generation;
  const v = { ...DEFAULTS, ...params };
  fillForm(form, { levels: "", nonzeros_min: "", nonzeros_max: "", ...v, law: undefined, version: undefined });
  await picker.set(v.law || DEFAULTS.law, v.version || "");
  if (gen !== generation) return;
  clearErrors(form);
  const q = readForm(form);
  let r;
  try {
    r = await busy(form, () =>
      api(lawPath(q.law, "/contours"), {
        query: { levels: q.levels, nonzeros_min: q.nonzeros_min, nonzeros_max: q.nonzeros_max, version: q.version },
      })
    );
  } catch (err) {
    if (gen !== generation) return;
    showError(form, err, { fieldMap: { name: "law" } });
    markStale(document.getElementById("contours-chart"), err.message);
    return;
  }
  if (gen !== generation) return;
  const u = r.units;
  const computeUnit = shortUnit(u.compute);
  document.getElementById("contours-sub").textContent = `${r.law.name} v${r.law.version}, cost model ${r.cost_model}`;
  document.getElementById("contours-note").innerHTML =
    `At fixed N more compute buys more data, so S<sub>opt</sub> grows upward: above the line for a level,
     the optimal sparsity is larger than that level. Every line is parallel to the dense compute-optimal line
     (dashed), the budget where a dense model with N parameters is compute-optimal.
     Cost model: ${esc(r.cost_model)}.${r.series.some((s) => s.compute_lo) ? " Shaded: the 95 % interval of each line over the fit's bootstrap draws." : ""}${r.bands ? ` ${esc(r.bands)}` : ""}`;
  // each line, and for a fitted law's lines their 95 % band (compute_lo, compute_hi) filled between
  const series = [];
  const cols = [];
  const bands = [];
  r.series.forEach((s, i) => {
    const line = s.line === "dense_optimal"
      ? { label: "dense compute-optimal", color: "#222", dash: [6, 4], width: 2, unit: computeUnit }
      : { label: `S_opt = ${s.sparsity}`, color: PALETTE[i % PALETTE.length], unit: computeUnit };
    series.push(line);
    cols.push([s.nonzeros, s.compute]);
    if (Array.isArray(s.compute_lo) && Array.isArray(s.compute_hi)) {
      const at = series.length; // this line's index among uPlot's series (x is 0)
      for (const end of ["low", "high"])
        series.push({ label: `${line.label} 95 % ${end}`, color: line.color, width: 1, dash: [3, 3], unit: computeUnit });
      cols.push([s.nonzeros, s.compute_lo], [s.nonzeros, s.compute_hi]);
      bands.push({ series: [at + 2, at + 1], fill: line.color + "22" });
    }
  });
  drawChart(document.getElementById("contours-chart"), {
    x: { label: `non-zeros N (${u.nonzeros}, log)`, short: "N", unit: u.nonzeros, log: true },
    y: { label: `compute C (${computeUnit}, log)`, unit: computeUnit, log: true },
    series,
    data: join(cols),
    bands: bands.length ? bands : undefined,
  });
}

export function hide() {
  generation++;
}
