// The API's docs page (/docs): the OpenAPI document the server serves (/docs/openapi.json),
// rendered by a page of our own. Not Swagger UI, Redoc or Scalar: each bundles hundreds of
// kilobytes to megabytes of script for features this API does not need, and some inject
// <style> elements at run time, which the app's Content-Security-Policy (style-src 'self')
// refuses. This page is a few kilobytes, built by the app's Vite build (a second entry,
// docs.html), served from this origin like the rest of the app, so it works offline.
import { render, type ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import {
  byTag,
  constraints,
  exampleOf,
  needsToken,
  refName,
  resolve,
  typeText,
  type Document,
  type Entry,
  type MediaType,
  type Parameter,
  type Response,
  type Schema,
} from "./openapi";
import "./docs.css";

const SOURCE = "/docs/openapi.json";

/** Text with `code` and **strong** spans; paragraphs split on blank lines. */
function Prose({ text }: { text?: string }) {
  if (!text) return null;
  return (
    <>
      {text.split(/\n\s*\n/).map((paragraph, i) => (
        <p key={i}>{inline(paragraph.replace(/\s*\n\s*/g, " "))}</p>
      ))}
    </>
  );
}

function inline(text: string): ComponentChildren[] {
  return text.split(/(`[^`]+`|\*\*[^*]+\*\*)/).map((part, i) => {
    if (part.startsWith("`") && part.endsWith("`") && part.length > 1) return <code key={i}>{part.slice(1, -1)}</code>;
    if (part.startsWith("**") && part.endsWith("**") && part.length > 3) return <strong key={i}>{part.slice(2, -2)}</strong>;
    return part;
  });
}

/** A schema's type, a reference linking to its definition. */
function TypeRef({ schema }: { schema?: Schema }) {
  const ref = schema?.$ref ?? schema?.items?.$ref;
  if (ref) {
    const name = refName(ref);
    return (
      <a class="type" href={`#schema-${name}`}>
        {typeText(schema)}
      </a>
    );
  }
  return <span class="type">{typeText(schema)}</span>;
}

