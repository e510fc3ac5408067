import { useId, useState, type FormEvent } from "react";

import { ErrorNote, Spinner } from "../../components/Status";
import {
  alertState,
  alertsApi,
  checkThreshold,
  kindInfo,
  KINDS,
  WINDOWS,
  type Alert,
  type AlertKind,
  type AlertRule,
} from "../../lib/alerts";
import { useResource } from "../../lib/useResource";
import { useSession } from "../../lib/useSession";

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString("en-GB") : "—");
type Show = "unacknowledged" | "open" | "all";

/** Alerts (issue 17): what fired on the AI's cost and quality, acknowledged by staff; admins set the rules. */
export function Alerts() {
  const { me } = useSession();
  const isAdmin = me?.roles.includes("admin") ?? false;
  const [show, setShow] = useState<Show>("unacknowledged");
  const [offset, setOffset] = useState(0);
  const alerts = useResource(() => alertsApi.alerts(show, offset), [show, offset]);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);

  async function acknowledge(alert: Alert) {
    try {
      await alertsApi.acknowledge(alert.id);
      setNotice({ text: "Acknowledged: others can see someone is on it.", error: false });
      alerts.reload();
    } catch (err) {
      setNotice({ text: err instanceof Error ? err.message : String(err), error: true });
    }
  }

  return (
    <section aria-labelledby="alerts-title" data-testid="alerts-page">
      <div className="page-head">
        <h1 id="alerts-title">Alerts</h1>
      </div>
      <p className="muted">
        Alerts fire when the AI's spend, learners' ratings, guardrail activity or reviewers' overrides cross a rule's
        threshold. They also appear on the live feed. Acknowledge one to tell the others you are on it; it resolves by
        itself once the figure is back.
      </p>
      {notice && (
        <p className={notice.error ? "error-text" : "muted"} role={notice.error ? "alert" : "status"}>
          {notice.text}
        </p>
      )}
      <p className="toolbar">
        <label htmlFor="alerts-show">Show</label>{" "}
        <select
          id="alerts-show"
          value={show}
          onChange={(e) => {
            setShow(e.target.value as Show);
            setOffset(0);
          }}
        >
          <option value="unacknowledged">Not yet acknowledged</option>
          <option value="open">Still firing</option>
          <option value="all">All alerts</option>
        </select>
      </p>
      {alerts.loading && !alerts.data && <Spinner label="Loading alerts…" />}
      {alerts.error && <ErrorNote message={alerts.error} onRetry={alerts.reload} />}
      {alerts.data && alerts.data.items.length === 0 && (
        <div className="empty-state" data-testid="alerts-empty">
          <p>
            <strong>{show === "all" ? "No alert has fired yet." : "Nothing needs you."}</strong>{" "}
            {isAdmin ? "Rules below decide when one fires." : "Admins set the rules that decide when one fires."}
          </p>
        </div>
      )}
      {alerts.data && alerts.data.items.length > 0 && (
        <table className="queue" data-testid="alerts-table">
          <caption className="visually-hidden">Alerts, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Fired</th>
              <th scope="col">What happened</th>
              <th scope="col">State</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {alerts.data.items.map((a) => {
              const state = alertState(a);
              return (
                <tr key={a.id}>
                  <td>{when(a.fired_at)}</td>
                  <td>{a.message}</td>
                  <td className={state.tone === "error" ? "error-text" : state.tone === "warn" ? "warn-text" : "muted"}>
                    {state.text}
                    {a.acknowledged_at && <span className="small muted"> (acknowledged {when(a.acknowledged_at)})</span>}
                  </td>
                  <td>
                    {!a.acknowledged_at && (
                      <button type="button" onClick={() => void acknowledge(a)}>
                        Acknowledge
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {alerts.data && alerts.data.total > 50 && (
        <p className="toolbar">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>
            Newer
          </button>
          <button type="button" disabled={!alerts.data.next} onClick={() => setOffset(offset + 50)}>
            Older
          </button>
        </p>
      )}
      {isAdmin && <RulesSection onChange={alerts.reload} />}
    </section>
  );
}

function RulesSection({ onChange }: { onChange(): void }) {
  const rules = useResource(() => alertsApi.rules(), []);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);

  async function act(run: () => Promise<unknown>, done: string) {
    try {
      await run();
      setNotice({ text: done, error: false });
      rules.reload();
      onChange();
    } catch (err) {
      setNotice({ text: err instanceof Error ? err.message : String(err), error: true });
    }
  }

  return (
    <section className="card" aria-labelledby="alert-rules-title" data-testid="alert-rules">
      <h2 id="alert-rules-title">Alert rules</h2>
      {notice && (
        <p className={notice.error ? "error-text" : "muted"} role={notice.error ? "alert" : "status"}>
          {notice.text}
        </p>
      )}
      <RuleForm onAdd={(body) => act(() => alertsApi.addRule({ ...body, enabled: true }), "Rule added: it is checked every minute.")} />
      {rules.loading && !rules.data && <Spinner label="Loading the rules…" />}
      {rules.error && <ErrorNote message={rules.error} onRetry={rules.reload} />}
      {rules.data && rules.data.length === 0 && <p className="muted">No rule yet: add one above.</p>}
      {rules.data && rules.data.length > 0 && (
        <ul className="rule-list" data-testid="rule-list">
          {rules.data.map((r: AlertRule) => (
            <li key={r.id}>
              <span>{r.description}</span> <span className="small muted">{r.enabled ? "On" : "Off"}</span>{" "}
              <button
                type="button"
                onClick={() => void act(() => alertsApi.setRule(r.id, { enabled: !r.enabled }), r.enabled ? "Rule switched off." : "Rule switched on.")}
              >
                {r.enabled ? "Switch off" : "Switch on"}
              </button>{" "}
              <button
                type="button"
                onClick={() => {
                  if (window.confirm(`Remove the rule "${r.description}"? Its past alerts stay listed.`)) {
                    void act(() => alertsApi.removeRule(r.id), "Rule removed.");
                  }
                }}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function RuleForm({ onAdd }: { onAdd(body: { kind: AlertKind; threshold: number; window_minutes: number }): Promise<void> }) {
  const id = useId();
  const [kind, setKind] = useState<AlertKind>("cost_burn_rate");
  const [threshold, setThreshold] = useState(String(kindInfo("cost_burn_rate")?.example ?? ""));
  const [windowMinutes, setWindowMinutes] = useState(60);
  const [error, setError] = useState<string | null>(null);
  const info = kindInfo(kind);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const problem = checkThreshold(kind, threshold);
    setError(problem);
    if (problem) return;
    await onAdd({ kind, threshold: Number(threshold), window_minutes: windowMinutes });
  }

  return (
    <form className="form-grid" onSubmit={(e) => void submit(e)} noValidate aria-label="Add an alert rule">
      <label htmlFor={`${id}-kind`}>Alert when</label>
      <select
        id={`${id}-kind`}
        value={kind}
        onChange={(e) => {
          const next = e.target.value as AlertKind;
          setKind(next);
          setThreshold(String(kindInfo(next)?.example ?? ""));
          setError(null);
        }}
      >
        {KINDS.map((k) => (
          <option key={k.kind} value={k.kind}>
            {k.label}
          </option>
        ))}
      </select>
      <label htmlFor={`${id}-threshold`}>Threshold ({info?.unit})</label>
      <input
        id={`${id}-threshold`}
        type="number"
        inputMode="decimal"
        min={info?.min}
        max={info?.max}
        step={info?.step}
        value={threshold}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-threshold-error` : undefined}
        onChange={(e) => setThreshold(e.target.value)}
      />
      {error && (
        <p id={`${id}-threshold-error`} className="error-text small" role="alert">
          {error}
        </p>
      )}
      <label htmlFor={`${id}-window`}>Over the last</label>
      <select id={`${id}-window`} value={windowMinutes} onChange={(e) => setWindowMinutes(Number(e.target.value))}>
        {WINDOWS.map((w) => (
          <option key={w.minutes} value={w.minutes}>
            {w.label}
          </option>
        ))}
      </select>
      <button type="submit">Add rule</button>
    </form>
  );
}
