// Copies the charting library from node_modules (installed by `npm ci` at the
// version package-lock.json pins) into static/vendor/, where sparselawd serves
// it. The copies are committed so the server needs no node at run time; the
// lockfile stays the source of truth: `npm run vendor:check` (and the e2e
// test) fail when the committed copies differ from the locked package.
//
//   node tests/e2e/vendor.mjs           copy
//   node tests/e2e/vendor.mjs --check   compare only; exit 1 on a difference
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

// [source in node_modules, destination in static/vendor]
export const VENDORED = [
  ["uplot/dist/uPlot.iife.min.js", "uPlot.iife.min.js"],
  ["uplot/dist/uPlot.min.css", "uPlot.min.css"],
  ["uplot/LICENSE", "uPlot.LICENSE.txt"],
];

/** Returns a list of problems (empty when the committed copies match). */
export function checkVendored() {
  const problems = [];
  const pkg = join(root, "node_modules", "uplot", "package.json");
  if (!existsSync(pkg)) return [`${pkg} is missing: run npm ci first`];
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  const locked = lock.packages?.["node_modules/uplot"]?.version;
  const installed = JSON.parse(readFileSync(pkg, "utf8")).version;
  if (locked !== installed)
    problems.push(`node_modules has uplot ${installed} but package-lock.json pins ${locked}: run npm ci`);
  for (const [src, dst] of VENDORED) {
    const from = join(root, "node_modules", src);
    const to = join(root, "static", "vendor", dst);
    if (!existsSync(to)) problems.push(`static/vendor/${dst} is missing: run npm run vendor`);
    else if (!readFileSync(from).equals(readFileSync(to)))
      problems.push(`static/vendor/${dst} differs from node_modules/${src}: run npm run vendor`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const problems = checkVendored();
    for (const p of problems) console.error(p);
    if (problems.length) process.exit(1);
    console.log("static/vendor matches the locked uplot package");
  } else {
    for (const [src, dst] of VENDORED) {
      writeFileSync(join(root, "static", "vendor", dst), readFileSync(join(root, "node_modules", src)));
      console.log(`node_modules/${src} -> static/vendor/${dst}`);
    }
  }
}
