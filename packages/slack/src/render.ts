import { hasTemplate, renderTemplate } from "@meshwork/destination-kit";

/**
 * Escapes the three characters Slack treats as markup (`&`, `<`, `>`), so a value from the payload
 * cannot ping `<!channel>`, mention a user or inject a link.
 */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Renders `{{path}}` placeholders from the payload; the template's own text is kept as written. */
export function renderSlackText(template: string, payload: unknown): string {
  return hasTemplate(template) ? String(renderTemplate(template, payload, escapeSlackText)) : template;
}

/** Renders every string inside Block Kit blocks the same way as the message text. */
export function renderSlackBlocks<T>(value: T, payload: unknown): T {
  if (typeof value === "string") return renderSlackText(value, payload) as T;
  if (Array.isArray(value)) return value.map((item) => renderSlackBlocks(item, payload)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderSlackBlocks(item, payload)])) as T;
  }
  return value;
}
