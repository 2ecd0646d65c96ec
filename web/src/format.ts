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

const DAYS: Record<string, string> = {
  mo: "Monday", tu: "Tuesday", we: "Wednesday", th: "Thursday", fr: "Friday", sa: "Saturday", su: "Sunday",
  mon: "Monday", tue: "Tuesday", wed: "Wednesday", thu: "Thursday", fri: "Friday", sat: "Saturday", sun: "Sunday",
  tues: "Tuesday", thur: "Thursday", thurs: "Thursday",
};
const NTH = ["first", "second", "third", "fourth", "fifth"];

function andList(items: string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}

/** A day name from a full name, three letters or a BYDAY code; with a BYDAY number, "the first Monday". */
function dayWords(word: string): string | undefined {
  const m = /^([+-]?\d{1,2})?([a-z]+)$/.exec(word);
  // A name as the API's grammar takes it: full, short ("tue", "tues", "thurs") or plural.
  const name = m && (DAYS[m[2]] ?? Object.values(DAYS).find((d) => [d.toLowerCase(), `${d.toLowerCase()}s`].includes(m[2])));
  if (!m || !name) return undefined;
  if (m[1] === undefined) return name;
  const n = Number(m[1]);
  if (n === -1) return `the last ${name}`;
  return NTH[n - 1] && `the ${NTH[n - 1]} ${name}`;
}

/** An RFC 5545 rule in words, as the chat says it; undefined for a rule it does not know. */
function rruleText(rule: string, timeZone: string): string | undefined {
  let unit = "", every = 1, days: string[] = [], monthDays: number[] = [], lastSet = false, end = "";
  for (const part of rule.replace(/^rrule:/, "").split(";")) {
    const [key, value = ""] = part.split("=");
    if (key === "freq") unit = ({ daily: "day", weekly: "week", monthly: "month", yearly: "year" } as Record<string, string>)[value] ?? "";
    else if (key === "interval") every = Number(value);
    else if (key === "byday") {
      const named = value.split(",").map(dayWords);
      if (named.some((d) => d === undefined)) return undefined;
      days = named as string[];
    } else if (key === "bymonthday") monthDays = value.split(",").map(Number);
    else if (key === "bysetpos" && value === "-1") lastSet = true;
    else if (key === "count") end = value === "1" ? ", once" : `, ${Number(value)} times`;
    else if (key === "until") {
      const m = /^(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z$/.exec(value);
      if (!m) return undefined;
      const at = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
      end = ` until ${new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone }).format(at)}`;
    } else return undefined;
  }
  if (!unit || !Number.isInteger(every) || every < 1 || monthDays.some((d) => !Number.isInteger(d))) return undefined;
  // "28,29,30,31" with BYSETPOS=-1: the 31st, or the last day of a shorter month.
  const lastOf = monthDays.length > 1;
  if (lastOf !== lastSet || (lastOf && monthDays.some((d, i) => d !== 28 + i))) return undefined;
  let text = every === 1 ? `every ${unit}` : `every ${every} ${unit}s`;
  if (every === 1 && unit === "week" && days.join() === "Monday,Tuesday,Wednesday,Thursday,Friday") text = "every weekday";
  else if (days.length) text += ` on ${andList(days)}`;
  const day = monthDays[monthDays.length - 1];
  if (day === -1) text += " on the last day";
  else if (day > 0) text += ` on the ${ordinal(day)}${lastOf ? " (the last day in a shorter month)" : ""}`;
  else if (day !== undefined) return undefined;
  return text + end;
}

const RULES: Record<string, string> = {
  daily: "every day",
  weekly: "every week",
  monthly: "every month",
  yearly: "every year",
  annually: "every year",
  "every weekday": "every weekday",
  "every weekdays": "every weekday",
};

/** A task's recurrence in words ("every month on the 1st", "every Monday and Thursday",
 * "every day until 4 Dec 2026" in the task's time zone), or the rule as written. */
export function recurrenceText(rule: string, timeZone = "UTC"): string {
  const lower = rule.trim().toLowerCase();
  if (RULES[lower]) return RULES[lower];
  if (lower.startsWith("every ")) {
    const names = lower.slice(6).split(/[ ,]+/).filter((w) => w && w !== "and").map(dayWords);
    if (names.length && names.every((d) => d && !d.startsWith("the "))) return `every ${andList(names as string[])}`;
    return lower;
  }
  return rruleText(lower, timeZone) ?? rule;
}
