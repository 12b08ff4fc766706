// Hash routes, so the server only ever serves `/`: #/events?status=failed, #/events/<id>,
// #/connections, #/activity.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  page: "events" | "event" | "connections" | "activity";
  id?: string;
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(search);
  if (parts[0] === "events" && parts[1]) return { page: "event", id: parts[1], query };
  if (parts[0] === "connections") return { page: "connections", query };
  if (parts[0] === "activity") return { page: "activity", query };
  return { page: "events", query };
}

export function href(path: string, query?: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value) params.set(key, value);
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ""}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return route;
}