function Json({ value }: { value: unknown }) {
  return <pre class="json">{typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>;
}

/** An object schema's fields, nested ones inline (references stay links). */
function Fields({ schema, doc, depth = 0 }: { schema: Schema; doc: Document; depth?: number }) {
  const parts = schema.allOf ?? [schema];
  const rows: { name: string; field: Schema; required: boolean }[] = [];
  for (const part of parts) {
    const resolved = part.$ref ? resolve<Schema>(doc, { $ref: part.$ref }) : part;
    for (const [name, field] of Object.entries(resolved?.properties ?? {})) {
      rows.push({ name, field, required: resolved.required?.includes(name) ?? false });
    }
  }
  if (rows.length === 0) return null;
  return (
    <table class="fields">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Type</th>
          <th scope="col">Description</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(({ name, field, required }) => {
          const inner = field.items && !field.items.$ref ? field.items : field;
          return (
            <tr key={name}>
              <td>
                <code>{name}</code>
                {required && <span class="required" title="required"> required</span>}
              </td>
              <td>
                <TypeRef schema={field} />
              </td>
              <td>
                <Prose text={field.description ?? field.oneOf?.find((s) => s.description)?.description} />
                {constraints(field.items ?? field).map((c) => (
                  <span class="constraint" key={c}>
                    {c}
                  </span>
                ))}
                {depth < 2 && inner.properties && <Fields schema={inner} doc={doc} depth={depth + 1} />}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** A request or response body; `expand`: show a referenced schema's fields here too. */
function Body({ media, doc, expand = false }: { media: Record<string, MediaType>; doc: Document; expand?: boolean }) {
  return (
    <>
      {Object.entries(media).map(([type, content]) => {
        const example = exampleOf(content, doc);
        return (
          <div class="media" key={type}>
            <p>
              <code>{type}</code>: <TypeRef schema={content.schema} />
            </p>
            {content.schema && (expand || !content.schema.$ref) && (
              <Fields schema={content.schema.$ref ? resolve<Schema>(doc, { $ref: content.schema.$ref }) : content.schema} doc={doc} />
            )}
            {example !== undefined && (
              <details>
                <summary>Example</summary>
                <Json value={example} />
              </details>
            )}
          </div>
        );
      })}
    </>
  );
}

function Parameters({ parameters }: { parameters: Parameter[] }) {
  if (parameters.length === 0) return null;
  return (
    <section>
      <h4>Parameters</h4>
      <table class="fields">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">In</th>
            <th scope="col">Type</th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {parameters.map((p) => (
            <tr key={`${p.in}-${p.name}`}>
              <td>
                <code>{p.name}</code>
                {p.required && <span class="required"> required</span>}
              </td>
              <td>{p.in}</td>
              <td>
                <TypeRef schema={p.schema} />
              </td>
              <td>
                <Prose text={p.description} />
                {constraints(p.schema).map((c) => (
                  <span class="constraint" key={c}>
                    {c}
                  </span>
                ))}
                {p.example !== undefined && <span class="constraint">e.g. {String(p.example)}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Responses({ responses, doc }: { responses: Record<string, Response | { $ref: string }>; doc: Document }) {
  return (
    <section>
      <h4>Responses</h4>
      <dl class="responses">
        {Object.entries(responses).map(([status, value]) => {
          const response = resolve<Response>(doc, value);
          const kind = status.startsWith("2") ? "ok" : status.startsWith("4") || status.startsWith("5") ? "error" : "";
          return (
            <div key={status} class="response">
              <dt>
                <span class={`status ${kind}`}>{status}</span>
              </dt>
              <dd>
                <Prose text={response.description} />
                {response.headers && (
                  <p class="headers">
                    Headers:{" "}
                    {Object.entries(response.headers).map(([name, header]) => (
                      <span key={name}>
                        <code>{name}</code> {header.description && `(${header.description})`}{" "}
                      </span>
                    ))}
                  </p>
                )}
                {response.content && <Body media={response.content} doc={doc} />}
                {response.links && (
                  <p class="links">
                    Next:{" "}
                    {Object.entries(response.links).map(([name, link]) => (
                      <a key={name} href={`#op-${link.operationId}`}>
                        {link.operationId ?? name}
                      </a>
                    ))}
                  </p>
                )}
              </dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}

function OperationView({ entry, doc }: { entry: Entry; doc: Document }) {
  const { method, path, operation } = entry;
  return (
    <article class="operation" id={`op-${entry.id}`} aria-labelledby={`op-${entry.id}-title`}>
      <h3 id={`op-${entry.id}-title`}>
        <span class={`method ${method}`}>{method.toUpperCase()}</span> <code class="path">{path}</code>
      </h3>
      {operation.summary && <p class="summary">{inline(operation.summary)}</p>}
      <p class="auth">{needsToken(doc, operation) ? "Needs Authorization: Bearer <token>" : "No token needed"}</p>
      <Prose text={operation.description} />
      <Parameters parameters={operation.parameters ?? []} />
      {operation.requestBody && (
        <section>
          <h4>Body{operation.requestBody.required === false ? " (optional)" : ""}</h4>
          <Prose text={operation.requestBody.description} />
          <Body media={operation.requestBody.content} doc={doc} expand />
        </section>
      )}
      <Responses responses={operation.responses} doc={doc} />
    </article>
  );
}

function SchemaView({ name, schema, doc }: { name: string; schema: Schema; doc: Document }) {
  const example = schema.example ?? schema.examples?.[0];
  return (
    <article class="schema" id={`schema-${name}`}>
      <h3>{name}</h3>
      <Prose text={schema.description} />
      {!schema.properties && !schema.allOf && (
        <p>
          <TypeRef schema={schema} />
        </p>
      )}
      <Fields schema={schema} doc={doc} />
      {example !== undefined && (
        <details>
          <summary>Example</summary>
          <Json value={example} />
        </details>
      )}
    </article>
  );
}

function Docs({ doc }: { doc: Document }) {
  const [filter, setFilter] = useState("");
  const tags = useMemo(() => byTag(doc), [doc]);
  const needle = filter.trim().toLowerCase();
  const shown = (e: Entry) =>
    !needle || [e.method, e.path, e.operation.summary ?? "", e.id].some((s) => s.toLowerCase().includes(needle));
  return (
    <div class="layout">
      <nav aria-label="Operations">
        <label>
          Filter
          <input type="search" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} placeholder="tasks, POST, tags…" />
        </label>
        {[...tags].map(([tag, entries]) => {
          const visible = entries.filter(shown);
          if (visible.length === 0) return null;
          return (
            <div key={tag}>
              <h2 class="nav-tag">{tag}</h2>
              <ul>
                {visible.map((e) => (
                  <li key={e.id}>
                    <a href={`#op-${e.id}`}>
                      <span class={`method ${e.method}`}>{e.method.toUpperCase()}</span> {inline(e.operation.summary ?? e.path)}
                    </a>
                  </li>
                ))}
              </ul>
            </div>
          );
        })}
        <h2 class="nav-tag">
          <a href="#schemas">Schemas</a>
        </h2>
      </nav>
      <main>
        <header>
          <h1>
            {doc.info.title} <span class="version">{doc.info.version}</span>
          </h1>
          <Prose text={doc.info.description} />
          <p>
            OpenAPI {doc.openapi} document: <a href={SOURCE}>{SOURCE}</a>
          </p>
        </header>
        {[...tags].map(([tag, entries]) => {
          const visible = entries.filter(shown);
          if (visible.length === 0) return null;
          return (
            <section key={tag} aria-labelledby={`tag-${tag}`}>
              <h2 id={`tag-${tag}`}>{tag}</h2>
              {visible.map((e) => (
                <OperationView key={e.id} entry={e} doc={doc} />
              ))}
            </section>
          );
        })}
        <section id="schemas" aria-labelledby="schemas-title">
          <h2 id="schemas-title">Schemas</h2>
          {Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => (
            <SchemaView key={name} name={name} schema={schema} doc={doc} />
          ))}
        </section>
      </main>
    </div>
  );
}

function Page() {
  const [doc, setDoc] = useState<Document | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    fetch(SOURCE)
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${SOURCE}: ${r.status} ${r.statusText}`))))
      .then(setDoc)
      .catch((e: Error) => setError(e.message));
  }, []);
  useEffect(() => {
    // Jump to the operation the address names, once it is rendered.
    if (doc && location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
  }, [doc]);
  if (error) return <p role="alert">The API's document could not be loaded: {error}</p>;
  if (!doc) return <p aria-busy="true">Loading the API's document…</p>;
  return <Docs doc={doc} />;
}

render(<Page />, document.getElementById("docs")!);
