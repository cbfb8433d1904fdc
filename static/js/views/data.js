// Data & fits: upload a sweep (file picker or drag and drop), list datasets,
// start a fit, watch it, and draw predicted against measured and the
// residuals, held-out rows marked; jobs.js lists the fits and the sweeps,
// sweepform.js starts a sweep.
// Every route here needs the bearer token.
import { api, forgetLaws, getToken } from "../api.js";
import { drawChart, destroyChart, PALETTE } from "../charts.js";
import { busy, clearErrors, readForm, rowErrorsTable, showError, showLocalError } from "../forms.js";
import { dateTime, esc, num, unitHtml, warningsHtml } from "../format.js";
import * as jobs from "./jobs.js";
import * as sweepForm from "./sweepform.js";
import { stateBadge } from "./jobs.js";
import { coefUnit } from "./laws.js";

let ctx, upForm, fitForm, chosenFile = null;
let generation = 0;
let current = {};
const datasets = new Map(); // id -> dataset, from the last listing

const TYPES = { csv: "text/csv", json: "application/json", ndjson: "application/x-ndjson", jsonl: "application/x-ndjson" };

export function init(c) {
  ctx = c;
  upForm = document.getElementById("upload-form");
  fitForm = document.getElementById("fit-form");
  const input = document.getElementById("file-input");
  const zone = document.getElementById("drop-zone");
  input.addEventListener("change", () => choose(input.files[0] || null));
  for (const ev of ["dragenter", "dragover"])
    zone.addEventListener(ev, (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
  for (const ev of ["dragleave", "dragend"]) zone.addEventListener(ev, () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const f = e.dataTransfer?.files?.[0];
    if (f) choose(f);
  });
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  upForm.addEventListener("submit", (e) => {
    e.preventDefault();
    upload();
  });
  fitForm.addEventListener("submit", (e) => {
    e.preventDefault();
    startFit();
  });
  fitForm.addEventListener("change", (e) => {
    if (e.target.name === "largest_nonzeros" || e.target.name === "run_ids") {
      const r = fitForm.querySelector(`input[name="holdout"][value="${e.target.name === "run_ids" ? "run_ids" : "largest"}"]`);
      r.checked = true;
    }
  });
  document.getElementById("datasets-list").addEventListener("click", onDatasetAction);
  jobs.init();
  sweepForm.init(c);
  window.addEventListener("sparselaw:token", () => {
    if (!document.getElementById("view-data").hidden) show(current);
  });
}

function choose(file) {
  chosenFile = file;
  document.getElementById("file-name").textContent = file ? `${file.name}, ${num(file.size)} bytes` : "";
  const name = upForm.querySelector('[name="name"]');
  if (file && !name.value.trim()) name.value = file.name.replace(/\.[^.]*$/, "").slice(0, 64);
  document.getElementById("upload-ok").textContent = "";
}

function typeFor(file, chosen) {
  if (chosen) return chosen;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  return TYPES[ext] || file.type || "application/octet-stream";
}

async function upload() {
  clearErrors(upForm);
  const rowErrors = document.getElementById("row-errors");
  const ok = document.getElementById("upload-ok");
  rowErrors.innerHTML = "";
  ok.textContent = "";
  upForm.dataset.state = "";
  if (!chosenFile) {
    showLocalError(upForm, "file", "Choose a sweep file, or drop one on the box above.");
    return;
  }
  const v = readForm(upForm);
  try {
    const r = await busy(upForm, () =>
      api("/v1/datasets", {
        method: "POST",
        auth: true,
        body: chosenFile,
        contentType: typeFor(chosenFile, v.format),
        query: { name: v.name, base_params: v.base_params, tokens_per_step: v.tokens_per_step, data_unit: v.data_unit },
      })
    );
    upForm.dataset.state = "ok";
    ok.innerHTML = `Stored dataset <strong data-dataset="${r.id}">${r.id}</strong>, “${esc(r.name)}”: ${r.rows} rows;
      N in ${esc(r.units.nonzeros)}, data in ${esc(r.units.data)}.`;
    await loadDatasets(r.id);
    const law = fitForm.querySelector('[name="law"]');
    if (!law.value.trim()) law.value = `${r.name}`.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 56) + "-fit";
  } catch (err) {
    upForm.dataset.state = "error";
    showError(upForm, err, { fieldMap: { "Content-Type": "Content-Type", body: "file" } });
    rowErrors.innerHTML = rowErrorsTable(err);
  }
}

