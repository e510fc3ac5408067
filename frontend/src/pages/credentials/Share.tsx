import { useEffect, useId, useState, type FormEvent, type ReactNode } from "react";
import { Link, useLocation, useParams } from "react-router";

import { ApiError } from "../../api/client";
import { BadgeImage } from "../../components/BadgeImage";
import { focusHeadingWhenShown } from "../../components/Layout";
import { ErrorNote, Spinner } from "../../components/Status";
import {
  badgeSvgUrl,
  checkName,
  credentialsApi,
  criteriaText,
  paragraphs,
  formatDate,
  parseVerifyInput,
  type PublicCredential,
  type VerificationReport,
} from "../../lib/credentials";
import { useResource } from "../../lib/useResource";
import { useSession } from "../../lib/useSession";
import "../../styles/credentials.css";

/** The frame of the public pages: anyone may open them, signed in or not (no sign-in shell, no search). */
export function PublicFrame({ children }: { children: ReactNode }) {
  const { me, restoring } = useSession();
  const { key } = useLocation();
  // Arriving by an in-app link (not a page load, whose key is "default"): focus the heading, as Layout does.
  useEffect(() => (key === "default" ? undefined : focusHeadingWhenShown()), [key]);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar public-topbar">
        <Link to={me ? "/" : "/login"} className="brand" aria-label="Lyceum home">
          Lyceum
        </Link>
        <nav aria-label="Main">
          <Link to="/credentials/verify">Verify a credential</Link>
          {me && <Link to="/credentials">My credentials</Link>}
        </nav>
        <div className="whoami">{!me && !restoring && <Link to="/login">Sign in</Link>}</div>
      </header>
      <main id="main" tabIndex={-1} className="public-main">
        {children}
      </main>
    </>
  );
}

/** `/credentials/:id`: what was achieved, by whom, who issued it, and a verification run live in the page. */
export default function CredentialSharePage() {
  const { id = "" } = useParams();
  // A 404 (or an id that is not even a credential id) is a page of its own: null; other failures retry.
  const shared = useResource(
    () =>
      credentialsApi.public(id).catch((error: unknown) => {
        if (error instanceof ApiError && [400, 404, 422].includes(error.status)) return null;
        throw error;
      }),
    [id],
  );
  const notFound = !shared.loading && !shared.error && shared.data === null;

  useEffect(() => {
    // The title names the achievement once it is known (browser tabs, history, shared previews).
    document.title = shared.data ? `${shared.data.achievement.name} · Verified credential · Lyceum` : "Credential · Lyceum";
  }, [shared.data]);

  return (
    <PublicFrame>
      {shared.loading && <Spinner label="Loading the credential…" />}
      {notFound && (
        <section className="empty-state not-found" aria-labelledby="missing-title" data-testid="credential-not-found">
          <h1 id="missing-title">This credential does not exist</h1>
          <p>
            The link may be mistyped, or the credential was never issued here. You can still{" "}
            <Link to="/credentials/verify">check a credential file or VC-JWT</Link>.
          </p>
        </section>
      )}
      {shared.error && <ErrorNote message={shared.error} onRetry={shared.reload} />}
      {shared.data && <SharedCredential data={shared.data} />}
    </PublicFrame>
  );
}

function SharedCredential({ data }: { data: PublicCredential }) {
  const revoked = data.status === "revoked";
  const who = data.recipient_name.trim() || "the learner";
  const criteria = criteriaText(data.achievement.criteria);
  return (
    <article className={`credential-share${revoked ? " revoked" : ""}`} aria-labelledby="share-title">
      {revoked && (
        <div className="revoked-banner" role="alert" data-testid="revoked-banner">
          <strong>Revoked</strong>
          <span>
            The issuer revoked this credential{data.revoked_at ? ` on ${formatDate(data.revoked_at)}` : ""}. It is no longer
            valid.
          </span>
        </div>
      )}
      <div className="share-grid">
        <div className="card share-main">
          <div className="credential-head">
            <BadgeImage image={data.achievement.image} name={data.achievement.name} size={128} />
            <div>
              <p className="muted small eyebrow">Open Badge · {data.course_title}</p>
              <h1 id="share-title">{data.achievement.name}</h1>
              <p className="awarded">
                Awarded to <strong data-testid="recipient">{who}</strong> by <strong>{data.issuer.name}</strong> on{" "}
                <time dateTime={data.issued_at}>{formatDate(data.issued_at)}</time>
              </p>
            </div>
          </div>
          {data.achievement.description && (
            <section aria-labelledby="what-title">
              <h2 id="what-title">What was achieved</h2>
              <p>{data.achievement.description}</p>
            </section>
          )}
          {criteria && (
            <section aria-labelledby="criteria-title">
              <h2 id="criteria-title">How it was earned</h2>
              {paragraphs(criteria).map((text, i) => (
                <p key={i} className="criteria">
                  {text}
                </p>
              ))}
            </section>
          )}
          <section aria-labelledby="issuer-title">
            <h2 id="issuer-title">Issuer</h2>
            <p>
              {data.issuer.url ? (
                <a href={data.issuer.url} rel="noopener noreferrer">
                  {data.issuer.name}
                </a>
              ) : (
                data.issuer.name
              )}
            </p>
            <p className="muted small">
              Identifier: <code className="did">{data.issuer.id}</code>
            </p>
          </section>
          <p className="toolbar">
            <a href={badgeSvgUrl(data.id)} download>
              Download the badge image
            </a>
            <Link to="/credentials/verify">Verify another credential</Link>
          </p>
        </div>
        <VerificationPanel data={data} />
      </div>
    </article>
  );
}

