/**
 * A small Go text/template engine with the Sprig functions the runner chart uses, so the tests can render
 * bundle/helm without helm (none is installable here). It covers exactly the chart's subset: `{{- -}}` trim
 * markers, comments, if / else if / else, with, range over lists and maps (sorted keys, `$k, $v :=`),
 * define / include, `$` and `$name` variables, pipelines and parenthesised calls; the functions are listed
 * in FUNCTIONS. Anything else throws, so a template that leaves the subset fails the tests instead of
 * rendering something helm would not.
 */
import YAML from "yaml";

type Value = unknown;
type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: string }
  | { kind: "if"; branches: Array<{ pipe: string | undefined; body: Node[] }> }
  | { kind: "with"; pipe: string; body: Node[]; otherwise: Node[] }
  | { kind: "range"; vars: string[]; pipe: string; body: Node[] };

interface Scope {
  dot: Value;
  root: Value;
  vars: Map<string, Value>;
}

/**
 * An int64 made by a function (`int`, `add`). Plain numbers stand for what helm reads from values.yaml:
 * float64, which Go's printf refuses for %d (it prints `%!d(float64=600)`, as helm would).
 */
export class GoInt {
  readonly n: number;
  constructor(n: number) {
    this.n = n;
  }
  toString(): string {
    return String(this.n);
  }
}

/** Go's notion of "empty": false, 0, nil, "", and empty lists and maps. */
export function isEmpty(value: Value): boolean {
  if (value instanceof GoInt) return value.n === 0;
  if (value === undefined || value === null || value === false || value === 0 || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return Object.keys(value).length === 0;
  return false;
}

/** How Go's template prints a value (`{{ x }}`). */
function print(value: Value): string {
  if (value === undefined || value === null) return "<no value>";
  if (value instanceof GoInt) return value.toString();
  if (typeof value === "object")
    throw new Error(`printing a map or list needs toYaml: ${JSON.stringify(value)}`);
  return String(value);
}

function toYaml(value: Value): string {
  if (value === undefined || value === null) return "null";
  return YAML.stringify(value, { indentSeq: false, lineWidth: 0 }).replace(/\n$/, "");
}

function indent(spaces: number, text: string): string {
  const pad = " ".repeat(spaces);
  return pad + text.replaceAll("\n", `\n${pad}`);
}

function printf(format: string, ...args: Value[]): string {
  let i = 0;
  return format.replace(/%([sdv%])/g, (_, verb: string) => {
    if (verb === "%") return "%";
    const arg = args[i++];
    if (verb === "d" && !(arg instanceof GoInt))
      return `%!d(${typeof arg === "number" ? "float64" : typeof arg}=${String(arg)})`;
    return print(arg);
  });
}

/** The Sprig and built-in functions the chart may call. */
const FUNCTIONS: Record<string, (...args: Value[]) => Value> = {
  default: (fallback, value) => (isEmpty(value) ? fallback : value),
  quote: (...values) =>
    values
      .filter((v) => v !== undefined && v !== null)
      .map((v) => JSON.stringify(typeof v === "string" ? v : print(v)))
      .join(" "),
  toYaml,
  nindent: (n, text) => `\n${indent(Number(n), String(text))}`,
  indent: (n, text) => indent(Number(n), String(text)),
  printf: (format, ...args) => printf(String(format), ...args),
  trunc: (n, text) => String(text).slice(0, Number(n)),
  trimSuffix: (suffix, text) =>
    String(text).endsWith(String(suffix)) ? String(text).slice(0, -String(suffix).length) : String(text),
  add: (...numbers) => new GoInt(numbers.reduce((sum: number, n) => sum + Math.trunc(Number(n)), 0)),
  int: (n) => new GoInt(Math.trunc(Number(n))),
  list: (...items) => items,
  not: (value) => isEmpty(value),
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  and: (...values) => values.find(isEmpty) ?? values.at(-1),
  or: (...values) => values.find((v) => !isEmpty(v)) ?? values.at(-1),
  required: (message, value) => {
    if (isEmpty(value)) throw new Error(`execution error: ${String(message)}`);
    return value;
  },
};

const ACTION = /\{\{(-\s)?([\s\S]*?)(\s-)?\}\}/g;

/** Splits a template into text and trimmed actions. */
function tokenize(source: string): Array<{ text: string } | { action: string }> {
  const out: Array<{ text: string } | { action: string }> = [];
  let last = 0;
  let trimNext = false;
  for (const match of source.matchAll(ACTION)) {
    let text = source.slice(last, match.index);
    if (trimNext) text = text.replace(/^\s+/, "");
    if (match[1] !== undefined) text = text.replace(/\s+$/, "");
    if (text !== "") out.push({ text });
    const action = match[2]!.trim();
    if (!(action.startsWith("/*") && action.endsWith("*/"))) out.push({ action });
    trimNext = match[3] !== undefined;
    last = match.index + match[0].length;
  }
  let tail = source.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, "");
  if (tail !== "") out.push({ text: tail });
  return out;
}