async function loadDatasets(select) {
  const list = document.getElementById("datasets-list");
  const errEl = document.getElementById("datasets-error");
  const sel = fitForm.querySelector('[name="dataset"]');
  errEl.textContent = "";
  if (!getToken()) {
    list.innerHTML = `<p class="hint">Enter the token to list datasets.</p>`;
    sel.innerHTML = "";
    return;
  }
  let r;
  try {
    r = await api("/v1/datasets", { auth: true });
  } catch (err) {
    showError(document.getElementById("datasets-card"), err, { fallback: errEl });
    return;
  }
  const ds = r.datasets;
  datasets.clear();
  for (const d of ds) datasets.set(String(d.id), d);
  const keep = select ?? (sel.value || current.dataset);
  sel.innerHTML = ds.length
    ? ds
        .slice()
        .reverse()
        .map((d) => `<option value="${d.id}">${d.id}: ${esc(d.name)} (${d.rows} rows, data in ${esc(d.units.data)})</option>`)
        .join("")
    : `<option value="">no datasets yet: upload one</option>`;
  if (keep && ds.some((d) => String(d.id) === String(keep))) sel.value = String(keep);
  list.innerHTML = ds.length
    ? `<div class="scroll"><table class="datasets"><thead><tr><th>id</th><th>name</th><th class="num">rows</th>
        <th>data unit</th><th>created</th><th></th></tr></thead><tbody>${ds
          .slice()
          .reverse()
          .map(
            (d) => `<tr data-id="${d.id}"><td>${d.id}</td><td>${esc(d.name)}</td><td class="num">${d.rows}</td>
              <td>${esc(d.units.data)}</td><td>${esc(dateTime(d.created_at))}</td>
              <td class="row-actions"><button type="button" class="link" data-act="fit">fit this</button>
                <button type="button" class="link danger" data-act="delete">delete</button></td></tr>`
          )
          .join("")}</tbody></table></div>`
    : `<p class="hint">No datasets yet.</p>`;
}

async function onDatasetAction(e) {
  const btn = e.target.closest("button[data-act]");
  if (!btn) return;
  const id = btn.closest("tr").dataset.id;
  if (btn.dataset.act === "fit") {
    fitForm.querySelector('[name="dataset"]').value = id;
    fitForm.querySelector('[name="law"]').focus();
    return;
  }
  if (btn.dataset.act === "delete") {
    if (btn.dataset.armed !== "1") {
      btn.dataset.armed = "1";
      btn.textContent = "delete: sure?";
      return;
    }
    try {
      await api(`/v1/datasets/${id}`, { method: "DELETE", auth: true });
      await loadDatasets();
    } catch (err) {
      showError(document.getElementById("datasets-card"), err, { fallback: document.getElementById("datasets-error") });
    }
  }
}

/** A number when the text is one; the text itself otherwise, so the server names what is wrong. */
function numOrText(s) {
  if (s === undefined || s === "") return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : s;
}

async function startFit() {
  clearErrors(fitForm);
  const v = readForm(fitForm);
  const body = {
    dataset: numOrText(v.dataset),
    law: v.law,
    loss: { residuals: v.residuals, delta: numOrText(v.delta) },
    seed: numOrText(v.seed),
    starts: numOrText(v.starts),
    bootstrap: numOrText(v.bootstrap),
  };
  if (v.holdout === "largest") body.holdout = { largest_nonzeros: numOrText(v.largest_nonzeros) };
  if (v.holdout === "run_ids") body.holdout = { run_ids: v.run_ids.split(",").map((s) => s.trim()).filter(Boolean) };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  if (body.loss.delta === undefined) delete body.loss.delta;
  try {
    const r = await busy(fitForm, () => api("/v1/fits", { json: body, auth: true }));
    ctx.navigate({ dataset: v.dataset, fit: r.id });
  } catch (err) {
    showError(fitForm, err, { fieldMap: { "holdout.largest_nonzeros": "holdout", "holdout.run_ids": "holdout" } });
  }
}

