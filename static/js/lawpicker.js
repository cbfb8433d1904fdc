// The law and version selects that the planner, curves and contours share.
import { laws, lawVersions } from "./api.js";
import { computeUnitFor, dateTime, esc, shortUnit } from "./format.js";
import { showError } from "./forms.js";

export class LawPicker {
  /** host: the .law-picker element inside a form; onChange(law) after a change. */
  constructor(host, onChange) {
    this.host = host;
    this.onChange = onChange;
    this.law = null;
    host.innerHTML = `
      <div class="row2">
        <label>Law <select name="law"></select></label>
        <label>Version <select name="version"><option value="">latest</option></select></label>
      </div>
      <p class="field-error" data-error-for="law"></p>
      <p class="field-error" data-error-for="version"></p>
      <p class="hint law-desc"></p>`;
    this.lawSel = host.querySelector('[name="law"]');
    this.verSel = host.querySelector('[name="version"]');
    this.lawSel.addEventListener("change", async () => {
      await this.set(this.lawSel.value, "");
      this.onChange?.(this.law);
    });
    this.verSel.addEventListener("change", async () => {
      await this.set(this.lawSel.value, this.verSel.value);
      this.onChange?.(this.law);
    });
  }

  /** Loads the laws and selects name (and version, "" = latest); returns the law object. */
  async set(name, version) {
    let list;
    try {
      list = await laws();
    } catch (err) {
      showError(this.host, err, { fieldMap: { [err.field]: "law" }, fallback: this.host.querySelector('[data-error-for="law"]') });
      return null;
    }
    this.lawSel.innerHTML = list
      .map((l) => `<option value="${esc(l.name)}">${esc(l.name)}</option>`)
      .join("");
    if (name && !list.some((l) => l.name === name)) {
      // A law named in a shared link that this server does not hold: keep it
      // selectable so the server's 404 shows next to it.
      this.lawSel.insertAdjacentHTML("afterbegin", `<option value="${esc(name)}">${esc(name)}</option>`);
    }
    this.lawSel.value = name || list[0]?.name || "";
    let law = list.find((l) => l.name === this.lawSel.value) || null;
    let versions = [];
    if (law) {
      try {
        versions = await lawVersions(law.name);
      } catch {
        versions = [];
      }
    }
    this.verSel.innerHTML =
      `<option value="">latest${law ? ` (v${law.version})` : ""}</option>` +
      versions
        .slice()
        .reverse()
        .map((v) => `<option value="${v.version}">v${v.version}, ${esc(dateTime(v.created_at))}</option>`)
        .join("");
    if (version && ![...this.verSel.options].some((o) => o.value === String(version)))
      this.verSel.insertAdjacentHTML("beforeend", `<option value="${esc(version)}">v${esc(version)}</option>`);
    this.verSel.value = version ? String(version) : "";
    if (version) law = versions.find((v) => String(v.version) === String(version)) || law;
    this.law = law;
    const desc = this.host.querySelector(".law-desc");
    desc.textContent = law ? `${law.description} · data in ${law.units.data}, N in ${law.units.nonzeros}` : "";
    this.applyUnits();
    return law;
  }

  /**
   * Writes the law's data unit into every [data-unit="data"] span of the form,
   * and what its compute is (FLOPs only for a law in tokens) into every
   * [data-unit="compute"] one, the API's whole sentence on hover.
   */
  applyUnits() {
    const form = this.host.closest("form");
    const unit = this.law?.units?.data || "data units";
    for (const el of form.querySelectorAll('[data-unit="data"]')) el.textContent = unit;
    for (const el of form.querySelectorAll('[data-unit="compute"]')) {
      el.textContent = shortUnit(this.computeUnit);
      el.title = this.computeUnit;
    }
  }

  /** The API's unit sentence for this law's compute. */
  get computeUnit() {
    return computeUnitFor(this.dataUnit);
  }

  get dataUnit() {
    return this.law?.units?.data || "";
  }
}
