// Every call to the server goes through here: the API key (kept in localStorage) is sent as
// "Authorization: Bearer KEY", and a refusal becomes an ApiError holding the server's one-line
// message, so the page can show it as it is.
const KEY = "embedlab.apiKey";

export function getKey() {
  return localStorage.getItem(KEY) || "";
}

export function setKey(key) {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path, { method = "GET", body, headers: want = false } = {}) {
  const headers = {};
  const key = getKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, `The server did not answer (${error.message}); is embedlab serve still running?`, "network");
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let code = null;
    try {
      const parsed = await response.json();
      message = parsed.error?.message || message;
      code = parsed.error?.code || null;
    } catch (_) {
      /* not JSON: keep the status line */
    }
    if (response.status === 401) {
      message = key
        ? `The server refused this API key (${message}). Type the right key in the API key box and press "Use key".`
        : `This server needs an API key (${message}). Type it in the API key box and press "Use key".`;
    } else if (response.status === 429) {
      message = `Too many requests or wrong keys: ${message}. Wait a moment and try again.`;
    }
    throw new ApiError(response.status, message, code);
  }
  const data = await response.json();
  return want ? { data, headers: response.headers } : data;
}

export const enc = encodeURIComponent;
