import { useRef, useState, type FormEvent } from "react";

import { Dialog } from "../../components/Dialog";
import { ErrorNote, Spinner } from "../../components/Status";
import { credentialsApi, formatDate, type IssuerProfile, type IssuerView } from "../../lib/credentials";
import { useResource } from "../../lib/useResource";
import "../../styles/credentials.css";

const FIELDS: { key: keyof IssuerProfile; label: string; type: string; hint?: string }[] = [
  { key: "name", label: "Issuer name", type: "text", hint: "Shown on every credential and share page." },
  { key: "url", label: "Website", type: "url" },
  { key: "email", label: "Contact email", type: "email" },
  { key: "image_url", label: "Logo image URL", type: "url" },
];

/** The organisation as an Open Badges issuer: its public profile, its DID, and its signing keys. */
export function IssuerSection() {
  const issuer = useResource(() => credentialsApi.issuer(), []);
  const [view, setView] = useState<IssuerView | null>(null);
  const current = view ?? issuer.data;
  return (
    <section className="card issuer" aria-labelledby="issuer-title" data-testid="issuer-profile">
      <h2 id="issuer-title">Issuer profile</h2>
      <p className="muted small">
        Credentials your organisation issues name this issuer. Outside verifiers find its public keys through the DID
        below.
      </p>
      {issuer.loading && !current && <Spinner label="Loading the issuer profile…" />}
      {issuer.error && !current && <ErrorNote message={issuer.error} onRetry={issuer.reload} />}
      {current && (
        <div className="issuer-grid">
          <ProfileForm key={current.did + current.name} view={current} onSaved={setView} />
          <Keys view={current} onRotated={setView} />
        </div>
      )}
    </section>
  );
}

function ProfileForm({ view, onSaved }: { view: IssuerView; onSaved(v: IssuerView): void }) {
  const [profile, setProfile] = useState<IssuerProfile>({
    name: view.name,
    url: view.url,
    email: view.email,
    image_url: view.image_url,
    description: view.description,
  });
  const [state, setState] = useState<{ busy: boolean; message: string | null; error: boolean }>({
    busy: false,
    message: null,
    error: false,
  });

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!profile.name.trim()) {
      setState({ busy: false, message: "The issuer needs a name.", error: true });
      return;
    }
    setState({ busy: true, message: null, error: false });
    try {
      const saved = await credentialsApi.saveIssuer({ ...profile, name: profile.name.trim() });
      setState({ busy: false, message: "Issuer profile saved. New credentials use it.", error: false });
      onSaved(saved);
    } catch (err) {
      setState({ busy: false, message: err instanceof Error ? err.message : String(err), error: true });
    }
  }

  return (
    <form className="issuer-form" onSubmit={save} aria-label="Issuer profile">
      {FIELDS.map((f) => (
        <label key={f.key}>
          {f.label}
          <input
            type={f.type}
            name={f.key}
            value={profile[f.key]}
            required={f.key === "name"}
            onChange={(e) => setProfile((p) => ({ ...p, [f.key]: e.target.value }))}
          />
          {f.hint && <span className="muted small">{f.hint}</span>}
        </label>
      ))}
      <label>
        Description
        <textarea
          name="description"
          rows={3}
          value={profile.description}
          onChange={(e) => setProfile((p) => ({ ...p, description: e.target.value }))}
        />
      </label>
      <p>
        <button type="submit" className="button" disabled={state.busy}>
          {state.busy ? "Saving…" : "Save issuer profile"}
        </button>
      </p>
      <p className={`small ${state.error ? "error-text" : "muted"}`} role="status">
        {state.message}
      </p>
    </form>
  );
}

function Keys({ view, onRotated }: { view: IssuerView; onRotated(v: IssuerView): void }) {
  const [confirming, setConfirming] = useState(false);
  const [state, setState] = useState<{ busy: boolean; message: string | null; error: boolean }>({
    busy: false,
    message: null,
    error: false,
  });
  const status = useRef<HTMLParagraphElement>(null);

  async function rotate() {
    setState({ busy: true, message: null, error: false });
    try {
      const next = await credentialsApi.rotateKey();
      onRotated(next);
      setState({ busy: false, message: "New signing key active. Earlier credentials still verify with the old keys.", error: false });
    } catch (err) {
      setState({ busy: false, message: err instanceof Error ? err.message : String(err), error: true });
    }
    setConfirming(false);
  }

  return (
    <div className="issuer-keys">
      <h3>Decentralised identifier (did:web)</h3>
      <p>
        <code className="did" data-testid="issuer-did">
          {view.did}
        </code>
      </p>
      <h3>Signing keys</h3>
      {view.keys.length === 0 ? (
        <p className="muted small">No key yet: one is made when the first credential is signed.</p>
      ) : (
        <ul className="key-list">
          {view.keys.map((k) => (
            <li key={k.kid} className={k.active ? "active" : "retired"}>
              <code className="did">{k.kid.split("#").pop()}</code>
              <span className="small">
                {k.active ? <strong>Active</strong> : <>Retired {formatDate(k.retired_at)}</>} · created {formatDate(k.created_at)}
              </span>
            </li>
          ))}
        </ul>
      )}
      <p>
        <button type="button" className="button secondary" onClick={() => setConfirming(true)} disabled={state.busy}>
          Rotate signing key
        </button>
      </p>
      <p ref={status} tabIndex={-1} className={`small ${state.error ? "error-text" : "muted"}`} role="status">
        {state.message}
      </p>
      <Dialog open={confirming} title="Rotate the signing key?" onClose={() => setConfirming(false)} returnFocus={() => status.current}>
        <p>
          A new key signs every credential from now on. The current key is retired but stays published, so credentials
          already issued keep verifying.
        </p>
        <div className="dialog-actions">
          <button type="button" className="button" onClick={rotate} disabled={state.busy}>
            {state.busy ? "Rotating…" : "Rotate key"}
          </button>
          <button type="button" className="button secondary" onClick={() => setConfirming(false)} disabled={state.busy} data-autofocus>
            Cancel
          </button>
        </div>
      </Dialog>
    </div>
  );
}
