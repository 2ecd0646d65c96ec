// The task list: quick add, search and filters, the list with its pages, and the task form
// and history panels.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import * as api from "./api";
import { onTasksChanged, tasksChanged } from "./bus";
import { isOverdue, plural, recurrenceText, reminderText, timezone, total, when } from "./format";
import { HistoryPanel } from "./history";
import { keepInAddress } from "./router";
import { TaskForm } from "./taskform";
import type { Page, Priority, QuickAddPreview, Tag, Task } from "./types";

type Status = "pending" | "completed" | "all";
type Due = "" | "today" | "week";
type SortBy = "due_at" | "priority" | "title" | "created_at" | "updated_at";

interface Query {
  search: string;
  status: Status;
  priorities: Priority[];
  tags: string[];
  due: Due;
  overdue: boolean;
  sortBy: SortBy;
  order: "asc" | "desc";
  page: number;
}

const INITIAL: Query = {
  search: "",
  status: "pending",
  priorities: [],
  tags: [],
  due: "",
  overdue: false,
  sortBy: "due_at",
  order: "asc",
  page: 1,
};

export const PRIORITIES: Priority[] = ["P1", "P2", "P3", "P4"];
export const PRIORITY_NAMES: Record<Priority, string> = { P1: "urgent", P2: "high", P3: "medium", P4: "low" };
const PAGE_SIZE = 20;

function startOfToday(): Date {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d;
}

function queryString(q: Query): string {
  const p = new URLSearchParams();
  if (q.search.trim()) p.set("search", q.search.trim());
  p.set("status", q.status);
  if (q.priorities.length) p.set("priority", q.priorities.join(","));
  if (q.tags.length) p.set("tag", q.tags.join(","));
  if (q.due) {
    // The bounds are exclusive: from the second before today starts.
    const start = startOfToday();
    const end = new Date(start);
    end.setDate(end.getDate() + (q.due === "today" ? 1 : 7));
    const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
    p.set("due_after", iso(new Date(start.getTime() - 1000)));
    p.set("due_before", iso(end));
  }
  if (q.overdue) p.set("overdue", "true");
  p.set("sort_by", q.sortBy);
  p.set("sort_order", q.order);
  p.set("page", String(q.page));
  p.set("page_size", String(PAGE_SIZE));
  return p.toString();
}

/** The query as the address keeps it ("?q=rent&status=all"), defaults left out. */
function toAddress(q: Query): string {
  const p = new URLSearchParams();
  if (q.search) p.set("q", q.search);
  if (q.status !== INITIAL.status) p.set("status", q.status);
  if (q.priorities.length) p.set("priority", q.priorities.join(","));
  if (q.tags.length) p.set("tag", q.tags.join(","));
  if (q.due) p.set("due", q.due);
  if (q.overdue) p.set("overdue", "true");
  if (q.sortBy !== INITIAL.sortBy) p.set("sort", q.sortBy);
  if (q.order !== INITIAL.order) p.set("order", q.order);
  if (q.page > 1) p.set("page", String(q.page));
  const text = p.toString();
  return text ? `?${text}` : "";
}

/** The query an address keeps; anything it does not know is the default. */
function fromAddress(search: string): Query {
  const p = new URLSearchParams(search);
  const pick = <T extends string>(value: string | null, allowed: readonly T[], fallback: T): T =>
    allowed.includes(value as T) ? (value as T) : fallback;
  const list = (key: string) => (p.get(key) ?? "").split(",").filter(Boolean);
  const page = Number(p.get("page"));
  return {
    search: p.get("q") ?? "",
    status: pick<Status>(p.get("status"), ["pending", "completed", "all"], INITIAL.status),
    priorities: list("priority").filter((x): x is Priority => PRIORITIES.includes(x as Priority)),
    tags: list("tag"),
    due: pick<Due>(p.get("due"), ["", "today", "week"], ""),
    overdue: p.get("overdue") === "true",
    sortBy: pick<SortBy>(p.get("sort"), ["due_at", "priority", "title", "created_at", "updated_at"], INITIAL.sortBy),
    order: pick(p.get("order"), ["asc", "desc"] as const, INITIAL.order),
    page: Number.isInteger(page) && page > 1 ? page : 1,
  };
}

