// Laws: every law and each of its versions, with coefficients (and their
// bootstrap intervals for fitted laws), units, and where each came from.
import { api, lawPath, laws, lawVersions } from "../api.js";
import { dateTime, esc, num, unitHtml, warningsHtml } from "../format.js";

const COEFS = ["a_s", "b_s", "c_s", "b_n", "a_d", "b_d", "c"];

/** The unit of each coefficient, given the law's data unit. */
export function coefUnit(name, dataUnit) {
  switch (name) {
    case "a_s":
    case "c_s":
      return "loss × parameters^b_n";
    case "a_d":
      return dataUnit;
    case "c":
      return "loss";
    default:
      return "exponent, dimensionless";
  }
}

const COEF_HTML = {
  a_s: "a<sub>s</sub>",
  b_s: "b<sub>s</sub>",
  c_s: "c<sub>s</sub>",
  b_n: "b<sub>n</sub>",
  a_d: "a<sub>d</sub>",
  b_d: "b<sub>d</sub>",
  c: "c",
};

let generation = 0;

export function init() {}

function source(v) {
  const s = v.source || {};
  const fit = s.fit_id ? ` <a href="#/data?fit=${s.fit_id}">see fit ${s.fit_id}</a>` : "";
  return `<span class="tag tag-${esc(s.kind)}">${esc(s.kind)}</span>${fit}<span class="ref">${esc(s.reference || "")}</span>`;
}

function fitSummary(v) {
  const f = v.fit;
  if (!f) return "–";
  const level = f.level ? `${num(100 * f.level, 3)} %` : "";
  return `Fit: objective ${num(f.objective, 4)} <span class="unit">(mean Huber, δ = ${num(f.loss?.delta)}, ${esc(f.loss?.residuals || "")} residuals)</span> ·
    RMSE ${num(f.rmse, 4)} <span class="unit">loss</span> · mean |rel. error| ${num(100 * f.mean_abs_rel_error, 3)} <span class="unit">%</span> ·
    ${f.rows} <span class="unit">rows</span>${f.draws ? `, ${f.draws} <span class="unit">bootstrap draws</span>, ${level} <span class="unit">intervals</span>` : ""}`;
}

function coefCell(v, name, dataUnit) {
  const iv = v.fit?.intervals?.[name];
  return `<div class="coef"><div class="coef-name">${COEF_HTML[name]}</div>
    <div class="value" data-coef="${name}" data-value="${v.coefficients[name]}" title="${v.coefficients[name]}">${esc(num(v.coefficients[name], 6))}</div>${
    iv ? `<div class="interval" data-lo="${iv[0]}" data-hi="${iv[1]}">[${esc(num(iv[0], 4))}, ${esc(num(iv[1], 4))}]</div>` : ""
  }${unitHtml(coefUnit(name, dataUnit))}</div>`;
}

function versionBlock(latest, v, focus) {
  const unit = latest.units.data;
  const hi = focus && focus.law === latest.name && String(focus.version || latest.version) === String(v.version) ? " focus" : "";
  const desc = v.description && v.description !== latest.description ? `<div>${esc(v.description)}</div>` : "";
  return `<section class="version${hi}" data-version="${v.version}">
    <h3>v${v.version} <small>${esc(dateTime(v.created_at))}</small> ${source(v)}
      <a class="plan-link" href="#/planner?law=${encodeURIComponent(v.name)}&version=${v.version}">plan with v${v.version}</a></h3>
    ${desc}
    ${warningsHtml(v.warnings, v.verdict)}
    <div class="coefs">${COEFS.map((c) => coefCell(v, c, unit)).join("")}</div>
    ${v.fit ? `<p class="fit-summary">${fitSummary(v)}</p>` : ""}
  </section>`;
}

function lawCard(latest, versions, focus) {
  const blocks = versions.slice().reverse().map((v) => versionBlock(latest, v, focus)).join("");
  const hasIv = versions.some((v) => v.fit?.intervals);
  return `<article class="card law" id="law-${esc(latest.name)}" data-law="${esc(latest.name)}">
    <h2>${esc(latest.name)} ${latest.builtin ? '<span class="tag">built in</span>' : ""}
      <small>${versions.length} version${versions.length === 1 ? "" : "s"}, latest v${latest.version}</small></h2>
    <p>${esc(latest.description || "")}</p>
    <p class="units">Units: N (non-zeros) in <strong>${esc(latest.units.nonzeros)}</strong>,
      D (data) in <strong>${esc(latest.units.data)}</strong>, S a fraction of weights zero, loss in the law's units ·
      <a href="#/planner?law=${encodeURIComponent(latest.name)}">planner</a> ·
      <a href="#/curves?law=${encodeURIComponent(latest.name)}">curves</a> ·
      <a href="#/contours?law=${encodeURIComponent(latest.name)}">contours</a></p>
    ${blocks}
    ${hasIv ? `<p class="hint">[lo, hi] under a coefficient: the fit's bootstrap percentile interval.</p>` : ""}
  </article>`;
}

export async function show(params) {
  const gen = ++generation;
  const list = document.getElementById("laws-list");
  const errEl = document.getElementById("laws-error");
  errEl.textContent = "";
  let all;
  try {
    all = await laws(true);
    const versions = await Promise.all(all.map((l) => lawVersions(l.name, true)));
    if (gen !== generation) return;
    list.innerHTML = all.map((l, i) => lawCard(l, versions[i], params.law ? params : null)).join("");
  } catch (err) {
    if (gen !== generation) return;
    errEl.textContent = err.message;
    return;
  }
  if (params.law) {
    // A shared link may name a law or version this server lacks: the server says so.
    try {
      await api(lawPath(params.law), { query: { version: params.version } });
    } catch (err) {
      if (gen === generation) errEl.textContent = err.message;
      return;
    }
    const el = document.getElementById(`law-${params.law}`);
    if (el && gen === generation) el.scrollIntoView({ block: "start" });
  }
}

export function hide() {
  generation++;
}
