// Charts: a thin layer over uPlot (static/vendor, from the npm package the
// lockfile pins). Log axes where a quantity spans decades, a unit in every
// axis label and every legend value, widths that follow the page.
import { num, tick } from "./format.js";

const uPlot = window.uPlot;

export const PALETTE = ["#1f6fb2", "#d1495b", "#2a9d5c", "#8e5ac8", "#e08a1e", "#17a2b8", "#7a5c3e", "#c2185b", "#546e7a", "#9e9d24"];

const charts = new WeakMap();

function heightFor(el) {
  const tall = el.classList.contains("tall");
  const narrow = window.innerWidth < 640;
  return tall ? (narrow ? 340 : 460) : narrow ? 260 : 330;
}

/**
 * Ticks for a log axis: 1, 2, 5 x 10^k over a short range; powers of ten
 * (every k-th, so labels do not collide) once it spans decades.
 */
function logSplits(u, axisIdx, min, max) {
  const horizontal = axisIdx === 0;
  // Plot size in CSS pixels (bbox is still empty on the first layout pass).
  const px = horizontal ? Math.max(120, u.width - 90) : Math.max(120, u.height - 110);
  const lo = Math.floor(Math.log10(min) + 1e-9);
  const hi = Math.ceil(Math.log10(max) - 1e-9);
  const decades = Math.log10(max) - Math.log10(min);
  const out = [];
  if (decades < 2.2) {
    const mants = decades < 1.2 ? [1, 2, 3, 5, 7] : [1, 2, 5];
    for (let e = lo; e <= hi; e++)
      for (const m of mants) {
        const v = m * 10 ** e;
        if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) out.push(v);
      }
    return out;
  }
  const room = Math.max(2, Math.floor(px / (horizontal ? 50 : 28)));
  const every = Math.max(1, Math.ceil((decades + 1) / room));
  for (let e = lo; e <= hi; e++) {
    const v = 10 ** e;
    if (e % every === 0 && v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) out.push(v);
  }
  return out;
}

// Ranges with a margin, so points at the extremes are whole (and uPlot keeps
// every point that shares the extreme x value).
function padLog(u, min, max) {
  const f = 10 ** (0.04 * Math.max(1, Math.log10(max / min)));
  return [min / f, max * f];
}
// uPlot widens a log scale to whole decades; the data's own range wastes less.
function exact(u, min, max) {
  return min === null || max === null ? [1, 10] : [min, max];
}
function padLin(u, min, max) {
  const d = (max - min || Math.abs(max) || 1) * 0.04;
  return [min - d, max + d];
}

/**
 * One axis's options. record(splits, labels) learns the tick labels each time
 * uPlot asks for them (the last call is what it draws), so the page can say
 * which labels it shows.
 */
function axis(spec, isX, record) {
  const a = {
    label: spec.label,
    labelSize: 20,
    labelFont: "600 12px system-ui, sans-serif",
    font: "12px system-ui, sans-serif",
    size: isX ? 44 : 62,
    stroke: "#333",
    grid: { stroke: "#e6e6e6", width: 1 },
    ticks: { stroke: "#bbb", width: 1, size: 4 },
    // The step decides the digits (format.js tick), so 0.25 never shows as 0.3.
    values: (u, splits, axisIdx, space, incr) => record(splits, splits.map((v) => tick(v, incr))),
  };
  if (spec.log) {
    a.splits = logSplits;
    a.filter = (u, splits) => splits; // logSplits already thinned them
    a.values = (u, splits) => record(splits, splits.map((v) => tick(v)));
  }
  if (isX) a.space = 60;
  return a;
}

/** Vertical dashed lines at given x values, each with a label. */
function markersPlugin(markers) {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const { top, height, left, width } = u.bbox;
          ctx.save();
          for (const m of markers) {
            const x = Math.round(u.valToPos(m.x, "x", true));
            if (x < left || x > left + width) continue;
            ctx.strokeStyle = m.color || "#444";
            ctx.lineWidth = devicePixelRatio;
            ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            if (m.label) {
              ctx.setLineDash([]);
              ctx.fillStyle = m.color || "#444";
              ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
              const w = ctx.measureText(m.label).width;
              const tx = x + 4 * devicePixelRatio + w > left + width ? x - 4 * devicePixelRatio - w : x + 4 * devicePixelRatio;
              ctx.fillText(m.label, tx, top + 14 * devicePixelRatio);
            }
          }
          ctx.restore();
        },
      ],
    },
  };
}

