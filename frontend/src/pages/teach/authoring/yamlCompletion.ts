/**
 * Completion for the course YAML editor, driven by the course file's JSON Schema (`GET /v1/authoring/schema`,
 * generated from the Structs the server validates with). Pure: text, cursor offset and schema in, options out.
 *
 * No second YAML parser: the path at the cursor is read from indentation, which is all the course format
 * needs. Every line before and after the cursor is scanned once, keeping a stack of the nodes that enclose
 * it: a mapping key at its column, a `- ` list item at its dash's column (numbered within its list). Block
 * scalars (`body: |`) are skipped, so nothing is offered inside Markdown; flow collections (`[a, b]`) are
 * single-line values and ignored.
 *
 * At a key position (`  ti|`, `- |`), the keys the schema allows there and the mapping does not have yet,
 * required ones first; at a value position (`bloom_level: |`), the enum values or true/false. `$ref`s into
 * `$defs` are resolved and `anyOf`/`oneOf` members followed; a tagged union (the assessment `type`) is
 * narrowed by the tag once it is written, and before that offers the keys all members share, the tag first.
 */

export interface JsonSchema {
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
}

export type Segment = string | number;

export interface YamlCompletionOption {
  label: string;
  /** The text inserted: `key: `, or `key:` and a new indented line for a mapping or a list of mappings. */
  apply: string;
  type: "property" | "enum" | "keyword";
  /** The value's type (`integer 1–600`, `list of Item`, `lesson | exercise`), `· required` for a required key. */
  detail: string;
  /** The field's description, or the description of the structure it holds. */
  info?: string;
  /** Higher first: required keys, then the others; the default value first among values. */
  boost: number;
}

export interface YamlCompletions {
  kind: "key" | "value";
  /** The YAML path of the mapping the key belongs to (`["modules", 0, "items", 1]`). */
  path: Segment[];
  /** Where the word being completed starts (the options replace from here to the cursor). */
  from: number;
  options: YamlCompletionOption[];
}

// =========================================================================== the schema

const MAX_REF_DEPTH = 32;

function deref(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let depth = 0; current.$ref && depth < MAX_REF_DEPTH; depth++) {
    const name = current.$ref.startsWith("#/$defs/") ? current.$ref.slice("#/$defs/".length) : null;
    const target = name === null ? undefined : root.$defs?.[name];
    if (!target) return {};
    current = target;
  }
  return current;
}

