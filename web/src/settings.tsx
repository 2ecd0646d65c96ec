// Settings: the account, and the webhooks that receive reminders (add, list, delete, and
// each one's delivery log).
import { useEffect, useState } from "preact/hooks";
import * as api from "./api";
import { ApiError } from "./api";
import { when } from "./format";
import type { Session } from "./session";
import type { Delivery, Webhook } from "./types";

export function SettingsPage({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  return (
    <section class="settings" aria-labelledby="settings-heading">
      <h1 id="settings-heading">Settings</h1>
      <div class="card">
        <h2>Account</h2>
        <p>
          Signed in as <strong>{session.userId}</strong>; the token holds until {when(new Date(session.expiresAt).toISOString())}.
        </p>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </div>
      <Webhooks />
    </section>
  );
}

function Webhooks() {
  const [hooks, setHooks] = useState<Webhook[]>([]);
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState("");
  const [errors, setErrors] = useState<{ url?: string; secret?: string; form?: string }>({});
  const [created, setCreated] = useState<Webhook | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const load = () =>
    api
      .get<Webhook[]>("/webhooks")
      .then(setHooks)
      .catch((e) => setErrors({ form: e.message }));
  useEffect(() => {
    load();
  }, []);

  const add = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setCreated(null);
    try {
      const hook = await api.post<Webhook>("/webhooks", secret ? { url, secret } : { url });
      setCreated(hook);
      setUrl("");
      setSecret("");
      load();
    } catch (err) {
      if (err instanceof ApiError && (err.field === "url" || err.field === "secret")) setErrors({ [err.field]: err.message });
      else setErrors({ form: (err as Error).message });
    }
  };

  const remove = async (hook: Webhook) => {
    if (!confirm(`Delete the webhook to ${hook.url}?`)) return;
    try {
      await api.del(`/webhooks/${hook.id}`);
      load();
    } catch (err) {
      setErrors({ form: (err as Error).message });
    }
  };

  return (
    <div class="card">
      <h2>Webhooks</h2>
      <p class="hint">
        Each reminder is POSTed to every webhook as JSON, signed with its secret (<code>X-Todo-Signature: sha256=…</code>).
      </p>
      {errors.form && (
        <p class="error" role="alert">
          {errors.form}
        </p>
      )}
      <form onSubmit={add} noValidate class="webhook-form">
        <label for="webhook-url">URL</label>
        <input
          id="webhook-url"
          type="url"
          placeholder="https://example.com/hooks/todo"
          value={url}
          aria-invalid={errors.url ? "true" : undefined}
          aria-describedby={errors.url ? "webhook-url-error" : undefined}
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
        {errors.url && (
          <p id="webhook-url-error" class="field-error" role="alert">
            {errors.url}
          </p>
        )}
        <label for="webhook-secret">Secret (optional; 16 characters or more, else one is made)</label>
        <input
          id="webhook-secret"
          type="password"
          autoComplete="new-password"
          value={secret}
          aria-invalid={errors.secret ? "true" : undefined}
          aria-describedby={errors.secret ? "webhook-secret-error" : undefined}
          onInput={(e) => setSecret(e.currentTarget.value)}
        />
        {errors.secret && (
          <p id="webhook-secret-error" class="field-error" role="alert">
            {errors.secret}
          </p>
        )}
        <button type="submit" class="primary" disabled={!url.trim()}>
          Add webhook
        </button>
      </form>
      {created?.secret && (
        <p class="notice-inline" role="status">
          Its secret, shown this once: <code>{created.secret}</code>
        </p>
      )}
      {hooks.length === 0 ? (
        <p class="hint">No webhooks.</p>
      ) : (
        <ul class="webhooks">
          {hooks.map((h) => (
            <li>
              <div class="webhook-line">
                <code class="url">{h.url}</code>
                <span class="hint">added {when(h.created_at)}</span>
                <button
                  type="button"
                  class="ghost small"
                  aria-expanded={open === h.id}
                  aria-label={`Deliveries to ${h.url}`}
                  onClick={() => setOpen(open === h.id ? null : h.id)}
                >
                  Deliveries
                </button>
                <button type="button" class="ghost small danger" aria-label={`Delete the webhook to ${h.url}`} onClick={() => remove(h)}>
                  Delete
                </button>
              </div>
              {open === h.id && <Deliveries hook={h} />}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Deliveries({ hook }: { hook: Webhook }) {
  const [rows, setRows] = useState<Delivery[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api
      .get<Delivery[] | { items: Delivery[] }>(`/webhooks/${hook.id}/deliveries`)
      .then((d) => setRows(Array.isArray(d) ? d : d.items))
      .catch((e) => setError(e.message));
  }, [hook.id]);
  if (error) return <p class="error">{error}</p>;
  if (!rows) return <p class="hint">Loading…</p>;
  if (!rows.length) return <p class="hint">Nothing delivered yet.</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">Deliveries to {hook.url}</caption>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last status</th>
            <th scope="col">Delivered</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr>
              <td>
                <code>{r.event_id.slice(0, 8)}</code>
              </td>
              <td>{r.attempts}</td>
              <td>{r.last_status ?? r.last_error ?? "—"}</td>
              <td>
                {r.status === "delivered" && r.delivered_at
                  ? when(r.delivered_at)
                  : r.status === "failed"
                    ? "failed, given up"
                    : r.next_attempt_at
                      ? `retrying ${when(r.next_attempt_at)}`
                      : "retrying"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
