import { useEffect, useState } from "preact/hooks";
import { forgetKeys, rememberedKeys, signIn, type Session, type SignedIn } from "./api.js";
import { Loading } from "./components.js";
import { usePoll } from "./hooks.js";
import { ActivityPage } from "./pages/activity.js";
import { ConnectionsPage } from "./pages/connections.js";
import { EventPage } from "./pages/event.js";
import { EventsPage } from "./pages/events.js";
import { SignInPage } from "./pages/sign-in.js";
import { useRoute, type Route } from "./route.js";
import type { ConnectionRecord } from "./types.js";

const WORKSPACE_KEY = "meshwork.dashboard.workspace";

export function App() {
  const [state, setState] = useState<SignedIn | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(() => rememberedKeys() !== undefined);

  const signOut = (message?: string) => {
    forgetKeys();
    setState(undefined);
    setError(message);
  };
  const submit = (accessKey: string, secretKey: string, remember: boolean) => {
    setBusy(true);
    setError(undefined);
    signIn(accessKey, secretKey, remember, (message) => signOut(`Signed out: ${message}`)).then(
      (signedIn) => {
        setState(signedIn);
        setBusy(false);
      },
      (e: Error) => {
        forgetKeys();
        setError(e.message);
        setBusy(false);
      },
    );
  };

  useEffect(() => {
    const keys = rememberedKeys();
    if (keys) submit(keys.accessKey, keys.secretKey, true);
  }, []);

  if (!state) {
    if (busy && !error) return <Loading label="Signing in…" />;
    return <SignInPage error={error} busy={busy} onSubmit={submit} />;
  }
  return <Shell signedIn={state} onSignOut={() => signOut()} />;
}

function Shell({ signedIn, onSignOut }: { signedIn: SignedIn; onSignOut: () => void }) {
  const route = useRoute();
  const { session, workspaces } = signedIn;
  const [workspace, setWorkspace] = useState(() => {
    const saved = sessionStorage.getItem(WORKSPACE_KEY);
    return workspaces.find((w) => w.id === saved)?.id ?? workspaces[0]?.id;
  });
  const choose = (id: string) => {
    sessionStorage.setItem(WORKSPACE_KEY, id);
    setWorkspace(id);
    if (route.page === "event") location.hash = "#/events";
  };

  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          // Routes live in the hash: move focus instead of navigating.
          e.preventDefault();
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">Meshwork</span>
        <nav aria-label="Main">
          <ul>
            <NavLink route={route} page="events" href="#/events" label="Events" />
            <NavLink route={route} page="activity" href="#/activity" label="Activity" />
            <NavLink route={route} page="connections" href="#/connections" label="Connections" />
          </ul>
        </nav>
        <div class="topbar-end">
          {workspaces.length > 0 && (
            <label class="inline">
              Workspace
              <select value={workspace} onChange={(e) => choose((e.target as HTMLSelectElement).value)}>
                {workspaces.map((w) => (
                  <option value={w.id}>
                    {w.name} ({w.environment})
                  </option>
                ))}
              </select>
            </label>
          )}
          <button type="button" class="secondary" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {workspace ? (
          <Page route={route} session={session} workspace={workspace} key={workspace} />
        ) : (
          <p class="notice">This key may not manage any workspace of this server.</p>
        )}
      </main>
    </>
  );
}

function NavLink({ route, page, href, label }: { route: Route; page: Route["page"]; href: string; label: string }) {
  const current = route.page === page || (page === "events" && route.page === "event");
  return (
    <li>
      <a href={href} aria-current={current ? "page" : undefined}>
        {label}
      </a>
    </li>
  );
}

function Page({ route, session, workspace }: { route: Route; session: Session; workspace: string }) {
  const connections = usePoll(
    () => session.get<{ records: ConnectionRecord[] }>(`/dashboard/connections?workspace=${encodeURIComponent(workspace)}`),
    workspace,
    5000,
    route.page === "connections",
  );
  const list = connections.data?.records ?? [];
  switch (route.page) {
    case "event":
      return <EventPage session={session} id={route.id!} connections={list} key={route.id} />;
    case "connections":
      return <ConnectionsPage connections={connections} />;
    case "activity":
      return <ActivityPage session={session} workspace={workspace} query={route.query} />;
    default:
      return <EventsPage session={session} workspace={workspace} query={route.query} connections={list} />;
  }
}
