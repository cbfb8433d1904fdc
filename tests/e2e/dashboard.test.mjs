// End-to-end tests of the dashboard (static/) in headless Chromium against a
// real sparselawd.
//
//   node tests/e2e/dashboard.test.mjs [--server build/sparselawd]
//        [--data-dir data] [--out build/e2e-screenshots]
//        [--chromium /usr/bin/chromium]
//
// Starts its own server on a free port with a temporary data directory and
// token file, drives Debian's chromium through playwright-core (npm ci; no
// browser download), and stops the server with SIGTERM (which must exit 0).
// Needs: chromium (Debian package), node_modules from `npm ci`, the authors'
// sweeps in data/ (a test whose sweep is missing fails). Screenshots of every view, at a laptop's and a phone's width, go
// to --out.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkVendored } from "./vendor.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    server: { type: "string", default: join(ROOT, "build", "sparselawd") },
    "data-dir": { type: "string", default: join(ROOT, "data") },
    out: { type: "string", default: join(ROOT, "build", "e2e-screenshots") },
    chromium: { type: "string", default: process.env.CHROMIUM || "/usr/bin/chromium" },
  },
  strict: false,
});

const TOKEN = "e2e-token-0123456789abcdef";
const LAPTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };
const VIT = join(args["data-dir"], "vit-jft-sweep.json");
const T5 = join(args["data-dir"], "t5-c4-sweep.csv");
const VIEWS = ["planner", "curves", "contours", "laws", "data"];
// A tiny calibration sweep (tests/http/harness.py's grid): 8 runs of a few thousand tokens
// on 1- and 2-layer models, a second or two in all, then a fit that publishes the law.
const TINY_SWEEP = {
  law: "e2e-calib",
  grid: { sizes: [{ layers: 1, width: 32, heads: 2 }, { layers: 2, width: 48, heads: 2 }], sparsities: [0, 0.5], tokens: [4096, 8192], seeds: [1] },
  trainer: { context: 32, batch: 4, val_tokens: 2048, threads: 1 },
  fit: { bootstrap: 20, publish: "always" }, // 8 runs cannot identify the law: publish it anyway
};
// Trainer profiles (a server's --config) running examples/synthetic_trainer.py: a known law's loss,
// nothing trained. `slow` takes SLOW_S seconds a run and writes its first progress line after a
// quarter of them; `synthetic` ends at once.
const SLOW_S = 20;
const SYNTHETIC_ARGV = `${execFileSync("sh", ["-c", "command -v python3"], { encoding: "utf8" }).trim()} ${join(ROOT, "examples", "synthetic_trainer.py")} ` +
  "--width={width} --layers={layers} --sparsity={sparsity} --tokens={tokens} --seed={seed}";
const SYNTHETIC_PROFILES = `[profile slow]\nargv = ${SYNTHETIC_ARGV} --seconds=${SLOW_S}\nbackends = local\n\n` +
  `[profile synthetic]\nargv = ${SYNTHETIC_ARGV}\nbackends = local\n`;
// A grid too thin to identify the law: one model size, 2 sparsities, one data amount (2 runs).
const THIN = { size: { layers: 2, width: 32, heads: 2 } };
THIN.grid = { sizes: [THIN.size], sparsities: [0, 0.5], tokens: [1000000], seeds: [1] };
const thinSweep = (law, profile) => JSON.stringify({ law, profile, grid: THIN.grid, fit: { bootstrap: 20, publish: "always" } });
// What each view shows once it has loaded and drawn.
const READY = {
  planner: ['#planner-results[data-state="ok"]', '#planner-chart[data-consistent="yes"] canvas'],
  curves: ["#curves-lvd canvas", "#curves-sopt canvas"],
  contours: ["#contours-chart canvas"],
  laws: ['article.law[data-law="t5-c4"] .coefs .coef', 'article.law[data-law="vit-jft"] .coefs .coef'],
  data: ["#upload-form", "#fit-form"],
};

let server, browser, context, base, tmp;

// ------------------------------------------------------------ the server

/** A server in a temporary directory of its own (dir), with more options in extra and a --config file's text in config. */
function startServer(extra = [], config = null) {
  const dir = mkdtempSync(join(tmpdir(), "sparselaw-e2e-"));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, TOKEN + "\n", { mode: 0o600 });
  if (config !== null) {
    writeFileSync(join(dir, "sparselaw.conf"), config);
    extra = ["--config", join(dir, "sparselaw.conf"), ...extra];
  }
  const proc = spawn(
    args.server,
    ["--port", "0", "--bind", "127.0.0.1", "--data-dir", join(dir, "data"), "--token-file", tokenFile, "--static-dir", join(ROOT, "static"), "--threads", "2",
      // Sweeps train on the build's sparselaw-train, beside the server, on the repository's corpus.
      "--corpus", join(ROOT, "data", "tinyshakespeare.txt"), "--local-runs", "2", ...extra],
    { stdio: ["ignore", "ignore", "pipe"] }
  );
  const log = [];
  const exited = new Promise((res) => proc.on("exit", (code, signal) => res({ code, signal })));
  const port = new Promise((res, rej) => {
    let buf = "";
    const timer = setTimeout(() => rej(new Error(`sparselawd did not say it was listening in 10 s:\n${log.join("\n")}`)), 10000);
    proc.stderr.on("data", (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        log.push(line);
        if (log.length > 400) log.shift();
        if (line.includes('"listening"')) {
          try {
            const ev = JSON.parse(line);
            if (ev.event === "listening") {
              clearTimeout(timer);
              res(ev.port);
            }
          } catch {
            /* not JSON: keep reading */
          }
        }
      }
    });
    proc.on("error", (err) => {
      clearTimeout(timer);
      rej(err);
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      rej(new Error(`sparselawd exited with ${code} before listening:\n${log.join("\n")}`));
    });
  });
  return { proc, port, exited, log, dir };
}

/** Stops srv with SIGTERM, which must exit 0, and removes its directory. */
async function stopServer(srv) {
  srv.proc.kill("SIGTERM");
  const { code, signal } = await srv.exited;
  rmSync(srv.dir, { recursive: true, force: true });
  assert.equal(code, 0, `sparselawd exited with ${code} (${signal}) on SIGTERM:\n${srv.log.slice(-20).join("\n")}`);
}

/** The API, straight from node: the reference the page is compared with (origin: another server's). */
async function apiGet(path, origin = base) {
  const r = await fetch(origin + path, { headers: { Authorization: `Bearer ${TOKEN}` } });
  return { status: r.status, body: await r.json() };
}

async function apiPost(path, body, contentType, origin = base) {
  const r = await fetch(origin + path, { method: "POST", body, headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": contentType } });
  return { status: r.status, body: await r.json() };
}

async function apiDelete(path, origin = base) {
  const r = await fetch(origin + path, { method: "DELETE", headers: { Authorization: `Bearer ${TOKEN}` } });
  return { status: r.status, body: await r.json() };
}

async function apiPut(path, json) {
  const r = await fetch(base + path, { method: "PUT", body: JSON.stringify(json), headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" } });
  return { status: r.status, body: await r.json() };
}

// ------------------------------------------------------------ the browser

/** A page whose console errors and uncaught exceptions are collected; it may talk to origin only. */
async function newPage(viewport = LAPTOP, origin = base) {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  page.problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => page.problems.push(`uncaught: ${e.message}`));
  page.on("requestfailed", (r) => page.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("request", (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) page.problems.push(`request outside the server: ${r.url()}`);
  });
  return page;
}

/** Console errors, less the browser's own line for each 4xx an error test provoked on purpose. */
function unexpected(page, allow4xx = false) {
  return page.problems.filter((p) => !(allow4xx && /Failed to load resource: the server responded with a status of 4\d\d/.test(p)));
}

async function ready(page, view) {
  for (const sel of READY[view]) await page.waitForSelector(sel, { state: "attached", timeout: 15000 });
  await page.waitForLoadState("networkidle");
}

/** Waits until the planner's results and chart answer the inputs in the URL. */
async function planned(page) {
  await page.waitForFunction(() => {
    const r = document.getElementById("planner-results");
    const c = document.getElementById("planner-chart");
    return r.dataset.state === "ok" && r.dataset.hash === location.hash && c.dataset.hash === location.hash &&
      c.dataset.consistent === "yes" && c.querySelector("canvas");
  });
}

async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(args.out, `${name}.png`), fullPage: true });
}

async function setToken(page) {
  await page.fill("#token-input", TOKEN);
  await page.click('#token-form button[type="submit"]');
  await page.waitForSelector("#token-form.has-token");
}

/** The number a tick label stands for: "0.25", "−0.5", "10⁹", "2.5×10⁻³". */
function tickNumber(label) {
  const SUP = { "⁻": "-", "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9" };
  const s = label.replace(/−/g, "-");
  const m = /^(-?\d*\.?\d*)×?10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)$/.exec(s);
  if (!m) return Number(s);
  const mant = m[1] === "" ? 1 : m[1] === "-" ? -1 : Number(m[1]);
  return mant * 10 ** Number([...m[2]].map((c) => SUP[c]).join(""));
}