/** The concrete alternatives of a schema: references resolved, unions flattened, `null` dropped. */
function alternatives(schema: JsonSchema, root: JsonSchema, depth = 0): JsonSchema[] {
  const resolved = deref(schema, root);
  const members = resolved.anyOf ?? resolved.oneOf;
  if (members && depth < MAX_REF_DEPTH) return unique(members.flatMap((m) => alternatives(m, root, depth + 1)));
  if (resolved.type === "null") return [];
  return [resolved];
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

const isObject = (s: JsonSchema) => s.type === "object" || s.properties !== undefined;
const isArray = (s: JsonSchema) => s.type === "array";

/** The one value a tag property allows (`type: {enum: ["code"]}`), if it is one. */
function tagValue(schema: JsonSchema): string | null {
  if (schema.const !== undefined) return String(schema.const);
  return schema.enum?.length === 1 ? String(schema.enum[0]) : null;
}

/** The members of a union that agree with the tags written in the mapping (all of them if none is written). */
function narrow(schemas: JsonSchema[], scalars: Map<string, string> | undefined, root: JsonSchema): JsonSchema[] {
  if (schemas.length < 2 || !scalars?.size) return schemas;
  const kept = schemas.filter((s) =>
    [...scalars].every(([key, value]) => {
      const property = s.properties?.[key];
      const tag = property ? tagValue(deref(property, root)) : null;
      return tag === null || tag === value;
    }),
  );
  return kept.length ? kept : schemas;
}

type ScalarsAt = (path: Segment[]) => Map<string, string> | undefined;

/** The schemas a node at `path` may match (several inside an undecided union). */
function schemasAt(root: JsonSchema, path: Segment[], scalarsAt: ScalarsAt): JsonSchema[] {
  let current = narrow(alternatives(root, root), scalarsAt([]), root);
  path.forEach((segment, depth) => {
    const next = current.flatMap((s) => {
      if (typeof segment === "number") return isArray(s) && s.items ? [s.items] : [];
      const property = isObject(s) ? s.properties?.[segment] : undefined;
      return property ? [property] : [];
    });
    current = narrow(unique(next.flatMap((s) => alternatives(s, root))), scalarsAt(path.slice(0, depth + 1)), root);
  });
  return current;
}

function range(s: JsonSchema): string {
  if (s.minimum !== undefined && s.maximum !== undefined) return ` ${s.minimum}–${s.maximum}`;
  if (s.minimum !== undefined) return ` ≥ ${s.minimum}`;
  if (s.maximum !== undefined) return ` ≤ ${s.maximum}`;
  return "";
}

function typeLabel(schema: JsonSchema, root: JsonSchema, depth = 0): string {
  const labels = alternatives(schema, root).map((s) => {
    if (s.enum) return s.enum.map(String).join(" | ");
    if (s.const !== undefined) return String(s.const);
    if (isObject(s)) return s.title ?? "mapping";
    if (isArray(s)) return depth < 2 && s.items ? `list of ${typeLabel(s.items, root, depth + 1)}` : "list";
    const type = Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any");
    return type === "string" ? "text" : `${type}${range(s)}`;
  });
  return unique(labels).join(" or ") || "any";
}

/** The field's description, else that of the one structure it holds (not of a union's members). */
function describe(schema: JsonSchema, root: JsonSchema): string | undefined {
  const alts = alternatives(schema, root);
  const only = alts.length === 1 ? alts[0]! : undefined;
  const items = only && isArray(only) && only.items ? alternatives(only.items, root) : [];
  const text =
    schema.description ??
    deref(schema, root).description ??
    only?.description ??
    (items.length === 1 ? items[0]!.description : undefined);
  // Docstrings are reStructuredText: ``code`` and wrapped lines.
  return text?.replace(/``/g, "`").replace(/\s+/g, " ").trim();
}

function shownDefault(value: unknown): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (Array.isArray(value) || typeof value === "object") return null;
  return String(value);
}

/** `key: `, or the key and a new line indented for its mapping (or the first `- ` of its list of mappings). */
function applyFor(key: string, schema: JsonSchema, root: JsonSchema, column: number): string {
  const alts = alternatives(schema, root);
  const inner = " ".repeat(column + 2);
  if (alts.length && alts.every(isObject)) return `${key}:\n${inner}`;
  if (alts.length && alts.every((s) => isArray(s) && s.items && alternatives(s.items, root).every(isObject))) {
    return `${key}:\n${inner}- `;
  }
  return `${key}: `;
}

function keyOptions(
  objects: JsonSchema[],
  present: Set<string>,
  column: number,
  root: JsonSchema,
): YamlCompletionOption[] {
  // An undecided union: only what every member allows (its tag among them), until the tag is written.
  const [first, ...others] = objects;
  if (!first) return [];
  const keys = Object.keys(first.properties ?? {}).filter((k) => others.every((o) => o.properties?.[k]));
  const across = (key: string): JsonSchema => ({ anyOf: objects.map((o) => o.properties![key]!) });
  const required = (k: string) => objects.every((o) => o.required?.includes(k));
  const options = keys
    .filter((key) => !present.has(key))
    .map((key): YamlCompletionOption => {
      const property = first.properties![key]!;
      const isRequired = required(key);
      const fallback = shownDefault(deref(property, root).default ?? property.default);
      const detail = [typeLabel(across(key), root), isRequired ? "required" : fallback ? `default ${fallback}` : ""]
        .filter(Boolean)
        .join(" · ");
      const info = describe(property, root);
      return {
        label: key,
        apply: applyFor(key, property, root, column),
        type: "property",
        detail,
        ...(info ? { info } : {}),
        boost: isRequired ? 1 : 0,
      };
    });
  // Required first; otherwise the schema's order, which is the order of the fields in the course format.
  return options.map((o, i) => [o, i] as const).sort(([a, i], [b, j]) => b.boost - a.boost || i - j).map(([o]) => o);
}

