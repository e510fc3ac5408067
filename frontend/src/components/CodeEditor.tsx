/**
 * The code editor for coding tasks: CodeMirror 6 (MIT), loaded on demand so the first page load stays
 * small. Tab indents (Escape, then Tab, leaves the editor: CodeMirror's documented keyboard escape),
 * Python highlighting, line numbers, undo history and bracket matching. Until it has loaded, and if it
 * fails to load, a plain textarea stands in, so the learner can always type.
 */
import { useEffect, useRef, useState } from "react";

type Loaded = Awaited<ReturnType<typeof loadCodeMirror>>;

async function loadCodeMirror() {
  const [state, view, commands, language, python] = await Promise.all([
    import("@codemirror/state"),
    import("@codemirror/view"),
    import("@codemirror/commands"),
    import("@codemirror/language"),
    import("@codemirror/lang-python"),
  ]);
  return { state, view, commands, language, python };
}

let loading: Promise<Loaded> | null = null;

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
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<InstanceType<Loaded["view"]["EditorView"]> | null>(null);
  const changed = useRef(onChange);
  changed.current = onChange;
  const [ready, setReady] = useState(false);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    let live = true;
    loading ??= loadCodeMirror();
    loading.then(
      (cm) => {
        if (!live || !host.current) return;
        const { EditorView, keymap, lineNumbers, highlightActiveLine, drawSelection } = cm.view;
        const { defaultKeymap, history, historyKeymap, indentWithTab } = cm.commands;
        const { bracketMatching, defaultHighlightStyle, indentOnInput, indentUnit, syntaxHighlighting } = cm.language;
        const { EditorState } = cm.state;
        view.current = new EditorView({
          parent: host.current,
          state: EditorState.create({
            doc: value,
            extensions: [
              lineNumbers(),
              history(),
              drawSelection(),
              highlightActiveLine(),
              indentOnInput(),
              bracketMatching(),
              indentUnit.of("    "),
              EditorState.tabSize.of(4),
              syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
              cm.python.python(),
              keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap]),
              EditorView.contentAttributes.of({ "aria-label": label, "data-testid": "code-editor" }),
              EditorState.changeFilter.of((tr) => !maxLength || tr.newDoc.length <= maxLength),
              EditorView.updateListener.of((update) => {
                if (update.docChanged) changed.current(update.state.doc.toString());
              }),
            ],
          }),
        });
        setReady(true);
      },
      () => live && setFailed(true),
    );
    return () => {
      live = false;
      view.current?.destroy();
      view.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // A value set from outside (the last submission restored, the starter code) replaces the document.
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
    }
  }, [value, ready]);

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
