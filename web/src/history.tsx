// A task's history from the audit log: each event, and what it changed.
import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "./api";
import { onTasksChanged } from "./bus";
import { when } from "./format";
import { Panel } from "./panel";
import type { HistoryEntry, HistoryPage, Task } from "./types";

const FIELDS: [keyof Task, string][] = [
  ["title", "title"],
  ["description", "description"],
  ["priority", "priority"],
  ["tags", "tags"],
  ["due_at", "due"],
  ["reminder_minutes", "reminder"],
  ["recurrence", "repeat"],
  ["timezone", "time zone"],
  ["completed", "done"],
];

function show(field: keyof Task, value: unknown): string {
  if (value === null || value === undefined || value === "") return "none";
  if (field === "due_at") return when(value as string);
  if (Array.isArray(value)) return value.length ? value.map((t) => `#${t}`).join(" ") : "none";
  return String(value);
}

function changes(before: Partial<Task> | undefined, after: Partial<Task>): string[] {
  if (!before) return [];
  return FIELDS.filter(([k]) => JSON.stringify(before[k] ?? null) !== JSON.stringify(after[k] ?? null)).map(
    ([k, label]) => `${label}: ${show(k, before[k])} → ${show(k, after[k])}`,
  );
}

// Events per request: a long history comes in pages, each appended below the last.
const PAGE_SIZE = 100;

export function HistoryPanel({ task, onClose }: { task: Task; onClose: () => void }) {
  const [entries, setEntries] = useState<HistoryEntry[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState("");
  const load = (page: number) =>
    api
      .get<HistoryPage>(`/tasks/${task.id}/history?page=${page}&page_size=${PAGE_SIZE}`)
      .then((p) => {
        setEntries((shown) => (page === 1 ? p.items : [...(shown ?? []), ...p.items]));
        // "Show more" goes once they are shown: the keyboard goes to the first of them.
        if (page > 1) focusFrom.current = (page - 1) * PAGE_SIZE;
        setTotal(p.total_count);
      })
      .catch((e) => setError(e.status === 404 ? "No history yet." : e.message));
  useEffect(() => {
    setEntries(null);
    load(1);
    // A change made meanwhile, here or elsewhere, joins the history shown.
    return onTasksChanged(() => load(1));
  }, [task.id]);
  const focusFrom = useRef<number | null>(null);
  useEffect(() => {
    if (focusFrom.current === null) return;
    document.getElementById(`history-${focusFrom.current}`)?.focus();
    focusFrom.current = null;
  }, [entries]);
  return (
    <Panel title={`History of “${task.title}”`} onClose={onClose}>
      {error && <p class="hint">{error}</p>}
      {!entries && !error && <p class="hint">Loading…</p>}
      {entries && (
        <ol class="history">
          {entries.map((e, i) => (
            <li id={`history-${i}`} tabIndex={-1}>
              <strong>{e.event_type.replace(/^task\./, "")}</strong> <time dateTime={e.occurred_at}>{when(e.occurred_at)}</time>
              <ul>
                {changes(entries[i - 1]?.task, e.task).map((c) => (
                  <li>{c}</li>
                ))}
              </ul>
            </li>
          ))}
        </ol>
      )}
      {entries && entries.length < total && (
        <button type="button" onClick={() => load(Math.floor(entries.length / PAGE_SIZE) + 1)}>
          Show {Math.min(PAGE_SIZE, total - entries.length)} more of {total}
        </button>
      )}
    </Panel>
  );
}
