// How values read on screen.

export const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const number = new Intl.NumberFormat("en");

/** A total as the API counts it: exact, or a lower bound past its cap ("1,000+"). */
export function total(count: number, exact: boolean): string {
  return number.format(count) + (exact ? "" : "+");
}

export function plural(n: number, one: string, many = one + "s"): string {
  return `${number.format(n)} ${n === 1 ? one : many}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});
const dateTimeYear = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

export function when(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return d.getFullYear() === new Date().getFullYear() ? dateTime.format(d) : dateTimeYear.format(d);
}

export function isOverdue(task: { due_at: string | null; completed: boolean }): boolean {
  return !task.completed && task.due_at !== null && new Date(task.due_at).getTime() < Date.now();
}

/** An RFC 3339 instant as the value of an `<input type="datetime-local">` (local time). */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of an `<input type="datetime-local">` (local time) as RFC 3339 in UTC. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function reminderText(minutes: number): string {
  if (minutes === 0) return "at the due time";
  if (minutes % 10080 === 0) return `${plural(minutes / 10080, "week")} before`;
  if (minutes % 1440 === 0) return `${plural(minutes / 1440, "day")} before`;
  if (minutes % 60 === 0) return `${plural(minutes / 60, "hour")} before`;
  return `${plural(minutes, "minute")} before`;
}

const RULES: Record<string, string> = {
  daily: "every day",
  weekly: "every week",
  monthly: "every month",
  yearly: "every year",
  "every weekday": "every weekday",
};

export function recurrenceText(rule: string): string {
  return RULES[rule] ?? rule;
}
