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

/** Short axis tick text: 10⁹, 2×10⁹, 0.5 ... */
export function tick(v) {
  if (v === null || v === undefined) return "";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-2)) return sci(v, 2);
  return num(v, 3);
}

/** Escapes text for innerHTML. */
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** "value unit" as HTML, with the raw number kept in data-value for tests and copy. */
export function qty(value, unit, { digits = 5, kind = "num", name = "" } = {}) {
  const text = kind === "sparsity" ? sparsity(value, digits) : num(value, digits);
  const raw = value === null || value === undefined ? "" : String(value);
  return `<span class="value"${name ? ` data-out="${esc(name)}"` : ""} data-value="${esc(raw)}" title="${esc(raw)}">${esc(text)}</span>` +
    (unit ? ` <span class="unit">${esc(unit)}</span>` : "");
}

export function dateTime(iso) {
  if (!iso) return "–";
  return iso.replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

/** A compute unit short enough for an axis: "FLOPs", or "parameter-examples x 6". */
export function computeUnit(unit) {
  if (!unit) return "";
  return unit.startsWith("FLOPs") ? "FLOPs" : unit.replace(/\s*\(.*\)\s*$/, "");
}