/** The user's tags with their open-task counts (GET /tags), newest list each change. */
export function useTags(): Tag[] {
  const [tags, setTags] = useState<Tag[]>([]);
  useEffect(() => {
    let stale = false;
    const load = () =>
      api
        .get<unknown>("/tags")
        .then((body) => {
          if (!stale) setTags(readTags(body));
        })
        .catch(() => {});
    load();
    const off = onTasksChanged(load);
    return () => {
      stale = true;
      off();
    };
  }, []);
  return tags;
}

function readTags(body: any): Tag[] {
  const items: any[] = Array.isArray(body) ? body : Array.isArray(body?.items) ? body.items : Array.isArray(body?.tags) ? body.tags : [];
  return items
    .map((t) =>
      typeof t === "string"
        ? { name: t }
        : { name: String(t.name ?? t.tag ?? ""), open_tasks: t.open_tasks ?? t.open_count ?? t.open ?? t.count },
    )
    .filter((t) => t.name);
}

/** The longest search the API takes (`MAX_SEARCH_CHARS`, shared/src/domain/list.rs). */
const SEARCH_MAX = 200;

export function TasksPage() {
  const [query, setQuery] = useState<Query>(() => fromAddress(location.search));
  const [searchText, setSearchText] = useState(query.search);
  useEffect(() => keepInAddress(toAddress(query)), [query]);
  const [page, setPage] = useState<Page<Task> | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const [editing, setEditing] = useState<Task | "new" | null>(null);
  const [history, setHistory] = useState<Task | null>(null);
  const [announce, setAnnounce] = useState("");
  const tags = useTags();

  const set = (patch: Partial<Query>) => setQuery((q) => ({ ...q, page: 1, ...patch }));

  // Search as you type, a moment after the last key.
  useEffect(() => {
    const t = setTimeout(() => set({ search: searchText }), 250);
    return () => clearTimeout(t);
  }, [searchText]);

  const qs = queryString(query);
  useEffect(() => {
    const controller = new AbortController();
    let timer = 0;
    const load = () => {
      setLoading(true);
      api
        .get<Page<Task>>(`/tasks?${qs}`, controller.signal)
        .then((p) => {
          // A page emptied meanwhile (its last task completed or deleted, here or
          // elsewhere): go back to the last page that has tasks.
          if (p.items.length === 0 && query.page > 1) {
            setQuery((q) => ({ ...q, page: Math.max(1, Math.min(q.page - 1, p.total_pages)) }));
            return;
          }
          setPage(p);
          setError("");
        })
        .catch((e) => {
          if (e.name === "AbortError") return;
          // Tasks of another query must not stand under this one's chips.
          setPage(null);
          setError(`Your tasks could not be loaded: ${e.message}`);
        })
        .finally(() => setLoading(false));
    };
    load();
    // Several events in a burst (a completion and its next occurrence) are one reload.
    const off = onTasksChanged(() => {
      clearTimeout(timer);
      timer = window.setTimeout(load, 150);
    });
    return () => {
      off();
      clearTimeout(timer);
      controller.abort();
    };
  }, [qs]);

  // When a task's row leaves the list, the keyboard stays in the list rather than falling
  // to the page: on the task shown after it (before it, for the last), else on the heading.
  const focusPast = (task: Task) => {
    const items = page?.items ?? [];
    const at = items.findIndex((t) => t.id === task.id);
    const neighbour = items[at + 1] ?? items[at - 1];
    (document.getElementById(`task-${neighbour?.id}`) ?? document.getElementById("tasks-heading"))?.focus();
  };

  const toggle = async (task: Task) => {
    try {
      const updated = await api.patch<Task>(`/tasks/${task.id}/complete`, { completed: !task.completed });
      setAnnounce(updated.completed ? `Completed “${task.title}”.` : `Reopened “${task.title}”.`);
      // Under "Open" or "Done" a completed or reopened task leaves the list.
      if (query.status !== "all") focusPast(task);
      tasksChanged();
    } catch (e) {
      setError(`“${task.title}” could not be changed: ${(e as Error).message}`);
    }
  };

  const remove = async (task: Task) => {
    if (!confirm(`Delete “${task.title}”?`)) return;
    try {
      await api.del(`/tasks/${task.id}`);
      setAnnounce(`Deleted “${task.title}”.`);
      focusPast(task);
      tasksChanged();
    } catch (e) {
      setError(`“${task.title}” could not be deleted: ${(e as Error).message}`);
    }
  };

  // Another page starts at the top of the list; the keyboard stays on the pager, on the
  // other button when this one has reached the end.
  const [turned, setTurned] = useState(0);
  const turn = (by: number) => {
    setQuery((q) => ({ ...q, page: q.page + by }));
    setTurned(by);
  };
  useEffect(() => {
    if (!turned || loading) return;
    document.querySelector(".task-list")?.scrollIntoView({ block: "start" });
    const same = document.getElementById(turned > 0 ? "page-next" : "page-previous") as HTMLButtonElement | null;
    const other = document.getElementById(turned > 0 ? "page-previous" : "page-next") as HTMLButtonElement | null;
    (same && !same.disabled ? same : other && !other.disabled ? other : document.getElementById("tasks-heading"))?.focus();
    setTurned(0);
  }, [page, loading]);

  // Chips for the user's tags (GET /tags), and for those on screen and chosen, should the
  // tags endpoint not answer.
  const chips = useMemo(() => {
    const all = new Map(tags.map((t) => [t.name, t]));
    for (const name of [...query.tags, ...(page?.items.flatMap((t) => t.tags) ?? [])]) {
      if (!all.has(name)) all.set(name, { name });
    }
    return [...all.values()];
  }, [tags, page, query.tags]);

  const toggleIn = <T,>(list: T[], item: T) => (list.includes(item) ? list.filter((x) => x !== item) : [...list, item]);
  const filtered =
    query.search || query.priorities.length || query.tags.length || query.due || query.overdue || query.status !== "pending";

  return (
    <section class="tasks" aria-labelledby="tasks-heading">
      <div class="page-head">
        <h1 id="tasks-heading" tabIndex={-1}>
          Tasks
        </h1>
        <button type="button" class="primary" onClick={() => setEditing("new")}>
          New task
        </button>
      </div>
      <QuickAdd onAdded={(t) => setAnnounce(`Added “${t.title}”.`)} />

      <div class="filters" role="search">
        <label class="visually-hidden" for="search">
          Search tasks
        </label>
        <input
          id="search"
          type="search"
          dir="auto"
          placeholder='Search: words, "a phrase", -word, a or b'
          maxLength={SEARCH_MAX}
          value={searchText}
          onInput={(e) => setSearchText(e.currentTarget.value)}
        />
        <div class="chips" role="group" aria-label="Status">
          {(["pending", "completed", "all"] as Status[]).map((s) => (
            <button type="button" class="chip" aria-pressed={query.status === s} onClick={() => set({ status: s })}>
              {s === "pending" ? "Open" : s === "completed" ? "Done" : "All"}
            </button>
          ))}
        </div>
        <div class="chips" role="group" aria-label="Priority">
          {PRIORITIES.map((p) => (
            <button
              type="button"
              class={`chip prio-${p.toLowerCase()}`}
              aria-pressed={query.priorities.includes(p)}
              aria-label={`${p} (${PRIORITY_NAMES[p]})`}
              onClick={() => set({ priorities: toggleIn(query.priorities, p) })}
            >
              {p}
            </button>
          ))}
        </div>
        <div class="chips" role="group" aria-label="Due">
          <button type="button" class="chip" aria-pressed={query.due === "today"} onClick={() => set({ due: query.due === "today" ? "" : "today" })}>
            Today
          </button>
          <button type="button" class="chip" aria-pressed={query.due === "week"} onClick={() => set({ due: query.due === "week" ? "" : "week" })}>
            Next 7 days
          </button>
          <button type="button" class="chip danger" aria-pressed={query.overdue} onClick={() => set({ overdue: !query.overdue })}>
            Overdue
          </button>
        </div>
        {chips.length > 0 && (
          <div class="chips tag-chips" role="group" aria-label="Tags">
            {chips.map((t) => (
              <button
                type="button"
                class="chip tag"
                aria-pressed={query.tags.includes(t.name)}
                aria-label={`Tag ${t.name}${t.open_tasks !== undefined ? `, ${plural(t.open_tasks, "open task")}` : ""}`}
                onClick={() => set({ tags: toggleIn(query.tags, t.name) })}
              >
                #{t.name}
                {t.open_tasks !== undefined && <span class="count">{t.open_tasks}</span>}
              </button>
            ))}
          </div>
        )}
        <div class="sort">
          <label for="sort-by">Sort by</label>
          <select id="sort-by" value={query.sortBy} onChange={(e) => {
            const sortBy = e.currentTarget.value as SortBy;
            set({ sortBy, order: sortBy === "created_at" || sortBy === "updated_at" ? "desc" : "asc" });
          }}>
            <option value="due_at">Due date</option>
            <option value="priority">Priority</option>
            <option value="title">Title</option>
            <option value="created_at">Created</option>
            <option value="updated_at">Updated</option>
          </select>
          <button
            type="button"
            class="ghost"
            aria-label={query.order === "asc" ? "Ascending (change to descending)" : "Descending (change to ascending)"}
            onClick={() => set({ order: query.order === "asc" ? "desc" : "asc" })}
          >
            {query.order === "asc" ? "↑" : "↓"}
          </button>
          {filtered && (
            <button
              type="button"
              class="ghost"
              onClick={() => {
                setSearchText("");
                setQuery(INITIAL);
                // The button goes with the filters: the keyboard goes to the search box.
                document.getElementById("search")?.focus();
              }}
            >
              Clear filters
            </button>
          )}
        </div>
      </div>

      {error && (
        <p class="error" role="alert">
          {error}{" "}
          <button
            type="button"
            class="ghost small"
            onClick={() => {
              setError("");
              tasksChanged();
            }}
          >
            Try again
          </button>
        </p>
      )}
      <p class="visually-hidden" role="status" aria-live="polite">
        {announce}
      </p>

      {!page && loading && <p class="hint">Loading your tasks…</p>}
      {page && (
        <>
          <p class="count-line" aria-live="polite">
            {page.total_count === 0
              ? filtered
                ? "No tasks match."
                : "No open tasks. Add one above."
              : `${total(page.total_count, page.total_count_exact)} ${page.total_count === 1 && page.total_count_exact ? "task" : "tasks"}`}
            {/* Hidden from screen readers: they hear the count change, not each reload. */}
            {loading && (
              <span class="hint" aria-hidden="true">
                {" "}
                · loading…
              </span>
            )}
          </p>
          <ul class="task-list" aria-label="Tasks" aria-busy={loading}>
            {page.items.map((task) => (
              <TaskRow
                key={task.id}
                task={task}
                onToggle={() => toggle(task)}
                onEdit={() => setEditing(task)}
                onHistory={() => setHistory(task)}
                onDelete={() => remove(task)}
                onTag={(tag) => set({ tags: query.tags.includes(tag) ? query.tags : [...query.tags, tag] })}
              />
            ))}
          </ul>
          {page.total_pages > 1 && (
            <nav class="pager" aria-label="Pages of tasks">
              <button type="button" id="page-previous" disabled={query.page <= 1} onClick={() => turn(-1)}>
                Previous
              </button>
              <span>
                Page {query.page} of {total(page.total_pages, page.total_count_exact)}
              </span>
              <button
                type="button"
                id="page-next"
                disabled={page.items.length < PAGE_SIZE || (page.total_count_exact && query.page >= page.total_pages)}
                onClick={() => turn(1)}
              >
                Next
              </button>
            </nav>
          )}
        </>
      )}

      {editing && (
        <TaskForm
          task={editing === "new" ? null : editing}
          tags={tags}
          onClose={() => setEditing(null)}
          onSaved={(t, created) => {
            setEditing(null);
            setAnnounce(created ? `Added “${t.title}”.` : `Saved “${t.title}”.`);
            tasksChanged();
          }}
        />
      )}
      {history && <HistoryPanel task={history} onClose={() => setHistory(null)} />}
    </section>
  );
}

