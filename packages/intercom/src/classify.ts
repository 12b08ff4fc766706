import { AuthError, PermanentError, type ResponseClassifier } from "@meshwork/destination-kit";

interface IntercomErrorList {
  type: "error.list";
  request_id?: string;
  errors?: Array<{ code?: string; message?: string }>;
}

/** `code: message (request id)` of an Intercom `error.list` body, when it is one. */
export function describeIntercomError(body: unknown): string | undefined {
  if (!body || typeof body !== "object" || (body as IntercomErrorList).type !== "error.list") return undefined;
  const list = body as IntercomErrorList;
  const first = list.errors?.[0];
  const parts = [first?.code, first?.message].filter(Boolean).join(": ");
  const id = list.request_id ? ` (request ${list.request_id})` : "";
  return `${parts || "error"}${id}`;
}

/**
 * Intercom's answers that need more than the status table: a refused token says what to do. Every
 * other status (404 on a lookup, 409 on a create, 429, 5xx) is left to the default rules and to the
 * actions, which accept some of them.
 */
export const classifyIntercomResponse: ResponseClassifier = ({ status, data }) => {
  const detail = describeIntercomError(data);
  if (status === 401) {
    return new AuthError(
      `Intercom refused the access token${detail ? ` (${detail})` : ""}: the token is invalid or was revoked; ` +
        "reconnect Intercom and update the connection's accessToken",
      { status },
    );
  }
  if (status === 403) {
    return new PermanentError(
      `Intercom denied the request${detail ? ` (${detail})` : ""}: the token lacks a permission this action needs; ` +
        "grant it in the Intercom Developer Hub and reinstall the app",
      { status },
    );
  }
  return undefined;
};