/** Every drawn axis label of every chart in the view reads as the value of its tick. */
async function assertTickLabels(page, view, size) {
  const axes = await page.$$eval(`#view-${view} .chart`, (els) =>
    els.flatMap((el) => ["ticksX", "ticksY"].filter((k) => el.dataset[k]).map((k) => ({ chart: el.id, axis: k, ticks: JSON.parse(el.dataset[k]) })))
  );
  for (const { chart, axis, ticks } of axes)
    for (const [v, label] of ticks) {
      const n = tickNumber(label);
      assert.ok(Math.abs(n - v) <= 1e-9 * Math.abs(v) + 1e-12, `${view} ${size}: #${chart} ${axis} labels the tick at ${v} "${label}"`);
    }
  return axes;
}

/** Text of each of root's elements sticking out of its own box, by more than a pixel. */
async function overflowing(page, rootSel, childSel) {
  return page.$$eval(`${rootSel}`, (boxes, childSel) => {
    const out = [];
    for (const box of boxes) {
      const b = box.getBoundingClientRect();
      const left = b.left + box.clientLeft, right = left + box.clientWidth;
      for (const el of box.querySelectorAll(childSel)) {
        const range = document.createRange();
        range.selectNodeContents(el);
        const r = range.getBoundingClientRect();
        if (r.width && (r.left < left - 1 || r.right > right + 1)) out.push(`${el.textContent} (${Math.round(r.left)}..${Math.round(r.right)} in ${Math.round(left)}..${Math.round(right)})`);
      }
    }
    return out;
  }, childSel);
}

/** A page on origin's Data & fits view with the token set. */
async function dataPage(viewport, origin) {
  const page = await newPage(viewport, origin);
  await page.goto(`${origin}/#/data`);
  await setToken(page);
  return page;
}

/** POSTs a sweep of the thin grid to origin with the trainer profile; its answer (202). */
async function postThin(law, profile, origin) {
  const posted = await apiPost("/v1/sweeps", thinSweep(law, profile), "application/json", origin);
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  return posted.body;
}

/** Sweep id of the server at origin on a phone, once readySel shows: nothing wider than the screen (tables scroll in their box). */
async function sweepOnPhone(origin, id, readySel, name) {
  const phone = await dataPage(PHONE, origin);
  await phone.goto(`${origin}/#/data?sweep=${id}`);
  await phone.waitForSelector(readySel);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `sweep ${id} is ${overflow}px wider than a phone's screen`);
  await shot(phone, name);
  assert.deepEqual(unexpected(phone), []);
  await phone.close();
}

/** The header's share of the screen, and whether its tabs sit in one row inside the screen. */
async function headerFit(page) {
  return page.evaluate(() => {
    const h = document.querySelector("header.top").getBoundingClientRect();
    const tabs = [...document.querySelectorAll(".tabs a")].map((a) => a.getBoundingClientRect());
    return {
      share: h.height / window.innerHeight,
      oneRow: tabs.every((t) => Math.abs(t.top - tabs[0].top) < 1),
      inside: tabs.every((t) => t.left >= 0 && t.right <= window.innerWidth),
    };
  });
}

// ------------------------------------------------------------------ setup

before(async () => {
  mkdirSync(args.out, { recursive: true });
  if (!existsSync(args.server)) throw new Error(`no server at ${args.server}: build it (cmake --build build)`);
  if (!existsSync(args.chromium)) throw new Error(`no chromium at ${args.chromium}: apt-get install chromium (scripts/deps.sh)`);
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (err) {
    throw new Error(`playwright-core is not installed: run npm ci in ${ROOT} (${err.message})`);
  }
  server = startServer();
  tmp = server.dir;
  base = `http://127.0.0.1:${await server.port}`;
  // A fresh profile, and none of Chromium's own traffic: the network is closed.
  context = await chromium.launchPersistentContext(join(tmp, "profile"), {
    executablePath: args.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: LAPTOP,
  });
});

after(async () => {
  await context?.close();
  if (server) await stopServer(server);
});

// ------------------------------------------------------------------ tests

test("static/vendor holds the uPlot that package-lock.json pins", () => {
  assert.deepEqual(checkVendored(), []);
});

for (const view of VIEWS) {
  test(`${view} loads with no console errors, at a laptop's and a phone's width`, async () => {
    for (const [size, viewport] of [["laptop", LAPTOP], ["phone", PHONE]]) {
      const page = await newPage(viewport);
      await page.goto(`${base}/#/${view}`);
      await ready(page, view);
      assert.ok(await page.isVisible(`#view-${view}`), `#view-${view} is shown`);
      assert.equal(await page.getAttribute(`.tabs a[data-view="${view}"]`, "class"), "active");
      // Nothing wider than the screen (tables scroll inside their own box).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${view} is ${overflow}px wider than a ${size} screen`);
      // Tick labels carry the digits their step needs (0.25, not 0.3) on every chart.
      const axes = await assertTickLabels(page, view, size);
      if (view === "planner" && size === "phone") {
        const xs = axes.find((a) => a.chart === "planner-chart" && a.axis === "ticksX").ticks.map((t) => t[1]);
        assert.ok(xs.includes("0.25") && xs.includes("0.75"), `planner x ticks at a phone's width: ${xs.join(" ")}`);
      }
      if (size === "phone") {
        // A phone's header is compact: at most a tenth of the screen, every tab in one row on it.
        const h = await headerFit(page);
        assert.ok(h.share <= 0.1, `${view}: the header takes ${(100 * h.share).toFixed(1)} % of a phone's height`);
        assert.ok(h.oneRow && h.inside, `${view}: the tabs are ${h.oneRow ? "" : "not "}in one row and ${h.inside ? "" : "not "}inside the screen`);
      }
      await shot(page, `${view}-${size}`);
      assert.deepEqual(unexpected(page), []);
      await page.close();
    }
  });
}

test("the planner and the curves overlay the laws compared with; a fitted law's curves carry their 95 % bands", async () => {
  // a second law in tokens, and t5-c4's sweep fitted with bootstrap draws
  const other = await apiPut("/v1/laws/e2e-other", {
    coefficients: { a_s: 40, b_s: 0.72161276, c_s: 45.0184473511, b_n: 0.24513173, a_d: 689991261.918, b_d: 0.20270772, c: 0.65074219 },
    units: { data: "tokens", nonzeros: "parameters" },
    description: "t5-c4 with a larger a_s",
  });
  assert.ok(other.status === 200 || other.status === 201, JSON.stringify(other.body));
  const up = await apiPost("/v1/datasets?name=e2e-t5&base_params=169869312&tokens_per_step=65536", readFileSync(T5), "text/csv");
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const fit = await apiPost("/v1/fits?wait=true", JSON.stringify({ dataset: up.body.id, law: "e2e-fitted", bootstrap: 50, seed: 1 }), "application/json");
  assert.equal(fit.body.state, "succeeded", JSON.stringify(fit.body).slice(0, 400));

  const page = await newPage();
  const inputs = "nonzeros=1e9&compute=1.2e21";
  await page.goto(`${base}/#/planner?law=t5-c4&${inputs}&compare=e2e-other,vit-jft`);
  await planned(page);
  await page.waitForFunction(() => document.getElementById("planner-compare").dataset.state === "ok" && document.getElementById("planner-chart").dataset.overlays === "1");
  const rows = await page.$$eval("#planner-compare tr[data-law]", (els) => els.map((e) => ({ law: e.dataset.law, s: e.dataset.sparsity, error: e.dataset.error })));
  const ref = await apiGet(`/v1/compare/optimal-sparsity?laws=t5-c4,e2e-other,vit-jft&${inputs}`);
  assert.equal(ref.status, 200);
  assert.deepEqual(rows.map((r) => r.law), ["t5-c4", "e2e-other", "vit-jft"]);
  for (const [i, a] of ref.body.answers.entries()) {
    if (a.error) assert.equal(rows[i].error, a.error.code);
    else assert.equal(Number(rows[i].s), a.sparsity, `${a.law.name}: the page's S_opt is the API's`);
  }
  assert.equal(rows[2].error, "unit_mismatch"); // vit-jft's data is in examples: no FLOPs budget
  assert.notEqual(Number(rows[0].s), Number(rows[1].s));
  // the chart: this law's curve, S_opt and dense points, then the other law's curve and S_opt
  assert.equal(await page.getAttribute("#planner-chart", "data-series"), "5");
  assert.deepEqual(await page.$$eval('#planner-form select[name="compare"] option:checked', (os) => os.map((o) => o.value)), ["e2e-other", "vit-jft"]);
  await shot(page, "planner-compare-laptop");
  // a law the server does not hold: its 404 beside the list
  await page.goto(`${base}/#/planner?law=t5-c4&${inputs}&compare=no-such-law`);
  await page.waitForFunction(() => document.getElementById("planner-compare").dataset.state === "error");
  assert.match(await page.textContent('#planner-form [data-error-for="laws"]'), /no-such-law/);

  // curves of the fitted law beside t5-c4: bands on the fitted law's lines only
  await page.goto(`${base}/#/curves?law=e2e-fitted&compare=t5-c4&sparsities=0,0.5&nonzeros_list=1e9`);
  await page.waitForFunction(() => document.getElementById("curves-lvd").dataset.series === "8" && document.getElementById("curves-sopt").dataset.series === "4");
  assert.equal(await page.getAttribute("#curves-lvd", "data-bands"), "2");
  assert.equal(await page.getAttribute("#curves-sopt", "data-bands"), "1");
  assert.match(await page.textContent("#curves-lvd-sub"), /e2e-fitted v1 vs t5-c4 v1/);
  const band = await apiGet("/v1/laws/e2e-fitted/curves/loss-vs-data?nonzeros=1e9&sparsities=0,0.5");
  for (const s of band.body.series) s.loss.forEach((l, i) => assert.ok(s.loss_lo[i] <= l && l <= s.loss_hi[i], `band at ${s.data[i]}`));
  await shot(page, "curves-compare-laptop");
  // the fitted law's contours: a band about every line, the dense compute-optimal one too
  await page.goto(`${base}/#/contours?law=e2e-fitted&levels=0.25,0.5`);
  await page.waitForFunction(() => document.getElementById("contours-chart").dataset.series === "9");
  assert.equal(await page.getAttribute("#contours-chart", "data-bands"), "3");
  assert.match(await page.textContent("#contours-note"), /95 % interval of each line/);
  await page.goto(`${base}/#/contours?law=t5-c4&levels=0.25,0.5`);
  await page.waitForFunction(() => document.getElementById("contours-chart").dataset.series === "3");
  assert.equal(await page.getAttribute("#contours-chart", "data-bands"), "0");
  // the built-in law alone: no bands
  await page.goto(`${base}/#/curves?law=t5-c4&sparsities=0,0.5&nonzeros_list=1e9`);
  await page.waitForFunction(() => document.getElementById("curves-lvd").dataset.series === "2");
  assert.equal(await page.getAttribute("#curves-lvd", "data-bands"), "0");
  assert.deepEqual(unexpected(page, true), []);
  await page.close();
});

