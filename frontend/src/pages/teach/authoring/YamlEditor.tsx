/**
 * The course YAML editor: the shared CodeMirror set-up (`useCodeMirror`, loaded on demand so no learner page
 * carries it) with YAML highlighting, two-space indentation and lint markers (the server's errors at their
 * lines). Until it has loaded, and if it fails to load, a plain textarea stands in, so the author can
 * always type.
 */
import { useEffect } from "react";

import { loadOnce, useCodeMirror } from "../../../components/useCodeMirror";
import { markersFor, type YamlError } from "./model";
import { courseSchemaCompletion } from "./yamlCompletionExtension";

// State and view are the core's own modules (already loaded with it): the schema completion builds on them.
const loadYaml = loadOnce(async () => {
  const [yaml, lint, state, view] = await Promise.all([
    import("@codemirror/lang-yaml"),
    import("@codemirror/lint"),
    import("@codemirror/state"),
    import("@codemirror/view"),
  ]);
  return { yaml, lint, state, view };
});

export function YamlEditor({
  value,
  onChange,
  errors,
  label,
}: {
  value: string;
  onChange(value: string): void;
  errors: YamlError[];
  label: string;
}) {
  const { host, view, extra, ready, failed } = useCodeMirror({
    value,
    onChange,
    label,
    testId: "yaml-editor",
    indent: 2,
    loadExtra: loadYaml,
    extensions: ({ yaml, lint, state, view }) => [yaml.yaml(), lint.lintGutter(), courseSchemaCompletion({ state, view })],
  });

  useEffect(() => {
    const editor = view.current;
    const loaded = extra.current;
    if (!editor || !loaded) return;
    const text = editor.state.doc.toString();
    const diagnostics = markersFor(text, errors).map((m) => ({
      from: m.from,
      to: m.to,
      severity: "error" as const,
      message: `Line ${m.line}: ${m.message}`,
    }));
    editor.dispatch(loaded.lint.setDiagnostics(editor.state, diagnostics));
  }, [errors, ready, value, view, extra]);

  return (
    <div className="yaml-editor">
      <div ref={host} hidden={!ready} />
      {!ready && (
        <textarea
          aria-label={label}
          className="yaml-fallback"
          value={value}
          rows={24}
          spellCheck={false}
          onChange={(e) => onChange(e.target.value)}
          aria-busy={!failed}
        />
      )}
    </div>
  );
}
