// Planner: S_opt for N non-zeros and a budget (GET optimal-sparsity), and the
// loss against sparsity at that budget (POST loss, a batch).
//
// The chart: for each sparsity S in 0, 0.01, ..., 0.99 (plus S_opt and any
// n:m pattern's sparsity) the model with N non-zeros trains on the data the
// same budget buys at S:
//     D(S) = dense_data x (1 - S) / mean_density(S)
// with dense_data = compute / (6 N) from the optimal-sparsity answer, and
// mean_density = 1 for the dense cost model, t0 + (t1 - t0)(1 - 3S/4) +
// (1 - t1)(1 - S) for gmp (t0, t1 the pruning window the answer reports;
// 1 - 0.625 S for the paper's 0.25..0.75), as in notes/law-math.md. The
// server evaluates L(S, N, D(S)) for all of them in one POST
// /v1/laws/{name}/loss; the point at S_opt must give the loss the
// optimal-sparsity answer gave, and the page checks that it does.
import { api, lawPath } from "../api.js";
import { clearStale, destroyChart, drawChart, markStale, PALETTE } from "../charts.js";
import { clearErrors, fillForm, readForm, showError, busy } from "../forms.js";
import { esc, num, qty, sci, shortUnit, unitHtml, warningsHtml } from "../format.js";
import { LawPicker } from "../lawpicker.js";
import { compare, ComparePicker } from "../compare.js";

const DEFAULTS = { law: "t5-c4", nonzeros: "1e9", budget: "compute", amount: "1.2e21", cost_model: "dense", prune_start: "0.25", prune_end: "0.75" };
const LOSS = "loss";

let form, picker, comparePicker, ctx, results, chartEl, chartErr, chartNote, compareCard, compareEl;
let generation = 0;

export function init(c) {
  ctx = c;
  form = document.getElementById("planner-form");
  results = document.getElementById("planner-results");
  chartEl = document.getElementById("planner-chart");
  chartErr = document.getElementById("planner-chart-error");
  chartNote = document.getElementById("planner-chart-note");
  compareEl = document.getElementById("planner-compare");
  compareCard = document.getElementById("planner-compare-card");
  comparePicker = new ComparePicker(form.querySelector(".compare-picker"));
  picker = new LawPicker(form.querySelector(".law-picker"), async (law) => {
    syncBudget();
    await comparePicker.set(comparePicker.value, law?.name);
  });
  form.addEventListener("change", (e) => {
    if (e.target.name === "budget" || e.target.name === "cost_model") syncBudget();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    ctx.navigate(toParams(readForm(form)));
  });
  document.getElementById("planner-yrange").addEventListener("change", () => ctx.navigate(toParams(readForm(form))));
}

function yMode() {
  return document.querySelector('#planner-yrange input[name="y"]:checked')?.value || "opt";
}

/** Form values -> the URL's parameters (the API's names where there is one). */
function toParams(v) {
  const p = { law: v.law, version: v.version, nonzeros: v.nonzeros, [v.budget]: v.amount, cost_model: v.cost_model };
  if (v.cost_model === "gmp") Object.assign(p, { prune_start: v.prune_start, prune_end: v.prune_end });
  Object.assign(p, { patterns: v.patterns, max_sparsity: v.max_sparsity, compare: comparePicker.value });
  if (yMode() === "full") p.y = "full"; // how the chart's loss axis is drawn (not an API parameter)
  return p;
}

/** Labels and hints in the selected law's units: FLOPs only for a law in tokens. */
function syncBudget() {
  const v = readForm(form);
  const data = picker.dataUnit || "data units";
  const compute = picker.computeUnit;
  const flops = !picker.dataUnit || picker.dataUnit === "tokens";
  const unitEl = form.querySelector(".budget-unit");
  unitEl.textContent = v.budget === "compute" ? shortUnit(compute) : data;
  unitEl.title = v.budget === "compute" ? compute : "";
  form.querySelector(".budget-label").textContent = v.budget === "compute" ? "Compute C" : "Dense data D_dense";
  form.querySelector(".budget-hint").textContent =
    v.budget !== "compute"
      ? `The budget of a dense model with N parameters seeing this many ${data}: C = 6 N D_dense.`
      : flops
        ? "C = 6 × N × D_dense: the FLOPs of training a dense model with N parameters on D_dense tokens."
        : `This law's data is in ${data}, so C = 6 × N × D_dense counts parameter-${data}, not FLOPs, and the server takes no compute budget for it: give the budget as dense data.`;
  form.querySelector(".gmp-only").hidden = v.cost_model !== "gmp";
}

