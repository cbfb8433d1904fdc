// Data & fits, what was made: the recent fits, and the calibration sweeps with
// their state, progress, runs, and the dataset and fit each one produced. The
// lists come a page at a time, newest first (GET /v1/fits, GET /v1/sweeps,
// GET /v1/sweeps/{id}/runs and their next_before); a list with a job still
// going is read again every second while the view shows it. A sweep shows
// what its grid leaves the fit unable to determine (warnings), what it costs
// (estimate) and, while it runs, how long it has left. Every route here needs
// the bearer token.
import { api, getToken } from "../api.js";
import { showError } from "../forms.js";
import { dateTime, esc, num, qty, warningsHtml } from "../format.js";

const PAGE = 20; // items a page asks for; "older" asks for the next one
const POLL_MS = 1000;
const LIVE = new Set(["queued", "submitted", "running", "fitting"]);

/** A succeeded fit's verdict as a tag, its reasons on hover. */
function verdictTag(f) {
  if (!f.verdict) return "";
  const why = (f.reasons || []).map((r) => r.message).join("\n");
  return ` <span class="tag verdict" data-verdict="${esc(f.verdict)}"${why ? ` title="${esc(why)}"` : ""}>${esc(f.verdict)}</span>`;
}

/** A job's state (fit, sweep or run) as a coloured word. */
export const stateBadge = (state) => `<span class="state state-${esc(state)}" data-state="${esc(state)}">${esc(state)}</span>`;