test("curves and contours of a law whose data is in examples give the budget as data", async () => {
  const page = await newPage();
  await page.goto(`${base}/#/curves?law=vit-jft`);
  await ready(page, "curves");
  assert.equal(await page.inputValue('#curves-form select[name="law"]'), "vit-jft");
  assert.ok(await page.isChecked('#curves-form input[name="budget"][value="data"]'));
  assert.equal(await page.getAttribute("#curves-sopt", "data-series"), "3");
  await shot(page, "curves-vit-laptop");
  await page.goto(`${base}/#/contours?law=vit-jft&levels=0.5,0.75&nonzeros_min=1e6&nonzeros_max=1e10`);
  await page.waitForFunction(() => document.getElementById("contours-chart").dataset.series === "3");
  await shot(page, "contours-vit-laptop");
  assert.deepEqual(unexpected(page), []);
  await page.close();
});

test("the planner shows the S_opt the API answers, entered through the form and from a shared link", async () => {
  const page = await newPage();
  await page.goto(`${base}/#/planner`);
  await ready(page, "planner");
  await page.click("#planner-form details.more summary"); // patterns and max sparsity
  const cases = [
    { law: "t5-c4", nonzeros: "1e9", budget: "compute", amount: "1.2e21", cost_model: "gmp", patterns: "" },
    { law: "t5-c4", nonzeros: "1e9", budget: "data", amount: "2e11", cost_model: "dense", patterns: "" },
    { law: "vit-jft", nonzeros: "1e8", budget: "data", amount: "1e10", cost_model: "dense", patterns: "2:4,1:4" },
  ];
  for (const c of cases) {
    await page.selectOption('#planner-form select[name="law"]', c.law);
    await page.waitForFunction((law) => document.querySelector(".law-desc").textContent.length > 0 && document.querySelector('#planner-form select[name="law"]').value === law, c.law);
    await page.fill('#planner-form [name="nonzeros"]', c.nonzeros);
    await page.check(`#planner-form input[name="budget"][value="${c.budget}"]`);
    await page.fill('#planner-form [name="amount"]', c.amount);
    await page.check(`#planner-form input[name="cost_model"][value="${c.cost_model}"]`);
    await page.fill('#planner-form [name="patterns"]', c.patterns);
    await page.click('#planner-form button[type="submit"]');
    await page.waitForFunction((amount) => location.hash.includes(amount), c.amount);
    await planned(page);

    const q = new URLSearchParams({ nonzeros: c.nonzeros, [c.budget]: c.amount, cost_model: c.cost_model });
    if (c.cost_model === "gmp") q.set("prune_start", "0.25"), q.set("prune_end", "0.75");
    if (c.patterns) q.set("patterns", c.patterns);
    const api = await apiGet(`/v1/laws/${c.law}/optimal-sparsity?${q}`);
    assert.equal(api.status, 200);
    const shown = async (name) => Number(await page.getAttribute(`#planner-results [data-out="${name}"]`, "data-value"));
    for (const f of ["sparsity", "loss", "dense_loss", "improvement", "total_params", "data", "compute"])
      assert.equal(await shown(f), api.body[f], `${c.law} ${f}`);
    // Beside each number its short unit; the API's whole unit sentence on hover.
    const dataUnit = c.law === "vit-jft" ? "examples" : "tokens";
    const short = { loss: "loss", dense_loss: "loss", improvement: "loss", total_params: "parameters", data: dataUnit, dense_data: dataUnit,
      compute: c.law === "vit-jft" ? "parameter-examples × 6" : "FLOPs" };
    for (const [f, text] of Object.entries(short)) {
      const unit = `#planner-results [data-out="${f}"] + .unit`;
      assert.equal(await page.textContent(unit), text, `${c.law} ${f}'s unit`);
      assert.equal(await page.getAttribute(unit, "title"), text === api.body.units[f] ? null : api.body.units[f], `${c.law} ${f}'s unit title`);
    }
    // The headline's text is that number, rounded.
    const text = await page.textContent('#planner-results [data-out="sparsity"]');
    assert.ok(text.startsWith(String(Number(api.body.sparsity.toPrecision(4)))), `headline ${text} for S_opt ${api.body.sparsity}`);
    // The chart's point at S_opt is the optimum's loss.
    assert.ok(Math.abs(Number(await page.getAttribute("#planner-chart", "data-opt-loss")) - api.body.loss) <= 1e-9 * api.body.loss);

    // The URL holds the inputs: a fresh tab opened on it shows the same plan.
    const link = page.url();
    const other = await newPage();
    await other.goto(link);
    await planned(other);
    assert.equal(Number(await other.getAttribute('#planner-results [data-out="sparsity"]', "data-value")), api.body.sparsity);
    assert.equal(await other.inputValue('#planner-form [name="nonzeros"]'), c.nonzeros);
    assert.deepEqual(unexpected(other), []);
    await other.close();
  }
  await shot(page, "planner-vit-patterns-laptop");
  assert.deepEqual(unexpected(page), []);
  await page.close();
});

test("a planner input the server refuses shows the server's message beside that input", async () => {
  const page = await newPage();
  await page.goto(`${base}/#/planner?law=t5-c4&nonzeros=abc&compute=1e21`);
  const slot = '#planner-form [data-error-for="nonzeros"]';
  await page.waitForFunction((s) => document.querySelector(s).textContent.length > 0, slot);
  const api = await apiGet("/v1/laws/t5-c4/optimal-sparsity?nonzeros=abc&compute=1e21&cost_model=dense");
  assert.equal(api.status, 400);
  assert.equal(await page.textContent(slot), api.body.error.message);
  assert.equal(await page.getAttribute('#planner-form [name="nonzeros"]', "aria-invalid"), "true");

  // A budget in FLOPs for a law whose data is in images: 422, beside the budget.
  await page.goto(`${base}/#/planner?law=vit-jft&nonzeros=1e8&compute=1e20`);
  const budget = '#planner-form [data-error-for="amount"]';
  await page.waitForFunction((s) => document.querySelector(s).textContent.length > 0, budget);
  const api2 = await apiGet("/v1/laws/vit-jft/optimal-sparsity?nonzeros=1e8&compute=1e20&cost_model=dense");
  assert.equal(api2.status, 422);
  assert.equal(await page.textContent(budget), api2.body.error.message);
  await shot(page, "planner-error-laptop");

  // A shared link naming a law, or a version, this server lacks: 404 beside the select.
  for (const [hash, field, path] of [
    ["law=no-such-law&nonzeros=1e9&data=1e10", "law", "/v1/laws/no-such-law/optimal-sparsity?nonzeros=1e9&data=1e10"],
    ["law=t5-c4&version=9&nonzeros=1e9&data=1e10", "version", "/v1/laws/t5-c4/optimal-sparsity?nonzeros=1e9&data=1e10&version=9"],
  ]) {
    await page.goto(`${base}/#/planner?${hash}`);
    const sel = `#planner-form [data-error-for="${field}"]`;
    await page.waitForFunction((s) => document.querySelector(s).textContent.length > 0, sel);
    const r = await apiGet(path);
    assert.equal(r.status, 404);
    assert.equal(await page.textContent(sel), r.body.error.message);
  }
  assert.deepEqual(unexpected(page, true), []);
  await page.close();
});

