import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { Dialog } from "../../../components/Dialog";
import { ErrorNote, Spinner } from "../../../components/Status";
import {
  AuthoringError,
  authoringApi,
  LEVELS,
  readForm,
  STARTER_YAML,
  statusLabel,
  writeField,
  type CourseDiff,
  type DraftDetail,
  type FormField,
  type YamlError,
} from "./model";
import { YamlEditor } from "./YamlEditor";
import "../../../styles/teach.css";

const VALIDATE_AFTER_MS = 600; // check as the author types, once they pause

function ChangeList({ title, items }: { title: string; items: { slug: string; title: string; fields?: string[] }[] }) {
  if (!items.length) return null;
  return (
    <>
      <h3>{title}</h3>
      <ul>
        {items.map((i) => (
          <li key={i.slug}>
            {i.title} <span className="muted">({i.slug}{i.fields?.length ? `: ${i.fields.join(", ")}` : ""})</span>
          </li>
        ))}
      </ul>
    </>
  );
}

/** Write a course: the YAML editor with inline errors, a form view of the common fields, upload and
 * download of the file, save, preview and publish (with the changes shown before publishing). */
export function AuthoringEdit() {
  const { id } = useParams();
  const navigate = useNavigate();
  const [draft, setDraft] = useState<DraftDetail | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [yaml, setYaml] = useState(id ? "" : STARTER_YAML);
  const [saved, setSaved] = useState(id ? "" : null as string | null);
  const [errors, setErrors] = useState<YamlError[]>([]);
  const [checking, setChecking] = useState(false);
  const [notice, setNotice] = useState("");
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState(false);
  const [diff, setDiff] = useState<CourseDiff | null>(null);
  const [confirming, setConfirming] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const form = readForm(yaml);
  const dirty = saved === null || yaml !== saved;

  useEffect(() => {
    if (!id) return;
    let live = true;
    authoringApi.get(id).then(
      (d) => {
        if (!live) return;
        setDraft(d);
        setYaml(d.source);
        setSaved(d.source);
      },
      (e: unknown) => live && setLoadError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [id]);

  useEffect(() => {
    if (!yaml.trim()) return;
    let live = true;
    const timer = setTimeout(() => {
      setChecking(true);
      authoringApi.validate(yaml).then(
        () => live && setErrors([]),
        (e: unknown) => {
          if (!live) return;
          if (e instanceof AuthoringError && e.yamlErrors.length) setErrors(e.yamlErrors);
          else setErrors([{ path: "$", line: null, message: e instanceof Error ? e.message : String(e) }]);
        },
      ).finally(() => live && setChecking(false));
    }, VALIDATE_AFTER_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [yaml]);

  function field(key: FormField, value: string) {
    setYaml((current) => writeField(current, key, value));
  }

  async function save(): Promise<string | null> {
    setBusy(true);
    setProblem("");
    setNotice("");
    try {
      if (!id) {
        const created = await authoringApi.create(yaml);
        setSaved(yaml);
        navigate(`/teach/authoring/${created.id}`, { replace: true });
        return created.id;
      }
      const result = await authoringApi.save(id, yaml);
      setSaved(yaml);
      setDraft(await authoringApi.get(id));
      setNotice(result.status === "draft" ? "Draft saved. Learners see nothing until you publish." : "Draft saved; publish to show learners the changes.");
      return id;
    } catch (e) {
      if (e instanceof AuthoringError && e.yamlErrors.length) setErrors(e.yamlErrors);
      setProblem(e instanceof Error ? e.message : String(e));
      return null;
    } finally {
      setBusy(false);
    }
  }

  async function openPublish() {
    if (!id) return;
    if (dirty && !(await save())) return;
    setProblem("");
    try {
      setDiff(await authoringApi.diff(id));
      setConfirming(true);
    } catch (e) {
      setProblem(e instanceof Error ? e.message : String(e));
    }
  }

  async function publish() {
    if (!id) return;
    setBusy(true);
    try {
      const result = await authoringApi.publish(id);
      setConfirming(false);
      setDraft(await authoringApi.get(id));
      const removed = result.removed_items?.length ? ` Removed items: ${result.removed_items.join(", ")}.` : "";
      const who =
        result.version > 1
          ? "New learners get it; learners in progress stay on their version until you move them to the latest."
          : "Learners now see it in the catalogue.";
      setNotice(`Published version ${result.version}. ${who}${removed}`);
    } catch (e) {
      setConfirming(false);
      setProblem(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  async function migrate() {
    if (!id) return;
    setBusy(true);
    setProblem("");
    try {
      const report = await authoringApi.migrate(id);
      const removed = report.removed_items.length
        ? ` Items their versions had that version ${report.version} has not: ${report.removed_items.join(", ")}.`
        : "";
      setNotice(
        report.migrated
          ? `Moved ${report.migrated} learner${report.migrated === 1 ? "" : "s"} to version ${report.version}.${removed}`
          : `Every learner is already on version ${report.version}.`,
      );
    } catch (e) {
      setProblem(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  function download() {
    const url = URL.createObjectURL(new Blob([yaml], { type: "application/yaml" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `${draft?.slug ?? "course"}.yaml`;
    link.click();
    URL.revokeObjectURL(url);
  }

  async function upload(file: File | undefined) {
    if (!file) return;
    setYaml(await file.text());
    setNotice(`Loaded ${file.name}. Save to keep it.`);
  }

  if (loadError) return <ErrorNote message={loadError} />;
  if (id && saved === "" && !draft) return <Spinner label="Opening the course…" />;

  return (
    <section aria-labelledby="edit-title" className="authoring">
      <div className="page-head">
        <h1 id="edit-title">{id ? form.title || draft?.title || "Course" : "New course"}</h1>
        {draft && <span className={`tag status-${draft.status}`}>{statusLabel(draft)}</span>}
      </div>
      <p>
        <Link to="/teach/authoring">All authored courses</Link>
      </p>
      <div className="toolbar">
        <button type="button" className="button" onClick={() => void save()} disabled={busy || !dirty}>
          {id ? "Save draft" : "Create draft"}
        </button>
        {id && !dirty && (
          <Link className="button secondary" to={`/teach/authoring/${id}/preview`}>
            Preview
          </Link>
        )}
        {id && dirty && (
          <button type="button" className="button secondary" disabled title="Save the draft to preview it">
            Preview (save first)
          </button>
        )}
        {id && (
          <button type="button" className="button secondary" onClick={() => void openPublish()} disabled={busy || errors.length > 0}>
            Publish…
          </button>
        )}
        {draft?.published_version && (
          <button type="button" className="button secondary" onClick={() => void migrate()} disabled={busy}>
            Move learners to the latest version
          </button>
        )}
        <button type="button" className="button secondary" onClick={download}>
          Download YAML
        </button>
        <button type="button" className="button secondary" onClick={() => fileInput.current?.click()}>
          Upload YAML
        </button>
        <input
          ref={fileInput}
          type="file"
          accept=".yaml,.yml,application/yaml,text/yaml"
          hidden
          aria-label="Upload a course YAML file"
          onChange={(e) => void upload(e.target.files?.[0])}
        />
      </div>
      <p role="status" aria-live="polite" className="notice">
        {notice}
        {dirty && !notice ? "Unsaved changes." : ""}
      </p>
      {problem && (
        <p role="alert" className="error-text">
          {problem}
        </p>
      )}
      <fieldset className="authoring-form">
        <legend>Common fields</legend>
        <label>
          Title
          <input value={form.title} onChange={(e) => field("title", e.target.value)} />
        </label>
        <label>
          Summary
          <input value={form.summary} onChange={(e) => field("summary", e.target.value)} />
        </label>
        <label>
          Level
          <select value={form.level} onChange={(e) => field("level", e.target.value)}>
            {!LEVELS.includes(form.level) && <option value={form.level}>{form.level || "(not set)"}</option>}
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tags (comma-separated)
          <input value={form.tags} onChange={(e) => field("tags", e.target.value)} />
        </label>
        <label>
          Estimated hours
          <input type="number" min={0} value={form.estimated_hours} onChange={(e) => field("estimated_hours", e.target.value)} />
        </label>
      </fieldset>
      <YamlEditor value={yaml} onChange={setYaml} errors={errors} label="Course YAML" />
      <div aria-live="polite" className="authoring-errors">
        {checking && <span className="muted">Checking…</span>}
        {!checking && errors.length === 0 && yaml.trim() && <span className="ok-text">No problems found.</span>}
        {errors.length > 0 && (
          <>
            <h2>
              {errors.length} problem{errors.length === 1 ? "" : "s"}
            </h2>
            <ul data-testid="yaml-errors">
              {errors.map((e, n) => (
                <li key={n}>
                  {e.line ? `Line ${e.line}` : "File"}
                  {e.path && e.path !== "$" ? ` (${e.path})` : ""}: {e.message}
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
      <Dialog open={confirming} title="Publish this course?" onClose={() => setConfirming(false)}>
        {diff && (
          <div className="authoring-diff">
            <p>
              {diff.base_version ? `Changes since version ${diff.base_version}:` : "First version: learners will see every item below."}
            </p>
            {diff.unchanged && <p>Nothing has changed since the last published version.</p>}
            {diff.course_fields.length > 0 && <p>Course details changed: {diff.course_fields.join(", ")}.</p>}
            <ChangeList title="Added" items={diff.added} />
            <ChangeList title="Removed" items={diff.removed} />
            <ChangeList title="Changed" items={diff.changed} />
          </div>
        )}
        <div className="toolbar">
          <button type="button" className="button" onClick={() => void publish()} disabled={busy || diff?.unchanged} data-autofocus>
            Publish
          </button>
          <button type="button" className="button secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      </Dialog>
    </section>
  );
}
