// The API client: every call carries the bearer token and answers the API's JSON, or
// throws an ApiError with the API's code, message and field (for the form to show it at
// the field it names).
import type { Session } from "./session";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

let session: Session | null = null;
let onUnauthorized: () => void = () => {};

export function useSession(s: Session | null, unauthorized: () => void) {
  session = s;
  onUnauthorized = unauthorized;
}

export function currentSession(): Session | null {
  return session;
}

/** `/api/{user_id}` + `path`. */
export function userPath(path: string): string {
  if (!session) throw new ApiError(401, "unauthorized", "not signed in");
  return `/api/${encodeURIComponent(session.userId)}${path}`;
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return session ? { Authorization: `Bearer ${session.token}`, ...extra } : extra;
}

/** What a request that never reached the server says. */
export const UNREACHABLE = "The server cannot be reached. Is it running?";

/** The error a non-2xx response carries. */
export async function errorOf(response: Response): Promise<ApiError> {
  const body = await response.json().catch(() => null);
  const e = body?.error;
  if (response.status === 401) onUnauthorized();
  return new ApiError(
    response.status,
    e?.code ?? `http_${response.status}`,
    e?.message ?? `${response.status} ${response.statusText}`,
    e?.field ?? undefined,
  );
}

export async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(userPath(path), {
      method,
      signal,
      headers: authHeaders(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network", UNREACHABLE);
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => call<T>("GET", path, undefined, signal);
export const post = <T>(path: string, body?: unknown) => call<T>("POST", path, body ?? {});
export const patch = <T>(path: string, body?: unknown) => call<T>("PATCH", path, body ?? {});
export const del = (path: string) => call<void>("DELETE", path);