// -------------------------------------------------------------- one fit

async function watchFit(id, gen) {
  const card = document.getElementById("fit-card");
  const errEl = document.getElementById("fit-error");
  card.hidden = false;
  document.getElementById("fit-title").textContent = `Fit ${id}`;
  document.getElementById("fit-result").innerHTML = "";
  document.getElementById("fit-charts").hidden = true;
  errEl.textContent = "";
  let last = null;
  for (;;) {
    let f;
    try {
      f = await api(`/v1/fits/${encodeURIComponent(id)}`, { auth: true });
    } catch (err) {
      if (gen !== generation) return;
      showError(card, err, { fallback: errEl });
      document.getElementById("fit-state").innerHTML = "";
      return;
    }
    if (gen !== generation) return;
    renderState(f);
    if (f.state === "succeeded" || f.state === "failed") {
      if (f.state === "failed") errEl.textContent = f.error || "the fit failed";
      else renderResult(f);
      if (f.published && last !== "published") forgetLaws();
      return;
    }
    last = f.state;
    await new Promise((res) => setTimeout(res, 400));
    if (gen !== generation) return;
  }
}

function renderState(f) {
  const pct = Math.round(100 * (f.progress || 0));
  const req = f.request || {};
  document.getElementById("fit-state").innerHTML = `
    <p>${stateBadge(f.state)}
      <progress max="100" value="${pct}">${pct} %</progress> <span class="unit">${pct} %</span>
      · dataset ${f.dataset} → law <strong>${esc(f.law)}</strong> · attempt ${f.attempts}</p>
    <p class="hint">queued ${esc(dateTime(f.created_at))}${f.started_at ? `, started ${esc(dateTime(f.started_at))}` : ""}${
      f.finished_at ? `, finished ${esc(dateTime(f.finished_at))}` : ""
    }${f.seconds !== undefined ? ` (${num(f.seconds, 3)} s of fitting)` : ""}.
      Objective: mean Huber, δ = ${num(req.loss?.delta)} on ${esc(req.loss?.residuals || "")} residuals; ${req.starts} starts,
      ${req.bootstrap} bootstrap resamples, seed ${req.seed}${
        req.holdout?.largest_nonzeros ? `; holding out the ${req.holdout.largest_nonzeros} largest models` : req.holdout?.run_ids ? `; holding out runs ${esc(req.holdout.run_ids.join(", "))}` : ""
      }.</p>`;
}

const COEFS = ["a_s", "b_s", "c_s", "b_n", "a_d", "b_d", "c"];

function errorsRow(label, e) {
  if (!e) return "";
  return `<tr><th scope="row">${label}</th><td class="num">${e.rows}</td><td class="num">${e.objective !== undefined ? num(e.objective, 4) : "–"}</td>
    <td class="num">${num(e.rmse, 4)}</td><td class="num">${num(e.max_abs_error, 4)}</td><td class="num">${num(100 * e.mean_abs_rel_error, 3)}</td></tr>`;
}