/** Parses tokens into a tree; `define` blocks go into `defines`. */
function parse(source: string, defines: Map<string, Node[]>): Node[] {
  const tokens = tokenize(source);
  let pos = 0;
  const block = (terminators: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const token = tokens[pos++]!;
      if ("text" in token) {
        nodes.push({ kind: "text", text: token.text });
        continue;
      }
      const [word = "", ...restWords] = token.action.split(/\s+/);
      const rest = restWords.join(" ");
      if (terminators.includes(word) || (word === "else" && terminators.includes("else"))) {
        pos--;
        return { nodes, end: word };
      }
      if (word === "if") {
        const branches: Array<{ pipe: string | undefined; body: Node[] }> = [];
        let pipe: string | undefined = rest;
        for (;;) {
          const { nodes: body, end } = block(["else", "end"]);
          branches.push({ pipe, body });
          const next = tokens[pos++] as { action: string };
          if (end === "end") break;
          const elseRest = next.action.replace(/^else\s*/, "");
          pipe = elseRest.startsWith("if ") ? elseRest.slice(3) : undefined;
        }
        nodes.push({ kind: "if", branches });
      } else if (word === "with") {
        const { nodes: body, end } = block(["else", "end"]);
        pos++;
        let otherwise: Node[] = [];
        if (end === "else") {
          otherwise = block(["end"]).nodes;
          pos++;
        }
        nodes.push({ kind: "with", pipe: rest, body, otherwise });
      } else if (word === "range") {
        const decl = /^((\$\w+)(\s*,\s*(\$\w+))?\s*:=\s*)?(.*)$/.exec(rest)!;
        const vars = [decl[2], decl[4]].filter((v): v is string => v !== undefined);
        const { nodes: body } = block(["end"]);
        pos++;
        nodes.push({ kind: "range", vars, pipe: decl[5]!, body });
      } else if (word === "define") {
        const name = JSON.parse(rest) as string;
        const { nodes: body } = block(["end"]);
        pos++;
        defines.set(name, body);
      } else if (["end", "else", "block", "template", "break", "continue"].includes(word)) {
        throw new Error(`unsupported or unbalanced action {{ ${token.action} }}`);
      } else {
        nodes.push({ kind: "action", pipe: token.action });
      }
    }
    if (terminators.length > 0) throw new Error(`missing {{ end }} (expected ${terminators.join(" or ")})`);
    return { nodes, end: "" };
  };
  return block([]).nodes;
}

/** Splits an expression into words, keeping strings and parenthesised groups whole. */
function words(expr: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const ch = expr[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== '"') j += expr[j] === "\\" ? 2 : 1;
      out.push(expr.slice(i, j + 1));
      i = j + 1;
    } else if (ch === "(") {
      let depth = 0;
      let j = i;
      for (; j < expr.length; j++) {
        if (expr[j] === "(") depth++;
        else if (expr[j] === ")" && --depth === 0) break;
        else if (expr[j] === '"') {
          j++;
          while (expr[j] !== '"') j += expr[j] === "\\" ? 2 : 1;
        }
      }
      out.push(expr.slice(i, j + 1));
      i = j + 1;
    } else if (ch === "|") {
      out.push("|");
      i++;
    } else {
      let j = i;
      while (j < expr.length && !/[\s|()]/.test(expr[j]!)) j++;
      out.push(expr.slice(i, j));
      i = j;
    }
  }
  return out;
}

function field(base: Value, path: string): Value {
  let value = base;
  for (const key of path.split(".").filter(Boolean)) {
    value = value !== null && typeof value === "object" ? (value as Record<string, Value>)[key] : undefined;
  }
  return value;
}

/** A template set: parse files once, then render any of them. */
export class TemplateSet {
  readonly #defines = new Map<string, Node[]>();
  readonly #files = new Map<string, Node[]>();

