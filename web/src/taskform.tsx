// The task form: every field the API takes, the due time in this browser's time zone, and
// the API's validation messages shown at the field they name.
import { useState } from "preact/hooks";
import * as api from "./api";
import { ApiError } from "./api";
import { fromLocalInput, recurrenceText, timezone, toLocalInput } from "./format";
import { Panel } from "./panel";
import { PRIORITIES, PRIORITY_NAMES } from "./tasks";
import type { Priority, Tag, Task, TaskInput } from "./types";

const REMINDERS: [string, string][] = [
  ["", "No reminder"],
  ["0", "At the due time"],
  ["5", "5 minutes before"],
  ["15", "15 minutes before"],
  ["30", "30 minutes before"],
  ["60", "1 hour before"],
  ["120", "2 hours before"],
  ["1440", "1 day before"],
  ["10080", "1 week before"],
];

const REPEATS: [string, string][] = [
  ["", "Does not repeat"],
  ["daily", "Every day"],
  ["every weekday", "Every weekday"],
  ["weekly", "Every week"],
  ["every 2 weeks", "Every 2 weeks"],
  ["monthly", "Every month"],
  ["yearly", "Every year"],
];
const CUSTOM = "custom";

type Field = "title" | "description" | "priority" | "tags" | "due_at" | "reminder_minutes" | "recurrence" | "timezone";