test("a Draw the server refuses marks the charts it could not redraw as stale, with the server's message", async () => {
  const page = await newPage();
  await page.goto(`${base}/#/curves`);
  await ready(page, "curves");
  await page.fill('#curves-form [name="sparsities"]', "0,abc");
  await page.click('#curves-form button[type="submit"]');
  const slot = '#curves-form [data-error-for="sparsities"]';
  await page.waitForFunction((s) => document.querySelector(s).textContent.length > 0, slot);
  await page.waitForLoadState("networkidle");
  const api = await apiGet("/v1/laws/t5-c4/curves/loss-vs-data?nonzeros=1e9&sparsities=0,abc");
  assert.equal(api.status, 400);
  assert.equal(await page.textContent(slot), api.body.error.message);
  // The loss-against-data chart still shows the old sparsities: marked, with the reason.
  assert.equal(await page.getAttribute("#curves-lvd", "data-stale"), "true");
  const note = await page.textContent(".stale-note:has(+ #curves-lvd)");
  assert.ok(note.includes(api.body.error.message), `stale note: ${note}`);
  assert.ok(await page.isVisible(".stale-note:has(+ #curves-lvd)"));
  // The S_opt chart's request succeeded: it answers the inputs and is not marked.
  assert.equal(await page.getAttribute("#curves-sopt", "data-stale"), null);
  await shot(page, "curves-stale-laptop");
  // A Draw the server accepts clears the mark.
  await page.fill('#curves-form [name="sparsities"]', "0,0.5");
  await page.click('#curves-form button[type="submit"]');
  await page.waitForFunction(() => document.getElementById("curves-lvd").dataset.series === "2");
  assert.equal(await page.getAttribute("#curves-lvd", "data-stale"), null);
  assert.equal(await page.locator("#view-curves .stale-note").count(), 0);

  await page.goto(`${base}/#/contours`);
  await ready(page, "contours");
  await page.fill('#contours-form [name="levels"]', "0.5,2");
  await page.click('#contours-form button[type="submit"]');
  await page.waitForSelector('#contours-chart[data-stale="true"]');
  const api2 = await apiGet("/v1/laws/t5-c4/contours?levels=0.5,2&nonzeros_min=1e7&nonzeros_max=1e12");
  assert.equal(api2.status, 400);
  assert.equal(await page.textContent('#contours-form [data-error-for="levels"]'), api2.body.error.message);
  assert.ok((await page.textContent("#view-contours .stale-note")).includes(api2.body.error.message));

  // The planner clears its results and chart when the server refuses a plan.
  await page.goto(`${base}/#/planner`);
  await planned(page);
  await page.fill('#planner-form [name="nonzeros"]', "-5");
  await page.click('#planner-form button[type="submit"]');
  await page.waitForSelector('#planner-results[data-state="error"]');
  assert.equal(await page.locator("#planner-chart canvas").count(), 0);
  assert.deepEqual(unexpected(page, true), []);
  await page.close();
});

test("the forms speak the selected law's units: no FLOPs for a law whose data is in examples", async () => {
  const page = await newPage();
  const units = (form) => page.$$eval(`${form} .unit`, (els) => els.map((e) => e.textContent));
  await page.goto(`${base}/#/planner?law=vit-jft&nonzeros=1e8&data=1e10`);
  await planned(page);
  const api = await apiGet("/v1/laws/vit-jft/optimal-sparsity?nonzeros=1e8&data=1e10");
  const compute = api.body.units.compute; // "parameter-examples x 6 (not FLOPs: ...)"
  assert.deepEqual((await units("#planner-form")).filter((u) => u.includes("FLOPs")), []);
  assert.equal(await page.textContent('#planner-form [data-unit="compute"]'), "parameter-examples × 6");
  assert.equal(await page.getAttribute('#planner-form [data-unit="compute"]', "title"), compute);
  await page.check('#planner-form input[name="budget"][value="compute"]');
  assert.equal(await page.textContent("#planner-form .budget-unit"), "parameter-examples × 6");
  const hint = await page.textContent("#planner-form .budget-hint");
  assert.match(hint, /parameter-examples, not FLOPs/);
  assert.match(hint, /dense data/); // the server refuses compute= for this law
  await shot(page, "planner-vit-units-laptop");
  // A law in tokens: compute is FLOPs.
  await page.selectOption('#planner-form select[name="law"]', "t5-c4");
  await page.waitForFunction(() => document.querySelector('#planner-form [data-unit="compute"]').textContent === "FLOPs");
  assert.equal(await page.textContent("#planner-form .budget-unit"), "FLOPs");

  await page.goto(`${base}/#/curves?law=vit-jft`);
  await ready(page, "curves");
  assert.deepEqual((await units("#curves-form")).filter((u) => u.includes("FLOPs")), []);
  await page.check('#curves-form input[name="budget"][value="compute"]');
  assert.deepEqual(await page.$$eval("#curves-form .budget-unit", (els) => els.map((e) => e.textContent)), ["parameter-examples × 6", "parameter-examples × 6"]);
  assert.deepEqual(unexpected(page), []);
  await page.close();
});

test("the token is entered once and kept in session storage", async () => {
  const page = await newPage();
  await page.goto(`${base}/#/data`);
  await ready(page, "data");
  assert.ok(await page.isVisible("#data-token-notice"));
  await setToken(page);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("sparselaw.token")), TOKEN);
  // The token loads the fit and sweep lists: let them arrive before the
  // reload, which would abort them (a slow server, e.g. a sanitizer build).
  await page.waitForSelector("#fits-list table, #fits-list .hint:not(:has-text('Enter the token'))");
  await page.waitForSelector("#sweeps-list table, #sweeps-list .hint:not(:has-text('Enter the token'))");
  await page.waitForLoadState("networkidle");
  await page.reload();
  await page.waitForSelector("#token-form.has-token");
  assert.ok(await page.isHidden("#data-token-notice"));
  await page.waitForSelector("#datasets-list .hint, #datasets-list table");
  assert.deepEqual(unexpected(page), []);
  await page.close();
});