/** Seconds as people say them: 40 s, 12 min, 3.5 h, 4.2 days. */
function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return "under 1 s";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${num(s / 3600, 2)} h`;
  return `${num(s / 86400, 2)} days`;
}

// A list shown a page at a time: its items so far and the next_before of the
// last page read (null once the oldest is shown).
function list(path, key) {
  return { path, key, items: [], next: null };
}

const fits = list("/v1/fits", "fits");
const sweeps = list("/v1/sweeps", "sweeps");
let runs = null; // the runs of the sweep shown, a list of its own
let current = null; // the generation the lists belong to; null while hidden
let timer = null;

/** Reads l again from the newest, as many items as it shows (at least a page). */
async function reload(l) {
  const r = await api(l.path, { auth: true, query: { limit: Math.min(500, Math.max(PAGE, l.items.length)) } });
  l.items = r[l.key];
  l.next = r.next_before;
}

async function older(l) {
  const r = await api(l.path, { auth: true, query: { limit: PAGE, before: l.next } });
  l.items.push(...r[l.key]);
  l.next = r.next_before;
}

function moreButton(l, what) {
  return l.next === null ? "" : `<p><button type="button" class="link" data-older="${l.key}">older ${what}</button></p>`;
}

// ------------------------------------------------------------------ fits

function renderFits() {
  const box = document.getElementById("fits-list");
  box.innerHTML = fits.items.length
    ? `<div class="scroll"><table class="fits"><thead><tr><th>id</th><th>law</th><th>state</th><th class="num">progress</th>
        <th>dataset</th><th>published</th><th>queued</th><th></th></tr></thead><tbody>${fits.items
          .map(
            (f) => `<tr data-id="${f.id}" data-state="${esc(f.state)}"><td>${f.id}</td><td>${esc(f.law)}</td><td>${stateBadge(f.state)}${verdictTag(f)}</td>
              <td class="num">${Math.round(100 * (f.progress || 0))} %</td>
              <td><a href="#/data?dataset=${f.dataset}">${f.dataset}</a></td>
              <td>${f.published ? `<a href="#/laws?law=${encodeURIComponent(f.published.name)}&version=${f.published.version}">${esc(f.published.name)} v${f.published.version}</a>` : "–"}</td>
              <td>${esc(dateTime(f.created_at))}</td>
              <td class="row-actions"><a class="open-fit" href="#/data?fit=${f.id}">open</a></td></tr>`
          )
          .join("")}</tbody></table></div>${moreButton(fits, "fits")}`
    : `<p class="hint">No fits yet: start one above, or run a sweep.</p>`;
}

// ------------------------------------------------------------------ sweeps

const ended = (c) => c.succeeded + c.failed + c.cancelled;

/** A sweep's design warnings as a tag for the list, their messages on hover. */
function gridTag(s) {
  const n = s.warnings?.length;
  if (!n) return "";
  const why = s.warnings.map((w) => w.message).join("\n");
  return ` <span class="tag grid-warnings" data-warnings="${n}" title="${esc(why)}">${n} grid warning${n > 1 ? "s" : ""}</span>`;
}

/** Why a backend's throughput is unknown: none measured (no run succeeded there yet) and none configured. */
const noThroughput = (s) => `none measured (no run has succeeded on the ${s.backend} backend yet) and none configured (--${s.backend}-gflops)`;

/** Why a running sweep's eta_seconds is null. */
const etaWhy = (s) =>
  s.remaining_tokens === null
    ? "its runs are ending"
    : `no run of this sweep has measured its speed yet, and the ${s.backend} backend has no throughput measured or configured`;

/** A figure the server could not give: "unknown", and why. */
const unknown = (name, why) => `<span class="value unknown" data-out="${name}" data-value="">unknown</span> <span class="unit why">(${esc(why)})</span>`;

/** Seconds as "about 3 min", the raw number in data-value, the exact figure and its unit sentence on hover. */
const seconds = (name, x, sentence = "seconds") =>
  `<span class="value" data-out="${name}" data-value="${x}" title="${esc(`${num(x)} ${sentence}`)}">${x < 1 ? "" : "about "}${esc(duration(x))}</span>`;

/** A running sweep's time left, as HTML: about 3 min, or unknown with why. */
const timeLeft = (s) => (s.eta_seconds !== null ? seconds("eta", s.eta_seconds) : unknown("eta", etaWhy(s)));

const THROUGHPUT = { measured: "measured from the runs that succeeded on its backend", configured: "configured by the operator" };

/**
 * A sweep's cost (its estimate): training FLOPs, runs over the backend's
 * slots, the throughput of one run and where it comes from, the wall-clock
 * duration; and while it runs, the time and tokens it has left. Each figure
 * with its unit (the server's unit sentence on hover).
 */
function estimateHtml(s) {
  const e = s.estimate, u = e?.units || {};
  const rows = [];
  const kv = (name, dt, dd) => rows.push(`<div class="kv" data-kv="${name}"><dt>${dt}</dt><dd>${dd}</dd></div>`);
  if (s.state === "running") {
    kv("eta", `Time left <span class="unit">until its runs have ended, the fit not counted</span>`, timeLeft(s));
    if (s.remaining_tokens !== null) kv("remaining_tokens", "Left to train", qty(s.remaining_tokens, "tokens", { name: "remaining_tokens" }));
  }
  if (e) {
    kv("flops", "Training compute", qty(e.flops, u.flops || "FLOPs", { digits: 3, name: "flops", short: "FLOPs" }));
    kv("runs", "Runs", `${qty(e.runs, null, { name: "runs" })} <span class="unit">runs, ${e.slots} at a time on the ${esc(s.backend)} backend</span>`);
    kv("throughput", `Throughput <span class="unit">of one run</span>`, e.flops_per_s !== null
      ? `${qty(e.flops_per_s, u.flops_per_s || "FLOP/s", { digits: 3, name: "flops_per_s", short: "FLOP/s" })}
         <span class="unit" data-out="throughput" data-value="${esc(e.throughput)}">(${esc(THROUGHPUT[e.throughput] || e.throughput)})</span>`
      : unknown("flops_per_s", noThroughput(s)));
    kv("seconds", `Estimated duration <span class="unit">wall-clock, every run</span>`, e.seconds !== null ? seconds("seconds", e.seconds, u.seconds) : unknown("seconds", "no throughput to go by"));
  }
  return rows.length ? `<dl class="kvs sweep-estimate">${rows.join("")}</dl>` : "";
}

/** A sweep's grid warnings and estimate as its card shows them; the sweep form shows a new sweep's so too. */
export function sweepPlanHtml(s) {
  return `${warningsHtml(s.warnings, "", `This sweep's grid cannot determine every coefficient of the law <strong>${esc(s.law)}</strong>; its fit will be weak or unidentified:`)}
    ${estimateHtml(s)}`;
}

function renderSweeps() {
  const box = document.getElementById("sweeps-list");
  box.innerHTML = sweeps.items.length
    ? `<div class="scroll"><table class="sweeps"><thead><tr><th>id</th><th>law</th><th>state</th><th>runs ended</th>
        <th class="num">time left</th><th>dataset</th><th>fit</th><th>created</th><th></th></tr></thead><tbody>${sweeps.items
          .map((s) => {
            const done = ended(s.counts), total = s.counts.total;
            return `<tr data-id="${s.id}" data-state="${esc(s.state)}"><td>${s.id}</td><td>${esc(s.law)}</td><td>${stateBadge(s.state)}${gridTag(s)}</td>
              <td class="sweep-progress"><progress max="${total}" value="${done}">${done} of ${total}</progress>
                <span class="unit" data-ended="${done}" data-total="${total}">${done} of ${total}${s.counts.failed ? `, ${s.counts.failed} failed` : ""}</span></td>
              <td class="num sweep-eta" title="estimated time until its runs have all ended">${s.state === "running" && s.eta_seconds === null ? `<span class="unknown" title="${esc(etaWhy(s))}">unknown</span>` : duration(s.eta_seconds)}</td>
              <td>${s.dataset ? `<a class="sweep-dataset" href="#/data?dataset=${s.dataset.id}">${s.dataset.id}</a>${s.dataset.rows !== null ? ` <span class="unit">${s.dataset.rows} rows</span>` : ""}` : "–"}</td>
              <td>${s.fit ? `<a class="sweep-fit" href="#/data?fit=${s.fit.id}">${s.fit.id}</a> ${stateBadge(s.fit.state)}` : "–"}</td>
              <td>${esc(dateTime(s.created_at))}</td>
              <td class="row-actions"><a class="open-sweep" href="#/data?sweep=${s.id}">runs</a></td></tr>`;
          })
          .join("")}</tbody></table></div>${moreButton(sweeps, "sweeps")}`
    : `<p class="hint">No sweeps yet: start one with the form above (or POST /v1/sweeps, see the README); they appear here.</p>`;
}

function pointText(p) {
  if (!p) return "–";
  return `${p.layers} × ${p.width}, ${p.heads} heads · S ${num(p.sparsity, 4)}${p.pattern && p.pattern !== "unstructured" ? ` (${esc(p.pattern)})` : ""} · ${num(p.tokens)} tokens · seed ${p.seed}`;
}

function renderSweep(s) {
  const c = s.counts;
  const pub = s.fit?.published;
  document.getElementById("sweep-title").textContent = `Sweep ${s.id} · ${s.law}`;
  document.getElementById("sweep-state").innerHTML = `
    <p>${stateBadge(s.state)} <progress max="${c.total}" value="${ended(c)}"></progress>
      <span class="unit">${ended(c)} of ${c.total} runs ended: ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled,
      ${c.running} running, ${c.submitted} submitted, ${c.queued} queued</span></p>
    <p class="hint">on the ${esc(s.backend)} backend · created ${esc(dateTime(s.created_at))}${s.finished_at ? `, runs ended ${esc(dateTime(s.finished_at))}` : ""}</p>
    ${sweepPlanHtml(s)}
    <p class="sweep-made">${s.dataset ? `Dataset <a class="sweep-dataset" href="#/data?dataset=${s.dataset.id}">${s.dataset.id}</a>${s.dataset.rows !== null ? ` (${s.dataset.rows} rows)` : " (deleted since)"}` : "No dataset yet"}
      · ${s.fit ? `fit <a class="sweep-fit" href="#/data?fit=${s.fit.id}">${s.fit.id}</a> ${stateBadge(s.fit.state)}` : "no fit yet"}${
        pub ? ` · published <a class="sweep-law" href="#/laws?law=${encodeURIComponent(pub.name)}&version=${pub.version}">${esc(pub.name)} v${pub.version}</a>` : ""
      }</p>
    ${s.error ? `<p class="form-error shown">${esc(s.error)}</p>` : ""}${s.fit?.error ? `<p class="form-error shown">${esc(s.fit.error)}</p>` : ""}`;
  document.getElementById("sweep-runs").innerHTML = runs.items.length
    ? `<div class="scroll"><table class="runs"><caption>Its runs, newest first</caption><thead><tr><th>id</th><th>point</th><th>state</th>
        <th class="num">step</th><th class="num">val loss</th><th class="num">time left</th><th class="num">attempts</th><th>error</th></tr></thead><tbody>${runs.items
          .map(
            (r) => `<tr data-id="${r.id}" data-state="${esc(r.state)}"><td>${r.id}</td><td>${pointText(r.point)}</td><td>${stateBadge(r.state)}</td>
              <td class="num">${r.progress ? `${r.progress.step} / ${r.progress.steps}` : "–"}</td>
              <td class="num">${num(r.result?.val_loss ?? r.progress?.val_loss, 4)}</td>
              <td class="num">${duration(r.eta_seconds)}</td><td class="num">${r.attempts} / ${r.max_attempts}</td>
              <td>${esc(r.error || r.last_error || "")}</td></tr>`
          )
          .join("")}</tbody></table></div>${moreButton(runs, "runs")}`
    : `<p class="hint">No runs.</p>`;
}

// ------------------------------------------------------------------ loading

/** Reads what the view shows; then again in a second while a job goes on. */
async function refresh(sweepId, gen) {
  clearTimeout(timer);
  const errEl = document.getElementById("jobs-error");
  const sweepErr = document.getElementById("sweep-error");
  let sweep = null, listed = false;
  try {
    await Promise.all([reload(fits), reload(sweeps)]);
    listed = true;
  } catch (err) {
    if (gen !== current) return;
    showError(document.getElementById("jobs"), err, { fallback: errEl });
  }
  if (sweepId)
    try {
      [sweep] = await Promise.all([api(`/v1/sweeps/${encodeURIComponent(sweepId)}`, { auth: true }), reload(runs)]);
    } catch (err) {
      if (gen !== current) return;
      showError(document.getElementById("sweep-card"), err, { fallback: sweepErr });
    }
  if (gen !== current) return;
  if (listed) {
    errEl.textContent = "";
    renderFits();
    renderSweeps();
  }
  if (sweep) {
    sweepErr.textContent = "";
    renderSweep(sweep);
  }
  const going = [...fits.items, ...sweeps.items, ...(sweep ? [sweep] : [])].some((j) => LIVE.has(j.state));
  if (listed) window.dispatchEvent(new CustomEvent("sparselaw:jobs", { detail: { going } }));
  if (listed && (sweep || !sweepId) && going) timer = setTimeout(() => gen === current && refresh(sweepId, gen), POLL_MS);
}

export function init() {
  document.getElementById("jobs").addEventListener("click", async (e) => {
    const btn = e.target.closest("button[data-older]");
    if (!btn) return;
    const l = { fits, sweeps, runs }[btn.dataset.older];
    const gen = current;
    try {
      await older(l);
    } catch (err) {
      showError(document.getElementById("jobs"), err, { fallback: document.getElementById("jobs-error") });
      return;
    }
    if (gen !== current) return;
    if (l === fits) renderFits();
    else if (l === sweeps) renderSweeps();
    else refresh(document.getElementById("sweep-card").dataset.id, gen);
  });
}

/** Shows the lists (and the sweep of params.sweep) for generation gen. */
export async function show(params, gen) {
  current = gen;
  clearTimeout(timer);
  const card = document.getElementById("sweep-card");
  card.hidden = !params.sweep;
  card.dataset.id = params.sweep || "";
  if (!getToken()) {
    for (const id of ["fits-list", "sweeps-list"]) document.getElementById(id).innerHTML = `<p class="hint">Enter the token to list them.</p>`;
    card.hidden = true;
    return;
  }
  if (params.sweep && runs?.path !== `/v1/sweeps/${encodeURIComponent(params.sweep)}/runs`) runs = list(`/v1/sweeps/${encodeURIComponent(params.sweep)}/runs`, "runs");
  await refresh(params.sweep, gen);
}

export function hide() {
  current = null;
  clearTimeout(timer);
}
