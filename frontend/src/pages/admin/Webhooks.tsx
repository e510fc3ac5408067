import { useId, useState, type FormEvent } from "react";

import { ApiError } from "../../api/client";
import { ErrorNote, Spinner } from "../../components/Status";
import {
  canReplay,
  checkForm,
  deliveryAnswer,
  EMPTY_FORM,
  endpointStatus,
  EVENT_TYPES,
  serverFieldErrors,
  toggleEvent,
  webhooksApi,
  type Created,
  type Endpoint,
  type EndpointForm,
} from "../../lib/webhooks";
import { useResource } from "../../lib/useResource";
import "../../styles/webhooks.css";

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString("en-GB") : "—");

/** Webhooks (issue 16): register endpoints (the secret shown once), their state, delivery log and replay. */
export function WebhooksSection() {
  const endpoints = useResource(() => webhooksApi.list(), []);
  const [created, setCreated] = useState<Created | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);

  async function act(run: () => Promise<unknown>, done: string) {
    try {
      await run();
      setNotice({ text: done, error: false });
      endpoints.reload();
    } catch (err) {
      setNotice({ text: err instanceof Error ? err.message : String(err), error: true });
    }
  }

  return (
    <section className="card webhooks" aria-labelledby="webhooks-title" data-testid="webhooks">
      <h2 id="webhooks-title">Webhooks</h2>
      <p className="muted small">
        Lyceum sends signed events (Standard Webhooks) to your systems: enrolments, completions, grades, review decisions,
        credentials and new accounts. Verify each with its endpoint's secret; deliveries may repeat, so deduplicate by
        the <code>webhook-id</code> header (docs/webhooks.md).
      </p>
      {created && <SecretPanel created={created} onDone={() => setCreated(null)} />}
      <RegisterForm
        onCreated={(c) => {
          setCreated(c);
          endpoints.reload();
        }}
      />
      <h3>Endpoints</h3>
      {endpoints.loading && !endpoints.data && <Spinner label="Loading the webhook endpoints…" />}
      {endpoints.error && <ErrorNote message={endpoints.error} onRetry={endpoints.reload} />}
      {endpoints.data && endpoints.data.items.length === 0 && (
        <div className="empty-state" data-testid="webhooks-empty">
          <p>
            <strong>No webhook endpoint yet.</strong> Register one above to receive events.
          </p>
        </div>
      )}
      {endpoints.data && endpoints.data.items.length > 0 && (
        <ul className="webhook-list" data-testid="webhook-list">
          {endpoints.data.items.map((e) => {
            const status = endpointStatus(e);
            return (
              <li key={e.id} className="webhook-item">
                <p>
                  <code>{e.url}</code>
                  <br />
                  <span className="small muted">{e.events.join(", ")}</span>
                </p>
                <p className={`small ${status.tone === "error" ? "error-text" : status.tone === "warn" ? "warn-text" : "muted"}`} role={status.tone === "error" ? "alert" : undefined}>
                  {e.enabled ? "Enabled" : "Disabled"}: {status.text}
                </p>
                <p className="toolbar">
                  <button type="button" className="button secondary" onClick={() => setOpen(open === e.id ? null : e.id)} aria-expanded={open === e.id} aria-controls={`log-${e.id}`}>
                    {open === e.id ? "Hide deliveries" : "Deliveries"}
                  </button>
                  <button
                    type="button"
                    className="button secondary"
                    onClick={() => act(() => webhooksApi.update(e.id, { enabled: !e.enabled }), e.enabled ? "Endpoint disabled." : "Endpoint enabled.")}
                  >
                    {e.enabled ? "Disable" : "Enable"}
                  </button>
                  <button type="button" className="button secondary" onClick={() => act(async () => setCreated({ ...(await webhooksApi.rotate(e.id)), url: e.url, events: e.events }), "Secret replaced.")}>
                    New secret
                  </button>
                  <button type="button" className="button secondary" onClick={() => act(() => webhooksApi.remove(e.id), "Endpoint removed.")} aria-label={`Remove ${e.url}`}>
                    Remove
                  </button>
                </p>
                {open === e.id && <DeliveryLog endpoint={e} />}
              </li>
            );
          })}
        </ul>
      )}
      <p className={`small ${notice?.error ? "error-text" : "muted"}`} role="status">
        {notice?.text}
      </p>
    </section>
  );
}

