// Who is signed in: a bearer token (a JWT whose subject is the user id) kept in this
// browser's localStorage. It comes from todo-local's development sign-in, from a pasted
// token, or from the identity provider, which sends the person back to the app with
// `#access_token=<JWT>&state=<state>` in the URL's fragment (never sent to a server, so
// never logged). The state is the one this tab sent with the person (`signInState`): a
// token in a link the app did not ask for (someone else's, to sign a victim into it) is
// refused.

export interface Session {
  userId: string;
  token: string;
  /** Milliseconds since the epoch, from the token's `exp`. */
  expiresAt: number;
}

const KEY = "todo.session";
/** The localStorage key of the session (a change to it in another tab is a sign-in or out). */
export const STORAGE_KEY = KEY;
const STATE_KEY = "todo.sign-in-state";

/** A fresh `state` for a trip to the identity provider, kept in this tab until it returns. */
export function signInState(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const state = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  sessionStorage.setItem(STATE_KEY, state);
  return state;
}

/** The claims of a JWT, unverified: the server verifies; the app only needs `sub`, `exp`. */
export function claims(token: string): { sub?: unknown; exp?: unknown } | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** A session from a token, or why the token cannot be used. */
export function fromToken(raw: string): Session | string {
  const token = raw.trim().replace(/^Bearer\s+/i, "");
  const c = claims(token);
  if (!c) return "This is not a JWT (three base64url parts separated by dots).";
  if (typeof c.sub !== "string" || c.sub === "") return "The token has no subject (sub): whose is it?";
  if (typeof c.exp !== "number") return "The token has no expiry (exp).";
  const expiresAt = c.exp * 1000;
  if (expiresAt <= Date.now()) return "The token has expired.";
  return { userId: c.sub, token, expiresAt };
}

export function load(): Session | null {
  const fromFragment = takeFragmentToken();
  if (fromFragment) {
    save(fromFragment);
    return fromFragment;
  }
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) ?? "null");
    if (stored && typeof stored.token === "string") {
      const session = fromToken(stored.token);
      if (typeof session !== "string") return session;
    }
  } catch {
    // A damaged entry is no session.
  }
  localStorage.removeItem(KEY);
  return null;
}

export function save(session: Session) {
  localStorage.setItem(KEY, JSON.stringify({ token: session.token }));
}

export function clear() {
  localStorage.removeItem(KEY);
}

/** The identity provider's hook: `#access_token=<JWT>&state=<state>` on arrival, removed
 * from the URL; taken only with the state this tab sent (`signInState`), once. */
function takeFragmentToken(): Session | null {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("access_token");
  if (!token) return null;
  history.replaceState(null, "", location.pathname + location.search);
  const expected = sessionStorage.getItem(STATE_KEY);
  sessionStorage.removeItem(STATE_KEY);
  if (!expected || params.get("state") !== expected) return null;
  const session = fromToken(token);
  return typeof session === "string" ? null : session;
}