function TaskRow(props: {
  task: Task;
  onToggle: () => void;
  onEdit: () => void;
  onHistory: () => void;
  onDelete: () => void;
  onTag: (tag: string) => void;
}) {
  const { task } = props;
  const overdue = isOverdue(task);
  const id = `task-${task.id}`;
  return (
    <li class={`task prio-${task.priority.toLowerCase()}${task.completed ? " completed" : ""}${overdue ? " overdue" : ""}`} data-task-id={task.id}>
      <input
        type="checkbox"
        checked={task.completed}
        aria-label={`${task.completed ? "Reopen" : "Complete"} “${task.title}”`}
        onChange={props.onToggle}
      />
      <div class="task-body">
        <button type="button" class="task-title" id={id} dir="auto" onClick={props.onEdit} aria-label={`Edit “${task.title}”`}>
          {task.title}
        </button>
        {task.description && (
          <p class="task-description" dir="auto">
            {task.description}
          </p>
        )}
        <div class="task-meta">
          <span class={`prio prio-${task.priority.toLowerCase()}`} title={`Priority ${PRIORITY_NAMES[task.priority]}`}>
            {task.priority}
            <span class="visually-hidden"> ({PRIORITY_NAMES[task.priority]})</span>
          </span>
          {task.due_at && (
            <time class={`due${overdue ? " overdue" : ""}`} dateTime={task.due_at}>
              {overdue ? "Overdue: " : "Due "}
              {when(task.due_at)}
            </time>
          )}
          {task.recurrence && (
            <span class="repeat" title="Repeats">
              ↻ {recurrenceText(task.recurrence, task.timezone)}
            </span>
          )}
          {task.reminder_minutes !== null && task.due_at && (
            <span class="reminder" title="Reminder">
              Reminder {reminderText(task.reminder_minutes)}
            </span>
          )}
          {task.tags.map((tag) => (
            <button type="button" class="chip tag small" aria-label={`Show tasks tagged ${tag}`} onClick={() => props.onTag(tag)}>
              #{tag}
            </button>
          ))}
        </div>
      </div>
      <div class="task-actions">
        <button type="button" class="ghost small" onClick={props.onHistory} aria-label={`History of “${task.title}”`}>
          History
        </button>
        <button type="button" class="ghost small danger" onClick={props.onDelete} aria-label={`Delete “${task.title}”`}>
          Delete
        </button>
      </div>
    </li>
  );
}