export async function show(params) {
  const gen = ++generation;
  const budget = params.data !== undefined ? "data" : params.compute !== undefined ? "compute" : null;
  const v = { ...DEFAULTS, ...params };
  if (budget) Object.assign(v, { budget, amount: params[budget] });
  if (!v.prune_start) v.prune_start = DEFAULTS.prune_start;
  if (!v.prune_end) v.prune_end = DEFAULTS.prune_end;
  fillForm(form, { patterns: "", max_sparsity: "", ...v, law: undefined, version: undefined });
  fillForm(document.getElementById("planner-yrange"), { y: params.y === "full" ? "full" : "opt" });
  const law = await picker.set(v.law || DEFAULTS.law, v.version || "");
  if (gen !== generation) return;
  await comparePicker.set(params.compare || "", law?.name || v.law);
  if (gen !== generation) return;
  // No budget in the link: FLOPs for a law in tokens, data for the others.
  if (!budget && law && law.units.data !== "tokens") fillForm(form, { budget: "data", amount: "1e10" });
  syncBudget();
  await run(gen);
}

async function run(gen) {
  clearErrors(form);
  chartErr.textContent = "";
  const v = readForm(form);
  const query = { nonzeros: v.nonzeros, [v.budget]: v.amount, cost_model: v.cost_model, patterns: v.patterns, max_sparsity: v.max_sparsity, version: v.version };
  if (v.cost_model === "gmp") Object.assign(query, { prune_start: v.prune_start, prune_end: v.prune_end });
  if (v.amount === "") delete query[v.budget];
  let r;
  try {
    r = await busy(form, () => api(lawPath(v.law, "/optimal-sparsity"), { query }));
  } catch (err) {
    if (gen !== generation) return;
    showError(form, err, { fieldMap: { compute: "amount", data: "amount", name: "law" } });
    destroyChart(chartEl);
    clearStale(chartEl);
    chartEl.innerHTML = "";
    chartNote.textContent = "";
    delete chartEl.dataset.consistent;
    results.innerHTML = `<p class="hint">No plan: see the message beside the input.</p>`;
    results.dataset.state = "error";
    results.dataset.hash = location.hash;
    return;
  }
  if (gen !== generation) return;
  renderResults(r);
  const others = await compareWith(v, query, gen);
  if (gen !== generation) return;
  await drawLossChart(r, v, gen, others);
}

/**
 * The same question to the laws to compare with (GET /v1/compare/...): the
 * side-by-side table, and the answers of the other laws that have one, for
 * the chart to overlay. Unknown laws: the server's 404 beside the list.
 */
async function compareWith(v, query, gen) {
  const names = comparePicker.names;
  compareCard.hidden = names.length === 0;
  compareEl.innerHTML = "";
  delete compareEl.dataset.state;
  if (!names.length) return [];
  let answers;
  try {
    answers = await compare("optimal-sparsity", v.law, v.version, names, query);
  } catch (err) {
    if (gen !== generation) return [];
    showError(form, err, { fieldMap: { laws: "laws" } });
    compareEl.innerHTML = `<p class="hint">No comparison: see the message beside the list.</p>`;
    compareEl.dataset.state = "error";
    return [];
  }
  if (gen !== generation) return [];
  const cell = (a, key, opts) => (a.error ? "" : `<td>${qty(a[key], a.units?.[key] ?? "", opts)}</td>`);
  const rows = answers
    .map((a) => {
      const head = `<th scope="row">${esc(a.law.name)} v${a.law.version}</th>`;
      if (a.error)
        return `<tr data-law="${esc(a.law.name)}" data-error="${esc(a.error.code)}">${head}<td colspan="5" class="warn">${esc(a.error.message)}</td></tr>`;
      return `<tr data-law="${esc(a.law.name)}" data-sparsity="${a.sparsity}" data-loss="${a.loss}">${head}
        <td>${qty(a.sparsity, "", { kind: "sparsity" })}${interval(a.interval, "", "95 %")}</td>
        ${cell(a, "loss")}${cell(a, "dense_loss")}${cell(a, "improvement", { digits: 4 })}${cell(a, "data", { digits: 4 })}</tr>`;
    })
    .join("");
  compareEl.innerHTML = `<table class="compare"><thead><tr><th>law</th><th>S<sub>opt</sub></th><th>loss</th><th>dense loss</th><th>improvement</th><th>data seen</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="hint">Each row is what that law answers for these inputs; the chart overlays the loss against sparsity of each law that answers.</p>`;
  compareEl.dataset.state = "ok";
  compareEl.dataset.hash = location.hash;
  return answers.slice(1).filter((a) => !a.error);
}