  /** Adds a file (its `define`s become available to every file). */
  add(name: string, source: string): void {
    this.#files.set(name, parse(source, this.#defines));
  }

  /** Renders one file with `root` as `.` and `$`. */
  render(name: string, root: Value): string {
    const nodes = this.#files.get(name);
    if (nodes === undefined) throw new Error(`no template ${name}`);
    return this.#exec(nodes, { dot: root, root, vars: new Map() });
  }

  #exec(nodes: Node[], scope: Scope): string {
    let out = "";
    for (const node of nodes) {
      if (node.kind === "text") out += node.text;
      else if (node.kind === "action") {
        const declared = /^(\$\w+)\s*:=\s*(.*)$/.exec(node.pipe);
        if (declared !== null) scope.vars.set(declared[1]!, this.#pipe(declared[2]!, scope));
        else out += print(this.#pipe(node.pipe, scope));
      } else if (node.kind === "if") {
        const branch = node.branches.find((b) => b.pipe === undefined || !isEmpty(this.#pipe(b.pipe, scope)));
        if (branch !== undefined) out += this.#exec(branch.body, scope);
      } else if (node.kind === "with") {
        const value = this.#pipe(node.pipe, scope);
        out += isEmpty(value)
          ? this.#exec(node.otherwise, scope)
          : this.#exec(node.body, { ...scope, dot: value });
      } else {
        const value = this.#pipe(node.pipe, scope);
        const entries: Array<[Value, Value]> = Array.isArray(value)
          ? value.map((v, i) => [i, v])
          : value !== null && typeof value === "object"
            ? Object.keys(value)
                .sort()
                .map((k) => [k, (value as Record<string, Value>)[k]])
            : [];
        for (const [key, item] of entries) {
          const vars = new Map(scope.vars);
          if (node.vars.length === 1) vars.set(node.vars[0]!, item);
          if (node.vars.length === 2) {
            vars.set(node.vars[0]!, key);
            vars.set(node.vars[1]!, item);
          }
          out += this.#exec(node.body, { ...scope, dot: item, vars });
        }
      }
    }
    return out;
  }

  #pipe(expr: string, scope: Scope): Value {
    const commands: string[][] = [[]];
    for (const word of words(expr)) {
      if (word === "|") commands.push([]);
      else commands.at(-1)!.push(word);
    }
    let result: Value;
    commands.forEach((command, index) => {
      const piped = index === 0 ? [] : [result];
      result = this.#command(command, scope, piped);
    });
    return result;
  }

  #command(command: string[], scope: Scope, piped: Value[]): Value {
    const [head, ...rest] = command;
    if (head === undefined) throw new Error("empty command");
    if (head === "include") {
      const [name, ctx] = [...rest.map((w) => this.#operand(w, scope)), ...piped];
      const body = this.#defines.get(String(name));
      if (body === undefined) throw new Error(`no template "${String(name)}" defined`);
      return this.#exec(body, { dot: ctx, root: scope.root, vars: new Map() });
    }
    const fn = FUNCTIONS[head];
    if (fn !== undefined) return fn(...rest.map((w) => this.#operand(w, scope)), ...piped);
    if (/^[a-z]\w*$/i.test(head)) throw new Error(`function "${head}" not supported by this renderer`);
    if (rest.length > 0 || piped.length > 0) throw new Error(`cannot call ${head} with arguments`);
    return this.#operand(head, scope);
  }

  #operand(word: string, scope: Scope): Value {
    if (word.startsWith("(")) return this.#pipe(word.slice(1, -1), scope);
    if (word.startsWith('"')) return JSON.parse(word);
    if (/^-?\d+(\.\d+)?$/.test(word)) return Number(word);
    if (word === "true" || word === "false") return word === "true";
    if (word === "nil") return null;
    if (word === ".") return scope.dot;
    if (word.startsWith(".")) return field(scope.dot, word);
    if (word === "$" || word.startsWith("$.")) return field(scope.root, word.slice(1));
    const variable = /^(\$\w+)(\..*)?$/.exec(word);
    if (variable !== null) {
      if (!scope.vars.has(variable[1]!)) throw new Error(`undefined variable ${variable[1]}`);
      return field(scope.vars.get(variable[1]!), variable[2] ?? "");
    }
    if (FUNCTIONS[word] !== undefined) return FUNCTIONS[word]!();
    throw new Error(`cannot read operand ${word}`);
  }
}
