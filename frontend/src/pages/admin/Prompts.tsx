import { useId, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";

import { ApiError, type Schemas } from "../../api/client";
import { Dialog } from "../../components/Dialog";
import { EmptyState, ErrorNote, Spinner } from "../../components/Status";
import {
  allowedActions,
  checkForm,
  checkRollout,
  describeVariant,
  EMPTY_FORM,
  experimentsApi,
  formatInterval,
  formatRate,
  hasTurns,
  HINT_POLICIES,
  listCourses,
  MAX_VARIANTS,
  newVariantRow,
  promptsApi,
  serverFieldErrors,
  STATUS_LABEL,
  type Experiment,
  type ExperimentForm,
  type FormErrors,
  type HintPolicy,
} from "../../lib/experiments";
import { useResource } from "../../lib/useResource";
import { useSession } from "../../lib/useSession";
import "../../styles/prompts.css";

type PromptVersion = Schemas["PromptVersionOut"];
type Course = { id: string; title: string };
type Confirming = { experiment: Experiment; action: "start" | "stop" };

const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString("en-GB") : "—");
const num = (v: number, digits = 0) => v.toLocaleString("en-GB", { maximumFractionDigits: digits });
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Prompts and experiments (issue 17): the tutor prompt's versions and how they compare, and experiments on them. */
export default function Prompts() {
  const { me } = useSession();
  const isAdmin = me?.roles.includes("admin") ?? false;
  if (!isAdmin) {
    return (
      <EmptyState title="For admins">
        <p>This page shows the tutor prompt's versions and your organisation's experiments on them.</p>
      </EmptyState>
    );
  }
  return (
    <section aria-labelledby="prompts-title" className="prompts-page">
      <div className="page-head">
        <h1 id="prompts-title">Prompts and experiments</h1>
        <Link to="/admin">Back to administration</Link>
      </div>
      <p className="muted">
        The tutor's prompt versions and how each performs, and experiments: prompt versions and hint policies tried on a share of
        learners, chosen the same way for each learner every time, with results per arm and their 95% confidence intervals.
      </p>
      <PromptVersions />
      <Experiments />
    </section>
  );
}

function PromptVersions() {
  const data = useResource(() => Promise.all([promptsApi.versions(), promptsApi.compare()]), []);
  return (
    <section className="card" aria-labelledby="versions-title" data-testid="prompt-versions">
      <h2 id="versions-title">Tutor prompt versions</h2>
      <p className="muted small">
        Versions come from the prompt file and your organisation's overrides. Outside an experiment each learner keeps one
        active version, chosen by weight.
      </p>
      {data.loading && !data.data && <Spinner label="Loading the prompt versions…" />}
      {data.error && <ErrorNote message={data.error} onRetry={data.reload} />}
      {data.data && <VersionTables versions={data.data[0]} comparison={data.data[1].variants} />}
    </section>
  );
}

