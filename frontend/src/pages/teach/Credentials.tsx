import { useRef, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";

import { api, ApiError, must } from "../../api/client";
import { StatusTag } from "../../components/CredentialStatus";
import { Dialog } from "../../components/Dialog";
import { EmptyState, ErrorNote, Spinner } from "../../components/Status";
import { credentialKey, credentialsApi, formatDate, type StaffCredential } from "../../lib/credentials";
import { useResource } from "../../lib/useResource";
import { Pager } from "../Catalog";
import "../../styles/teach.css";
import "../../styles/credentials.css";

const PAGE = 12; // the shared Pager pages by 12
const REASON_MAX = 500;

/** Credentials issued by the organisation: who holds which, and revoking one (with a reason the learner sees). */
export function Credentials() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const courseId = params.get("course") ?? "";
  const offset = Number(params.get("offset") ?? "0") || 0;
  const courses = useResource(() => must(api.GET("/v1/courses", { params: { query: { limit: 100 } } })), []);
  const list = useResource(
    () => credentialsApi.staffList({ status, course_id: courseId, limit: PAGE, offset }),
    [status, courseId, offset],
  );
  const [revoked, setRevoked] = useState<Record<string, StaffCredential>>({});
  const [target, setTarget] = useState<StaffCredential | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const announce = useRef<HTMLParagraphElement>(null);
  const items = (list.data?.items ?? []).map((c) => revoked[c.id] ?? c);

  function filter(next: Record<string, string>) {
    const merged = { status, course: courseId, ...next };
    setParams(Object.fromEntries(Object.entries(merged).filter(([, v]) => v)));
  }

  function done(item: StaffCredential) {
    setRevoked((r) => ({ ...r, [item.id]: item }));
    setTarget(null);
    setAnnouncement(`Revoked ${item.learner_name}'s credential for ${item.course_title}.`);
  }

  return (
    <section aria-labelledby="issued-title">
      <div className="page-head">
        <h1 id="issued-title">Issued credentials</h1>
        <button type="button" className="button secondary small" onClick={list.reload}>
          Refresh
        </button>
      </div>
      <div className="toolbar">
        <span className="filter">
          <label htmlFor="credential-status-filter">Status</label>
          <select id="credential-status-filter" value={status} onChange={(e) => filter({ status: e.target.value, offset: "" })}>
            <option value="">All</option>
            <option value="active">Active</option>
            <option value="revoked">Revoked</option>
          </select>
        </span>
        <span className="filter">
          <label htmlFor="credential-course-filter">Course</label>
          <select id="credential-course-filter" value={courseId} onChange={(e) => filter({ course: e.target.value, offset: "" })}>
            <option value="">All courses</option>
            {(courses.data?.items ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.title}
              </option>
            ))}
          </select>
        </span>
        <Link to="/teach/queue">Review queue</Link>
      </div>
      <p ref={announce} className="done-note notice" role="status" tabIndex={-1} hidden={!announcement} data-testid="revoke-announcement">
        {announcement}
      </p>
      {list.loading && <Spinner label="Loading credentials…" />}
      {list.error && <ErrorNote message={list.error} onRetry={list.reload} />}
      {list.data && items.length === 0 && (
        <EmptyState title="No credentials here">
          <p>A learner who completes a course receives its credential; it appears here a moment later.</p>
        </EmptyState>
      )}
      {items.length > 0 && list.data && (
        <>
          <table className="queue credentials-table">
            <caption className="visually-hidden">Credentials issued by your organisation</caption>
            <thead>
              <tr>
                <th scope="col">Learner</th>
                <th scope="col">Course</th>
                <th scope="col">Issued</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id} data-credential={c.id}>
                  <td>
                    {c.learner_name}
                    <div className="muted small">{c.learner_email}</div>
                  </td>
                  <td>{c.course_title}</td>
                  <td>
                    <time dateTime={c.issued_at}>{formatDate(c.issued_at)}</time>
                  </td>
                  <td>
                    <StatusTag status={c.status} />
                    {c.status === "revoked" && (
                      <div className="muted small">
                        {c.revoked_at && <>{formatDate(c.revoked_at)}</>}
                        {c.revocation_reason && <>: “{c.revocation_reason}”</>}
                      </div>
                    )}
                  </td>
                  <td>
                    <div className="row-actions">
                      <Link className="button secondary small" to={`/credentials/${credentialKey(c.id)}`}>
                        View<span className="visually-hidden"> {c.learner_name}'s credential</span>
                      </Link>
                      {c.status === "active" && (
                        <button type="button" className="button danger small" onClick={() => setTarget(c)}>
                          Revoke<span className="visually-hidden"> {c.learner_name}'s credential</span>
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager
            total={list.data.total}
            offset={offset}
            onOffset={(o) => filter({ offset: String(o) })}
          />
        </>
      )}
      <RevokeDialog target={target} onClose={() => setTarget(null)} onRevoked={done} returnFocus={() => announce.current} onConflict={list.reload} />
    </section>
  );
}

function RevokeDialog({
  target,
  onClose,
  onRevoked,
  onConflict,
  returnFocus,
}: {
  target: StaffCredential | null;
  onClose(): void;
  onRevoked(item: StaffCredential): void;
  onConflict(): void;
  returnFocus(): HTMLElement | null;
}) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [lastTarget, setLastTarget] = useState<string | null>(null);
  if ((target?.id ?? null) !== lastTarget) {
    // A new dialog starts empty.
    setLastTarget(target?.id ?? null);
    setReason("");
    setError(null);
    setBusy(false);
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!target) return;
    const text = reason.trim();
    if (!text) {
      setError("Give a reason: the learner and anyone checking the credential's history see it.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onRevoked(await credentialsApi.revoke(target.id, text));
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.status === 409) {
        setError("This credential was already revoked. The list has been refreshed.");
        onConflict();
        return;
      }
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  return (
    <Dialog open={target !== null} title="Revoke this credential?" onClose={onClose} returnFocus={returnFocus}>
      {target && (
        <form onSubmit={submit} className="dialog-form" noValidate>
          <p>
            <strong>{target.learner_name}</strong>'s credential for <strong>{target.course_title}</strong> will show as revoked
            to anyone who verifies it. This cannot be undone.
          </p>
          <label htmlFor="revoke-reason">Reason (required)</label>
          <textarea
            id="revoke-reason"
            rows={3}
            maxLength={REASON_MAX}
            required
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            aria-invalid={error !== null}
            aria-describedby="revoke-reason-hint revoke-reason-error"
          />
          <p id="revoke-reason-hint" className="muted small">
            Up to {REASON_MAX} characters. The learner sees it on My credentials.
          </p>
          <p id="revoke-reason-error" className="error-text" role="alert">
            {error}
          </p>
          <div className="dialog-actions">
            <button type="submit" className="button danger" disabled={busy}>
              {busy ? "Revoking…" : "Revoke credential"}
            </button>
            <button type="button" className="button secondary" onClick={onClose} disabled={busy}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