function SecretPanel({ created, onDone }: { created: Created; onDone: () => void }) {
  const [copied, setCopied] = useState("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopied("Copied.");
    } catch {
      setCopied("Copy failed: select the secret and copy it by hand.");
    }
  }
  return (
    <div className="card secret-panel" role="region" aria-label="The endpoint's signing secret" data-testid="webhook-secret">
      <p>
        <strong>Signing secret for {created.url}</strong>: shown this once. Store it where your receiver can read it.
      </p>
      <p>
        <code data-testid="webhook-secret-value">{created.secret}</code>
      </p>
      <p className="toolbar">
        <button type="button" className="button" onClick={copy}>
          Copy secret
        </button>
        <button type="button" className="button secondary" onClick={onDone}>
          I have stored it
        </button>
      </p>
      <p className="small muted" role="status">
        {copied}
      </p>
    </div>
  );
}

function RegisterForm({ onCreated }: { onCreated: (created: Created) => void }) {
  const id = useId();
  const [form, setForm] = useState<EndpointForm>(EMPTY_FORM);
  const [errors, setErrors] = useState<Partial<Record<keyof EndpointForm, string>>>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState("");

  async function submit(event: FormEvent) {
    event.preventDefault();
    const checked = checkForm(form);
    if ("errors" in checked) {
      setErrors(checked.errors);
      return;
    }
    setBusy(true);
    setFailure("");
    try {
      onCreated(await webhooksApi.create(checked.body));
      setForm(EMPTY_FORM);
      setErrors({});
    } catch (err) {
      const fields = err instanceof ApiError ? serverFieldErrors(err.problem) : {};
      setErrors(fields);
      if (!Object.keys(fields).length) setFailure(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`}>Register an endpoint</h3>
      <p>
        <label htmlFor={`${id}-url`}>Endpoint URL</label>
        <input
          id={`${id}-url`}
          type="url"
          value={form.url}
          placeholder="https://hooks.example.com/lyceum"
          aria-invalid={errors.url ? true : undefined}
          aria-describedby={errors.url ? `${id}-url-error` : undefined}
          onChange={(e) => setForm({ ...form, url: e.target.value })}
        />
        {errors.url && (
          <span id={`${id}-url-error`} className="error-text small">
            {errors.url}
          </span>
        )}
      </p>
      <fieldset aria-describedby={errors.events ? `${id}-events-error` : undefined}>
        <legend>Events</legend>
        {EVENT_TYPES.map((e) => (
          <label key={e.type} className="checkbox">
            <input type="checkbox" checked={form.events.includes(e.type)} onChange={(x) => setForm({ ...form, events: toggleEvent(form.events, e.type, x.target.checked) })} />{" "}
            {e.label} <code className="small">{e.type}</code>
          </label>
        ))}
        {errors.events && (
          <span id={`${id}-events-error`} className="error-text small">
            {errors.events}
          </span>
        )}
      </fieldset>
      <p>
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Registering…" : "Register endpoint"}
        </button>
      </p>
      {failure && (
        <p className="error-text small" role="alert">
          {failure}
        </p>
      )}
    </form>
  );
}

function DeliveryLog({ endpoint }: { endpoint: Endpoint }) {
  const log = useResource(() => webhooksApi.deliveries(endpoint.id), [endpoint.id]);
  const [notice, setNotice] = useState("");
  async function replay(deliveryId: string) {
    try {
      await webhooksApi.replay(endpoint.id, deliveryId);
      setNotice("Queued to send again.");
      log.reload();
    } catch (err) {
      setNotice(err instanceof Error ? err.message : String(err));
    }
  }
  return (
    <div id={`log-${endpoint.id}`} data-testid="webhook-deliveries">
      {log.loading && !log.data && <Spinner label="Loading deliveries…" />}
      {log.error && <ErrorNote message={log.error} onRetry={log.reload} />}
      {log.data && log.data.items.length === 0 && <p className="muted small">No deliveries yet.</p>}
      {log.data && log.data.items.length > 0 && (
        <table className="table">
          <caption className="visually-hidden">Deliveries to {endpoint.url}</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Answer</th>
              <th scope="col">Last attempt</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {log.data.items.map((d) => (
              <tr key={d.id}>
                <td>
                  <code>{d.event_type}</code>
                </td>
                <td>{d.status}</td>
                <td>{d.attempts}</td>
                <td title={d.last_error || undefined}>{deliveryAnswer(d)}</td>
                <td>{when(d.last_attempt_at)}</td>
                <td>
                  {canReplay(d, endpoint) && (
                    <button type="button" className="button secondary small" onClick={() => replay(d.id)} aria-label={`Replay ${d.event_type} delivery`}>
                      Replay
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="small muted" role="status">
        {notice}
      </p>
    </div>
  );
}
