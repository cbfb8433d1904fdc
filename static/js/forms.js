// Form plumbing: read and fill inputs by name, and put each server error
// next to the input it concerns (the server's message, word for word).
import { esc } from "./format.js";

/** Trimmed string values by name; a radio group gives its checked value. */
export function readForm(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "file" || el.type === "submit" || el.type === "button") continue;
    if (el.type === "radio") {
      if (el.checked) out[el.name] = el.value;
    } else if (el.type === "checkbox") {
      out[el.name] = el.checked ? "1" : "";
    } else {
      out[el.name] = el.value.trim();
    }
  }
  return out;
}

/** Sets inputs from an object; keys without an input are ignored. */
export function fillForm(form, values) {
  for (const [k, v] of Object.entries(values)) {
    const els = form.querySelectorAll(`[name="${CSS.escape(k)}"]`);
    for (const el of els) {
      if (el.type === "radio") el.checked = el.value === v;
      else if (el.type === "checkbox") el.checked = !!v;
      else if (el.tagName === "SELECT") {
        if ([...el.options].some((o) => o.value === v)) el.value = v;
      } else el.value = v ?? "";
    }
  }
}

export function clearErrors(root) {
  for (const el of root.querySelectorAll(".field-error, .form-error")) {
    el.textContent = "";
    el.classList.remove("shown");
  }
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function slotFor(root, field) {
  if (!field) return null;
  return root.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
}

/** A field and its shorter forms, cut at each dot or bracket: grid.sizes[1].width, grid.sizes[1], grid.sizes, grid. */
function fieldPrefixes(field) {
  const out = [field];
  for (let i = field.length - 1; i > 0; i--) if (field[i] === "." || field[i] === "[") out.push(field.slice(0, i));
  return out;
}

/**
 * Shows an ApiError in root. fieldMap renames the server's field to the
 * form's (e.g. {compute: "amount"}); a field may also be matched by a
 * prefix cut at a dot or bracket, the longest that has a slot (the message)
 * or an input (marked invalid). Errors with no matching slot go to the
 * form's .form-error line (or `fallback`). Auth errors also go next to the token.
 */
export function showError(root, err, { fieldMap = {}, fallback = null } = {}) {
  const field = err.field;
  const names = field ? fieldPrefixes(field).map((f) => fieldMap[f] ?? f) : [];
  let slot = null;
  for (const f of names) if ((slot = slotFor(root, f))) break;
  const formField = names.find((f) => root.querySelector(`[name="${CSS.escape(f)}"]`));
  if (err.status === 401 || err.status === 403) {
    const t = document.querySelector('[data-error-for="token"]');
    if (t) {
      t.textContent = err.message;
      t.classList.add("shown");
    }
  }
  if (!slot) slot = fallback || root.querySelector(".form-error");
  if (!slot) return;
  slot.textContent = err.message;
  slot.classList.add("shown");
  slot.dataset.code = err.code;
  if (formField) {
    const input = root.querySelector(`[name="${CSS.escape(formField)}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      const details = input.closest("details");
      if (details) details.open = true;
    }
  }
}

/** A message that is not the server's (e.g. no file chosen). */
export function showLocalError(root, field, message) {
  const slot = slotFor(root, field) || root.querySelector(".form-error");
  slot.textContent = message;
  slot.classList.add("shown");
}

/** A list of the server's row errors as a table. */
export function rowErrorsTable(err) {
  if (!err.errors || !err.errors.length) return "";
  // One error about a query option is already beside that option.
  if (err.errors.length === 1 && err.errors[0].row == null && !err.omitted) return "";
  const rows = err.errors
    .map((e) => `<tr><td>${e.row ?? "–"}</td><td>${esc(e.field ?? "–")}</td><td>${esc(e.reason)}</td></tr>`)
    .join("");
  const more = err.omitted ? `<p class="hint">and ${err.omitted} more not listed</p>` : "";
  return `<table class="errors"><caption>What the server rejected (nothing was stored)</caption>
    <thead><tr><th>row</th><th>field</th><th>reason</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
}

/** Disables a form's submit button while work runs. */
export async function busy(form, fn) {
  const btn = form.querySelector('button[type="submit"]');
  if (btn) btn.disabled = true;
  form.classList.add("busy");
  try {
    return await fn();
  } finally {
    if (btn) btn.disabled = false;
    form.classList.remove("busy");
  }
}
