// The parts of an OpenAPI 3.1 document the docs page reads, and helpers over them. Typed by
// hand (the page renders any document the server serves, not only this API's types).

export interface Document {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, PathItem>;
  components?: {
    schemas?: Record<string, Schema>;
    responses?: Record<string, Response | Ref>;
    securitySchemes?: Record<string, { type: string; scheme?: string; bearerFormat?: string; description?: string }>;
  };
  security?: Record<string, string[]>[];
  tags?: { name: string; description?: string }[];
}

export const METHODS = ["get", "put", "post", "patch", "delete", "options", "head", "trace"] as const;
export type Method = (typeof METHODS)[number];

export type PathItem = Partial<Record<Method, Operation>> & { parameters?: Parameter[] };

export interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { description?: string; required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, Response | Ref>;
  security?: Record<string, string[]>[];
}

export interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  description?: string;
  required?: boolean;
  schema?: Schema;
  example?: unknown;
}

export interface MediaType {
  schema?: Schema;
  example?: unknown;
}

export interface Response {
  description: string;
  content?: Record<string, MediaType>;
  headers?: Record<string, { description?: string; schema?: Schema }>;
  links?: Record<string, { operationId?: string; parameters?: Record<string, unknown> }>;
}

export interface Ref {
  $ref: string;
}

export interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  description?: string;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  pattern?: string;
  default?: unknown;
  example?: unknown;
  examples?: unknown[];
}

/** An operation with where it lives. */
export interface Entry {
  method: Method;
  path: string;
  operation: Operation;
  id: string;
}

/** The operations by tag, in the document's order. */
export function byTag(doc: Document): Map<string, Entry[]> {
  const tags = new Map<string, Entry[]>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const tag = operation.tags?.[0] ?? "other";
      const id = operation.operationId ?? `${method}-${path}`;
      if (!tags.has(tag)) tags.set(tag, []);
      tags.get(tag)!.push({ method, path, operation, id });
    }
  }
  return tags;
}

/** The name a `#/components/<kind>/<name>` reference points at. */
export function refName(ref: string): string {
  return ref.slice(ref.lastIndexOf("/") + 1);
}

/** `value`, or what it refers to when it is a reference into `doc`. */
export function resolve<T>(doc: Document, value: T | Ref): T {
  if (value && typeof value === "object" && "$ref" in value) {
    const parts = value.$ref.replace(/^#\//, "").split("/");
    let target: unknown = doc;
    for (const part of parts) target = (target as Record<string, unknown>)?.[part];
    return target as T;
  }
  return value as T;
}

/** Whether the operation needs a token (the document's default unless it says otherwise). */
export function needsToken(doc: Document, operation: Operation): boolean {
  const security = operation.security ?? doc.security ?? [];
  return security.some((requirement) => Object.keys(requirement).length > 0);
}

/** An example of a schema or media type, if the document gives one. */
export function exampleOf(media: MediaType | undefined, doc: Document): unknown {
  if (!media) return undefined;
  if (media.example !== undefined) return media.example;
  const schema = media.schema?.$ref ? resolve<Schema>(doc, { $ref: media.schema.$ref }) : media.schema;
  return schema?.example ?? schema?.examples?.[0];
}

/** What a schema's value can be, in a few words (a reference is named, not expanded). */
export function typeText(schema: Schema | undefined): string {
  if (!schema) return "any";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.oneOf) return schema.oneOf.map(typeText).join(" | ");
  if (schema.anyOf) return schema.anyOf.map(typeText).join(" | ");
  if (schema.allOf) return schema.allOf.map(typeText).join(" & ");
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : ["any"];
  return types
    .map((t) => {
      if (t === "array") return `${typeText(schema.items)}[]`;
      if (t === "object" && !schema.properties) return "object";
      return schema.format && t !== "null" ? `${t} (${schema.format})` : t;
    })
    .join(" | ");
}

/** A schema's limits, as short phrases. */
export function constraints(schema: Schema | undefined): string[] {
  if (!schema) return [];
  const out: string[] = [];
  if (schema.minLength !== undefined && schema.maxLength !== undefined) out.push(`${schema.minLength}–${schema.maxLength} characters`);
  else if (schema.maxLength !== undefined) out.push(`at most ${schema.maxLength} characters`);
  else if (schema.minLength !== undefined) out.push(`at least ${schema.minLength} characters`);
  if (schema.minimum !== undefined && schema.maximum !== undefined) out.push(`${schema.minimum}–${schema.maximum}`);
  else if (schema.minimum !== undefined) out.push(`≥ ${schema.minimum}`);
  else if (schema.maximum !== undefined) out.push(`≤ ${schema.maximum}`);
  if (schema.maxItems !== undefined) out.push(`at most ${schema.maxItems} items`);
  if (schema.default !== undefined) out.push(`default ${JSON.stringify(schema.default)}`);
  if (schema.pattern) out.push(`pattern ${schema.pattern}`);
  if (schema.additionalProperties === false) out.push("no other fields");
  return out;
}
