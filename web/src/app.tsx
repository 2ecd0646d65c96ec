import { useCallback, useEffect, useState } from "preact/hooks";
import { useSession } from "./api";
import { tasksChanged } from "./bus";
import { ChatPage } from "./chat";
import { when } from "./format";
import * as live from "./live";
import { href, navigate, usePage, type Page } from "./router";
import * as sessions from "./session";
import type { Session } from "./session";
import { SettingsPage } from "./settings";
import { SignIn } from "./signin";
import { TasksPage } from "./tasks";
import { applyTheme, currentTheme, type Theme } from "./theme";

interface Notice {
  id: number;
  text: string;
}

let noticeId = 0;

const PAGE_NAMES: Record<Page, string> = { tasks: "Tasks", chat: "Chat", settings: "Settings" };

/** The tab's title says where the person is (and is what a screen reader announces first);
 * an empty one leaves it to a component inside. */
function useTitle(title: string) {
  useEffect(() => {
    if (title) document.title = `${title} · Todo`;
  }, [title]);
}

export function App() {
  const [session, setSession] = useState<Session | null>(() => sessions.load());
  // Why the last session ended, when the person did not end it: shown at sign-in.
  const [ended, setEnded] = useState("");
  const signOut = useCallback((why = "") => {
    sessions.clear();
    live.stop();
    setSession(null);
    setEnded(why);
  }, []);
  useSession(session, () => signOut("The server no longer accepts your sign-in. Please sign in again."));

  const signIn = (s: Session) => {
    sessions.save(s);
    setEnded("");
    setSession(s);
  };

  // Signing in or out in another tab counts here too.
  useEffect(() => {
    const changed = (e: StorageEvent) => {
      if (e.key === null || e.key === sessions.STORAGE_KEY) setSession(sessions.load());
    };
    addEventListener("storage", changed);
    return () => removeEventListener("storage", changed);
  }, []);

  useEffect(() => {
    if (!session) return;
    live.start();
    // Sign out when the token runs out (the stream ends then too).
    const left = session.expiresAt - Date.now();
    const timer = setTimeout(() => signOut("Your sign-in has expired. Please sign in again."), Math.min(left, 2 ** 31 - 1));
    return () => {
      clearTimeout(timer);
      live.stop();
    };
  }, [session]);

  useTitle(session ? "" : "Sign in");
  if (!session) return <SignIn onSignIn={signIn} notice={ended} />;
  return <Shell session={session} onSignOut={() => signOut()} />;
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const page = usePage();
  useTitle(PAGE_NAMES[page]);
  const [status, setStatus] = useState<live.LiveStatus>("offline");
  const [notices, setNotices] = useState<Notice[]>([]);

  const notify = (text: string) => {
    const id = ++noticeId;
    setNotices((n) => [...n.slice(-3), { id, text }]);
    setTimeout(() => setNotices((n) => n.filter((x) => x.id !== id)), 12000);
  };

  useEffect(() => live.onStatus(setStatus), []);
  useEffect(
    () =>
      live.onLive(({ type, data }) => {
        if (type.startsWith("task.") || type === "resync") tasksChanged();
        if (type === "reminder.due" && data && typeof data === "object") {
          notify(`Reminder: “${data.title}” is due ${when(data.due_at)}.`);
        }
      }),
    [],
  );

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand" aria-hidden="true">
          ✓
        </span>
        <nav aria-label="Pages">
          {(Object.keys(PAGE_NAMES) as Page[]).map((p) => (
            <a
              href={href(p)}
              aria-current={page === p ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(p);
              }}
            >
              {PAGE_NAMES[p]}
            </a>
          ))}
        </nav>
        <span class={`live ${status}`} role="status" title="Live updates">
          <span class="dot" aria-hidden="true" />
          <span class="live-text">{status === "live" ? "Live" : status === "connecting" ? "Connecting…" : "Offline"}</span>
        </span>
        <ThemeButton />
        <span class="who" title={`Signed in as ${session.userId}`}>
          {session.userId}
        </span>
        <button type="button" class="ghost sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page === "tasks" && <TasksPage />}
        {page === "chat" && <ChatPage />}
        {page === "settings" && <SettingsPage session={session} onSignOut={onSignOut} />}
      </main>
      <div class="notices" role="status" aria-live="polite" aria-label="Notifications">
        {notices.map((n) => (
          <div class="notice" key={n.id}>
            <span>{n.text}</span>
            <button
              type="button"
              class="ghost small"
              aria-label="Dismiss notification"
              onClick={() => setNotices((all) => all.filter((x) => x.id !== n.id))}
            >
              ×
            </button>
          </div>
        ))}
      </div>
    </div>
  );
}

const NEXT: Record<Theme, Theme> = { system: "light", light: "dark", dark: "system" };

function ThemeButton() {
  const [theme, setTheme] = useState<Theme>(currentTheme());
  const label = theme === "system" ? "Theme: system" : theme === "light" ? "Theme: light" : "Theme: dark";
  return (
    <button
      type="button"
      class="ghost"
      aria-label={`${label} (change)`}
      title={label}
      onClick={() => {
        const next = NEXT[theme];
        applyTheme(next);
        setTheme(next);
      }}
    >
      {theme === "dark" ? "☾" : theme === "light" ? "☀" : "◐"}
    </button>
  );
}