function VersionTables({ versions, comparison }: { versions: PromptVersion[]; comparison: Schemas["VariantStats"][] }) {
  return (
    <>
      {versions.length === 0 ? (
        <p className="muted">No versions of the tutor prompt.</p>
      ) : (
        <div className="table-scroll">
          <table className="table">
            <caption className="visually-hidden">Versions of the tutor prompt</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Source</th>
                <th scope="col">Weight</th>
                <th scope="col">Active</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={`${v.source}:${v.version}`}>
                  <th scope="row">
                    <code>{v.version}</code>
                  </th>
                  <td>{v.source === "org" ? "Your organisation" : "Prompt file"}</td>
                  <td>{v.weight}</td>
                  <td>{v.active ? "Yes" : "No"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>How the versions compare</h3>
      {comparison.length === 0 ? (
        <p className="muted" data-testid="compare-empty">
          No tutor turns recorded yet.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="table" data-testid="compare-table">
            <caption className="visually-hidden">Tutor turns, tokens, latency, cost, guardrails and ratings per prompt version</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Turns</th>
                <th scope="col">Tokens in / out (average)</th>
                <th scope="col">First token, p50</th>
                <th scope="col">Cost</th>
                <th scope="col">Guardrail triggers</th>
                <th scope="col">Blocked</th>
                <th scope="col">Rating (1–5)</th>
              </tr>
            </thead>
            <tbody>
              {comparison.map((c) => (
                <tr key={c.version}>
                  <th scope="row">
                    <code>{c.version}</code>
                  </th>
                  <td>{num(c.interactions)}</td>
                  <td>
                    {num(c.input_tokens_avg)} / {num(c.output_tokens_avg)}
                  </td>
                  <td>{c.first_token_ms_p50 === null ? "—" : `${num(c.first_token_ms_p50)} ms`}</td>
                  <td>${c.cost_usd_total.toFixed(4)}</td>
                  <td>{num(c.guardrail_triggers)}</td>
                  <td>{num(c.blocked)}</td>
                  <td>{c.rating_avg === null ? "—" : `${c.rating_avg.toFixed(2)} (${c.ratings} ratings)`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Experiments() {
  const experiments = useResource(() => experimentsApi.list(), []);
  // The form's choices; a failure here only narrows the choices (the server checks the body either way).
  const choices = useResource(
    () =>
      Promise.all([
        listCourses().then((page) => page.items.map((c): Course => ({ id: c.id, title: c.title }))).catch(() => [] as Course[]),
        promptsApi.versions().then((vs) => vs.filter((v) => v.active).map((v) => v.version)).catch(() => [] as string[]),
      ]),
    [],
  );
  const [confirming, setConfirming] = useState<Confirming | null>(null);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);
  const status = useRef<HTMLParagraphElement>(null);

  async function act(run: () => Promise<unknown>, done: string) {
    try {
      await run();
      setNotice({ text: done, error: false });
    } catch (err) {
      setNotice({ text: message(err), error: true });
    } finally {
      experiments.reload();
    }
  }

  async function confirm() {
    if (!confirming) return;
    const { experiment, action } = confirming;
    setConfirming(null);
    await act(
      () => (action === "start" ? experimentsApi.start(experiment.id) : experimentsApi.stop(experiment.id)),
      action === "start" ? `Experiment ${experiment.key} started.` : `Experiment ${experiment.key} stopped.`,
    );
  }

  const [courses, versions] = choices.data ?? [[], []];
  return (
    <section className="card" aria-labelledby="experiments-title" data-testid="experiments">
      <h2 id="experiments-title">Experiments</h2>
      <p className="muted small">
        An experiment covers the tutor in one course or in all your courses. Of the learners there, the rollout percentage take part
        and each gets one variant, chosen by weight; the rest are the <strong>control</strong> arm and keep today's tutor. Raising the
        percentage only adds learners; nobody changes arm. One experiment can run per course (and one for all courses); a course's
        own experiment wins over the all-courses one. Every change is in the audit log.
      </p>
      <CreateForm courses={courses} versions={versions} onCreated={(e) => {
        setNotice({ text: `Experiment ${e.key} created as a draft.`, error: false });
        experiments.reload();
      }} />
      <h3>Your experiments</h3>
      {experiments.loading && !experiments.data && <Spinner label="Loading the experiments…" />}
      {experiments.error && <ErrorNote message={experiments.error} onRetry={experiments.reload} />}
      {experiments.data && experiments.data.length === 0 && (
        <div className="empty-state" data-testid="experiments-empty">
          <p>
            <strong>No experiments yet.</strong> Create one above: it starts as a draft, and learners see no change until you start it.
          </p>
        </div>
      )}
      {experiments.data && experiments.data.length > 0 && (
        <ul className="experiment-list" data-testid="experiment-list">
          {experiments.data.map((e) => (
            <ExperimentItem
              key={e.id}
              experiment={e}
              onConfirm={(action) => setConfirming({ experiment: e, action })}
              onRollout={(value) => act(() => experimentsApi.update(e.id, { rollout_percent: value }), `Rollout of ${e.key} set to ${value}%.`)}
            />
          ))}
        </ul>
      )}
      <p ref={status} tabIndex={-1} className={`small ${notice?.error ? "error-text" : "muted"}`} role="status" data-testid="experiments-status">
        {notice?.text}
      </p>
      <Dialog
        open={confirming !== null}
        title={confirming?.action === "start" ? `Start ${confirming.experiment.key}?` : `Stop ${confirming?.experiment.key ?? ""}?`}
        onClose={() => setConfirming(null)}
        returnFocus={() => status.current}
      >
        {confirming?.action === "start" ? (
          <p>
            {confirming.experiment.rollout_percent}% of the learners in {confirming.experiment.course_title ?? "all courses"} get a variant
            from their next tutor message. You can change the percentage while it runs; the variants are then fixed.
          </p>
        ) : (
          <p>Every learner goes back to the usual tutor. A stopped experiment can't be started again; its results stay here.</p>
        )}
        <p className="toolbar">
          <button type="button" className={`button${confirming?.action === "stop" ? " danger" : ""}`} data-autofocus onClick={() => void confirm()}>
            {confirming?.action === "start" ? "Start" : "Stop"}
          </button>
          <button type="button" className="button secondary" onClick={() => setConfirming(null)}>
            Cancel
          </button>
        </p>
      </Dialog>
    </section>
  );
}

function ExperimentItem({
  experiment: e,
  onConfirm,
  onRollout,
}: {
  experiment: Experiment;
  onConfirm(action: "start" | "stop"): void;
  onRollout(value: number): Promise<void>;
}) {
  const id = useId();
  const allowed = allowedActions(e.status);
  // Until the admin opens or closes them, the results show once the experiment has started.
  const [resultsToggle, setResultsToggle] = useState<boolean | null>(null);
  const showResults = resultsToggle ?? e.status !== "draft";
  const [editing, setEditing] = useState(false);
  const [rollout, setRollout] = useState(String(e.rollout_percent));
  const [rolloutError, setRolloutError] = useState("");

  async function saveRollout(event: FormEvent) {
    event.preventDefault();
    const checked = checkRollout(rollout);
    if ("error" in checked) {
      setRolloutError(checked.error);
      return;
    }
    setRolloutError("");
    await onRollout(checked.value);
    setEditing(false);
  }

  return (
    <li className="experiment-item" aria-labelledby={`${id}-key`} data-testid={`experiment-${e.key}`}>
      <h4 id={`${id}-key`}>
        <code>{e.key}</code> <span className={`tag status-${e.status}`}>{STATUS_LABEL[e.status]}</span>
      </h4>
      {e.description && <p>{e.description}</p>}
      <dl className="experiment-facts">
        <div>
          <dt>Where</dt>
          <dd>{e.course_title ?? "All courses"}</dd>
        </div>
        <div>
          <dt>Rollout</dt>
          <dd data-testid="rollout">{e.rollout_percent}% of learners</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{when(e.started_at)}</dd>
        </div>
        <div>
          <dt>Stopped</dt>
          <dd>{when(e.stopped_at)}</dd>
        </div>
      </dl>
      <ul className="small">
        {e.variants.map((v) => (
          <li key={v.key}>
            <code>{v.key}</code>: {describeVariant(v)}
          </li>
        ))}
      </ul>
      {editing && (
        <form className="toolbar" onSubmit={saveRollout} noValidate aria-label={`Rollout of ${e.key}`}>
          <label htmlFor={`${id}-rollout`}>Rollout (%)</label>
          <input
            id={`${id}-rollout`}
            type="number"
            min={0}
            max={100}
            step={1}
            value={rollout}
            aria-invalid={rolloutError ? true : undefined}
            aria-describedby={rolloutError ? `${id}-rollout-error` : undefined}
            onChange={(x) => setRollout(x.target.value)}
          />
          <button type="submit" className="button">
            Save rollout
          </button>
          <button type="button" className="button secondary" onClick={() => { setEditing(false); setRollout(String(e.rollout_percent)); setRolloutError(""); }}>
            Cancel
          </button>
          {rolloutError && (
            <span id={`${id}-rollout-error`} className="error-text small">
              {rolloutError}
            </span>
          )}
        </form>
      )}
      <p className="toolbar">
        {allowed.editRollout && !editing && (
          <button type="button" className="button secondary" onClick={() => setEditing(true)}>
            Change rollout<span className="visually-hidden"> of {e.key}</span>
          </button>
        )}
        {allowed.start && (
          <button type="button" className="button" onClick={() => onConfirm("start")}>
            Start<span className="visually-hidden"> {e.key}</span>
          </button>
        )}
        {allowed.stop && (
          <button type="button" className="button secondary" onClick={() => onConfirm("stop")}>
            Stop<span className="visually-hidden"> {e.key}</span>
          </button>
        )}
        <button type="button" className="button secondary" aria-expanded={showResults} aria-controls={`${id}-results`} onClick={() => setResultsToggle(!showResults)}>
          {showResults ? "Hide results" : "Results"}
          <span className="visually-hidden"> of {e.key}</span>
        </button>
      </p>
      <div id={`${id}-results`}>{showResults && <ResultsTable experiment={e} />}</div>
    </li>
  );
}

function ResultsTable({ experiment }: { experiment: Experiment }) {
  // Reloaded when the experiment changes (started, stopped, a new rollout): its updated_at moves.
  const results = useResource(() => experimentsApi.results(experiment.id), [experiment.id, experiment.updated_at]);
  return (
    <div className="experiment-results" data-testid="experiment-results">
      <p className="toolbar">
        <button type="button" className="button secondary small" onClick={results.reload} disabled={results.loading}>
          Refresh results<span className="visually-hidden"> of {experiment.key}</span>
        </button>
      </p>
      {results.loading && !results.data && <Spinner label="Loading the results…" />}
      {results.error && <ErrorNote message={results.error} onRetry={results.reload} />}
      {results.data && !hasTurns(results.data) && (
        <p className="muted" data-testid="results-empty">
          No turns recorded yet.{" "}
          {experiment.status === "draft" ? "Start the experiment to record learners' tutor turns." : "Results appear as learners talk to the tutor."}
        </p>
      )}
      {results.data && hasTurns(results.data) && (
        <>
          <div className="table-scroll">
            <table className="table">
              <caption>
                Results of {experiment.key} per arm: value ({Math.round(results.data.confidence * 100)}% confidence interval)
              </caption>
              <thead>
                <tr>
                  <th scope="col">Arm</th>
                  <th scope="col">Learners</th>
                  <th scope="col">Turns</th>
                  <th scope="col">Tokens per turn</th>
                  <th scope="col">Rating (1–5)</th>
                  <th scope="col">Hint escalation</th>
                  <th scope="col">Guardrail triggers</th>
                </tr>
              </thead>
              <tbody>
                {results.data.arms.map((a) => (
                  <tr key={a.variant}>
                    <th scope="row">{a.variant === "control" ? "control (usual tutor)" : a.variant}</th>
                    <td>{num(a.users)}</td>
                    <td>{num(a.turns)}</td>
                    <td>{formatInterval(a.tokens_per_turn, 0)}</td>
                    <td>{formatInterval(a.rating, 1)}</td>
                    <td>{formatRate(a.escalation_rate)}</td>
                    <td>{formatRate(a.guardrail_trigger_rate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted small">
            <strong>Hint escalation</strong> is the share of an arm's tutor turns where the learner asked for a hint: the measure a hint
            policy moves (fewer means learners tried more on their own). Intervals that overlap a lot mean the arms can't be told apart
            yet; "n = 1" means too few turns for an interval. Only turns recorded while this experiment ran count.
          </p>
        </>
      )}
    </div>
  );
}

function CreateForm({ courses, versions, onCreated }: { courses: Course[]; versions: string[]; onCreated(e: Experiment): void }) {
  const id = useId();
  const [form, setForm] = useState<ExperimentForm>(EMPTY_FORM);
  const [errors, setErrors] = useState<FormErrors>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState("");

  const setRow = (index: number, patch: Partial<ExperimentForm["variants"][number]>) =>
    setForm({ ...form, variants: form.variants.map((r, i) => (i === index ? { ...r, ...patch } : r)) });

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
      onCreated(await experimentsApi.create(checked.body));
      setForm(EMPTY_FORM);
      setErrors({});
    } catch (err) {
      const fields = err instanceof ApiError ? serverFieldErrors(err.problem) : {};
      setErrors(fields);
      if (!Object.keys(fields).length) setFailure(message(err));
    } finally {
      setBusy(false);
    }
  }

  const described = (field: string, error: string | undefined) =>
    error ? { "aria-invalid": true as const, "aria-describedby": `${id}-${field}-error` } : {};
  const fieldError = (field: string, error: string | undefined) =>
    error && (
      <span id={`${id}-${field}-error`} className="error-text small">
        {error}
      </span>
    );

  return (
    <form onSubmit={submit} noValidate aria-labelledby={`${id}-title`} className="experiment-form" data-testid="experiment-form">
      <h3 id={`${id}-title`}>New experiment</h3>
      <p>
        <label htmlFor={`${id}-key`}>Experiment key</label>
        <input id={`${id}-key`} value={form.key} placeholder="attempt-first-nov" {...described("key", errors.key)} onChange={(x) => setForm({ ...form, key: x.target.value })} />
        {fieldError("key", errors.key)}
      </p>
      <p>
        <label htmlFor={`${id}-description`}>Description (optional)</label>
        <textarea
          id={`${id}-description`}
          rows={2}
          value={form.description}
          {...described("description", errors.description)}
          onChange={(x) => setForm({ ...form, description: x.target.value })}
        />
        {fieldError("description", errors.description)}
      </p>
      <p>
        <label htmlFor={`${id}-course`}>Course</label>
        <select id={`${id}-course`} value={form.courseId} {...described("course", errors.courseId)} onChange={(x) => setForm({ ...form, courseId: x.target.value })}>
          <option value="">All courses</option>
          {courses.map((c) => (
            <option key={c.id} value={c.id}>
              {c.title}
            </option>
          ))}
        </select>
        {fieldError("course", errors.courseId)}
      </p>
      <p>
        <label htmlFor={`${id}-rollout`}>Rollout (% of learners)</label>
        <input
          id={`${id}-rollout`}
          type="number"
          min={0}
          max={100}
          step={1}
          value={form.rollout}
          {...described("rollout", errors.rollout)}
          onChange={(x) => setForm({ ...form, rollout: x.target.value })}
        />
        {fieldError("rollout", errors.rollout)}
      </p>
      <fieldset {...(errors.variants ? { "aria-describedby": `${id}-variants-error` } : {})}>
        <legend>Variants</legend>
        {form.variants.map((row, i) => {
          const rowId = `${id}-v${i}`;
          const error = errors.rows?.[i];
          return (
            <div key={i} className="variant-row" role="group" aria-label={`Variant ${i + 1}`} data-testid="variant-row">
              <label htmlFor={`${rowId}-key`}>Variant key</label>
              <input id={`${rowId}-key`} value={row.key} {...described(`v${i}`, error)} onChange={(x) => setRow(i, { key: x.target.value })} />
              <label htmlFor={`${rowId}-version`}>Prompt version</label>
              <select id={`${rowId}-version`} value={row.promptVersion} onChange={(x) => setRow(i, { promptVersion: x.target.value })}>
                <option value="">Usual assignment</option>
                {versions.map((v) => (
                  <option key={v} value={v}>
                    {v}
                  </option>
                ))}
              </select>
              <label htmlFor={`${rowId}-policy`}>Hint policy</label>
              <select id={`${rowId}-policy`} value={row.hintPolicy} onChange={(x) => setRow(i, { hintPolicy: x.target.value as HintPolicy })}>
                {HINT_POLICIES.map((p) => (
                  <option key={p.policy} value={p.policy}>
                    {p.label}
                  </option>
                ))}
              </select>
              <label htmlFor={`${rowId}-weight`}>Weight</label>
              <input id={`${rowId}-weight`} type="number" min={1} max={1000} step={1} value={row.weight} onChange={(x) => setRow(i, { weight: x.target.value })} />
              {form.variants.length > 1 && (
                <button
                  type="button"
                  className="button secondary small"
                  onClick={() => setForm({ ...form, variants: form.variants.filter((_, j) => j !== i) })}
                >
                  Remove<span className="visually-hidden"> variant {i + 1}</span>
                </button>
              )}
              {fieldError(`v${i}`, error)}
            </div>
          );
        })}
        {form.variants.length < MAX_VARIANTS && (
          <p>
            <button type="button" className="button secondary" onClick={() => setForm({ ...form, variants: [...form.variants, newVariantRow(form.variants)] })}>
              Add a variant
            </button>
          </p>
        )}
        {fieldError("variants", errors.variants)}
      </fieldset>
      <p>
        <button type="submit" className="button" disabled={busy}>
          {busy ? "Creating…" : "Create experiment"}
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