/** Runs the same checks as any outside verifier, in the reader's browser, on the credential shown. */
function VerificationPanel({ data }: { data: PublicCredential }) {
  const report = useResource(() => credentialsApi.verify({ credential: data.credential }), [data]);
  return (
    <section className="card verification" aria-labelledby="verify-title" aria-busy={report.loading} data-testid="verification">
      <div className="page-head">
        <h2 id="verify-title">Verification</h2>
        <button type="button" className="button secondary small" onClick={report.reload} disabled={report.loading}>
          Check again
        </button>
      </div>
      <p className="muted small">
        Checked live now: the issuer's signature against its published keys, the Open Badges schema, the validity period
        and the issuer's revocation list.
      </p>
      {report.loading && <Spinner label="Verifying…" />}
      {report.error && <ErrorNote message={report.error} onRetry={report.reload} />}
      {report.data && <Report report={report.data} />}
    </section>
  );
}

export function Report({ report }: { report: VerificationReport }) {
  return (
    <>
      <p className={`verdict ${report.verified ? "is-ok" : "is-bad"}`} data-testid="verdict" data-verified={String(report.verified)}>
        <span aria-hidden="true">{report.verified ? "✓" : "✕"}</span>{" "}
        {report.verified ? "Verified: every check passed" : "Not verified: a check failed"}
      </p>
      <ul className="checks" aria-label="Checks">
        {report.checks.map((c) => (
          <li key={c.check} className={c.passed ? "pass" : "fail"} data-check={c.check} data-passed={String(c.passed)}>
            <span className="check-mark" aria-hidden="true">
              {c.passed ? "✓" : "✕"}
            </span>
            <span>
              <strong>{checkName(c.check)}</strong> <span className="check-result">{c.passed ? "passed" : "failed"}</span>
              {c.detail && <span className="check-detail">{c.detail}</span>}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}

/** `/credentials/verify`: paste a credential (JSON) or a VC-JWT and read the report. */
export function VerifyCredentialPage() {
  const [text, setText] = useState("");
  const [state, setState] = useState<{ busy: boolean; error: string | null; report: VerificationReport | null }>({
    busy: false,
    error: null,
    report: null,
  });
  const fieldId = useId();

  useEffect(() => {
    document.title = "Verify a credential · Lyceum";
  }, []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const input = parseVerifyInput(text);
    if ("error" in input) {
      setState({ busy: false, error: input.error, report: null });
      return;
    }
    setState({ busy: true, error: null, report: null });
    try {
      setState({ busy: false, error: null, report: await credentialsApi.verify(input) });
    } catch (err) {
      setState({ busy: false, error: err instanceof Error ? err.message : String(err), report: null });
    }
  }

  return (
    <PublicFrame>
      <section className="verify-page" aria-labelledby="verify-page-title">
        <h1 id="verify-page-title">Verify a credential</h1>
        <p className="muted">
          Paste an Open Badges 3.0 credential as JSON (the file from “Download JSON”) or as a VC-JWT. Nothing is stored.
        </p>
        <form className="card verify-form" onSubmit={submit}>
          <label htmlFor={fieldId}>Credential JSON or VC-JWT</label>
          <textarea
            id={fieldId}
            rows={10}
            spellCheck={false}
            value={text}
            onChange={(e) => setText(e.target.value)}
            aria-invalid={state.error !== null}
            aria-describedby={state.error ? `${fieldId}-error` : undefined}
          />
          <label htmlFor={`${fieldId}-file`} className="file-label">
            Or choose a downloaded file (.json or .jwt)
          </label>
          <input
            id={`${fieldId}-file`}
            type="file"
            accept=".json,.jwt,.txt,application/json"
            onChange={async (e) => {
              const file = e.target.files?.[0];
              if (file) setText(await file.text());
            }}
          />
          {state.error && (
            <p id={`${fieldId}-error`} className="error-text" role="alert">
              {state.error}
            </p>
          )}
          <p>
            <button type="submit" className="button" disabled={state.busy}>
              {state.busy ? "Verifying…" : "Verify"}
            </button>
          </p>
        </form>
        {state.report && (
          <section className="card verification" aria-labelledby="report-title" data-testid="verification">
            <h2 id="report-title">Report</h2>
            <Report report={state.report} />
          </section>
        )}
      </section>
    </PublicFrame>
  );
}