/** One line in the chat assistant's grammar, previewed as the server reads it. */
function QuickAdd({ onAdded }: { onAdded: (t: Task) => void }) {
  const [text, setText] = useState("");
  const [preview, setPreview] = useState<{ text: string; value: QuickAddPreview } | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const latest = useRef("");

  const read = async (message: string): Promise<QuickAddPreview | null> => {
    if (!message.trim()) return null;
    const value = await api.post<QuickAddPreview>("/quick-add", { message, timezone });
    if (latest.current === message) setPreview({ text: message, value });
    return value;
  };

  useEffect(() => {
    latest.current = text;
    setError("");
    if (!text.trim()) {
      setPreview(null);
      return;
    }
    const t = setTimeout(() => read(text).catch((e) => setError(e.message)), 250);
    return () => clearTimeout(t);
  }, [text]);

  // A preview the server could not be reached for is read again once the app hears from
  // the server again (the live stream's resync), not only at the next key.
  const unreachable = error === api.UNREACHABLE;
  useEffect(() => {
    if (!unreachable) return;
    return onTasksChanged(() =>
      read(latest.current)
        .then(() => setError(""))
        .catch(() => {}),
    );
  }, [unreachable]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!text.trim() || busy) return;
    setBusy(true);
    try {
      const value = preview?.text === text ? preview.value : await read(text);
      if (!value?.understood || !value.task) {
        setError(value ? value.summary : "Type a task first.");
        return;
      }
      const task = await api.post<Task>("/tasks", value.task);
      setText("");
      setPreview(null);
      onAdded(task);
      tasksChanged();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const shown = preview && preview.text === text ? preview.value : null;
  return (
    <form class="quick-add" onSubmit={submit}>
      <label for="quick-add">Quick add</label>
      <div class="row">
        <input
          id="quick-add"
          dir="auto"
          placeholder="pay rent every month on the 1st p1 #home"
          value={text}
          autoComplete="off"
          aria-describedby="quick-add-preview"
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit" class="primary" disabled={busy || !text.trim() || (shown !== null && !shown.understood)}>
          Add
        </button>
      </div>
      <p id="quick-add-preview" class={`preview${shown && !shown.understood ? " not-understood" : ""}`} aria-live="polite">
        {error || (shown ? shown.summary : "Type a task in plain words: dates, “every week”, p1-p4, #tags, “remind me 1 hour before”.")}
      </p>
    </form>
  );
}

export function usePriorityOptions() {
  return useMemo(() => PRIORITIES.map((p) => ({ value: p, label: `${p} · ${PRIORITY_NAMES[p]}` })), []);
}
