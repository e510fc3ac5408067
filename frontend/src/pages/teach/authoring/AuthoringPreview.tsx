import { Link, useParams, useSearchParams } from "react-router";

import { PathwayMap } from "../../../components/PathwayMap";
import { ErrorNote, Spinner } from "../../../components/Status";
import { renderMarkdown } from "../../../lib/markdown";
import { useResource } from "../../../lib/useResource";
import { authoringApi } from "./model";
import { PreviewTutor } from "./PreviewTutor";
import "../../../styles/player.css";
import "../../../styles/teach.css";

const KIND_LABEL: Record<string, string> = { lesson: "Lesson", exercise: "Exercise", assessment: "Assessment" };

/** The draft as a learner would see it: the pathway map and each item's page, in a frame marked "Preview"
 * (nobody is enrolled; nothing here is saved or visible to learners). */
export function AuthoringPreview() {
  const { id = "" } = useParams();
  const [params] = useSearchParams();
  const preview = useResource(() => authoringApi.preview(id), [id]);
  if (preview.loading) return <Spinner label="Building the preview…" />;
  if (preview.error || !preview.data) return <ErrorNote message={preview.error ?? "No preview"} onRetry={preview.reload} />;
  const { course, items } = preview.data;
  const current = items.find((i) => i.id === params.get("item")) ?? items[0];
  return (
    <section className="authoring-preview" aria-labelledby="preview-title">
      <div className="preview-banner" role="note">
        <strong>Preview</strong> of the draft (version {preview.data.version}): learners do not see it until you publish.{" "}
        <Link to={`/teach/authoring/${id}`}>Back to the editor</Link>
      </div>
      <div className="player">
        <header className="player-head">
          <h2>{course.title}</h2>
          <p className="muted">{course.summary}</p>
        </header>
        <div className="player-body">
          <div className="player-side">
            <PathwayMap
              course={course}
              progress={null}
              currentItemId={current?.id}
              itemHref={(itemId) => `/teach/authoring/${id}/preview?item=${itemId}`}
            />
          </div>
        <article className="player-main item-view" aria-labelledby="preview-title">
          {current ? (
            <>
              <h1 id="preview-title">{current.title}</h1>
              <p className="muted">
                {KIND_LABEL[current.kind] ?? current.kind} · {current.estimated_minutes} min · {current.bloom_level}
                {current.assessment_type ? ` · ${current.assessment_type.replace("_", " ")}` : ""}
              </p>
              <div className="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(current.body) }} />
            </>
          ) : (
            <h1 id="preview-title">{course.title}</h1>
          )}
        </article>
        {current && <PreviewTutor draftId={id} itemId={current.id} itemTitle={current.title} />}
        </div>
      </div>
    </section>
  );
}