function valueOptions(schemas: JsonSchema[]): YamlCompletionOption[] {
  const values: string[] = [];
  let fallback: string | null = null;
  for (const s of schemas) {
    for (const value of s.enum ?? (s.const !== undefined ? [s.const] : [])) {
      if (value !== null) values.push(String(value));
    }
    if (s.type === "boolean") values.push("true", "false");
    fallback ??= shownDefault(s.default);
  }
  return unique(values).map((value) => ({
    label: value,
    apply: value,
    type: schemas.some((s) => s.type === "boolean") && (value === "true" || value === "false") ? "keyword" : "enum",
    detail: value === fallback ? "default" : "",
    boost: value === fallback ? 1 : 0,
  }));
}

// =========================================================================== the document

interface Frame {
  column: number;
  segment: Segment;
}

interface MappingSeen {
  keys: Set<string>;
  scalars: Map<string, string>; // the key's one-line value, unquoted (for a union's tag)
}

const KEY = /^("[^"]*"|'[^']*'|[^\s#'"\-?:,[\]{}][^:#]*?)[ \t]*:(?:[ \t]+(.*))?$/;
const VALUE_WORD = /^[\w.-]*$/;
const KEY_WORD = /^[A-Za-z_][\w-]*$/;
const BLOCK_SCALAR = /^[|>][0-9+-]*[ \t]*(#.*)?$/;
const DASH = /^-(?:[ \t]+|$)/;

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.at(-1) === t[0]) return t.slice(1, -1);
  return t;
}

