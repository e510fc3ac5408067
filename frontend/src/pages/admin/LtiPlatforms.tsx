import { useId, useRef, useState, type FormEvent } from "react";

import { ApiError } from "../../api/client";
import { Dialog } from "../../components/Dialog";
import { ErrorNote, Spinner } from "../../components/Status";
import {
  checkForm,
  EMPTY_FORM,
  formOf,
  ltiApi,
  serverFieldErrors,
  type Invite,
  type Platform,
  type PlatformForm,
} from "../../lib/ltiPlatforms";
import { useResource } from "../../lib/useResource";
import "../../styles/ltiPlatforms.css";

const FIELDS: { key: keyof PlatformForm; label: string; hint: string; multiline?: boolean }[] = [
  { key: "name", label: "Name", hint: "For you: e.g. “Canvas (production)”." },
  { key: "issuer", label: "Issuer (platform ID)", hint: "e.g. https://canvas.instructure.com" },
  { key: "client_id", label: "Client ID", hint: "The LMS shows it once Lyceum is added (Canvas: the developer key)." },
  { key: "auth_login_url", label: "OIDC authentication URL", hint: "Where launches authenticate (the platform's authorization endpoint)." },
  { key: "auth_token_url", label: "Access token URL", hint: "For grades and rosters (OAuth2 token endpoint)." },
  { key: "key_set_url", label: "Public keyset URL (JWKS)", hint: "The platform's public keys." },
  { key: "deployment_ids", label: "Deployment IDs", hint: "One per line. Launches from other deployments are refused.", multiline: true },
  {
    key: "frame_origins",
    label: "Other LMS addresses (optional)",
    hint: "Where the LMS's pages live when that is not the issuer's or login URL's site, one per line (Canvas Cloud: https://yourschool.instructure.com). Lyceum may be shown in frames there.",
    multiline: true,
  },
];

type Editing = { mode: "add" } | { mode: "edit"; platform: Platform } | null;

