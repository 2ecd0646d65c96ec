// Signing in. In todo-local (config.json says dev_sign_in) a name is enough: the server
// issues a development token. Elsewhere the token comes from the identity provider: the
// app sends the person to `sign_in_url` with `redirect_uri`, and the provider sends them
// back with `#access_token=<JWT>` (see the README, "Web app"); a token can also be pasted.
import { useEffect, useState } from "preact/hooks";
import { fromToken, signInState, type Session } from "./session";
import type { WebConfig } from "./types";

export function SignIn({ onSignIn, notice = "" }: { onSignIn: (s: Session) => void; notice?: string }) {
  const [config, setConfig] = useState<WebConfig | null>(null);
  useEffect(() => {
    fetch("/config.json")
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null)
      .then((c) => setConfig(c ?? { dev_sign_in: false, sign_in_url: null }));
  }, []);
  if (!config) return <main class="signin" aria-busy="true" />;
  return (
    <main class="signin">
      <h1>Todo</h1>
      {notice && (
        <p class="error" role="status">
          {notice}
        </p>
      )}
      {config.dev_sign_in && <DevSignIn onSignIn={onSignIn} />}
      {config.sign_in_url && (
        <p>
          <a
            class="button primary"
            href={config.sign_in_url}
            onClick={(e) => {
              e.preventDefault();
              location.assign(providerUrl(config.sign_in_url!));
            }}
          >
            Sign in with your account
          </a>
        </p>
      )}
      {config.dev_sign_in ? (
        <details>
          <summary>Use a token instead</summary>
          <PasteToken onSignIn={onSignIn} />
        </details>
      ) : (
        <PasteToken onSignIn={onSignIn} />
      )}
    </main>
  );
}

/** Where to send the person: the provider, with where to come back and this trip's state. */
function providerUrl(base: string): string {
  const url = new URL(base);
  url.searchParams.set("redirect_uri", location.origin + "/");
  url.searchParams.set("state", signInState());
  return url.toString();
}

function DevSignIn({ onSignIn }: { onSignIn: (s: Session) => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const response = await fetch("/dev/token", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user_id: name.trim() }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        setError(body?.error?.message ?? `The server answered ${response.status}.`);
        return;
      }
      const session = fromToken(body.token);
      if (typeof session === "string") setError(session);
      else onSignIn(session);
    } catch {
      setError("The server cannot be reached. Is todo-local running?");
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} class="card" noValidate>
      <h2>Development sign-in</h2>
      <p class="hint">todo-local signs you in by name: anyone who reaches it can be anyone.</p>
      <label for="signin-name">Your name</label>
      <input
        id="signin-name"
        name="user_id"
        autoComplete="username"
        value={name}
        required
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? "signin-error" : undefined}
        onInput={(e) => setName(e.currentTarget.value)}
      />
      {error && (
        <p id="signin-error" class="field-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy || name.trim() === ""}>
        Sign in
      </button>
    </form>
  );
}

function PasteToken({ onSignIn }: { onSignIn: (s: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const submit = (e: Event) => {
    e.preventDefault();
    const session = fromToken(token);
    if (typeof session === "string") setError(session);
    else onSignIn(session);
  };
  return (
    <form onSubmit={submit} class="card" noValidate>
      <h2>Sign in with a token</h2>
      <label for="signin-token">Access token (JWT)</label>
      <textarea
        id="signin-token"
        rows={3}
        value={token}
        spellcheck={false}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? "token-error" : undefined}
        onInput={(e) => setToken(e.currentTarget.value)}
      />
      {error && (
        <p id="token-error" class="field-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={token.trim() === ""}>
        Use this token
      </button>
    </form>
  );
}