function stripComment(value: string): string {
  return value.replace(/(^|[ \t])#.*$/, "").trim();
}

class Scanner {
  frames: Frame[] = [];
  mappings = new Map<string, MappingSeen>();
  /** Inside a block scalar: lines indented more than this column (or blank) are its text. */
  blockAbove: number | null = null;

  static id(path: Segment[]): string {
    return JSON.stringify(path);
  }

  path(): Segment[] {
    return this.frames.map((f) => f.segment);
  }

  mapping(path: Segment[]): MappingSeen {
    const id = Scanner.id(path);
    let seen = this.mappings.get(id);
    if (!seen) this.mappings.set(id, (seen = { keys: new Set(), scalars: new Map() }));
    return seen;
  }

  /** Whether a line (or the text before the cursor) is part of the current block scalar. */
  inBlock(line: string): boolean {
    if (this.blockAbove === null) return false;
    if (!line.trim() || indentOf(line) > this.blockAbove) return true;
    this.blockAbove = null;
    return false;
  }

  /** Enter the list items starting the line (`- `, `- - `); the column and text after them. */
  dashes(column: number, rest: string): [number, string] {
    for (let dash = DASH.exec(rest); dash; dash = DASH.exec(rest)) {
      let index = 0;
      while (this.frames.length) {
        const top = this.frames.at(-1)!;
        if (top.column < column || (top.column === column && typeof top.segment === "string")) break;
        this.frames.pop();
        if (top.column === column && typeof top.segment === "number") index = top.segment + 1;
      }
      this.frames.push({ column, segment: index });
      column += dash[0].length;
      rest = rest.slice(dash[0].length);
    }
    return [column, rest];
  }

  /** The enclosing nodes of a key at `column` (a copy: the stack itself is left for the next line). */
  parentsOf(column: number): Frame[] {
    const parents = [...this.frames];
    while (parents.length && parents.at(-1)!.column >= column) parents.pop();
    return parents;
  }

  line(line: string): void {
    if (this.inBlock(line)) return;
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#") || trimmed === "---" || trimmed === "...") return;
    const [column, rest] = this.dashes(indentOf(line), line.trimStart());
    if (BLOCK_SCALAR.test(rest)) {
      this.blockAbove = this.frames.at(-1)?.column ?? 0; // `- |`: the item's text
      return;
    }
    const key = KEY.exec(rest);
    if (!key) return; // a scalar item, a flow collection, a continued plain scalar
    this.frames = this.parentsOf(column);
    const name = unquote(key[1]!);
    const value = stripComment(key[2] ?? "");
    const seen = this.mapping(this.path());
    seen.keys.add(name);
    if (value && !/^[|>[{&*!]/.test(value)) seen.scalars.set(name, unquote(value));
    this.frames.push({ column, segment: name });
    if (BLOCK_SCALAR.test(value)) this.blockAbove = column;
  }
}

interface Target {
  kind: "key" | "value";
  path: Segment[]; // the enclosing mapping
  key: string; // the key whose value is completed (value position)
  column: number; // the key's column
  from: number;
}

/** Where the cursor is, from the text before it on its line; null where nothing can be offered. */
function target(scanner: Scanner, before: string, lineStart: number): Target | null {
  // On the cursor's line its column decides, blank or not: deeper than the block's key is the block's text.
  if (scanner.blockAbove !== null) {
    if (indentOf(before) > scanner.blockAbove) return null;
    scanner.blockAbove = null;
  }
  const [column, rest] = scanner.dashes(indentOf(before), before.trimStart());
  const path = scanner.parentsOf(column).map((f) => f.segment);
  if (rest === "" || KEY_WORD.test(rest)) {
    return { kind: "key", path, key: "", column, from: lineStart + before.length - rest.length };
  }
  const key = KEY.exec(rest);
  if (!key || key[2] === undefined || !VALUE_WORD.test(key[2])) return null;
  return { kind: "value", path, key: unquote(key[1]!), column, from: lineStart + before.length - key[2].length };
}

/** The completions at `offset` in `text`, or null when the cursor is somewhere nothing is offered (inside a
 * block scalar or a comment, after a value, at a path the schema does not know). */
export function completeYaml(text: string, offset: number, schema: JsonSchema): YamlCompletions | null {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  const lineEnd = text.indexOf("\n", offset);
  const after = text.slice(offset, lineEnd < 0 ? text.length : lineEnd);
  if (after.trim() && !/^[\w-]*\s*$/.test(after)) return null; // in the middle of a line's text
  const scanner = new Scanner();
  const lines = text.split("\n");
  const cursorLine = text.slice(0, lineStart).split("\n").length - 1;
  let at: Target | null = null;
  for (const [index, line] of lines.entries()) {
    if (index === cursorLine) at = target(scanner, text.slice(lineStart, offset), lineStart);
    else scanner.line(line);
  }
  if (at === null) return null;
  const scalarsAt: ScalarsAt = (path) => scanner.mappings.get(Scanner.id(path))?.scalars;
  const mappings = schemasAt(schema, at.path, scalarsAt).filter(isObject);
  if (at.kind === "key") {
    const present = scanner.mappings.get(Scanner.id(at.path))?.keys ?? new Set<string>();
    const options = keyOptions(mappings, present, at.column, schema);
    return options.length ? { kind: "key", path: at.path, from: at.from, options } : null;
  }
  const values = unique(
    mappings.flatMap((m) => (m.properties?.[at.key] ? alternatives(m.properties[at.key]!, schema) : [])),
  );
  const options = valueOptions(values);
  return options.length ? { kind: "value", path: [...at.path, at.key], from: at.from, options } : null;
}