test("an upload through the file picker, a fit that completes and draws its plots, and its published law", async () => {
  const page = await newPage();
  await page.goto(`${base}/#/data`);
  await setToken(page);
  await page.setInputFiles("#file-input", VIT);
  assert.equal(await page.inputValue('#upload-form [name="name"]'), "vit-jft-sweep");
  await page.fill('#upload-form [name="base_params"]', "84934656");
  await page.click('#upload-form button[type="submit"]');
  await page.waitForSelector("#upload-ok [data-dataset]");
  assert.match(await page.textContent("#upload-ok"), /112 rows/);
  const datasetId = await page.getAttribute("#upload-ok [data-dataset]", "data-dataset");
  assert.equal(await page.inputValue('#fit-form [name="dataset"]'), datasetId);
  await page.waitForSelector(`#datasets-list tr[data-id="${datasetId}"]`);

  await page.fill('#fit-form [name="law"]', "e2e-vit");
  await page.selectOption('#fit-form [name="residuals"]', "plain");
  await page.fill('#fit-form [name="delta"]', "0.01");
  await page.fill('#fit-form [name="bootstrap"]', "20");
  await page.fill('#fit-form [name="starts"]', "16");
  await page.check('#fit-form input[name="holdout"][value="largest"]');
  await page.fill('#fit-form [name="largest_nonzeros"]', "8");
  await page.click('#fit-form button[type="submit"]');
  await page.waitForFunction(() => /fit=\d+/.test(location.hash));
  await page.waitForSelector('#fit-state [data-state="succeeded"]', { timeout: 90000 });
  await page.waitForSelector("#fit-pvm canvas");
  await page.waitForSelector("#fit-resid canvas");
  assert.equal(await page.getAttribute("#fit-pvm", "data-heldout"), "8");
  assert.equal(await page.getAttribute("#fit-pvm", "data-points"), "112");
  const fitId = /fit=(\d+)/.exec(page.url())[1];
  const fit = await apiGet(`/v1/fits/${fitId}`);
  assert.equal(fit.body.state, "succeeded");
  assert.equal(fit.body.residuals.filter((r) => r.heldout).length, 8);
  const href = await page.getAttribute("#fit-result a.published", "href");
  assert.equal(href, `#/laws?law=e2e-vit&version=${fit.body.published.version}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "data-fit-laptop");

  // A second fit publishes v2; the link still leads to the version this fit
  // published, with its intervals, beside the newer one.
  const again = await apiPost("/v1/fits?wait=true", JSON.stringify({ dataset: Number(datasetId), law: "e2e-vit", loss: { delta: 0.01, residuals: "plain" }, bootstrap: 0, starts: 8 }), "application/json");
  assert.equal(again.status, 200);
  assert.equal(again.body.published.version, fit.body.published.version + 1);
  await page.click("#fit-result a.published");
  await page.waitForSelector(`article.law[data-law="e2e-vit"] section.version.focus[data-version="${fit.body.published.version}"] .interval`);
  assert.equal(await page.locator('article.law[data-law="e2e-vit"] section.version').count(), 2);
  const a_s = Number(await page.getAttribute('article.law[data-law="e2e-vit"] section.version.focus [data-coef="a_s"]', "data-value"));
  assert.equal(a_s, fit.body.coefficients.a_s);
  // Each coefficient, its interval and its unit stay inside the coefficient's card.
  assert.equal(await page.locator('article.law[data-law="e2e-vit"] .coef .interval').count(), 7);
  assert.deepEqual(await overflowing(page, "article.law .coef", ".value, .interval, .unit"), [], "text outside its coefficient card at a laptop's width");
  await shot(page, "laws-fitted-laptop");

  // The planner gives the version with bootstrap draws an S_opt with its interval.
  const v = fit.body.published.version;
  await page.goto(`${base}/#/planner?law=e2e-vit&version=${v}&nonzeros=1e8&data=1e10`);
  await planned(page);
  assert.equal(await page.inputValue('#planner-form select[name="version"]'), String(v));
  const api = await apiGet(`/v1/laws/e2e-vit/optimal-sparsity?nonzeros=1e8&data=1e10&cost_model=dense&version=${v}`);
  assert.ok(Array.isArray(api.body.interval));
  assert.equal(Number(await page.getAttribute('[data-out="sparsity_interval"]', "data-lo")), api.body.interval[0]);
  assert.equal(Number(await page.getAttribute('[data-out="sparsity_interval"]', "data-hi")), api.body.interval[1]);
  await page.waitForSelector('[data-out="loss_interval"]');
  await shot(page, "planner-fitted-laptop");

  // The same fit on a phone.
  const phone = await newPage(PHONE);
  await phone.goto(`${base}/#/data`);
  await setToken(phone);
  await phone.goto(`${base}/#/data?fit=${fitId}`);
  await phone.waitForSelector("#fit-pvm canvas");
  await shot(phone, "data-fit-phone");
  const h = await headerFit(phone); // with the token set
  assert.ok(h.share <= 0.1 && h.oneRow && h.inside, `with a token the phone's header takes ${(100 * h.share).toFixed(1)} %, tabs in one row: ${h.oneRow}, inside: ${h.inside}`);
  await phone.goto(`${base}/#/laws?law=e2e-vit&version=${fit.body.published.version}`);
  await phone.waitForSelector('article.law[data-law="e2e-vit"] section.version.focus .interval');
  assert.deepEqual(await overflowing(phone, "article.law .coef", ".value, .interval, .unit"), [], "text outside its coefficient card at a phone's width");
  await shot(phone, "laws-fitted-phone");
  assert.deepEqual(unexpected(phone), []);
  await phone.close();
  assert.deepEqual(unexpected(page), []);
  await page.close();
});

test("an invalid upload by drag and drop shows the server's row errors", async () => {
  const csv = "sparsity,nonzeros,data,loss\n0.5,1e8,1e9,2.5\n1.5,abc,1e9,2.4\n0.25,2e8,-3,2.3\n";
  const api = await apiPost("/v1/datasets?name=bad-rows", csv, "text/csv");
  assert.equal(api.status, 422);
  const page = await newPage();
  await page.goto(`${base}/#/data`);
  await setToken(page);
  await page.dispatchEvent("#drop-zone", "drop", {
    dataTransfer: await page.evaluateHandle((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], "bad-rows.csv", { type: "text/csv" }));
      return dt;
    }, csv),
  });
  assert.equal(await page.textContent("#file-name"), `bad-rows.csv, ${csv.length} bytes`);
  await page.click('#upload-form button[type="submit"]');
  await page.waitForSelector("#row-errors table.errors");
  assert.equal(await page.textContent("#upload-form .form-error"), api.body.error.message);
  const rows = await page.$$eval("#row-errors tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(
    rows,
    api.body.error.errors.map((e) => [String(e.row ?? "–"), e.field ?? "–", e.reason])
  );
  await shot(page, "data-upload-error-laptop");
  assert.deepEqual(unexpected(page, true), []);
  await page.close();
});

test("an upload missing a query option shows the server's message beside that option", async () => {
  const csv = readFileSync(T5);
  const api = await apiPost("/v1/datasets?name=t5-c4-sweep", csv, "text/csv");
  assert.equal(api.status, 400);
  assert.equal(api.body.error.field, "base_params");
  const page = await newPage(PHONE);
  await page.goto(`${base}/#/data`);
  await setToken(page);
  await page.setInputFiles("#file-input", T5);
  await page.click('#upload-form button[type="submit"]');
  const slot = '#upload-form [data-error-for="base_params"]';
  await page.waitForFunction((s) => document.querySelector(s).textContent.length > 0, slot);
  assert.equal(await page.textContent(slot), api.body.error.message);
  assert.equal(await page.getAttribute('#upload-form [name="base_params"]', "aria-invalid"), "true");
  await shot(page, "data-upload-option-error-phone");

  // With the options it needs, the same file goes in.
  await page.fill('#upload-form [name="base_params"]', "169869312");
  await page.fill('#upload-form [name="tokens_per_step"]', "65536");
  await page.click('#upload-form button[type="submit"]');
  await page.waitForSelector("#upload-ok [data-dataset]");
  assert.match(await page.textContent("#upload-ok"), /48 rows/);
  assert.match(await page.textContent("#upload-ok"), /data in tokens/);
  assert.deepEqual(unexpected(page, true), []);
  await page.close();
});

test("a wrong token shows the server's message beside the token", async () => {
  const page = await newPage();
  await page.goto(`${base}/#/data`);
  await page.fill("#token-input", "not-the-token-at-all");
  await page.click('#token-form button[type="submit"]');
  const slot = '[data-error-for="token"]';
  await page.waitForFunction((s) => document.querySelector(s).textContent.length > 0, slot);
  const r = await fetch(`${base}/v1/datasets`, { headers: { Authorization: "Bearer not-the-token-at-all" } });
  assert.equal(r.status, 403);
  assert.equal(await page.textContent(slot), (await r.json()).error.message);
  assert.deepEqual(unexpected(page, true), []);
  await page.close();
});

test("a weak law's warnings show where its numbers are: the laws view, the planner and its fit", async () => {
  const up = await apiPost("/v1/datasets?name=t5-weak&base_params=169869312&tokens_per_step=65536", readFileSync(T5), "text/csv");
  assert.equal(up.status, 201);
  const fit = await apiPost("/v1/fits?wait=true", JSON.stringify({ dataset: up.body.id, law: "e2e-t5-weak", bootstrap: 20 }), "application/json");
  assert.equal(fit.status, 200);
  assert.equal(fit.body.verdict, "weak");
  const warnings = fit.body.reasons.map((r) => r.message);
  assert.ok(warnings.some((w) => w.includes("3 data amounts") && w.includes("a_d")), warnings.join(" | "));
  const items = (page, sel) => page.$$eval(`${sel} .warnings li`, (els) => els.map((e) => e.textContent));

  const page = await newPage();
  await page.goto(`${base}/#/laws?law=e2e-t5-weak`);
  await setToken(page); // for the fit view below
  await page.waitForSelector('article.law[data-law="e2e-t5-weak"] .warnings li');
  assert.deepEqual(await items(page, 'article.law[data-law="e2e-t5-weak"] section.version'), warnings);
  assert.equal(await page.getAttribute('article.law[data-law="e2e-t5-weak"] .warnings', "data-verdict"), "weak");
  // the built-in laws carry none
  assert.equal(await page.$$eval('article.law[data-law="t5-c4"] .warnings', (els) => els.length), 0);

  await page.goto(`${base}/#/planner`);
  await ready(page, "planner");
  await page.selectOption('#planner-form select[name="law"]', "e2e-t5-weak");
  await page.waitForFunction(() => document.querySelector('#planner-form select[name="law"]').value === "e2e-t5-weak");
  await page.fill('#planner-form [name="nonzeros"]', "1e9");
  await page.check('#planner-form input[name="budget"][value="data"]');
  await page.fill('#planner-form [name="amount"]', "2e11");
  await page.click('#planner-form button[type="submit"]');
  await page.waitForFunction(() => location.hash.includes("e2e-t5-weak") && location.hash.includes("2e11"));
  await planned(page);
  assert.deepEqual(await items(page, "#planner-results"), warnings);
  await shot(page, "planner-weak-law-laptop");

  await page.goto(`${base}/#/data?fit=${fit.body.id}`);
  await page.waitForSelector("#fit-result .warnings li");
  assert.deepEqual(await items(page, "#fit-result"), warnings);
  assert.equal(await page.getAttribute("#fit-result .verdict [data-verdict]", "data-verdict"), "weak");
  // and the list of fits tags it, its reasons on hover
  const tag = `#fits-list tr[data-id="${fit.body.id}"] .tag.verdict`;
  await page.waitForSelector(tag);
  assert.equal(await page.getAttribute(tag, "data-verdict"), "weak");
  assert.equal(await page.getAttribute(tag, "title"), warnings.join("\n"));
  assert.deepEqual(unexpected(page), []);
  await page.close();
});