export function TaskForm(props: { task: Task | null; tags: Tag[]; onClose: () => void; onSaved: (t: Task, created: boolean) => void }) {
  const t = props.task;
  const [title, setTitle] = useState(t?.title ?? "");
  const [description, setDescription] = useState(t?.description ?? "");
  const [priority, setPriority] = useState<Priority>(t?.priority ?? "P3");
  const [tags, setTags] = useState<string[]>(t?.tags ?? []);
  const [tagText, setTagText] = useState("");
  const [due, setDue] = useState(toLocalInput(t?.due_at));
  const knownReminder = t?.reminder_minutes == null || REMINDERS.some(([v]) => v === String(t.reminder_minutes));
  const [reminder, setReminder] = useState(t?.reminder_minutes == null ? "" : knownReminder ? String(t.reminder_minutes) : CUSTOM);
  const [reminderCustom, setReminderCustom] = useState(knownReminder ? "" : String(t?.reminder_minutes ?? ""));
  const knownRepeat = !t?.recurrence || REPEATS.some(([v]) => v === t.recurrence);
  const [repeat, setRepeat] = useState(knownRepeat ? (t?.recurrence ?? "") : CUSTOM);
  const [rule, setRule] = useState(knownRepeat ? "" : (t?.recurrence ?? ""));
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [formError, setFormError] = useState("");
  const [busy, setBusy] = useState(false);

  const addTag = (raw: string) => {
    const names = raw
      .split(",")
      .map((s) => s.trim().replace(/^#/, ""))
      .filter(Boolean);
    if (names.length) setTags((all) => [...all, ...names.filter((n) => !all.includes(n))]);
    setTagText("");
  };

  // A custom rule in words, where it reads as one ("every month on the 1st").
  const ruleWords = rule.trim() && recurrenceText(rule, t?.timezone ?? timezone);
  const shownWords = ruleWords !== rule.trim() ? ruleWords : "";

  const body = (): TaskInput => {
    const pending = tagText.trim() ? [...tags, ...tagText.split(",").map((s) => s.trim().replace(/^#/, "")).filter(Boolean)] : tags;
    const reminderValue = reminder === "" ? null : reminder === CUSTOM ? Number(reminderCustom) : Number(reminder);
    const recurrence = repeat === "" ? null : repeat === CUSTOM ? rule.trim() : repeat;
    const input: TaskInput = {
      title,
      description: description.trim() === "" ? null : description,
      priority,
      tags: pending,
      due_at: fromLocalInput(due),
      reminder_minutes: reminderValue === null || Number.isNaN(reminderValue) ? (reminder === CUSTOM ? (reminderCustom as unknown as number) : null) : reminderValue,
      recurrence,
      timezone,
    };
    if (!t) {
      // A new task takes only what is set.
      for (const k of Object.keys(input) as (keyof TaskInput)[]) if (input[k] === null) delete input[k];
      return input;
    }
    // An edit sends only what this form changed: a field changed elsewhere meanwhile keeps
    // that change, and one shown rounded (the due time, to the minute) keeps its value.
    const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
    const changes: TaskInput = {};
    if (input.title !== t.title) changes.title = input.title;
    if (!same(input.description, t.description || null)) changes.description = input.description;
    if (input.priority !== t.priority) changes.priority = input.priority;
    if (!same(input.tags, t.tags)) changes.tags = input.tags;
    if (due !== toLocalInput(t.due_at)) changes.due_at = input.due_at;
    if (!same(input.reminder_minutes, t.reminder_minutes)) changes.reminder_minutes = input.reminder_minutes;
    if (!same(input.recurrence, t.recurrence)) changes.recurrence = input.recurrence;
    // The due time and rule are read in this browser's time zone when either changes.
    if ("due_at" in changes || "recurrence" in changes) changes.timezone = input.timezone;
    return changes;
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError("");
    try {
      // What the browser can tell before the API: said at the field, the field focused.
      const refuse = (field: Field, message: string, focus: string) => {
        setErrors({ [field]: message });
        document.getElementById(focus)?.focus();
      };
      if (due && !fromLocalInput(due)) {
        return refuse("due_at", "This is not a date and time this app can save (years 0001 to 9999).", "task-due_at");
      }
      if (reminder === CUSTOM && !/^\d+$/.test(reminderCustom.trim())) {
        return refuse("reminder_minutes", "Enter the reminder as a whole number of minutes before the due time.", "task-reminder-custom");
      }
      if (repeat === CUSTOM && !rule.trim()) {
        return refuse("recurrence", "Enter a rule, or choose how often it repeats.", "task-rule");
      }
      const input = body();
      if (t && Object.keys(input).length === 0) {
        props.onSaved(t, false); // nothing changed
        return;
      }
      const saved = t ? await api.patch<Task>(`/tasks/${t.id}`, input) : await api.post<Task>("/tasks", input);
      props.onSaved(saved, !t);
    } catch (err) {
      if (err instanceof ApiError && err.field) {
        const field = err.field.replace(/[[.].*$/, "") as Field;
        setErrors({ [field]: err.message });
        // A custom value's own input holds what the error is about.
        const custom = { reminder_minutes: reminder === CUSTOM && "task-reminder-custom", recurrence: repeat === CUSTOM && "task-rule" }[field as string];
        const input = document.getElementById(custom || `task-${field}`);
        input?.focus();
      } else if (t && err instanceof ApiError && err.status === 404) {
        setFormError("This task no longer exists: it was deleted, here or elsewhere. Close this form; what you typed was not saved.");
      } else {
        setFormError((err as Error).message);
      }
    } finally {
      setBusy(false);
    }
  };

  const fieldProps = (field: Field) => ({
    id: `task-${field}`,
    "aria-invalid": errors[field] ? ("true" as const) : undefined,
    "aria-describedby": errors[field] ? `task-${field}-error` : undefined,
  });
  const errorOf = (field: Field) =>
    errors[field] && (
      <p id={`task-${field}-error`} class="field-error" role="alert">
        {errors[field]}
      </p>
    );

  const suggestions = props.tags.filter((tag) => !tags.includes(tag.name));

  return (
    <Panel title={t ? "Edit task" : "New task"} onClose={props.onClose}>
      <form class="task-form" onSubmit={submit} noValidate>
        {formError && (
          <p class="error" role="alert">
            {formError}
          </p>
        )}
        <label for="task-title">Title</label>
        <input {...fieldProps("title")} dir="auto" autoFocus value={title} required onInput={(e) => setTitle(e.currentTarget.value)} />
        {errorOf("title")}

        <label for="task-description">Description</label>
        <textarea {...fieldProps("description")} dir="auto" rows={3} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        {errorOf("description")}

        <label for="task-priority">Priority</label>
        <select {...fieldProps("priority")} value={priority} onChange={(e) => setPriority(e.currentTarget.value as Priority)}>
          {PRIORITIES.map((p) => (
            <option value={p}>
              {p} · {PRIORITY_NAMES[p]}
            </option>
          ))}
        </select>
        {errorOf("priority")}

        <label for="task-tags">Tags</label>
        <div class="tag-input">
          {tags.map((tag) => (
            <span class="chip tag small">
              #{tag}
              <button type="button" class="chip-remove" aria-label={`Remove tag ${tag}`} onClick={() => setTags(tags.filter((x) => x !== tag))}>
                ×
              </button>
            </span>
          ))}
          <input
            {...fieldProps("tags")}
            list="task-tag-suggestions"
            placeholder={tags.length ? "" : "work, home"}
            value={tagText}
            autoComplete="off"
            onInput={(e) => {
              const v = e.currentTarget.value;
              // A suggestion picked from the list, or a comma, completes a tag.
              if (v.includes(",") || props.tags.some((s) => s.name === v && (e as InputEvent).inputType !== "insertText")) addTag(v);
              else setTagText(v);
            }}
            onKeyDown={(e) => {
              // Enter here is about tags: it adds the one typed, and never sends the form.
              if (e.key === "Enter") {
                e.preventDefault();
                if (tagText.trim()) addTag(tagText);
              } else if (e.key === "Backspace" && tagText === "" && tags.length) {
                setTags(tags.slice(0, -1));
              }
            }}
          />
          <datalist id="task-tag-suggestions">
            {suggestions.map((s) => (
              <option value={s.name} />
            ))}
          </datalist>
        </div>
        {errorOf("tags")}

        <label for="task-due_at">Due</label>
        <input {...fieldProps("due_at")} type="datetime-local" value={due} onInput={(e) => setDue(e.currentTarget.value)} />
        <p class="hint">In your time zone, {timezone}.</p>
        {errorOf("due_at")}

        <label for="task-reminder_minutes">Reminder</label>
        <select {...fieldProps("reminder_minutes")} value={reminder} onChange={(e) => setReminder(e.currentTarget.value)}>
          {REMINDERS.map(([v, label]) => (
            <option value={v}>{label}</option>
          ))}
          <option value={CUSTOM}>Minutes before…</option>
        </select>
        {reminder === CUSTOM && (
          <>
            <label for="task-reminder-custom" class="sub">
              Minutes before the due time
            </label>
            <input id="task-reminder-custom" type="number" min={0} inputMode="numeric" value={reminderCustom} onInput={(e) => setReminderCustom(e.currentTarget.value)} />
          </>
        )}
        {errorOf("reminder_minutes")}

        <label for="task-recurrence">Repeat</label>
        <select {...fieldProps("recurrence")} value={repeat} onChange={(e) => setRepeat(e.currentTarget.value)}>
          {REPEATS.map(([v, label]) => (
            <option value={v}>{label}</option>
          ))}
          <option value={CUSTOM}>Custom rule…</option>
        </select>
        {repeat === CUSTOM && (
          <>
            <label for="task-rule" class="sub">
              Rule
            </label>
            <input
              id="task-rule"
              placeholder="every monday,thursday or FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10"
              value={rule}
              aria-invalid={errors.recurrence ? "true" : undefined}
              aria-describedby={errors.recurrence ? "task-recurrence-error" : shownWords ? "task-rule-words" : undefined}
              onInput={(e) => setRule(e.currentTarget.value)}
            />
            {shownWords && (
              <p id="task-rule-words" class="hint">
                Repeats {shownWords}
              </p>
            )}
          </>
        )}
        {errorOf("recurrence")}
        {errorOf("timezone")}

        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy}>
            {t ? "Save" : "Add task"}
          </button>
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Panel>
  );
}
