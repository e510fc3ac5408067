import { Link } from "react-router";

import { api, must } from "../../api/client";
import { EmptyState, ErrorNote, Spinner } from "../../components/Status";
import { useResource } from "../../lib/useResource";
import { useSession } from "../../lib/useSession";
import { IssuerSection } from "./Issuer";
import { LtiPlatformsSection } from "./LtiPlatforms";
import { SingleSignOnSection } from "./SingleSignOn";
import { SpendSection } from "./Spend";
import { WebhooksSection } from "./Webhooks";
import "../../styles/teach.css";

const tokens = (v: number | null | undefined) => (v === null || v === undefined ? "no limit" : `${v.toLocaleString("en-GB")} tokens`);

/** Where admins land: what their organisation needs from them now, and what they can do here. */
export default function AdminOverview() {
  const { me } = useSession();
  const isAdmin = me?.roles.includes("admin") ?? false;
  const overview = useResource(async () => {
    if (!isAdmin) return null;
    const [budgets, deadLetters, queue, people] = await Promise.all([
      must(api.GET("/v1/admin/budgets")),
      must(api.GET("/v1/admin/dead-letters", { params: { query: { limit: 1 } } })),
      must(api.GET("/v1/review/queue", { params: { query: { limit: 1 } } })),
      must(api.GET("/v1/users", { params: { query: { limit: 1 } } })),
    ]);
    return { budgets, deadLetters: deadLetters.total, queue: queue.total, people: people.total };
  }, [isAdmin]);

  if (!isAdmin) {
    return (
      <EmptyState title="For admins">
        <p>This page shows your organisation's budgets, failed jobs and people.</p>
      </EmptyState>
    );
  }
  if (overview.loading) return <Spinner label="Loading the overview…" />;
  if (overview.error || !overview.data) return <ErrorNote message={overview.error ?? "No overview"} onRetry={overview.reload} />;
  const { budgets, deadLetters, queue, people } = overview.data;
  const limit = budgets.effective.org_monthly_tokens;
  const share = limit ? Math.round((budgets.org_month_used_tokens / limit) * 100) : null;
  return (
    <section aria-labelledby="admin-title">
      <div className="page-head">
        <h1 id="admin-title">Administration</h1>
      </div>
      <p className="muted">{me?.org}: what needs you, and what admins can do today.</p>
      <dl className="stats">
        <div><dt>Waiting for review</dt><dd>{queue}</dd></div>
        <div><dt>Failed background jobs</dt><dd>{deadLetters}</dd></div>
        <div><dt>Tutor tokens this month</dt><dd>{share === null ? budgets.org_month_used_tokens.toLocaleString("en-GB") : `${share}%`}</dd></div>
        <div><dt>People</dt><dd>{people}</dd></div>
      </dl>
      <div className="admin-cards">
        <article className="card">
          <h2>Grading and review</h2>
          <p>Grades waiting for a person, the live feed of escalations and blocked tutor messages, and how often reviewers agree with the AI.</p>
          <p className="toolbar">
            <Link to="/teach/queue">Review queue</Link>
            <Link to="/teach/feed">Live feed</Link>
            <Link to="/teach/metrics">Grading quality</Link>
          </p>
        </article>
        <article className="card">
          <h2>AI usage</h2>
          <p>What the tutor and the grader cost and how well they do: tokens, cost, time to first token, guardrails, the offline tutor, grading agreement and ratings.</p>
          <p className="toolbar">
            <Link to="/admin/ai-usage">AI usage</Link>
          </p>
        </article>
        <article className="card">
          <h2>Credentials</h2>
          <p>Open Badges issued when learners complete a course: who holds which, and revoking one with a reason.</p>
          <p className="toolbar">
            <Link to="/teach/credentials">Issued credentials</Link>
          </p>
        </article>
        <article className="card">
          <h2>Tutor token budgets</h2>
          <ul>
            <li>Organisation, per month: {tokens(budgets.effective.org_monthly_tokens)} ({budgets.org_month_used_tokens.toLocaleString("en-GB")} used)</li>
            <li>Per course, per month: {tokens(budgets.effective.course_monthly_tokens)}</li>
            <li>Per learner, per day: {tokens(budgets.effective.user_daily_tokens)}</li>
            <li>Per session: {tokens(budgets.effective.session_tokens)}</li>
          </ul>
          <p className="muted small">Change them with <code>PUT /v1/admin/budgets</code>; alerts at 80% appear on the live feed.</p>
          <p className="toolbar">
            <Link to="/teach/alerts">Alerts and alert rules</Link>
          </p>
        </article>
        <article className="card">
          <h2>Failed background jobs</h2>
          <p>{deadLetters === 0 ? "None: every grading job finished." : `${deadLetters} grading job(s) failed for good; the learners see why.`}</p>
          <p className="muted small">Listed by <code>GET /v1/admin/dead-letters</code>.</p>
        </article>
        <article className="card">
          <h2>People and courses</h2>
          <p>Invite people with a one-time link, change roles, deactivate accounts; publish or unpublish courses and see who is enrolled and who may need a hand.</p>
          <p className="toolbar">
            <Link to="/admin/people">People</Link>
            <Link to="/admin/courses">Courses</Link>
            <Link to="/progress">Learners' progress</Link>
          </p>
        </article>
        <article className="card">
          <h2>Prompts and the audit log</h2>
          <p>The tutor prompt's versions and how they compare, and experiments with prompt versions and hint policies on a share of learners, with results per arm.</p>
          <p className="toolbar">
            <Link to="/admin/prompts">Prompts and experiments</Link>
          </p>
          <p className="muted small">Every grade change, sign-in event and experiment change: <code>/v1/audit-log</code>.</p>
        </article>
      </div>
      <SpendSection />
      <IssuerSection />
      <LtiPlatformsSection />
      <SingleSignOnSection />
      <WebhooksSection />
    </section>
  );
}
