import { AuthError, PermanentError, RateLimitedError, vendorMessage, type ResponseClassifier } from "@meshwork/destination-kit";

/** Without `Retry-After`, a 429 waits out the one-second window. */
const DEFAULT_RETRY_AFTER_MS = 1000;

interface ActiveCampaignError {
  title?: string;
  detail?: string;
  code?: string;
  source?: { pointer?: string };
}

/**
 * ActiveCampaign's own error rules, applied before the kit's status table. A 2xx whose body is not
 * JSON (an HTML login page) is what a bad key or a wrong `api_url` does, so it is `auth_failed`,
 * never delivered; 403 is a refused key; 402 a payment issue; 422 names the invalid parameter.
 */
export const classifyActiveCampaign: ResponseClassifier = ({ status, headers, data }) => {
  if (status >= 200 && status < 300) {
    if (typeof data !== "string" || data.trim() === "") return undefined;
    const html = /<html|<!doctype/i.test(data) || (headers.get("content-type") ?? "").includes("html");
    return new AuthError(
      `ActiveCampaign answered ${status} with ${html ? "an HTML page (a login page)" : "a body that is not JSON"} instead of JSON: ` +
        "this is what an invalid api_key or a wrong api_url does. Check the connection's api_url and api_key (Settings → Developer)",
      { status },
    );
  }
  const said = vendorMessage(data);
  if (status === 403) {
    return new AuthError(`ActiveCampaign refused the API key (403)${said ? `: ${said}` : ""}; check the connection's api_key`, { status });
  }
  if (status === 402) {
    return new PermanentError(
      `ActiveCampaign answered 402 Payment Required: the account has a billing issue${said ? ` (${said})` : ""}; fix it in ActiveCampaign, then retry the delivery`,
      { status },
    );
  }
  if (status === 422) {
    const first = Array.isArray((data as { errors?: unknown } | null)?.errors)
      ? ((data as { errors: ActiveCampaignError[] }).errors[0] ?? {})
      : {};
    const parts = [first.title, first.detail].filter((p): p is string => typeof p === "string" && p.trim() !== "");
    const where = first.source?.pointer ? ` (at ${first.source.pointer})` : "";
    return new PermanentError(
      `ActiveCampaign rejected the request (422): ${parts.length ? parts.join(": ") : (said ?? "invalid or missing parameter")}${where}`,
      { status },
    );
  }
  if (status === 429 && !headers.get("retry-after")) {
    return new RateLimitedError(`ActiveCampaign rate limit reached (429)${said ? `: ${said}` : ""}`, {
      status,
      retryAfterMs: DEFAULT_RETRY_AFTER_MS,
    });
  }
  return undefined;
};
