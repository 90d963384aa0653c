/**
 * A small Swagger 2.0 checker for the contract test: matches a request to an operation of the Nuon Runner API
 * swagger and checks path, method, required parameters, and body/response types against the definitions.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the shared contract lives, relative to this repository: `../shared/contract/`. */
export const SWAGGER_PATH = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "..",
  "shared",
  "contract",
  "nuon-runner-openapi.json",
);

interface SwaggerSchema {
  type?: string;
  $ref?: string;
  allOf?: SwaggerSchema[];
  items?: SwaggerSchema;
  properties?: Record<string, SwaggerSchema>;
  required?: string[];
  enum?: unknown[];
  additionalProperties?: SwaggerSchema | boolean;
}

interface SwaggerParameter {
  name: string;
  in: "path" | "query" | "body" | "header" | "formData";
  required?: boolean;
  type?: string;
  schema?: SwaggerSchema;
}

interface SwaggerOperation {
  operationId: string;
  parameters?: SwaggerParameter[];
  responses: Record<string, { schema?: SwaggerSchema }>;
}

interface SwaggerDoc {
  paths: Record<string, Record<string, SwaggerOperation>>;
  definitions: Record<string, SwaggerSchema>;
}

/** One operation matched to a concrete request. */
export interface MatchedOperation {
  method: string;
  template: string;
  operation: SwaggerOperation;
  pathParams: Record<string, string>;
}

/** The loaded swagger with matching and validation helpers. */
export class Swagger {
  readonly doc: SwaggerDoc;
  private readonly routes: Array<{ method: string; template: string; regex: RegExp; names: string[] }>;

  constructor(doc: SwaggerDoc) {
    this.doc = doc;
    this.routes = [];
    for (const [template, ops] of Object.entries(doc.paths)) {
      const names: string[] = [];
      const pattern = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
        names.push(name);
        return "([^/]+)";
      });
      for (const method of Object.keys(ops)) {
        this.routes.push({
          method: method.toUpperCase(),
          template,
          regex: new RegExp(`^${pattern}$`),
          names,
        });
      }
    }
    // Literal segments beat parameters: `/jobs/tail` must not match `/jobs/{job_id}` first.
    this.routes.sort((a, b) => paramCount(a.template) - paramCount(b.template));
  }

  /** Every (method, template) pair the swagger declares. */
  operations(): Array<{ method: string; template: string; operationId: string }> {
    return this.routes.map((r) => ({
      method: r.method,
      template: r.template,
      operationId: this.doc.paths[r.template]![r.method.toLowerCase()]!.operationId,
    }));
  }

  /** Finds the operation for a method and a concrete path, or undefined. */
  match(method: string, pathname: string): MatchedOperation | undefined {
    for (const route of this.routes) {
      if (route.method !== method.toUpperCase()) continue;
      const m = route.regex.exec(pathname);
      if (!m) continue;
      const pathParams: Record<string, string> = {};
      route.names.forEach((name, i) => {
        pathParams[name] = decodeURIComponent(m[i + 1]!);
      });
      const operation = this.doc.paths[route.template]![method.toLowerCase()]!;
      return { method: route.method, template: route.template, operation, pathParams };
    }
    return undefined;
  }

  /** True when a template (with `{param}` placeholders) is declared for the method. */
  hasTemplate(method: string, template: string): boolean {
    return this.doc.paths[template]?.[method.toLowerCase()] !== undefined;
  }

  /** Problems with a request: unknown route, missing required query/body, body type mismatches. A binary
   * body (Uint8Array) counts as present and is not type-checked. */
  checkRequest(method: string, url: URL, body: unknown): string[] {
    const matched = this.match(method, url.pathname);
    if (!matched) return [`${method} ${url.pathname}: no such operation in the swagger`];
    const problems: string[] = [];
    const where = `${matched.operation.operationId} (${method} ${matched.template})`;
    for (const param of matched.operation.parameters ?? []) {
      if (param.in === "query" && param.required && !url.searchParams.has(param.name)) {
        problems.push(`${where}: required query parameter ${param.name} is missing`);
      }
      if (param.in === "body" && param.schema) {
        if (body === undefined && param.required) problems.push(`${where}: required body is missing`);
        // Binary bodies (OTLP protobuf) are present but not JSON: their schema is checked by decoding them.
        else if (body !== undefined && !(body instanceof Uint8Array)) {
          problems.push(...this.check(param.schema, body, `${where} body`));
        }
      }
    }
    return problems;
  }

  /** Problems with a response body for the given status (statuses the swagger does not list are reported). */
  checkResponse(method: string, url: URL, status: number, body: unknown): string[] {
    const matched = this.match(method, url.pathname);
    if (!matched) return [`${method} ${url.pathname}: no such operation in the swagger`];
    const where = `${matched.operation.operationId} (${method} ${matched.template}) → ${status}`;
    const response = matched.operation.responses[String(status)];
    if (!response) {
      const listed = Object.keys(matched.operation.responses).join(", ");
      return [`${where}: status ${status} is not among the swagger's responses (${listed})`];
    }
    if (!response.schema || body === undefined) return [];
    return this.check(response.schema, body, `${where} body`);
  }

  /** Checks a value against a schema: types, enums and required fields, recursively. */
  check(schema: SwaggerSchema, value: unknown, path: string): string[] {
    const resolved = this.resolve(schema);
    if (resolved.allOf) return resolved.allOf.flatMap((s) => this.check(s, value, path));
    // Go emits `null` for nil slices, maps and pointers; the swagger cannot say "nullable" in 2.0.
    if (value === null) return [];
    const problems: string[] = [];
    const type = resolved.type ?? (resolved.properties ? "object" : undefined);
    if (type !== undefined && !matchesType(type, value)) {
      return [`${path}: expected ${type}, got ${describe(value)}`];
    }
    if (resolved.enum && !resolved.enum.includes(value)) {
      problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(resolved.enum)}`);
    }
    if (type === "array" && resolved.items && Array.isArray(value)) {
      value.forEach((item, i) => {
        problems.push(...this.check(resolved.items!, item, `${path}[${i}]`));
      });
    }
    if (type === "object" && isRecord(value)) {
      for (const name of resolved.required ?? []) {
        if (!(name in value)) problems.push(`${path}: required field ${name} is missing`);
      }
      for (const [name, sub] of Object.entries(resolved.properties ?? {})) {
        if (name in value) problems.push(...this.check(sub, value[name], `${path}.${name}`));
      }
    }
    return problems;
  }

  private resolve(schema: SwaggerSchema): SwaggerSchema {
    let current = schema;
    for (let depth = 0; current.$ref && depth < 20; depth++) {
      const name = current.$ref.replace("#/definitions/", "");
      const def = this.doc.definitions[name];
      if (!def) throw new Error(`swagger: unresolved $ref ${current.$ref}`);
      current = def;
    }
    return current;
  }
}

function paramCount(template: string): number {
  return (template.match(/\{/g) ?? []).length;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function matchesType(type: string, value: unknown): boolean {
  switch (type) {
    case "object":
      return isRecord(value);
    case "array":
      return Array.isArray(value);
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    default:
      return true;
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "array";
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}

/** Loads the swagger from ../shared/contract, or undefined when the file is not there. */
export function loadSwagger(path = SWAGGER_PATH): Swagger | undefined {
  if (!existsSync(path)) return undefined;
  return new Swagger(JSON.parse(readFileSync(path, "utf8")) as SwaggerDoc);
}
