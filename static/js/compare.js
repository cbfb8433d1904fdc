// The "compare with" laws of the planner and curves: a multiple select of
// every law but the one picked, whose choice travels in the URL as
// compare=a,b and reaches the server as /v1/compare/<query>?laws=....
import { api, laws } from "./api.js";
import { esc } from "./format.js";

export class ComparePicker {
  /** host: the .compare-picker element inside a form. */
  constructor(host) {
    this.host = host;
    host.innerHTML = `
      <label>Compare with <span class="unit">other laws, answered side by side (ctrl/⌘-click for several)</span>
        <select name="compare" multiple size="3"></select></label>
      <p class="field-error" data-error-for="laws"></p>`;
    this.sel = host.querySelector("select");
  }

  /** Fills the list (every law but `exclude`) and selects names ("a,b"). */
  async set(names, exclude) {
    let list = [];
    try {
      list = await laws();
    } catch {
      list = [];
    }
    const want = (names || "").split(",").map((s) => s.trim()).filter(Boolean);
    const options = list.map((l) => l.name).filter((n) => n !== exclude);
    for (const n of want) if (n !== exclude && !options.includes(n)) options.push(n); // a shared link's unknown law: the server says so
    this.sel.innerHTML = options.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join("");
    for (const o of this.sel.options) o.selected = want.includes(o.value);
  }

  /** The selected names, in list order. */
  get names() {
    return [...this.sel.selectedOptions].map((o) => o.value);
  }

  get value() {
    return this.names.join(",");
  }
}

/**
 * GET /v1/compare/<query> for law (at version, "" = latest) and others, with
 * the query's own parameters; resolves to the answers, one per law in order
 * (each an answer or {law, error}).
 */
export async function compare(query, law, version, others, params, signal) {
  const laws = [version ? `${law}@${version}` : law, ...others].join(",");
  const r = await api(`/v1/compare/${query}`, { query: { ...params, version: undefined, laws }, signal });
  return r.answers;
}
