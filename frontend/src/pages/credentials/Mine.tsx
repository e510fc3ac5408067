import { useState, type FormEvent } from "react";
import { Link } from "react-router";

import { BadgeImage } from "../../components/BadgeImage";
import { StatusTag } from "../../components/CredentialStatus";
import { EmptyState, ErrorNote, Spinner } from "../../components/Status";
import {
  badgeSvgUrl,
  credentialKey,
  credentialsApi,
  downloadText,
  formatDate,
  slugify,
  type MyCredential,
} from "../../lib/credentials";
import { useResource } from "../../lib/useResource";
import "../../styles/credentials.css";

/** My credentials: the Open Badges a learner holds, to download, share and show on LinkedIn. */
export default function MyCredentials() {
  const list = useResource(() => credentialsApi.mine(), []);
  const [updated, setUpdated] = useState<Record<string, MyCredential>>({});
  const items = (list.data?.items ?? []).map((c) => updated[c.id] ?? c);

  return (
    <section aria-labelledby="credentials-title" className="credentials">
      <div className="page-head">
        <h1 id="credentials-title">My credentials</h1>
        <p className="muted">
          Open Badges you earned by finishing courses. Anyone can check them, without an account and without trusting
          Lyceum.
        </p>
      </div>
      {list.loading && <Spinner label="Loading your credentials…" />}
      {list.error && <ErrorNote message={list.error} onRetry={list.reload} />}
      {list.data && items.length === 0 && (
        <EmptyState title="Finish a course to earn your first credential">
          <p>
            When you complete every item of a course, its badge appears here. See where you are in{" "}
            <Link to="/learning">My learning</Link>.
          </p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <ul className="credential-list" aria-label="Your credentials">
          {items.map((c) => (
            <CredentialCard key={c.id} credential={c} onUpdated={(next) => setUpdated((u) => ({ ...u, [next.id]: next }))} />
          ))}
        </ul>
      )}
    </section>
  );
}

function CredentialCard({ credential: c, onUpdated }: { credential: MyCredential; onUpdated(c: MyCredential): void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const revoked = c.status === "revoked";
  const name = c.achievement_name || c.course_title;
  const file = `${slugify(name)}-${c.id.slice(0, 8)}`;
  const headingId = `credential-${c.id}`;

  async function copyLink() {
    try {
      await navigator.clipboard.writeText(c.share_url);
      setCopied("Share link copied.");
    } catch {
      setCopied(`Copy this link: ${c.share_url}`);
    }
  }

  return (
    <li className={`card credential-card${revoked ? " revoked" : ""}`} data-testid="credential-card" data-credential={c.id} aria-labelledby={headingId}>
      <div className="credential-head">
        <BadgeImage image={c.image} name={name} />
        <div>
          <h2 id={headingId}>{name}</h2>
          <dl className="credential-facts">
            <div>
              <dt>Course</dt>
              <dd>{c.course_title}</dd>
            </div>
            <div>
              <dt>Issuer</dt>
              <dd>{c.issuer_name}</dd>
            </div>
            <div>
              <dt>Issued</dt>
              <dd>
                <time dateTime={c.issued_at}>{formatDate(c.issued_at)}</time>
              </dd>
            </div>
            <div>
              <dt>Status</dt>
              <dd>
                <StatusTag status={c.status} />
              </dd>
            </div>
          </dl>
        </div>
      </div>
      {revoked && (
        <p className="revoked-note" data-testid="revoked-note">
          <strong>Revoked</strong>
          {c.revoked_at && <> on {formatDate(c.revoked_at)}</>}
          {c.revocation_reason && <>: {c.revocation_reason.trim().replace(/[.\s]+$/, "")}</>}. Anyone verifying it sees that it is no longer valid.
        </p>
      )}
      <div className="credential-actions" role="group" aria-label={`Download and share ${name}`}>
        <button
          type="button"
          className="button secondary small"
          onClick={() => downloadText(`${file}.json`, JSON.stringify(c.credential, null, 2), "application/json")}
        >
          Download JSON
        </button>
        <button type="button" className="button secondary small" onClick={() => downloadText(`${file}.jwt`, c.jwt, "application/jwt")}>
          Download JWT
        </button>
        <a className="button secondary small" href={badgeSvgUrl(c.id)} download={`${file}.svg`}>
          Download badge image
        </a>
        <button type="button" className="button secondary small" onClick={copyLink}>
          Copy share link
        </button>
        <Link className="button secondary small" to={`/credentials/${credentialKey(c.id)}`}>
          Open share page
        </Link>
        {!revoked && c.linkedin_url && (
          <a className="button small" href={c.linkedin_url} target="_blank" rel="noopener noreferrer">
            Add to LinkedIn profile<span className="visually-hidden"> (opens in a new tab)</span>
          </a>
        )}
      </div>
      <p className="muted small copy-note" role="status">
        {copied}
      </p>
      <DisplayName credential={c} onUpdated={onUpdated} />
    </li>
  );
}

/** The name the share page shows for the learner (empty: "the learner"). */
function DisplayName({ credential: c, onUpdated }: { credential: MyCredential; onUpdated(c: MyCredential): void }) {
  const [value, setValue] = useState(c.display_name);
  const [state, setState] = useState<{ busy: boolean; message: string | null; error: boolean }>({
    busy: false,
    message: null,
    error: false,
  });
  const inputId = `display-name-${c.id}`;

  async function save(event: FormEvent) {
    event.preventDefault();
    setState({ busy: true, message: null, error: false });
    try {
      const next = await credentialsApi.rename(c.id, value.trim());
      onUpdated({ ...c, ...next });
      setValue(next.display_name ?? value.trim());
      setState({ busy: false, message: "Saved.", error: false });
    } catch (err) {
      setState({ busy: false, message: err instanceof Error ? err.message : String(err), error: true });
    }
  }

  return (
    <form className="display-name" onSubmit={save}>
      <label htmlFor={inputId}>Name shown on the share page</label>
      <div className="inline-field">
        <input
          id={inputId}
          value={value}
          maxLength={200}
          placeholder="the learner"
          aria-describedby={`${inputId}-hint`}
          onChange={(e) => setValue(e.target.value)}
        />
        <button type="submit" className="button secondary small" disabled={state.busy || value.trim() === c.display_name}>
          {state.busy ? "Saving…" : "Save name"}
        </button>
      </div>
      <p id={`${inputId}-hint`} className="muted small">
        Only this name is shown publicly; until you choose one, the share page says “the learner”.
      </p>
      <p className={`small ${state.error ? "error-text" : "muted"}`} role="status">
        {state.message}
      </p>
    </form>
  );
}
