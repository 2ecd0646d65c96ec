// Live updates: the user's event stream (GET /api/{user_id}/stream), read with fetch so
// the token travels in the Authorization header. Reconnects with backoff; a stream that
// ends because its token expired (`event: expired`) reconnects with the current token.
import { authHeaders, errorOf, userPath } from "./api";
import { events } from "./sse";

export type LiveStatus = "connecting" | "live" | "offline";

export interface LiveEvent {
  type: string;
  data: any;
}

type Listener = (event: LiveEvent) => void;

const listeners = new Set<Listener>();
const statusListeners = new Set<(s: LiveStatus) => void>();
let status: LiveStatus = "offline";
let controller: AbortController | null = null;

export function onLive(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function onStatus(listener: (s: LiveStatus) => void): () => void {
  statusListeners.add(listener);
  listener(status);
  return () => statusListeners.delete(listener);
}

function setStatus(s: LiveStatus) {
  status = s;
  statusListeners.forEach((l) => l(s));
}

function emit(type: string, data: any) {
  listeners.forEach((l) => l({ type, data }));
}

export function start() {
  stop();
  const own = new AbortController();
  controller = own;
  void run(own.signal);
}

export function stop() {
  controller?.abort();
  controller = null;
  setStatus("offline");
}

async function run(signal: AbortSignal) {
  let delay = 1000;
  while (!signal.aborted) {
    setStatus("connecting");
    try {
      const response = await fetch(userPath("/stream"), {
        headers: authHeaders({ Accept: "text/event-stream" }),
        signal,
      });
      if (!response.ok) {
        const error = await errorOf(response);
        if (error.status === 401 || error.status === 403) return setStatus("offline");
        throw error;
      }
      setStatus("live");
      delay = 1000;
      // What happened while not connected is not replayed: catch up once.
      emit("resync", null);
      for await (const e of events(response, signal)) {
        let data: unknown = null;
        try {
          data = JSON.parse(e.data);
        } catch {
          data = e.data;
        }
        emit(e.event, data);
        if (e.event === "lagged") emit("resync", null);
      }
    } catch {
      if (signal.aborted) return;
    }
    if (signal.aborted) return;
    setStatus("offline");
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 15000);
  }
}
