// Talking to the Brainscribe API from the browser: session cookie + CSRF header, JSON errors as
// exceptions that carry the HTTP status and the server's sentence.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `The server answered ${status}.`);
    this.status = status;
    this.body = body || {};
  }
}

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function errorBody(response) {
  try {
    return await response.json();
  } catch {
    return { detail: `The server answered ${response.status} ${response.statusText}.` };
  }
}

/** fetch() with the CSRF header on unsafe methods; throws ApiError when the answer is not 2xx/304. */
export async function request(url, { method = "GET", json, body, headers = {}, ...rest } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (method !== "GET" && method !== "HEAD") h["X-CSRFToken"] = csrfToken();
  if (json !== undefined) {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  const response = await fetch(url, { method, body, headers: h, credentials: "same-origin", ...rest });
  if (!response.ok && response.status !== 304) throw new ApiError(response.status, await errorBody(response));
  return response;
}

export async function getJSON(url) {
  const response = await request(url);
  return response.status === 204 ? null : response.json();
}

export async function sendJSON(url, method, json, headers = {}) {
  const response = await request(url, { method, json, headers });
  return { data: response.status === 204 ? null : await response.json(), etag: response.headers.get("ETag") };
}

/** `"3"` or `W/"3"` → 3 (our ETags on masks and reports are version numbers). */
export function versionFromETag(etag) {
  if (!etag) return null;
  const m = etag.match(/"(\d+)"/);
  return m ? Number(m[1]) : null;
}

export function escapeHTML(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
