/**
 * The one CodeMirror 6 (MIT) set-up behind the code editor and the course YAML editor: loaded on demand (the
 * core once for both, each editor's language with it), so no page that shows neither carries it. Line
 * numbers, undo history, bracket matching, indentation by spaces, Tab indents (Escape, then Tab, leaves the
 * editor: CodeMirror's documented keyboard escape). Until it has loaded (`ready`), and if it fails to load
 * (`failed`), the caller shows a plain textarea, so people can always type.
 *
 * Only types are imported statically: the modules themselves arrive with the first editor.
 */
import { useEffect, useRef, useState, type RefObject } from "react";
import type { Extension } from "@codemirror/state";

async function loadCore() {
  const [state, view, commands, language] = await Promise.all([
    import("@codemirror/state"),
    import("@codemirror/view"),
    import("@codemirror/commands"),
    import("@codemirror/language"),
  ]);
  return { state, view, commands, language };
}

export type CodeMirrorCore = Awaited<ReturnType<typeof loadCore>>;
export type CodeMirrorView = InstanceType<CodeMirrorCore["view"]["EditorView"]>;

let core: Promise<CodeMirrorCore> | null = null;

/** A loader that loads once: pass one made at module level (an editor's language modules). */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | null = null;
  return () => (loading ??= load());
}

export interface CodeMirrorOptions<Extra> {
  /** The document; a value set from outside (a restored submission, the form view) replaces it. */
  value: string;
  onChange(value: string): void;
  /** The editable area's accessible name. */
  label: string;
  /** The editable area's `data-testid`. */
  testId: string;
  /** Spaces per indentation level (also the tab size). */
  indent: number;
  /** Refuses edits that would make the document longer. */
  maxLength?: number;
  /** The editor's own modules (its language), loaded with the core; make it with `loadOnce`. */
  loadExtra(): Promise<Extra>;
  /** The editor's own extensions (its language, a lint gutter), placed after the highlighting. */
  extensions(extra: Extra): Extension[];
}

export interface CodeMirror<Extra> {
  /** The element the editor is mounted in (keep it rendered, `hidden` until `ready`). */
  host: RefObject<HTMLDivElement | null>;
  view: RefObject<CodeMirrorView | null>;
  /** The editor's own modules once loaded (for instance to dispatch lint diagnostics). */
  extra: RefObject<Extra | null>;
  ready: boolean;
  failed: boolean;
}

export function useCodeMirror<Extra>(options: CodeMirrorOptions<Extra>): CodeMirror<Extra> {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<CodeMirrorView | null>(null);
  const extra = useRef<Extra | null>(null);
  const changed = useRef(options.onChange);
  changed.current = options.onChange;
  const [ready, setReady] = useState(false);
  const [failed, setFailed] = useState(false);
  const { value } = options;

  // The editor is created once, with the options of the first render (the later ones are not read).
  useEffect(() => {
    let live = true;
    core ??= loadCore();
    const { label, testId, indent, maxLength, loadExtra, extensions } = options;
    Promise.all([core, loadExtra()]).then(
      ([cm, loaded]) => {
        if (!live || !host.current) return;
        extra.current = loaded;
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
              indentUnit.of(" ".repeat(indent)),
              EditorState.tabSize.of(indent),
              syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
              ...extensions(loaded),
              keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap]),
              EditorView.contentAttributes.of({ "aria-label": label, "data-testid": testId }),
              ...(maxLength ? [EditorState.changeFilter.of((tr) => tr.newDoc.length <= maxLength)] : []),
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

  // A value set from outside replaces the document.
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
    }
  }, [value, ready]);

  return { host, view, extra, ready, failed };
}
