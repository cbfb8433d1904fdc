// The one place the dashboard talks to sparselawd. Every failure becomes an
// ApiError carrying the server's own error object: {code, message, field,
// errors: [{row, field, reason}], omitted}.

const TOKEN_KEY = "sparselaw.token";

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent("sparselaw:token"));
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `the server answered ${status}`);
    this.status = status;
    this.code = e.code || "http_" + status;
    this.field = e.field ?? null;
    this.errors = Array.isArray(e.errors) ? e.errors : [];
    this.omitted = e.omitted || 0;
  }
}

/** Builds "path?k=v&..." from an object, leaving out empty values. */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null) continue;
    const s = String(v).trim();
    if (s !== "") q.set(k, s);
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * fetch() with the server's error shape. options: {method, query, json, body,
 * contentType, auth}. Resolves to the parsed JSON body; rejects with ApiError.
 */
export async function api(path, options = {}) {
  const headers = {};
  let body = options.body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.contentType) {
    headers["Content-Type"] = options.contentType;
  }
  if (options.auth) {
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
  }
  let resp;
  try {
    resp = await fetch(withQuery(path, options.query), {
      method: options.method || (body !== undefined ? "POST" : "GET"),
      headers,
      body,
      signal: options.signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { error: { code: "network", message: `the server cannot be reached (${err.message})` } });
  }
  let parsed = null;
  const text = await resp.text();
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!resp.ok) {
    if (!parsed || !parsed.error)
      parsed = { error: { code: "http_" + resp.status, message: `the server answered ${resp.status}: ${text.slice(0, 200)}` } };
    throw new ApiError(resp.status, parsed);
  }
  return parsed;
}

// ------------------------------------------------------------ laws, cached

let lawsCache = null;

export function laws(refresh = false) {
  if (refresh || !lawsCache)
    lawsCache = api("/v1/laws").then((r) => r.laws).catch((err) => {
      lawsCache = null;
      throw err;
    });
  return lawsCache;
}

const versionsCache = new Map();

export function lawVersions(name, refresh = false) {
  if (refresh || !versionsCache.has(name))
    versionsCache.set(
      name,
      api(`/v1/laws/${encodeURIComponent(name)}/versions`).then((r) => r.versions).catch((err) => {
        versionsCache.delete(name);
        throw err;
      })
    );
  return versionsCache.get(name);
}

export function forgetLaws() {
  lawsCache = null;
  versionsCache.clear();
}

export const lawPath = (name, rest = "") => `/v1/laws/${encodeURIComponent(name)}${rest}`;