/**
 * Draws (or redraws) a chart into el.
 * spec: {x: {label, unit, log}, y: {label, unit, log, range}, series: [{label,
 * unit, color, dash, width, pointsOnly, pointSize, show}], data: [xs, ys...],
 * bands, markers: [{x, label, color}], title}
 */
export function drawChart(el, spec) {
  destroyChart(el);
  clearStale(el);
  el.innerHTML = "";
  // data-ticks-x / -y: [[value, label], ...] as drawn, for tests and for reading.
  const recorder = (name) => (splits, labels) => {
    el.dataset[name] = JSON.stringify(splits.map((v, i) => [v, labels[i]]));
    return labels;
  };
  const xFmt = (u, v) => (v === null || v === undefined ? "–" : `${num(v, 4)} ${spec.x.unit || ""}`.trim());
  const series = [
    { label: spec.x.short || spec.x.label, value: xFmt },
    ...spec.series.map((s, i) => {
      const color = s.color || PALETTE[i % PALETTE.length];
      const unit = s.unit ?? spec.y.unit ?? "";
      const out = {
        label: s.label,
        stroke: color,
        width: s.width ?? 2,
        dash: s.dash,
        spanGaps: s.spanGaps ?? true,
        show: s.show ?? true,
        value: (u, v) => (v === null || v === undefined ? "–" : `${num(v, 5)} ${unit}`.trim()),
        points: { show: false },
      };
      if (s.fill) out.fill = s.fill;
      if (s.pointsOnly) {
        out.paths = () => null;
        out.points = { show: true, size: s.pointSize || 8, stroke: color, fill: s.pointFill || color, width: 1.5 };
      } else if (s.points) {
        out.points = { show: true, size: s.pointSize || 5, stroke: color, fill: color };
      }
      return out;
    }),
  ];
  const opts = {
    width: Math.max(280, el.clientWidth || 600),
    height: heightFor(el),
    series,
    scales: {
      x: spec.x.log
        ? { time: false, distr: 3, log: 10, range: spec.x.pad ? padLog : exact }
        : { time: false, ...(spec.x.range ? { range: spec.x.range } : spec.x.pad ? { range: padLin } : {}) },
      y: spec.y.log ? { distr: 3, log: 10, range: exact } : { ...(spec.y.range ? { range: spec.y.range } : {}) },
    },
    axes: [axis(spec.x, true, recorder("ticksX")), axis(spec.y, false, recorder("ticksY"))],
    legend: { live: true },
    cursor: { points: { size: 7 }, drag: { x: true, y: false } },
    plugins: spec.markers && spec.markers.length ? [markersPlugin(spec.markers)] : [],
  };
  if (spec.bands) opts.bands = spec.bands;
  const u = new uPlot(opts, spec.data, el);
  el.dataset.series = String(spec.series.length);
  el.dataset.bands = String(spec.bands ? spec.bands.length : 0);
  el.dataset.points = String(spec.data[0].length);
  const ro = new ResizeObserver(() => {
    const w = el.clientWidth;
    if (w > 0 && Math.abs(w - u.width) > 1) u.setSize({ width: Math.max(280, w), height: heightFor(el) });
  });
  ro.observe(el);
  charts.set(el, { u, ro });
  return u;
}

export function destroyChart(el) {
  const c = charts.get(el);
  if (c) {
    c.ro.disconnect();
    c.u.destroy();
    charts.delete(el);
  }
}

/**
 * Marks a chart as no longer answering the form's inputs (a Draw the server
 * refused): data-stale="true" on el and on its card, the chart greyed, and a
 * note with the server's message above it. The next drawChart clears it.
 */
export function markStale(el, message) {
  if (!el.querySelector("canvas")) return; // nothing drawn: nothing to mislead
  el.dataset.stale = "true";
  const card = el.closest(".card");
  if (card) card.dataset.stale = "true";
  let note = el.previousElementSibling;
  if (!note || !note.classList.contains("stale-note")) {
    note = document.createElement("p");
    note.className = "stale-note";
    note.setAttribute("role", "status");
    el.before(note);
  }
  note.textContent = `Out of date: this chart still shows the previous inputs; the server refused the new ones: ${message}`;
}

export function clearStale(el) {
  delete el.dataset.stale;
  const card = el.closest(".card");
  if (card) delete card.dataset.stale;
  const note = el.previousElementSibling;
  if (note && note.classList.contains("stale-note")) note.remove();
}

/** Aligns series that each have their own x values onto one x array (uPlot.join). */
export function join(tables) {
  return uPlot.join(tables);
}