test("sweeps appear with their state, progress and runs, and link to the dataset and fit they made", async () => {
  const page = await newPage();
  await page.goto(`${base}/#/data`);
  await setToken(page);
  // Before any sweep: the list says so.
  await page.waitForSelector("#sweeps-list .hint");
  assert.match(await page.textContent("#sweeps-list"), /No sweeps yet/);
  assert.equal((await apiGet("/v1/sweeps")).body.sweeps.length, 0);

  const posted = await apiPost("/v1/sweeps", JSON.stringify(TINY_SWEEP), "application/json");
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  const id = posted.body.id;
  await page.reload();
  await page.waitForSelector(`#sweeps-list tr[data-id="${id}"]`);
  // The page follows the sweep until its fit has published the law.
  await page.waitForSelector(`#sweeps-list tr[data-id="${id}"][data-state="succeeded"]`, { timeout: 90000 });
  const listed = (await apiGet("/v1/sweeps")).body.sweeps.find((s) => s.id === id);
  assert.equal(listed.state, "succeeded");
  const row = `#sweeps-list tr[data-id="${id}"]`;
  assert.equal(await page.getAttribute(`${row} [data-ended]`, "data-ended"), "8");
  assert.equal(await page.getAttribute(`${row} [data-total]`, "data-total"), "8");
  assert.equal(await page.getAttribute(`${row} progress`, "value"), "8");
  assert.equal(await page.getAttribute(`${row} a.sweep-dataset`, "href"), `#/data?dataset=${listed.dataset.id}`);
  assert.equal(await page.getAttribute(`${row} a.sweep-fit`, "href"), `#/data?fit=${listed.fit.id}`);
  // Its fit is in the list of fits too.
  await page.waitForSelector(`#fits-list tr[data-id="${listed.fit.id}"][data-state="succeeded"]`);
  await shot(page, "data-sweeps-laptop");

  // Its runs, as the API pages them (newest first), each succeeded.
  await page.click(`${row} a.open-sweep`);
  await page.waitForFunction(() => /sweep=\d+/.test(location.hash));
  await page.waitForSelector("#sweep-runs tr[data-id]");
  const runs = (await apiGet(`/v1/sweeps/${id}/runs`)).body.runs;
  assert.equal(runs.length, 8);
  const shown = await page.$$eval("#sweep-runs tr[data-id]", (trs) => trs.map((tr) => [Number(tr.dataset.id), tr.dataset.state]));
  assert.deepEqual(shown, runs.map((r) => [r.id, "succeeded"]));
  assert.equal(await page.textContent("#sweep-title"), `Sweep ${id} · e2e-calib`);
  assert.equal(await page.getAttribute("#sweep-state a.sweep-law", "href"), "#/laws?law=e2e-calib&version=1");
  assert.deepEqual(await overflowing(page, "#sweep-card", "p"), [], "text outside the sweep's card");
  await shot(page, "data-sweep-runs-laptop");

  // The link to its dataset selects it for a fit; the one to its fit opens the fit.
  await page.click("#sweep-state a.sweep-dataset");
  await page.waitForFunction((d) => document.querySelector('#fit-form [name="dataset"]').value === String(d), listed.dataset.id);
  assert.ok(await page.isHidden("#sweep-card"));
  await page.click(`${row} a.sweep-fit`);
  await page.waitForSelector('#fit-state [data-state="succeeded"]');
  await page.waitForSelector("#fit-pvm canvas");
  assert.equal(await page.getAttribute("#fit-pvm", "data-points"), "8");

  await sweepOnPhone(base, id, "#sweep-runs tr[data-id]", "data-sweep-runs-phone");
  assert.deepEqual(unexpected(page), []);
  await page.close();
});

test("a sweep shows its grid's warnings, its estimate with units, and its time left: unknown until a run has measured its speed", async () => {
  // A server of its own, so that no run has succeeded on its local backend yet (no throughput
  // measured), and none is configured (no --local-gflops).
  const own = startServer([], SYNTHETIC_PROFILES);
  const origin = `http://127.0.0.1:${await own.port}`;
  try {
    const { size, grid } = THIN;
    const page = await dataPage(LAPTOP, origin);
    const posted = await postThin("e2e-thin", "slow", origin);
    const id = posted.id;
    const warnings = posted.warnings.map((w) => [w.code, w.message]);
    assert.deepEqual(warnings.map((w) => w[0]).sort(), ["few_data", "few_nonzeros", "few_sparsities"]);
    await page.goto(`${origin}/#/data?sweep=${id}`);

    // Before its first progress line: time left unknown, and why; every token still to train.
    const shown = () => page.$eval("#view-data", (v) => {
      const out = (name) => v.querySelector(`#sweep-state [data-out="${name}"]`);
      const eta = out("eta");
      return {
        state: v.querySelector("#sweep-state [data-state]")?.dataset.state,
        eta: eta && { text: eta.textContent, value: eta.dataset.value, why: eta.nextElementSibling?.textContent },
        tokens: out("remaining_tokens")?.dataset.value,
        listed: v.querySelector(`#sweeps-list tr[data-id] .sweep-eta`)?.textContent,
      };
    });
    await page.waitForSelector('#sweep-state [data-out="eta"]');
    const before = await shown();
    assert.equal(before.state, "running");
    assert.equal(before.eta.text, "unknown", JSON.stringify(before));
    assert.equal(before.eta.value, "");
    assert.equal(before.eta.why, "(no run of this sweep has measured its speed yet, and the local backend has no throughput measured or configured)");
    assert.equal(before.listed, "unknown");
    assert.equal(Number(before.tokens), 2 * grid.tokens[0]);
    assert.match(await page.textContent('#sweep-state [data-kv="remaining_tokens"]'), /tokens$/);

    // The grid's warnings, word for word and with their codes, where the sweep's numbers are;
    // the list tags it.
    const items = await page.$$eval("#sweep-state .warnings li", (els) => els.map((e) => [e.dataset.code, e.textContent]));
    assert.deepEqual(items, warnings);
    assert.match(await page.textContent("#sweep-state .warnings"), /cannot determine every coefficient of the law e2e-thin/);
    assert.equal(await page.getAttribute(`#sweeps-list tr[data-id="${id}"] .grid-warnings`, "data-warnings"), "3");

    // The estimate: its FLOPs (6 x matmul weights x tokens, summed over the runs, as the README
    // defines them), its runs and slots, its throughput and duration unknown, and why.
    const flops = 6 * (12 * size.layers * size.width ** 2 + 256 * size.width) * grid.tokens[0] * grid.sparsities.length;
    const flopsEl = '#sweep-state [data-out="flops"]';
    assert.ok(Math.abs(Number(await page.getAttribute(flopsEl, "data-value")) - flops) <= 1e-9 * flops);
    assert.equal(await page.textContent(flopsEl), "3.93×10¹¹");
    assert.equal(await page.textContent('#sweep-state [data-kv="flops"] .unit'), "FLOPs");
    assert.equal(await page.getAttribute('#sweep-state [data-kv="flops"] .unit', "title"), posted.estimate.units.flops);
    assert.equal(await page.textContent('#sweep-state [data-kv="runs"] dd'), "2 runs, 2 at a time on the local backend");
    for (const name of ["flops_per_s", "seconds"]) assert.equal(await page.textContent(`#sweep-state [data-out="${name}"]`), "unknown");
    assert.equal(await page.textContent('#sweep-state [data-kv="throughput"] dd'),
      "unknown (none measured (no run has succeeded on the local backend yet) and none configured (--local-gflops))");
    assert.deepEqual(await overflowing(page, "#sweep-card", "p, dd, li"), [], "text outside the sweep's card");
    await shot(page, "data-sweep-thin-laptop");

    // Once its runs have measured a rate: the time left and the tokens left the API answers (the
    // same between two progress lines, which come every SLOW_S / 4 s: read until the page shows
    // what the API says), in seconds, and fewer tokens than at the start.
    await page.waitForFunction(() => document.querySelector('#sweep-state [data-out="eta"]')?.dataset.value > 0, null, { timeout: 4 * SLOW_S * 1000 });
    let during, api;
    for (const until = Date.now() + SLOW_S * 1000; ; ) {
      during = await shown();
      api = (await apiGet(`/v1/sweeps/${id}`, origin)).body;
      if (during.eta.value === String(api.eta_seconds) && during.tokens === String(api.remaining_tokens)) break;
      assert.ok(Date.now() < until, `the page shows ${JSON.stringify(during)}, the API ${api.eta_seconds} s and ${api.remaining_tokens} tokens`);
      await page.waitForTimeout(200);
    }
    assert.equal(during.state, "running");
    assert.ok(api.eta_seconds > 0);
    assert.match(during.eta.text, /^about \d+ s$/);
    assert.match(during.listed, /^\d+ s$/);
    assert.ok(Number(during.tokens) < 2 * grid.tokens[0], JSON.stringify(during));
    await sweepOnPhone(origin, id, "#sweep-state .warnings li", "data-sweep-thin-phone");
    assert.equal((await apiDelete(`/v1/sweeps/${id}`, origin)).status, 200);
    await page.waitForSelector('#sweep-state [data-state="cancelled"]');
    assert.equal(await page.$$eval('#sweep-state [data-kv="eta"]', (els) => els.length), 0, "a cancelled sweep has no time left");

    // A sweep whose runs succeed: the next estimate's throughput is the one they measured.
    const quick = await postThin("e2e-thin-quick", "synthetic", origin);
    await page.goto(`${origin}/#/data?sweep=${quick.id}`);
    await page.waitForSelector(`#sweeps-list tr[data-id="${quick.id}"]:is([data-state="succeeded"], [data-state="failed"])`, { timeout: 60000 });
    await page.waitForSelector('#sweep-state :is([data-state="succeeded"], [data-state="failed"])');
    const est = (await apiGet(`/v1/sweeps/${quick.id}`, origin)).body.estimate;
    assert.equal(est.throughput, "measured");
    assert.equal(await page.getAttribute('#sweep-state [data-out="throughput"]', "data-value"), "measured");
    assert.equal(Number(await page.getAttribute('#sweep-state [data-out="flops_per_s"]', "data-value")), est.flops_per_s);
    assert.equal(await page.textContent('#sweep-state [data-kv="throughput"] dd > .unit'), "FLOP/s");
    assert.equal(await page.textContent('#sweep-state [data-out="throughput"]'), "(measured from the runs that succeeded on its backend)");
    assert.equal(Number(await page.getAttribute('#sweep-state [data-out="seconds"]', "data-value")), est.seconds);
    assert.match(await page.textContent('#sweep-state [data-out="seconds"]'), /^(under 1 s|about \d+ (s|min))$/);
    await shot(page, "data-sweep-measured-laptop");
    assert.deepEqual(unexpected(page), []);
    await page.close();
  } finally {
    await stopServer(own);
  }
});

