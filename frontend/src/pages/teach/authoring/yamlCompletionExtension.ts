/**
 * Course-schema completion in the YAML editor: CodeMirror's autocompletion with one source, which asks the pure
 * `completeYaml` (./yamlCompletion) what fits at the cursor given the course file's JSON Schema.
 *
 * Everything heavy stays out of the page until the editor needs it: the extension is a tiny view plugin built
 * from the CodeMirror modules the editor has already loaded on demand; it then loads @codemirror/autocomplete
 * (its own lazy chunk) and the schema (`GET /v1/authoring/schema`, once per page; the browser revalidates it
 * with its ETag) and adds the completion to the editor's configuration.
 */
import type { CompletionContext, CompletionResult } from "@codemirror/autocomplete";
import type * as State from "@codemirror/state";
import type * as View from "@codemirror/view";

import { api, must } from "../../../api/client";
import { completeYaml, type JsonSchema } from "./yamlCompletion";

const RETRY_SCHEMA_AFTER_MS = 30_000; // a failed fetch (offline, a deploy) is tried again, but not per keystroke
const WORD = /^[\w-]*$/;

let schema: Promise<JsonSchema | null> | null = null;

/** The course file's JSON Schema, fetched once per page (null while it cannot be had: no completion then). */
export function courseSchema(): Promise<JsonSchema | null> {
  schema ??= must(api.GET("/v1/authoring/schema")).then(
    (document) => document as JsonSchema,
    () => {
      setTimeout(() => (schema = null), RETRY_SCHEMA_AFTER_MS);
      return null;
    },
  );
  return schema;
}

/** The completion source: keys while typing one (or on Ctrl-Space anywhere), values after `key: `. */
export async function courseCompletionSource(context: CompletionContext): Promise<CompletionResult | null> {
  const document = await courseSchema();
  if (!document) return null;
  const found = completeYaml(context.state.doc.toString(), context.pos, document);
  // A key with nothing typed yet (a new line) waits for a letter, or for an explicit request.
  if (!found || (found.kind === "key" && found.from === context.pos && !context.explicit)) return null;
  return {
    from: found.from,
    validFor: WORD,
    options: found.options.map(({ label, apply, type, detail, info, boost }) => ({
      label,
      apply,
      type,
      boost,
      ...(detail ? { detail } : {}),
      ...(info ? { info } : {}),
    })),
  };
}

/** The editor extension; `cm` is the CodeMirror the editor loaded (its state and view modules). */
export function courseSchemaCompletion(cm: { state: typeof State; view: typeof View }): State.Extension {
  return cm.view.ViewPlugin.define((view) => {
    let live = true;
    void courseSchema();
    import("@codemirror/autocomplete").then(
      ({ autocompletion }) => {
        if (!live) return;
        view.dispatch({
          effects: cm.state.StateEffect.appendConfig.of(autocompletion({ override: [courseCompletionSource] })),
        });
      },
      () => undefined, // no completion; the editor works without it
    );
    return {
      destroy() {
        live = false;
      },
    };
  });
}