function renderResult(f) {
  const pub = f.published;
  const unit = datasets.get(String(f.dataset))?.units?.data || "data units";
  const level = f.bootstrap?.level ? `${num(100 * f.bootstrap.level, 3)} %` : "";
  const coefRows = COEFS.map((c) => {
    const iv = f.intervals?.[c];
    return `<tr><th scope="row">${c}</th><td class="num">${num(f.coefficients[c], 6)}</td><td class="num">${iv ? `[${num(iv[0], 4)}, ${num(iv[1], 4)}]` : "–"}</td>
      <td>${unitHtml(coefUnit(c, unit))}</td></tr>`;
  }).join("");
  document.getElementById("fit-result").innerHTML = `
    ${pub ? `<p class="published-line">Published as <a class="published" href="#/laws?law=${encodeURIComponent(pub.name)}&version=${pub.version}">${esc(pub.name)} v${pub.version}</a>
      · <a href="#/planner?law=${encodeURIComponent(pub.name)}&version=${pub.version}">plan with it</a></p>` : ""}
    ${f.verdict ? `<p class="verdict">Verdict: <strong data-verdict="${esc(f.verdict)}">${esc(f.verdict)}</strong>${f.not_published ? ` · ${esc(f.not_published)}` : ""}</p>` : ""}
    ${warningsHtml(f.reasons, f.verdict)}
    <div class="cols">
      <div class="scroll"><table class="fit-errors"><caption>Fit errors (loss in the law's units)</caption>
        <thead><tr><th></th><th class="num">rows</th><th class="num">objective <span class="unit">mean Huber</span></th><th class="num">RMSE <span class="unit">loss</span></th>
          <th class="num">max |error| <span class="unit">loss</span></th><th class="num">mean |rel. error| <span class="unit">%</span></th></tr></thead>
        <tbody>${errorsRow("fitted", f.fitted)}${errorsRow("held out", f.holdout)}</tbody></table>
        <p class="hint">${f.starts ? `${f.starts.run} starts, ${f.starts.converged} converged, ${f.starts.at_best} at the best objective. ` : ""}${
          f.bootstrap ? `Bootstrap: ${f.bootstrap.draws} of ${f.bootstrap.requested} resamples${f.bootstrap.failed ? ` (${f.bootstrap.failed} failed)` : ""}.` : ""
        }</p></div>
      <div class="scroll"><table class="coefs-small"><caption>Coefficients${level ? ` with ${level} bootstrap intervals` : ""}</caption>
        <thead><tr><th></th><th class="num">value</th><th class="num">interval</th><th>unit</th></tr></thead><tbody>${coefRows}</tbody></table></div>
    </div>`;
  drawFitCharts(f);
}

function drawFitCharts(f) {
  const box = document.getElementById("fit-charts");
  const rows = f.residuals || [];
  if (!rows.length) return;
  box.hidden = false;
  const held = rows.filter((r) => r.heldout).length;
  const byLoss = rows.slice().sort((a, b) => a.loss - b.loss);
  const xs = byLoss.map((r) => r.loss);
  const pvm = document.getElementById("fit-pvm");
  drawChart(pvm, {
    x: { label: "measured loss (law's units)", short: "measured", unit: "loss", pad: true },
    y: { label: "predicted loss (law's units)", unit: "loss" },
    series: [
      { label: "predicted = measured", color: "#999", width: 1, dash: [4, 3] },
      { label: `fitted rows (${rows.length - held})`, color: PALETTE[0], pointsOnly: true, pointSize: 7 },
      { label: `held out (${held})`, color: PALETTE[1], pointsOnly: true, pointSize: 10, pointFill: "#fff" },
    ],
    data: [xs, xs.slice(), byLoss.map((r) => (r.heldout ? null : r.predicted)), byLoss.map((r) => (r.heldout ? r.predicted : null))],
  });
  pvm.dataset.heldout = String(held);
  const byN = rows.slice().sort((a, b) => a.nonzeros - b.nonzeros);
  drawChart(document.getElementById("fit-resid"), {
    x: { label: "non-zeros N (parameters, log)", short: "N", unit: "parameters", log: true, pad: true },
    y: { label: "predicted − measured (loss)", unit: "loss" },
    series: [
      { label: "zero", color: "#999", width: 1, dash: [4, 3] },
      { label: `fitted rows (${rows.length - held})`, color: PALETTE[0], pointsOnly: true, pointSize: 7 },
      { label: `held out (${held})`, color: PALETTE[1], pointsOnly: true, pointSize: 10, pointFill: "#fff" },
    ],
    data: [byN.map((r) => r.nonzeros), byN.map(() => 0), byN.map((r) => (r.heldout ? null : r.residual)), byN.map((r) => (r.heldout ? r.residual : null))],
  });
}

export async function show(params) {
  const gen = ++generation;
  current = params;
  document.getElementById("data-token-notice").hidden = !!getToken();
  await loadDatasets(params.dataset);
  if (gen !== generation) return;
  const lists = jobs.show(params, gen);
  const form = sweepForm.show();
  if (params.fit) await watchFit(params.fit, gen);
  else {
    document.getElementById("fit-card").hidden = true;
    destroyChart(document.getElementById("fit-pvm"));
    destroyChart(document.getElementById("fit-resid"));
  }
  await Promise.all([lists, form]);
}

export function hide() {
  generation++;
  jobs.hide();
}