test("a sweep on a backend with a configured throughput shows it, the duration it gives and a time left from the start", async () => {
  const GFLOPS = 4; // one run in 49 s
  const own = startServer(["--local-gflops", String(GFLOPS)], SYNTHETIC_PROFILES);
  const origin = `http://127.0.0.1:${await own.port}`;
  try {
    const page = await dataPage(LAPTOP, origin);
    const posted = await postThin("e2e-configured", "slow", origin);
    const est = posted.estimate;
    assert.equal(est.throughput, "configured");
    await page.goto(`${origin}/#/data?sweep=${posted.id}`);
    await page.waitForSelector('#sweep-state [data-out="eta"]');
    // Until a run succeeds the estimate is the posted one: the operator's throughput.
    assert.equal(await page.getAttribute('#sweep-state [data-out="throughput"]', "data-value"), "configured");
    assert.equal(await page.textContent('#sweep-state [data-out="throughput"]'), "(configured by the operator)");
    assert.equal(Number(await page.getAttribute('#sweep-state [data-out="flops_per_s"]', "data-value")), GFLOPS * 1e9);
    assert.equal(await page.textContent('#sweep-state [data-out="flops_per_s"]'), "4×10⁹");
    assert.equal(Number(await page.getAttribute('#sweep-state [data-out="seconds"]', "data-value")), est.seconds);
    // 2 runs side by side: one run's FLOPs over the throughput.
    const { size, grid } = THIN;
    const run = 6 * (12 * size.layers * size.width ** 2 + 256 * size.width) * grid.tokens[0];
    assert.ok(Math.abs(est.seconds - run / (GFLOPS * 1e9)) <= 1e-9 * est.seconds, JSON.stringify(est));
    assert.equal(await page.textContent('#sweep-state [data-out="seconds"]'), `about ${Math.round(est.seconds)} s`);
    assert.match(await page.getAttribute('#sweep-state [data-out="seconds"]', "title"), new RegExp(`seconds of wall-clock time`));
    // Its runs have measured nothing yet, but the backend's throughput gives a time left.
    const eta = await page.getAttribute('#sweep-state [data-out="eta"]', "data-value");
    assert.ok(Number(eta) > 0, `time left ${eta}`);
    assert.match(await page.textContent('#sweep-state [data-out="eta"]'), /^about \d+ s$/);
    assert.equal((await apiDelete(`/v1/sweeps/${posted.id}`, origin)).status, 200);
    assert.deepEqual(unexpected(page), []);
    await page.close();
  } finally {
    await stopServer(own);
  }
});

// ------------------------------------------------------------------ the sweep form

/** Fills the sweep form: law, backend, profile, one row per size, the comma lists, strict, bootstrap. */
async function fillSweepForm(page, f) {
  const form = "#sweep-form";
  await page.fill(`${form} [name="law"]`, f.law);
  await page.selectOption(`${form} [name="backend"]`, f.backend ?? "");
  await page.selectOption(`${form} [name="profile"]`, f.profile ?? "");
  while ((await page.$$("#sweep-sizes .size-row")).length > 1) await page.click("#sweep-sizes .size-row:last-child button[data-remove]");
  for (let i = 1; i < f.sizes.length; i++) await page.click("#sweep-add-size");
  for (const [i, s] of f.sizes.entries())
    for (const k of ["layers", "width", "heads"]) await page.fill(`#sweep-sizes [name="grid.sizes[${i}].${k}"]`, String(s[k]));
  for (const k of ["sparsities", "patterns", "tokens", "seeds"]) await page.fill(`${form} [name="grid.${k}"]`, f[k] ?? "");
  await page.setChecked(`${form} [name="strict"]`, !!f.strict);
  await page.fill(`${form} [name="fit.bootstrap"]`, String(f.bootstrap ?? 20));
}

/** The body the form should send for f, as the API takes it. */
const sweepBody = (f) => {
  const list = (s) => (s ? s.split(",").map((x) => x.trim()).filter(Boolean) : []);
  const grid = { sizes: f.sizes, tokens: list(f.tokens).map(Number) };
  if (list(f.sparsities).length) grid.sparsities = list(f.sparsities).map(Number);
  if (list(f.patterns).length) grid.patterns = list(f.patterns);
  if (list(f.seeds).length) grid.seeds = list(f.seeds).map(Number);
  return { law: f.law, grid, ...(f.backend ? { backend: f.backend } : {}), ...(f.profile ? { profile: f.profile } : {}), ...(f.strict ? { strict: true } : {}), fit: { bootstrap: f.bootstrap ?? 20 } };
};

