// The app's pages are paths (the server answers index.html for them): / (tasks), /chat,
// /settings.
import { useEffect, useState } from "preact/hooks";

export type Page = "tasks" | "chat" | "settings";

const PATHS: Record<Page, string> = { tasks: "/", chat: "/chat", settings: "/settings" };

function pageOf(path: string): Page {
  if (path.startsWith("/chat")) return "chat";
  if (path.startsWith("/settings")) return "settings";
  return "tasks";
}

const listeners = new Set<() => void>();

export function navigate(page: Page) {
  if (pageOf(location.pathname) !== page || location.pathname !== PATHS[page]) {
    history.pushState(null, "", PATHS[page]);
    listeners.forEach((l) => l());
  }
}

export function href(page: Page): string {
  return PATHS[page];
}

export function usePage(): Page {
  const [page, setPage] = useState(pageOf(location.pathname));
  useEffect(() => {
    const update = () => setPage(pageOf(location.pathname));
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return page;
}

/** Keeps a page's state in the address (`search`: a query string, "" for none) without a new
 * history entry, so that a reload or a bookmark shows the same. */
export function keepInAddress(search: string) {
  if (location.search !== search) history.replaceState(null, "", location.pathname + search);
}
