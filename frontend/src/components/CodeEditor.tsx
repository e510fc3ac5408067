/**
 * The code editor for coding tasks: the shared CodeMirror set-up (`useCodeMirror`, loaded on demand so the
 * first page load stays small) with Python highlighting and four-space indentation. Tab indents (Escape,
 * then Tab, leaves the editor). Until it has loaded, and if it fails to load, a plain textarea stands in,
 * so the learner can always type.
 */
import { loadOnce, useCodeMirror } from "./useCodeMirror";

const loadPython = loadOnce(() => import("@codemirror/lang-python"));

export function CodeEditor({
  value,
  onChange,
  label,
  maxLength,
}: {
  value: string;
  onChange(value: string): void;
  label: string;
  maxLength?: number;
}) {
  const { host, ready, failed } = useCodeMirror({
    value,
    onChange,
    label,
    testId: "code-editor",
    indent: 4,
    maxLength,
    loadExtra: loadPython,
    extensions: (python) => [python.python()],
  });

  return (
    <div className="code-editor" data-ready={ready ? "true" : "false"}>
      <div ref={host} className="code-editor-host" hidden={!ready} />
      {!ready && (
        <textarea
          className="code-input"
          rows={14}
          aria-label={label}
          value={value}
          spellCheck={false}
          maxLength={maxLength}
          onChange={(e) => onChange(e.target.value)}
          data-testid={failed ? "code-fallback" : "code-loading"}
        />
      )}
      {ready && <p className="muted small editor-hint">Tab indents. To leave the editor with the keyboard, press Escape and then Tab.</p>}
    </div>
  );
}
