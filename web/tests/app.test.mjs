// The web app in Chromium against a real todo-local and database (scripts/web-test.sh
// starts them): TODO_URL is the server, CHROMIUM the browser (Debian's; never downloaded).
// With SCREENSHOTS=<dir> it also saves the README's screenshots there.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";

const BASE = process.env.TODO_URL ?? "http://127.0.0.1:8080";
const SHOTS = process.env.SCREENSHOTS;
const DESKTOP = { width: 1100, height: 760 };
const PHONE = { width: 360, height: 740 };

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
});

after(async () => {
  await browser?.close();
});

function newUser() {
  return `tester-${Math.random().toString(36).slice(2, 10)}`;
}

/** A signed-in page of a fresh context, through the development sign-in form. */
async function signedIn(user = newUser(), options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, timezoneId: "Europe/Berlin", locale: "en-GB", ...options });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (401|404|422)/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(BASE + "/");
  await page.getByLabel("Your name").fill(user);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Tasks" }).waitFor();
  await page.locator(".live.live").waitFor();
  return { context, page, user, problems };
}

/** The API as that page's user (the token the app keeps). */
async function apiCall(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const { token } = JSON.parse(localStorage.getItem("todo.session"));
      const sub = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub;
      const r = await fetch(`/api/${encodeURIComponent(sub)}${path}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: r.status === 204 ? null : await r.json() };
    },
    { method, path, body },
  );
}

function row(page, title) {
  return page.locator("li.task", { has: page.getByRole("button", { name: `Edit “${title}”`, exact: true }) });
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

/** Every control on the page has an accessible name. */
async function unnamedControls(page) {
  return page.evaluate(() => {
    const named = (el) => {
      if (el.getAttribute("aria-label")?.trim()) return true;
      const by = el.getAttribute("aria-labelledby");
      if (by && by.split(" ").some((id) => document.getElementById(id)?.textContent?.trim())) return true;
      if (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent?.trim()) return true;
      if (el.closest("label")) return true;
      if (["BUTTON", "A", "SUMMARY"].includes(el.tagName) && el.textContent.trim()) return true;
      return false;
    };
    return [...document.querySelectorAll("button, a[href], input, select, textarea, summary")]
      .filter((el) => el.type !== "hidden" && el.offsetParent !== null && !named(el))
      .map((el) => el.outerHTML.slice(0, 120));
  });
}

describe("the web app", () => {
  test("serves its files with a strict CSP and opens app routes", async () => {
    const page = await (await browser.newContext()).newPage();
    const response = await page.goto(BASE + "/chat");
    assert.equal(response.status(), 200);
    const csp = response.headers()["content-security-policy"];
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|https?:/);
    await page.getByLabel("Your name").waitFor();
    assert.deepEqual(await unnamedControls(page), []);
    await page.context().close();
  });

  test("create a task through the form, find it by search and by tag, edit it, complete it", async () => {
    const { context, page, problems } = await signedIn();
    await page.getByRole("button", { name: "New task" }).click();
    const form = page.getByRole("dialog", { name: "New task" });
    await form.getByLabel("Title").fill("Water the plants");
    await form.getByLabel("Description").fill("The ones on the balcony");
    await form.getByLabel("Priority").selectOption("P2");
    const tags = form.getByLabel("Tags");
    await tags.fill("garden");
    await tags.press("Enter");
    await tags.fill("home");
    await tags.press("Enter");
    // Tomorrow at 10:00 in the browser's time zone (Europe/Berlin).
    const tomorrow = new Date(Date.now() + 86400000);
    const day = tomorrow.toLocaleDateString("sv-SE", { timeZone: "Europe/Berlin" });
    await form.getByLabel("Due").fill(`${day}T10:00`);
    await form.getByLabel("Reminder").selectOption("60");
    await form.getByLabel("Repeat").selectOption("weekly");
    assert.deepEqual(await unnamedControls(page), []);
    await shot(page, "task-form");
    await form.getByRole("button", { name: "Add task" }).click();
    await form.waitFor({ state: "detached" });

    const task = row(page, "Water the plants");
    await task.waitFor();
    const text = await task.innerText();
    for (const part of ["P2", "#garden", "#home", "every week", "1 hour before", "10:00"]) {
      assert.ok(text.includes(part), `${part} in ${text}`);
    }
    const stored = (await apiCall(page, "GET", "/tasks?search=plants")).body.items[0];
    assert.equal(stored.recurrence, "weekly");
    assert.equal(stored.reminder_minutes, 60);
    assert.equal(stored.timezone, "Europe/Berlin");
    assert.deepEqual(stored.tags.sort(), ["garden", "home"]);

    // Another task, so that search and tags have something to leave out.
    await apiCall(page, "POST", "/tasks", { title: "Call the bank", tags: ["money"] });
    await row(page, "Call the bank").waitFor();

    await page.getByLabel("Search tasks").fill("plants");
    await row(page, "Call the bank").waitFor({ state: "detached" });
    assert.equal(await page.locator("li.task").count(), 1);
    await page.getByLabel("Search tasks").fill("");
    await row(page, "Call the bank").waitFor();

    await page.getByRole("button", { name: /^Tag garden/ }).click();
    await row(page, "Call the bank").waitFor({ state: "detached" });
    assert.equal(await page.locator("li.task").count(), 1);
    await page.getByRole("button", { name: /^Tag garden/ }).click();
    await row(page, "Call the bank").waitFor();

    // Edit.
    await page.getByRole("button", { name: "Edit “Water the plants”" }).click();
    const edit = page.getByRole("dialog", { name: "Edit task" });
    await edit.getByLabel("Title").fill("Water all the plants");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "detached" });
    await row(page, "Water all the plants").waitFor();

    // Complete: it leaves the open tasks and its next occurrence, a week later, arrives.
    await page.getByRole("checkbox", { name: "Complete “Water all the plants”" }).click();
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("li.task")].filter((li) => li.innerText.includes("Water all the plants"));
      return rows.length === 1 && !rows[0].querySelector("input").checked;
    });
    const next = (await apiCall(page, "GET", "/tasks?search=plants&status=pending")).body.items[0];
    assert.equal(new Date(next.due_at) - new Date(stored.due_at), 7 * 86400000);
    assert.ok(next.recurrence_parent_id);
    await page.getByRole("button", { name: "Done", exact: true }).click();
    const done = page.locator("li.task.completed", { hasText: "Water all the plants" });
    await done.waitFor();
    assert.equal(await done.locator(".task-title").evaluate((e) => getComputedStyle(e).textDecorationLine), "line-through");

    // Its history, from the audit log.
    await page.getByRole("button", { name: "History of “Water all the plants”" }).click();
    const history = page.getByRole("dialog", { name: /History of/ });
    await history.getByText("completed").waitFor();
    assert.match(await history.innerText(), /created[\s\S]*updated[\s\S]*title: Water the plants → Water all the plants[\s\S]*completed/);
    await page.keyboard.press("Escape");
    await history.waitFor({ state: "detached" });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("an overdue task is red, priorities have their colours", async () => {
    const { context, page } = await signedIn();
    await apiCall(page, "POST", "/tasks", { title: "Renew passport", priority: "P1", due_at: new Date(Date.now() - 86400000).toISOString() });
    await apiCall(page, "POST", "/tasks", { title: "Someday", priority: "P4" });
    const late = row(page, "Renew passport");
    await late.waitFor();
    const due = late.locator("time.due");
    assert.match(await due.innerText(), /^Overdue/);
    const red = await due.evaluate((e) => getComputedStyle(e).color);
    const [r, g, b] = red.match(/\d+/g).map(Number);
    assert.ok(r > 150 && g < 80 && b < 80, `overdue is red: ${red}`);
    const border = (title) => row(page, title).evaluate((e) => getComputedStyle(e).borderLeftColor);
    assert.notEqual(await border("Renew passport"), await border("Someday"));
    // A list that cannot be loaded shows no tasks of another query, says why, and comes
    // back when asked.
    await page.route("**/api/*/tasks?*", (route) => route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "unavailable", message: "the database is unavailable" } }) }));
    await page.getByRole("button", { name: "Done", exact: true }).click();
    const alert = page.locator("p.error[role=alert]");
    await alert.getByText("Your tasks could not be loaded: the database is unavailable").waitFor();
    assert.equal(await page.locator("li.task").count(), 0);
    await page.unroute("**/api/*/tasks?*");
    await page.getByRole("button", { name: "Open", exact: true }).click();
    await late.waitFor();
    assert.equal(await alert.count(), 0);
    // A move to another time zone alone shows in the history.
    const passport = (await apiCall(page, "GET", "/tasks?search=passport")).body.items[0];
    await apiCall(page, "PATCH", `/tasks/${passport.id}`, { timezone: "Asia/Tokyo" });
    await page.getByRole("button", { name: "History of “Renew passport”" }).click();
    const history = page.getByRole("dialog", { name: /History of/ });
    await history.getByText("time zone: UTC → Asia/Tokyo").waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Overdue" }).click();
    await row(page, "Someday").waitFor({ state: "detached" });
    // The filters live in the address: a reload shows the same list.
    assert.match(page.url(), /[?&]overdue=true/);
    await page.reload();
    await late.waitFor();
    assert.equal(await page.getByRole("button", { name: "Overdue" }).getAttribute("aria-pressed"), "true");
    assert.equal(await row(page, "Someday").count(), 0);
    await context.close();
  });

  test("quick add shows what it understood, then adds it", async () => {
    const { context, page } = await signedIn();
    const line = page.getByLabel("Quick add");
    await line.fill("pay rent every month on the 1st p1 #home");
    const preview = page.locator("#quick-add-preview");
    await page.waitForFunction(() => document.querySelector("#quick-add-preview").textContent.startsWith("Add “pay rent”"));
    assert.match(await preview.innerText(), /^Add “pay rent”, P1, #home, due .*, repeating every month on the 1st$/);
    await line.press("Enter");
    const task = row(page, "pay rent");
    await task.waitFor();
    assert.match(await task.innerText(), /P1[\s\S]*#home/);
    // The row says the rule in words, as the preview did.
    assert.match(await task.innerText(), /↻ every month on the 1st/);
    assert.equal(await line.inputValue(), "");
    await line.fill("book club every last friday of the month 6 times");
    await page.waitForFunction(() => document.querySelector("#quick-add-preview").textContent.includes("book club"));
    assert.match(await preview.innerText(), /repeating every month on the last Friday, 6 times$/);
    await line.press("Enter");
    const club = row(page, "book club");
    await club.waitFor();
    assert.match(await club.innerText(), /↻ every month on the last Friday, 6 times/);
    // A preview the server could not be reached for comes back once the app hears from it.
    await page.route("**/quick-add", (route) => route.abort("connectionrefused"));
    await line.fill("water the plants tomorrow");
    await page.getByText("The server cannot be reached. Is it running?").waitFor();
    await page.unroute("**/quick-add");
    await apiCall(page, "POST", "/tasks", { title: "something else" });
    await page.waitForFunction(() => document.querySelector("#quick-add-preview")?.textContent.startsWith("Add “water the plants”"));
    // What is not a task says so, and is not added.
    await line.fill("p1 #home");
    await page.waitForFunction(() => document.querySelector("#quick-add-preview").textContent.startsWith("Not understood"));
    assert.ok(await page.getByRole("button", { name: "Add", exact: true }).isDisabled());
    await context.close();
  });

  test("a change made elsewhere appears live, and a reminder shows as a notification", async () => {
    const user = newUser();
    const first = await signedIn(user);
    const second = await signedIn(user);
    await second.page.getByLabel("Quick add").fill("buy milk #shop");
    await second.page.waitForFunction(() => document.querySelector("#quick-add-preview").textContent.startsWith("Add “buy milk”"));
    const started = Date.now();
    await second.page.getByLabel("Quick add").press("Enter");
    await row(first.page, "buy milk").waitFor({ timeout: 3000 });
    const took = Date.now() - started;
    assert.ok(took < 2000, `appeared after ${took} ms`);

    // A reminder due now: the tick (every second in the test server) sends reminder.due.
    await apiCall(first.page, "POST", "/tasks", {
      title: "Take the cake out",
      due_at: new Date(Date.now() + 1500).toISOString(),
      reminder_minutes: 0,
    });
    const notice = first.page.locator(".notice", { hasText: "Reminder: “Take the cake out”" });
    await notice.waitFor({ timeout: 15000 });
    await first.context.close();
    await second.context.close();
  });

  test("chat adds a task that appears in the list", async () => {
    const { context, page, problems } = await signedIn();
    assert.equal(await page.title(), "Tasks · Todo");
    await page.getByRole("link", { name: "Chat" }).click();
    assert.equal(await page.title(), "Chat · Todo");
    await page.getByRole("textbox", { name: "Message" }).fill("add call mom tomorrow at 6pm");
    await page.getByRole("button", { name: "Send" }).click();
    const reply = page.locator(".message.assistant").last();
    await reply.getByText(/^Added “call mom”/).waitFor();
    assert.match(await reply.locator(".tool-calls").innerText(), /add_task\s+done/);
    await page.locator(".conversations button").first().waitFor();
    // The conversation lives in the address: a reload stays in it.
    assert.match(page.url(), /\/chat\?conversation=/);
    await page.reload();
    await page.locator(".message.assistant").last().getByText(/^Added “call mom”/).waitFor();
    await shot(page, "chat");
    assert.deepEqual(await unnamedControls(page), []);
    // A reply cut off after a tool call acted is not offered again (sending it would act twice).
    await page.route("**/chat", (route) =>
      route.fulfill({
        status: 200,
        contentType: "text/event-stream",
        body: `event: tool_call\ndata: ${JSON.stringify({ tool: "add_task", arguments: { title: "x" }, result: { id: "1" } })}\n\n`,
      }),
    );
    await page.getByRole("textbox", { name: "Message" }).fill("add x");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByText(/Some of it was done; see your tasks before asking again\./).waitFor();
    assert.equal(await page.getByRole("textbox", { name: "Message" }).inputValue(), "");
    await page.unroute("**/chat");
    // Deleted after a confirmation: the conversation goes, its task stays.
    page.once("dialog", (dialog) => dialog.accept());
    await page.getByRole("button", { name: "Delete conversation" }).click();
    await page.getByText("No conversations yet.").waitFor();
    await page.getByRole("link", { name: "Tasks" }).click();
    const task = row(page, "call mom");
    await task.waitFor();
    assert.match(await task.innerText(), /18:00/);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("invalid input shows the API's message at the field it names", async () => {
    const { context, page } = await signedIn();
    await page.getByRole("button", { name: "New task" }).click();
    const form = page.getByRole("dialog", { name: "New task" });
    await form.getByLabel("Title").fill("Stand up");
    await form.getByLabel("Repeat").selectOption("custom");
    await form.getByLabel("Rule").fill("FREQ=HOURLY");
    await form.getByRole("button", { name: "Add task" }).click();
    const expected = (await apiCall(page, "POST", "/tasks", { title: "Stand up", recurrence: "FREQ=HOURLY", timezone: "Europe/Berlin" })).body.error;
    assert.equal(expected.field, "recurrence");
    const error = form.locator("#task-recurrence-error");
    await error.waitFor();
    assert.equal(await error.innerText(), expected.message);
    assert.equal(await form.getByLabel("Repeat").getAttribute("aria-invalid"), "true");

    await form.getByLabel("Repeat").selectOption("");
    await form.getByLabel("Title").fill("x".repeat(501));
    await form.getByRole("button", { name: "Add task" }).click();
    const title = form.locator("#task-title-error");
    await title.waitFor();
    assert.match(await title.innerText(), /500 characters/);
    assert.equal(await form.locator("#task-recurrence-error").count(), 0);
    await context.close();
  });

  test("an edit sends only what it changed, and a date it cannot save is said at the field", async () => {
    const { context, page } = await signedIn();
    const made = (
      await apiCall(page, "POST", "/tasks", {
        title: "Pay the rent",
        due_at: "2027-03-01T14:00:45.5Z",
        reminder_minutes: 30,
        recurrence: "weekly",
        timezone: "America/New_York",
      })
    ).body;
    await row(page, "Pay the rent").waitFor();
    await page.getByRole("button", { name: "Edit “Pay the rent”" }).click();
    const edit = page.getByRole("dialog", { name: "Edit task" });
    // Meanwhile, someone else adds a description.
    await apiCall(page, "PATCH", `/tasks/${made.id}`, { description: "standing order" });
    await edit.getByLabel("Title").fill("Pay the rent to Anna");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "detached" });
    const now = (await apiCall(page, "GET", `/tasks/${made.id}`)).body;
    assert.equal(now.title, "Pay the rent to Anna");
    assert.equal(now.description, "standing order", "the other change is kept");
    assert.deepEqual([now.due_at, now.timezone, now.remind_at], [made.due_at, made.timezone, made.remind_at]);

    await page.getByRole("button", { name: "Edit “Pay the rent to Anna”" }).click();
    await edit.getByLabel(/^Due/).fill("20266-03-01T10:00");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.locator("#task-due_at-error").waitFor();
    assert.equal((await apiCall(page, "GET", `/tasks/${made.id}`)).body.due_at, made.due_at);
    // Deleted elsewhere while the form is open: it says so.
    await apiCall(page, "DELETE", `/tasks/${made.id}`);
    await edit.getByLabel("Title").fill("Pay the rent to Ben");
    await edit.getByLabel(/^Due/).fill("2027-03-01T10:00");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.getByText(/This task no longer exists/).waitFor();
    await context.close();
  });

  test("a token in a link is taken only with the state this tab sent to the provider", async () => {
    const { context, page, user } = await signedIn();
    const other = await (await fetch(BASE + "/dev/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user_id: newUser() }),
    })).json();
    await page.goto(BASE + "/settings#access_token=" + other.token);
    await page.getByRole("heading", { name: "Settings" }).waitFor();
    assert.equal(await page.evaluate(() => location.hash), "", "the token leaves the URL");
    const sub = await page.evaluate(() => JSON.parse(atob(JSON.parse(localStorage.getItem("todo.session")).token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub);
    assert.equal(sub, user, "still signed in as before");
    // With the state of a trip this tab started, it is taken.
    const state = await page.evaluate(() => {
      sessionStorage.setItem("todo.sign-in-state", "s-123");
      return "s-123";
    });
    // (Another path: a change of the fragment alone would not load the app again.)
    await page.goto(BASE + `/#access_token=${other.token}&state=${state}`);
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    const now = await page.evaluate(() => JSON.parse(atob(JSON.parse(localStorage.getItem("todo.session")).token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub);
    assert.notEqual(now, user);
    await context.close();
  });

  test("webhooks: add, list, see deliveries, delete", async () => {
    const { context, page } = await signedIn();
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("URL").fill("ftp://example.com/hook");
    await page.getByRole("button", { name: "Add webhook" }).click();
    await page.locator("#webhook-url-error").waitFor();
    await page.getByLabel("URL").fill("http://127.0.0.1:9/hook");
    await page.getByRole("button", { name: "Add webhook" }).click();
    await page.getByText("Its secret, shown this once").waitFor();
    await page.getByRole("button", { name: "Deliveries to http://127.0.0.1:9/hook" }).click();
    await page.getByText("Nothing delivered yet.").waitFor();
    await shot(page, "settings");
    page.once("dialog", (d) => d.accept());
    await page.getByRole("button", { name: "Delete the webhook to http://127.0.0.1:9/hook" }).click();
    await page.getByText("No webhooks.").waitFor();
    await context.close();
  });

  test("fits a 360 px phone, in dark, and works from the keyboard", async () => {
    const { context, page } = await signedIn(newUser(), { viewport: PHONE, colorScheme: "dark" });
    await apiCall(page, "POST", "/tasks", { title: "Dentist", priority: "P2", tags: ["health"], due_at: new Date(Date.now() + 3 * 86400000).toISOString() });
    await apiCall(page, "POST", "/tasks", { title: "Pay the electricity bill", priority: "P1", tags: ["home", "money"], due_at: new Date(Date.now() - 3600000).toISOString() });
    await row(page, "Dentist").waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no sideways scrolling: ${width}px`);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(20, 23, 28)");
    await shot(page, "tasks-phone-dark");
    // Keyboard only: to the quick-add line, type, Enter.
    await page.getByLabel("Quick add").focus();
    await page.keyboard.type("stretch tomorrow 7am p3");
    await page.waitForFunction(() => document.querySelector("#quick-add-preview").textContent.startsWith("Add “stretch”"));
    await page.keyboard.press("Enter");
    await row(page, "stretch").waitFor();
    assert.deepEqual(await unnamedControls(page), []);
    // A task completed or deleted from the keyboard leaves the keyboard on the next task,
    // then on the heading when none is left.
    const titles = await page.locator("li.task .task-title").allInnerTexts();
    const focused = () => page.evaluate(() => document.activeElement.getAttribute("aria-label"));
    await page.getByRole("checkbox", { name: `Complete “${titles[0]}”` }).focus();
    await page.keyboard.press("Space");
    await row(page, titles[0]).waitFor({ state: "detached" });
    assert.equal(await focused(), `Edit “${titles[1]}”`);
    page.on("dialog", (d) => d.accept());
    await page.getByRole("button", { name: `Delete “${titles[1]}”` }).focus();
    await page.keyboard.press("Enter");
    await row(page, titles[1]).waitFor({ state: "detached" });
    assert.equal(await focused(), `Edit “${titles[2]}”`);
    for (const title of titles.slice(2)) {
      await page.getByRole("button", { name: `Delete “${title}”` }).focus();
      await page.keyboard.press("Enter");
      await row(page, title).waitFor({ state: "detached" });
    }
    assert.equal(await page.evaluate(() => document.activeElement.id), "tasks-heading");
    await context.close();
  });

  test("the main screen on a desktop", async () => {
    const { context, page } = await signedIn();
    for (const t of [
      { title: "Pay rent", priority: "P1", tags: ["home", "money"], due_at: new Date(Date.now() + 2 * 86400000).toISOString(), recurrence: "monthly", reminder_minutes: 60 },
      { title: "Submit the expense report", priority: "P2", tags: ["work"], due_at: new Date(Date.now() - 7200000).toISOString() },
      { title: "Book flights for the conference", priority: "P3", tags: ["work", "travel"], due_at: new Date(Date.now() + 5 * 86400000).toISOString() },
      { title: "Water the plants", priority: "P4", tags: ["home"], recurrence: "every 3 days", due_at: new Date(Date.now() + 86400000).toISOString() },
    ]) {
      await apiCall(page, "POST", "/tasks", t);
    }
    await row(page, "Water the plants").waitFor();
    await page.getByLabel("Quick add").fill("call mom tomorrow at 6pm remind me 30 minutes before");
    await page.waitForFunction(() => document.querySelector("#quick-add-preview").textContent.startsWith("Add “call mom”"));
    assert.deepEqual(await unnamedControls(page), []);
    await shot(page, "tasks");
    await context.close();
  });
});
