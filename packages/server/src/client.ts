import { mintManagementToken } from "./auth.js";
import { MeshworkServerError } from "./errors.js";
import type { ManagementClient, ManagementClientOptions } from "./types.js";

/**
 * A small client of a Meshwork (or Meshes) management API: every request carries a freshly
 * minted machine token. Used by the `meshwork` CLI.
 *
 * @example
 * const api = createManagementClient({ url: "http://127.0.0.1:8787", accessKey, secretKey });
 * const page = await api.request("GET", "/events?status=failed");
 */
export function createManagementClient(options: ManagementClientOptions): ManagementClient {
  const base = options.url.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
  const $fetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const token = await mintManagementToken({ accessKey: options.accessKey, secretKey: options.secretKey });
      const url = `${base}/api/v1${path.startsWith("/") ? path : `/${path}`}`;
      let response: Response;
      try {
        response = await $fetch(url, {
          method,
          headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body !== undefined && { "content-type": "application/json" }) },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
      } catch (error) {
        throw new MeshworkServerError("network_error", `cannot reach ${base}: ${(error as Error).message}`, { retryable: true, cause: error });
      }
      const text = await response.text();
      let data: unknown = text;
      try {
        data = text ? JSON.parse(text) : null;
      } catch {
        // Not JSON: keep the text for the message.
      }
      if (!response.ok) {
        const detail = typeof data === "object" && data !== null && typeof (data as { message?: unknown }).message === "string" ? (data as { message: string }).message : String(text).slice(0, 200);
        const code = typeof data === "object" && data !== null && typeof (data as { error?: unknown }).error === "string" ? (data as { error: string }).error : "http_error";
        throw new MeshworkServerError(code, `${method} ${path} answered ${response.status}: ${detail}`, { status: response.status, retryable: response.status >= 500 || response.status === 429 });
      }
      return data as T;
    },
  };
}