function row(label, html, extra = "") {
  return `<div class="kv"><dt>${label}</dt><dd>${html}${extra}</dd></div>`;
}

function interval(iv, unit, level = "95 %", name = "") {
  if (!iv) return "";
  return ` <span class="interval"${name ? ` data-out="${name}"` : ""} data-lo="${iv[0]}" data-hi="${iv[1]}">[${esc(num(iv[0], 4))}, ${esc(num(iv[1], 4))}] ${esc(level)} bootstrap interval</span>`;
}

function levelText() {
  const level = picker.law?.fit?.level;
  return level ? `${num(100 * level, 3)} %` : "95 %";
}

function renderResults(r) {
  results.dataset.hash = location.hash; // which inputs these results answer
  const u = r.units;
  const L = u.loss || LOSS;
  const pattern = r.pattern && r.pattern !== "unstructured" ? ` <span class="tag">pattern ${esc(r.pattern)}</span>` : "";
  const pays = r.sparsity_pays_above_compute !== undefined ? `, i.e. compute ${qty(r.sparsity_pays_above_compute, u.sparsity_pays_above_compute, { digits: 4 })}` : "";
  results.dataset.state = "ok";
  results.innerHTML = `
    <h2>Optimal sparsity for ${esc(r.law.name)} v${r.law.version}</h2>
    ${warningsHtml(r.warnings, picker.law?.name === r.law.name && picker.law?.version === r.law.version ? picker.law.verdict : "")}
    <div class="headline">
      <div><span class="big">S<sub>opt</sub> = ${qty(r.sparsity, "", { kind: "sparsity", name: "sparsity" })}</span>${pattern}${interval(r.interval, "", levelText(), "sparsity_interval")}</div>
      <div class="gain">loss ${qty(r.loss, L, { name: "loss" })} <span class="interval-slot" data-for="loss"></span>
        vs dense ${qty(r.dense_loss, u.dense_loss || L, { name: "dense_loss" })} <span class="interval-slot" data-for="dense_loss"></span></div>
    </div>
    <dl class="kvs">
      ${row("Improvement over dense", qty(r.improvement, u.improvement || L, { digits: 4, name: "improvement" }), r.improvement_percent !== undefined ? ` <span class="unit">(${num(r.improvement_percent, 3)} % of the dense loss)</span>` : "")}
      ${row("Non-zero parameters N", qty(r.nonzeros, u.nonzeros, { name: "nonzeros" }))}
      ${row("Total parameters N / (1 − S)", qty(r.total_params, u.total_params, { name: "total_params" }))}
      ${row("Data the sparse model sees", qty(r.data, u.data, { name: "data" }))}
      ${row("Data a dense model would see", qty(r.dense_data, u.dense_data, { name: "dense_data" }))}
      ${row("Compute", qty(r.compute, u.compute, { digits: 4, name: "compute" }))}
      ${row("Cost model", `<span class="value" data-out="cost_model">${esc(r.cost_model)}</span>${r.pruning ? ` <span class="unit">pruning from ${num(r.pruning.start)} to ${num(r.pruning.end)} of training</span>` : ""}`)}
      ${row("Sparsity starts to pay above dense data", qty(r.sparsity_pays_above_data, u.sparsity_pays_above_data, { digits: 4 }) + pays)}
      ${row("Dense compute-optimal data for N", qty(r.dense_optimal_data, u.dense_optimal_data, { digits: 4 }) + (r.dense_optimal_compute !== undefined ? `, i.e. compute ${qty(r.dense_optimal_compute, u.dense_optimal_compute, { digits: 4 })}` : ""))}
    </dl>
    <p class="hint">${esc(r.budget?.note || "")}</p>`;
}

