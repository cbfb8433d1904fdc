// Numbers for people: scientific notation with real superscripts for the
// quantities that span decades, plain decimals for the ones that do not,
// and a unit beside every one.

const SUP = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
const sup = (n) => String(n).replace(/[-0-9]/g, (c) => SUP[c]);

/** 10ⁿ for a power of ten, m×10ⁿ otherwise. */
export function sci(x, digits = 4) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  if (x === 0) return "0";
  let [m, e] = x.toExponential(digits - 1).split("e");
  m = m.replace(/\.?0+$/, "");
  const exp = Number(e);
  if (exp === 0) return m;
  return (m === "1" ? "" : m === "-1" ? "−" : m.replace("-", "−") + "×") + "10" + sup(exp);
}

/** A number with `digits` significant digits; scientific outside [1e-3, 1e5). */
export function num(x, digits = 5) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return sci(x, digits);
  let s = Number(x.toPrecision(digits)).toString();
  return s.replace("-", "−");
}

/** Sparsity as a fraction and a percentage of zero weights. */
export function sparsity(s, digits = 4) {
  if (s === null || s === undefined) return "–";
  return `${num(s, digits)} (${num(100 * s, 3)} % zeros)`;
}

/**
 * The place of a step's last significant digit: 0.25 -> -2, 0.5 -> -1, 20 -> 1,
 * 2.5e4 -> 3. A tick that is a multiple of the step needs digits down to it.
 */
function lastDigit(step) {
  const a = Math.abs(step);
  for (let k = Math.ceil(Math.log10(a)); k >= -12; k--) {
    const m = a / 10 ** k;
    if (Math.abs(m - Math.round(m)) < 1e-6 * Math.max(1, m)) return k;
  }
  return -12;
}

/**
 * Axis tick text: 10⁹, 2×10⁹, 0.5 ... Given the tick step, as many digits as
 * that step needs (0.25 and 0.75 at a step of 0.25, never 0.3 and 0.8), for
 * every chart.
 */
export function tick(v, step) {
  if (v === null || v === undefined) return "";
  const a = Math.abs(v);
  if (!step || !Number.isFinite(step)) {
    if (a !== 0 && (a >= 1e4 || a < 1e-2)) return sci(v, 2);
    return num(v, 3);
  }
  const k = lastDigit(step);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return sci(v, Math.min(15, Math.max(1, Math.floor(Math.log10(a) + 1e-9) - k + 1)));
  return v.toFixed(Math.min(12, Math.max(0, -k))).replace("-", "−");
}

/** Escapes text for innerHTML. */
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/**
 * The short form of one of the API's unit sentences, for beside a number:
 * "the law's loss (validation loss, as fitted)" -> "loss", "FLOPs (6 x
 * parameters x tokens)" -> "FLOPs", "parameter-examples x 6 (not FLOPs: ...)"
 * -> "parameter-examples × 6". The sentence itself goes in a title.
 */
export function shortUnit(unit) {
  if (!unit) return "";
  return unit.split(/ \(|: |, /)[0].replace(/^the law's /, "").replace(/ x /g, " × ").trim();
}

/** A unit as HTML: its short form (or `short`), the whole sentence on hover when they differ. */
export function unitHtml(unit, cls = "unit", short = shortUnit(unit)) {
  if (!unit) return "";
  return `<span class="${cls}"${short !== unit ? ` title="${esc(unit)}"` : ""}>${esc(short)}</span>`;
}

/**
 * "value unit" as HTML, with the raw number kept in data-value for tests and
 * copy; `short` is the unit's short form where shortUnit's would not do.
 */
export function qty(value, unit, { digits = 5, kind = "num", name = "", short } = {}) {
  const text = kind === "sparsity" ? sparsity(value, digits) : num(value, digits);
  const raw = value === null || value === undefined ? "" : String(value);
  return `<span class="value"${name ? ` data-out="${esc(name)}"` : ""} data-value="${esc(raw)}" title="${esc(raw)}">${esc(text)}</span>` +
    (unit ? ` ${unitHtml(unit, "unit", short)}` : "");
}

export function dateTime(iso) {
  if (!iso) return "–";
  return iso.replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

/**
 * What compute is for a law whose data is in dataUnit, in the API's words:
 * FLOPs for tokens; for examples or steps 6 x parameters x data, which is not
 * FLOPs (and the server takes no compute= budget for such a law).
 */
export function computeUnitFor(dataUnit) {
  if (!dataUnit || dataUnit === "tokens") return "FLOPs (6 x parameters x tokens)";
  return `parameter-${dataUnit} x 6 (not FLOPs: the law's data is in ${dataUnit})`;
}

/**
 * Warnings where the numbers they concern are shown, so that nobody plans
 * from them unawares: a weak or unidentified law's (strings), a fit's reasons
 * or a sweep's design warnings ({code, message}: the code goes in the item's
 * data-code). head, HTML, is the line above the list (by default the law's
 * fit's, with its verdict). "" when there are none.
 */
export function warningsHtml(warnings, verdict, head = null) {
  if (!warnings || !warnings.length) return "";
  head ??= verdict ? `This law's fit is <strong>${esc(verdict)}</strong>:` : "This law's fit carries warnings:";
  const item = (w) => (typeof w === "string" ? `<li>${esc(w)}</li>` : `<li data-code="${esc(w.code)}">${esc(w.message)}</li>`);
  return `<div class="warnings" role="note" data-verdict="${esc(verdict || "")}">${head}<ul>${warnings.map(item).join("")}</ul></div>`;
}