/** LMS platforms (LTI 1.3): what to paste into an LMS, registration links, and the registered platforms. */
export function LtiPlatformsSection() {
  const platforms = useResource(() => ltiApi.list(), []);
  const tool = useResource(() => ltiApi.tool(), []);
  const [editing, setEditing] = useState<Editing>(null);
  const [removing, setRemoving] = useState<Platform | null>(null);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);
  const status = useRef<HTMLParagraphElement>(null);

  async function remove(platform: Platform) {
    try {
      await ltiApi.remove(platform.id);
      setNotice({ text: `${platform.name || platform.issuer} removed: launches from it stop now.`, error: false });
      platforms.reload();
    } catch (err) {
      setNotice({ text: err instanceof Error ? err.message : String(err), error: true });
    }
    setRemoving(null);
  }

  return (
    <section className="card lti-platforms" aria-labelledby="lti-title" data-testid="lti-platforms">
      <h2 id="lti-title">LMS platforms (LTI 1.3)</h2>
      <p className="muted small">
        Canvas, Moodle, Blackboard or Brightspace courses can open Lyceum items, send learners here and receive their
        grades. Moodle and Brightspace register Lyceum themselves with a registration link; for the others, paste the
        tool's URLs into the LMS and its values here.
      </p>
      <ToolUrlsPanel urls={tool.data} loading={tool.loading} error={tool.error} />
      <InvitePanel />
      <h3>Registered platforms</h3>
      {platforms.loading && !platforms.data && <Spinner label="Loading the LMS platforms…" />}
      {platforms.error && <ErrorNote message={platforms.error} onRetry={platforms.reload} />}
      {platforms.data && platforms.data.items.length === 0 && (
        <div className="empty-state" data-testid="lti-empty">
          <p>
            <strong>No LMS is registered yet.</strong> Create a registration link above for Moodle or Brightspace, or add a
            platform by hand.
          </p>
        </div>
      )}
      {platforms.data && platforms.data.items.length > 0 && (
        <table className="table" data-testid="lti-platform-table">
          <caption className="visually-hidden">Registered LMS platforms</caption>
          <thead>
            <tr>
              <th scope="col">Platform</th>
              <th scope="col">Client ID</th>
              <th scope="col">Deployments</th>
              <th scope="col">Added</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {platforms.data.items.map((p) => (
              <tr key={p.id}>
                <td>
                  <strong>{p.name || p.issuer}</strong>
                  <br />
                  <code className="small">{p.issuer}</code>
                </td>
                <td>
                  <code>{p.client_id}</code>
                </td>
                <td>{p.deployment_ids.length ? p.deployment_ids.join(", ") : <span className="muted">none yet</span>}</td>
                <td>{p.registered_by === "dynamic" ? "by the LMS" : "by hand"}</td>
                <td className="toolbar">
                  <button type="button" className="button secondary" onClick={() => setEditing({ mode: "edit", platform: p })} aria-label={`Edit ${p.name || p.issuer}`}>
                    Edit
                  </button>
                  <button type="button" className="button secondary" onClick={() => setRemoving(p)} aria-label={`Remove ${p.name || p.issuer}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing === null ? (
        <p>
          <button type="button" className="button" onClick={() => setEditing({ mode: "add" })}>
            Add a platform by hand
          </button>
        </p>
      ) : (
        <PlatformEditor
          key={editing.mode === "edit" ? editing.platform.id : "add"}
          editing={editing}
          onCancel={() => setEditing(null)}
          onSaved={(saved) => {
            setEditing(null);
            setNotice({ text: `${saved.name || saved.issuer} saved.`, error: false });
            platforms.reload();
          }}
        />
      )}
      <p ref={status} tabIndex={-1} className={`small ${notice?.error ? "error-text" : "muted"}`} role="status">
        {notice?.text}
      </p>
      <Dialog open={removing !== null} title="Remove this platform?" onClose={() => setRemoving(null)} returnFocus={() => status.current}>
        <p>
          Launches from {removing?.name || removing?.issuer} stop at once and its LMS links are forgotten. People, their
          enrolments and grades in Lyceum stay.
        </p>
        <div className="dialog-actions">
          <button type="button" className="button" onClick={() => removing && remove(removing)}>
            Remove platform
          </button>
          <button type="button" className="button secondary" onClick={() => setRemoving(null)} data-autofocus>
            Cancel
          </button>
        </div>
      </Dialog>
    </section>
  );
}

function ToolUrlsPanel({ urls, loading, error }: { urls: { login_url: string; launch_url: string; jwks_url: string; domain: string } | null; loading: boolean; error: string | null }) {
  if (loading && !urls) return <Spinner label="Loading the tool's URLs…" />;
  if (error || !urls) return null;
  const rows: [string, string][] = [
    ["Login initiation URL (OIDC)", urls.login_url],
    ["Launch / redirect URL (also for deep linking)", urls.launch_url],
    ["Public keyset URL (JWKS)", urls.jwks_url],
    ["Domain", urls.domain],
  ];
  return (
    <>
      <h3>Lyceum's URLs for the LMS</h3>
      <dl className="lti-urls" data-testid="lti-tool-urls">
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>
              <code>{value}</code>
            </dd>
          </div>
        ))}
      </dl>
    </>
  );
}

function InvitePanel() {
  const [invite, setInvite] = useState<Invite | null>(null);
  const [state, setState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null });
  const inputId = useId();

  async function create() {
    setState({ busy: true, error: null });
    try {
      setInvite(await ltiApi.invite());
      setState({ busy: false, error: null });
    } catch (err) {
      setState({ busy: false, error: err instanceof Error ? err.message : String(err) });
    }
  }

  return (
    <div className="lti-invite">
      <h3>Registration link (dynamic registration)</h3>
      <p className="muted small">
        One link registers one LMS into this organisation and works once, for 24 hours. Paste it where the LMS asks for a
        “tool URL” or “registration URL” (Moodle: Site administration › Plugins › External tool › Manage tools;
        Brightspace: Manage Extensibility › LTI Advantage › Register Tool).
      </p>
      <p>
        <button type="button" className="button secondary" onClick={create} disabled={state.busy}>
          {state.busy ? "Creating…" : "Create registration link"}
        </button>
      </p>
      {state.error && <p className="small error-text" role="alert">{state.error}</p>}
      {invite && (
        <p data-testid="lti-invite">
          <label htmlFor={inputId}>Registration link (valid until {new Date(invite.expires_at).toLocaleString("en-GB")})</label>
          <input id={inputId} type="text" readOnly value={invite.url} onFocus={(e) => e.currentTarget.select()} className="wide" />
        </p>
      )}
    </div>
  );
}

function PlatformEditor({ editing, onCancel, onSaved }: { editing: NonNullable<Editing>; onCancel(): void; onSaved(p: Platform): void }) {
  const [form, setForm] = useState<PlatformForm>(editing.mode === "edit" ? formOf(editing.platform) : EMPTY_FORM);
  const [errors, setErrors] = useState<Partial<Record<keyof PlatformForm, string>>>({});
  const [state, setState] = useState<{ busy: boolean; message: string | null }>({ busy: false, message: null });
  const baseId = useId();

  async function save(event: FormEvent) {
    event.preventDefault();
    const checked = checkForm(form);
    if ("errors" in checked) {
      setErrors(checked.errors);
      setState({ busy: false, message: "Some fields need attention." });
      return;
    }
    setErrors({});
    setState({ busy: true, message: null });
    try {
      const saved = editing.mode === "edit" ? await ltiApi.update(editing.platform.id, checked.body) : await ltiApi.create(checked.body);
      onSaved(saved);
    } catch (err) {
      if (err instanceof ApiError) setErrors(serverFieldErrors(err.problem));
      setState({ busy: false, message: err instanceof Error ? err.message : String(err) });
    }
  }

  const title = editing.mode === "edit" ? `Edit ${editing.platform.name || editing.platform.issuer}` : "Add a platform";
  return (
    <form className="lti-form" onSubmit={save} aria-label={title} noValidate>
      <h3>{title}</h3>
      {FIELDS.map((f) => {
        const id = `${baseId}-${f.key}`;
        const hintId = `${id}-hint`;
        const errorId = `${id}-error`;
        const props = {
          id,
          name: f.key,
          value: form[f.key],
          required: !["name", "deployment_ids", "frame_origins"].includes(f.key),
          "aria-invalid": errors[f.key] ? true : undefined,
          "aria-describedby": errors[f.key] ? `${hintId} ${errorId}` : hintId,
          onChange: (e: { target: { value: string } }) => setForm((current) => ({ ...current, [f.key]: e.target.value })),
        };
        return (
          <div key={f.key} className="field">
            <label htmlFor={id}>{f.label}</label>
            {f.multiline ? <textarea rows={2} {...props} /> : <input type={f.key.endsWith("url") || f.key === "issuer" ? "url" : "text"} {...props} />}
            <span id={hintId} className="muted small">
              {f.hint}
            </span>
            {errors[f.key] && (
              <span id={errorId} className="small error-text">
                {errors[f.key]}
              </span>
            )}
          </div>
        );
      })}
      <p className="toolbar">
        <button type="submit" className="button" disabled={state.busy}>
          {state.busy ? "Saving…" : editing.mode === "edit" ? "Save changes" : "Add platform"}
        </button>
        <button type="button" className="button secondary" onClick={onCancel} disabled={state.busy}>
          Cancel
        </button>
      </p>
      <p className="small error-text" role="status">
        {state.message}
      </p>
    </form>
  );
}