function meanDensity(s, r) {
  if (r.cost_model !== "gmp") return 1;
  const t0 = r.pruning?.start ?? 0.25;
  const t1 = r.pruning?.end ?? 0.75;
  return t0 + (t1 - t0) * (1 - 0.75 * s) + (1 - t1) * (1 - s);
}

function patternSparsities(patterns) {
  return (patterns || "")
    .split(",")
    .map((p) => p.trim().split(":").map(Number))
    .filter(([n, m]) => n > 0 && m > n)
    .map(([n, m]) => ({ label: `${n}:${m}`, s: 1 - n / m }));
}

/** The loss at each sparsity of sList for answer r's law and budget (POST loss). */
function lossPoints(r, sList) {
  return sList.map((s) => ({ sparsity: s, nonzeros: r.nonzeros, data: (r.dense_data * (1 - s)) / meanDensity(s, r) }));
}

async function drawLossChart(r, v, gen, others = []) {
  const pats = patternSparsities(v.patterns);
  const xs = new Set();
  for (let i = 0; i <= 99; i++) xs.add(i / 100);
  xs.add(r.sparsity);
  for (const p of pats) xs.add(p.s);
  const sList = [...xs].sort((a, b) => a - b);
  const points = lossPoints(r, sList);
  let b, overlays;
  try {
    b = await api(lawPath(r.law.name, "/loss"), { json: { points }, query: { version: r.law.version } });
    overlays = await Promise.all(
      others.map(async (o) => {
        const xs = [...new Set([...sList, o.sparsity])].sort((a, c) => a - c);
        const ob = await api(lawPath(o.law.name, "/loss"), { json: { points: lossPoints(o, xs) }, query: { version: o.law.version } });
        // on the main law's x values, plus this law's own optimum
        const at = new Map(xs.map((s, i) => [s, ob.points[i].loss]));
        return { o, at };
      })
    );
  } catch (err) {
    if (gen !== generation) return;
    showError(form, err, { fallback: chartErr });
    markStale(chartEl, err.message);
    return;
  }
  if (gen !== generation) return;
  const loss = b.points.map((p) => p.loss);
  const iOpt = sList.indexOf(r.sparsity);
  const iDense = sList.indexOf(0);
  const hasIv = b.points.every((p) => Array.isArray(p.interval));
  // The chart's own check: its point at S_opt is the optimum the server reported.
  const mismatch = Math.abs(loss[iOpt] - r.loss) > 1e-9 * Math.abs(r.loss);
  chartEl.dataset.optLoss = String(loss[iOpt]);
  chartEl.dataset.hash = location.hash;
  chartEl.dataset.consistent = mismatch ? "no" : "yes";

  if (hasIv) {
    for (const [name, i] of [["loss", iOpt], ["dense_loss", iDense]]) {
      const slot = results.querySelector(`.interval-slot[data-for="${name}"]`);
      if (slot) slot.innerHTML = interval(b.points[i].interval, LOSS, levelText(), `${name}_interval`);
    }
  }
  const only = (i) => sList.map((_, j) => (j === i ? loss[j] : null));
  const series = [{ label: "loss at this budget", unit: LOSS, color: PALETTE[0] }];
  const data = [sList, loss];
  let bands;
  if (hasIv) {
    series.push({ label: `${levelText()} low`, unit: LOSS, color: "#9ab8d6", width: 1, dash: [4, 3] });
    series.push({ label: `${levelText()} high`, unit: LOSS, color: "#9ab8d6", width: 1, dash: [4, 3] });
    data.push(b.points.map((p) => p.interval[0]), b.points.map((p) => p.interval[1]));
    bands = [{ series: [3, 2], fill: "rgba(31,111,178,0.10)" }];
  }
  if (pats.length) {
    series.push({ label: `patterns ${pats.map((p) => p.label).join(", ")}`, unit: LOSS, color: PALETTE[2], pointsOnly: true, pointSize: 9 });
    data.push(sList.map((s, j) => (pats.some((p) => p.s === s) ? loss[j] : null)));
  }
  series.push({ label: `S_opt = ${num(r.sparsity, 4)}`, unit: LOSS, color: PALETTE[1], pointsOnly: true, pointSize: 11 });
  data.push(only(iOpt));
  series.push({ label: "dense (S = 0)", unit: LOSS, color: "#333", pointsOnly: true, pointSize: 9, pointFill: "#fff" });
  data.push(only(iDense));
  // the laws compared with: each its own curve (dashed) and optimum, on
  // x values that hold every law's S_opt
  let xsAll = sList;
  if (overlays.length) {
    xsAll = [...new Set([...sList, ...overlays.map((x) => x.o.sparsity)])].sort((a, c) => a - c);
    const lift = (col) => xsAll.map((s) => { const i = sList.indexOf(s); return i < 0 ? null : col[i]; });
    for (let k = 1; k < data.length; k++) data[k] = lift(data[k]);
    data[0] = xsAll;
    overlays.forEach(({ o, at }, j) => {
      const color = PALETTE[(j + 3) % PALETTE.length];
      series.push({ label: `${o.law.name} v${o.law.version}`, unit: LOSS, color, dash: [7, 4] });
      data.push(xsAll.map((s) => (at.has(s) ? at.get(s) : null)));
      series.push({ label: `${o.law.name}: S_opt = ${num(o.sparsity, 4)}`, unit: LOSS, color, pointsOnly: true, pointSize: 10 });
      data.push(xsAll.map((s) => (s === o.sparsity ? o.loss : null)));
    });
  }
  chartEl.dataset.overlays = String(overlays.length);
  chartNote.innerHTML = `N = ${esc(sci(r.nonzeros))} ${unitHtml(r.units.nonzeros)}, budget ${esc(sci(r.compute, 4))} ${unitHtml(r.units.compute)}.
    At each sparsity S the model trains on the data that budget buys:
    D(S) = D<sub>dense</sub> × (1 − S) / ${r.cost_model === "gmp" ? `(${num(r.pruning?.start ?? 0.25)} + ${num((r.pruning?.end ?? 0.75) - (r.pruning?.start ?? 0.25))}(1 − 3S/4) + ${num(1 - (r.pruning?.end ?? 0.75))}(1 − S)), the mean density of gradual pruning` : "1 (dense cost model)"}.
    ${mismatch ? `<strong class="warn">The chart's loss at S_opt (${num(loss[iOpt], 8)}) differs from the optimum's (${num(r.loss, 8)}).</strong>` : ""}`;
  // Around the optimum, the loss axis spans a few times the gain over dense, so
  // the bowl shows even when the gain is a thousandth of the loss.
  const span = r.dense_loss - r.loss;
  let yRange;
  if (yMode() === "opt" && span > 0) {
    yRange = [r.loss - 0.4 * span, r.loss + 3 * span];
    for (const { o } of overlays) { // every law's bowl in view
      const sp = o.dense_loss - o.loss;
      yRange = [Math.min(yRange[0], o.loss - 0.4 * sp), Math.max(yRange[1], o.loss + 3 * Math.max(sp, span))];
    }
  }
  chartEl.dataset.yMode = yRange ? "opt" : "full";
  drawChart(chartEl, {
    x: { label: "sparsity S (fraction of weights zero)", short: "S", unit: "", range: [0, 1] },
    y: { label: "loss (law's units)", unit: LOSS, range: yRange },
    series,
    data,
    bands,
    markers: [{ x: r.sparsity, label: `S_opt = ${num(r.sparsity, 3)}`, color: PALETTE[1] }],
  });
}

export function hide() {
  generation++;
}
