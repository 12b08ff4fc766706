import { useEffect, useRef, useState } from "preact/hooks";

interface Props {
  error: string | undefined;
  busy: boolean;
  onSubmit: (accessKey: string, secretKey: string, remember: boolean) => void;
}

export function SignInPage({ error, busy, onSubmit }: Props) {
  const [accessKey, setAccessKey] = useState("");
  const [secretKey, setSecretKey] = useState("");
  const [remember, setRemember] = useState(true);
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);

  return (
    <main id="main" class="sign-in">
      <form
        class="panel"
        aria-labelledby="sign-in-title"
        onSubmit={(e) => {
          e.preventDefault();
          if (accessKey.trim() && secretKey) onSubmit(accessKey, secretKey, remember);
        }}
      >
        <h1 id="sign-in-title">Sign in to Meshwork</h1>
        <p class="muted">
          Use a management key from the server's config (<code>accessKeys</code>). You see the workspaces that key may manage, and nothing else.
        </p>
        <label>
          Access key
          <input ref={first} name="access-key" value={accessKey} onInput={(e) => setAccessKey((e.target as HTMLInputElement).value)} autoComplete="username" spellcheck={false} required />
        </label>
        <label>
          Secret key
          <input
            name="secret-key"
            type="password"
            value={secretKey}
            onInput={(e) => setSecretKey((e.target as HTMLInputElement).value)}
            autoComplete="current-password"
            aria-describedby="secret-help"
            required
          />
        </label>
        <p id="secret-help" class="muted small">
          The secret key stays in this browser: it signs short-lived tokens here and is never sent to the server.
        </p>
        <label class="inline">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} /> Stay signed in while this tab is open
        </label>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