test("the sweep form: the server's backends and profiles, a thin grid's warnings and estimate, a strict refusal, a field the server refuses, and a sweep that runs to its fit", async (t) => {
  const GFLOPS = 4;
  const own = startServer(["--local-gflops", String(GFLOPS)], SYNTHETIC_PROFILES);
  const origin = `http://127.0.0.1:${await own.port}`;
  const page = await dataPage(LAPTOP, origin);
  const posts = []; // the POST /v1/sweeps the page sent
  page.on("request", (r) => r.method() === "POST" && r.url() === `${origin}/v1/sweeps` && posts.push(JSON.parse(r.postData())));
  const sweepCount = async () => (await apiGet("/v1/sweeps", origin)).body.sweeps.length;
  const thin = { law: "e2e-form-thin", profile: "slow", sizes: [THIN.size], sparsities: "0, 0.5", tokens: "1000000", seeds: "1", bootstrap: 20 };
  try {
    await t.test("it offers the backends and profiles GET /v1/backends lists", async () => {
      await page.waitForSelector('#sweep-form [name="backend"] option[value="local"]', { state: "attached" });
      const { body } = await apiGet("/v1/backends", origin);
      const values = (name) => page.$$eval(`#sweep-form [name="${name}"] option`, (os) => os.map((o) => o.value));
      assert.deepEqual(await values("backend"), ["", ...body.backends.map((b) => b.name)]);
      assert.deepEqual(body.backends.map((b) => b.name), ["local"]);
      assert.deepEqual(await values("profile"), ["", ...body.backends[0].profiles.map((p) => p.name)]);
      assert.deepEqual(body.backends[0].profiles.map((p) => p.name), ["slow", "synthetic"]); // SYNTHETIC_PROFILES, in order
      await page.selectOption('#sweep-form [name="backend"]', "local");
      assert.deepEqual(await values("profile"), ["", "slow", "synthetic"]);
      const info = await page.textContent('#sweep-backend-info [data-backend="local"]');
      assert.match(info, /^local: cpu, 2 runs at a time,\s+0 active now, 4×10⁹ FLOP\/s a run \(configured\)$/, info);
    });

    await t.test("a thin grid is queued with its warnings and estimate, shown at the form, and its card opens", async () => {
      await fillSweepForm(page, thin);
      await page.click('#sweep-form button[type="submit"]');
      await page.waitForSelector("#sweep-posted [data-sweep]");
      assert.deepEqual(posts.at(-1), sweepBody(thin));
      const id = Number(await page.getAttribute("#sweep-posted [data-sweep]", "data-sweep"));
      const s = (await apiGet(`/v1/sweeps/${id}`, origin)).body;
      assert.equal(s.law, "e2e-form-thin");
      assert.equal(s.request.profile, "slow");
      assert.deepEqual(s.request.grid.sizes, [THIN.size]);
      assert.deepEqual(s.request.fit.bootstrap, 20);
      assert.equal((await page.textContent("#sweep-posted [data-sweep]")).replace(/\s+/g, " "), `Sweep ${id} queued on the local backend: 2 runs of the slow profile.`);
      // the grid's warnings, word for word with their codes, as the sweep's card shows them
      const items = await page.$$eval("#sweep-posted .warnings li", (els) => els.map((e) => [e.dataset.code, e.textContent]));
      assert.deepEqual(items, s.warnings.map((w) => [w.code, w.message]));
      assert.deepEqual(items.map((w) => w[0]).sort(), ["few_data", "few_nonzeros", "few_sparsities"]);
      // its estimate: the FLOPs README defines, the configured throughput, the duration it gives
      const { size, grid } = THIN;
      const flops = 6 * (12 * size.layers * size.width ** 2 + 256 * size.width) * grid.tokens[0] * grid.sparsities.length;
      assert.ok(Math.abs(Number(await page.getAttribute('#sweep-posted [data-out="flops"]', "data-value")) - flops) <= 1e-9 * flops);
      assert.equal(await page.getAttribute('#sweep-posted [data-out="throughput"]', "data-value"), "configured");
      assert.equal(Number(await page.getAttribute('#sweep-posted [data-out="flops_per_s"]', "data-value")), GFLOPS * 1e9);
      const secs = Number(await page.getAttribute('#sweep-posted [data-out="seconds"]', "data-value"));
      assert.ok(Math.abs(secs - flops / 2 / (GFLOPS * 1e9)) <= 1e-9 * secs, `${secs} s`); // 2 runs side by side
      assert.equal(await page.textContent('#sweep-posted [data-kv="runs"] dd'), "2 runs, 2 at a time on the local backend");
      // the sweep's card opens on it
      await page.waitForFunction((id) => location.hash === `#/data?sweep=${id}`, id);
      await page.waitForSelector(`#sweep-card:not([hidden]) #sweep-state [data-state]`);
      assert.equal(await page.textContent("#sweep-title"), `Sweep ${id} · e2e-form-thin`);
      assert.deepEqual(await page.$$eval("#sweep-state .warnings li", (els) => els.map((e) => e.dataset.code)), items.map((w) => w[0]));
      // its runs are active on the backend now, and the form says so
      await page.waitForFunction(() => /2 active now/.test(document.querySelector('#sweep-backend-info [data-backend="local"]')?.textContent));
      assert.deepEqual(await overflowing(page, "#sweep-form", "p, dd, li"), [], "text outside the sweep form");
      await shot(page, "data-sweep-form-laptop");
      assert.equal((await apiDelete(`/v1/sweeps/${id}`, origin)).status, 200);
    });

    await t.test("with strict, the same grid is refused with every reason, and nothing is queued", async () => {
      const before = await sweepCount();
      const strict = { ...thin, law: "e2e-form-strict", strict: true };
      await fillSweepForm(page, strict);
      await page.click('#sweep-form button[type="submit"]');
      const slot = '#sweep-form [data-error-for="grid"].shown';
      await page.waitForSelector(slot);
      assert.deepEqual(posts.at(-1), sweepBody(strict));
      const api = await apiPost("/v1/sweeps", JSON.stringify(sweepBody(strict)), "application/json", origin);
      assert.equal(api.status, 422);
      assert.equal(api.body.error.field, "grid");
      assert.equal(await page.textContent(slot), api.body.error.message);
      assert.equal(await page.getAttribute(slot, "data-code"), "unprocessable");
      // every reason in full: the three warnings the lenient sweep got
      const lenient = (await apiGet("/v1/sweeps", origin)).body.sweeps.find((s) => s.law === "e2e-form-thin");
      for (const w of lenient.warnings) assert.ok(api.body.error.message.includes(w.message), `${w.code} missing from: ${api.body.error.message}`);
      assert.equal(await page.textContent("#sweep-posted"), "");
      assert.equal(await page.textContent("#sweep-form .form-error"), "");
      assert.equal(await sweepCount(), before);
      await shot(page, "data-sweep-form-strict-laptop");
    });

    await t.test("a value the server refuses shows its message at that field; a list item that is no number never leaves the page", async () => {
      const before = await sweepCount();
      const bad = { ...thin, law: "e2e-form-bad", sparsities: "0, 1.2" };
      await fillSweepForm(page, bad);
      await page.click('#sweep-form button[type="submit"]');
      const slot = '#sweep-form [data-error-for="grid.sparsities"].shown';
      await page.waitForSelector(slot);
      const api = await apiPost("/v1/sweeps", JSON.stringify(sweepBody(bad)), "application/json", origin);
      assert.equal(api.status, 400);
      assert.equal(api.body.error.field, "grid.sparsities[1]");
      assert.equal(await page.textContent(slot), api.body.error.message);
      assert.equal(await page.getAttribute('#sweep-form [name="grid.sparsities"]', "aria-invalid"), "true");
      assert.equal(await page.textContent('#sweep-form [data-error-for="grid"]'), "", "the strict refusal is cleared");
      // a size the server refuses: at its own row, its input marked
      const badSize = { ...thin, law: "e2e-form-bad", sizes: [THIN.size, { layers: 2, width: 30, heads: 4 }] };
      await fillSweepForm(page, badSize);
      await page.click('#sweep-form button[type="submit"]');
      const row = '#sweep-sizes .size-row[data-index="1"] [data-error-for="grid.sizes[1]"].shown';
      await page.waitForSelector(row);
      const sizeApi = await apiPost("/v1/sweeps", JSON.stringify(sweepBody(badSize)), "application/json", origin);
      assert.equal(sizeApi.status, 400);
      assert.match(sizeApi.body.error.field, /^grid\.sizes\[1\]/);
      assert.equal(await page.textContent(row), sizeApi.body.error.message);
      assert.equal(await page.textContent('#sweep-sizes .size-row[data-index="0"] .field-error'), "");
      // obviously malformed: said at the field, and nothing is sent
      const sent = posts.length;
      await fillSweepForm(page, { ...thin, tokens: "1000000, lots" });
      await page.click('#sweep-form button[type="submit"]');
      await page.waitForSelector('#sweep-form [data-error-for="grid.tokens"].shown');
      assert.match(await page.textContent('#sweep-form [data-error-for="grid.tokens"]'), /“lots” is not a whole number/);
      assert.equal(posts.length, sent);
      assert.equal(await sweepCount(), before);
    });

    await t.test("a grid that identifies the law, with strict, through the synthetic profile: queued without warnings, run to its fit", async () => {
      const good = { law: "e2e-form-good", backend: "local", profile: "synthetic", strict: true, bootstrap: 20,
        sizes: [32, 64, 128].map((width) => ({ layers: 2, width, heads: 2 })), sparsities: "0, 0.5, 0.75", tokens: "1000000, 3000000, 10000000", seeds: "1" };
      await fillSweepForm(page, good);
      await page.click('#sweep-form button[type="submit"]');
      await page.waitForSelector("#sweep-posted [data-sweep]");
      assert.deepEqual(posts.at(-1), sweepBody(good));
      const id = Number(await page.getAttribute("#sweep-posted [data-sweep]", "data-sweep"));
      assert.equal(await page.$$eval("#sweep-posted .warnings", (els) => els.length), 0);
      assert.equal(await page.textContent('#sweep-posted [data-kv="runs"] dd'), "27 runs, 2 at a time on the local backend");
      await page.waitForFunction((id) => location.hash === `#/data?sweep=${id}`, id);
      await page.waitForSelector('#sweep-state :is([data-state="succeeded"], [data-state="failed"])', { timeout: 120000 });
      const s = (await apiGet(`/v1/sweeps/${id}`, origin)).body;
      assert.equal(s.state, "succeeded", JSON.stringify(s).slice(0, 2000));
      assert.equal(s.counts.succeeded, 27);
      assert.equal(s.dataset.rows, 27);
      const fit = (await apiGet(`/v1/fits/${s.fit.id}`, origin)).body;
      assert.equal(fit.state, "succeeded");
      assert.ok(s.fit.published, `the fit was not published: ${JSON.stringify(fit.reasons)}`);
      await page.waitForSelector("#sweep-state a.sweep-law");
      assert.equal(await page.getAttribute("#sweep-state a.sweep-fit", "href"), `#/data?fit=${s.fit.id}`);
      assert.equal(await page.getAttribute("#sweep-state a.sweep-law", "href"), `#/laws?law=e2e-form-good&version=${s.fit.published.version}`);
    });
    await sweepOnPhoneForm(origin);
    assert.deepEqual(unexpected(page, true), []);
  } finally {
    await page.close();
    await stopServer(own);
  }
});

/** The sweep form on a phone: nothing wider than the screen. */
async function sweepOnPhoneForm(origin) {
  const phone = await dataPage(PHONE, origin);
  await phone.waitForSelector('#sweep-form [name="backend"] option[value="local"]', { state: "attached" });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the sweep form is ${overflow}px wider than a phone's screen`);
  await phone.locator("#sweep-form").screenshot({ path: join(args.out, "data-sweep-form-phone.png") });
  assert.deepEqual(unexpected(phone), []);
  await phone.close();
}
