// The chat with the Todo assistant: conversations, messages, and the tool calls each reply
// made, streamed as they happen.
import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "./api";
import { ApiError, authHeaders, errorOf, userPath } from "./api";
import { tasksChanged } from "./bus";
import { timezone, when } from "./format";
import { keepInAddress } from "./router";
import { events } from "./sse";
import type { ChatMessage, ChatResponse, Conversation, ConversationSummary, Page, ToolCall } from "./types";

export function ChatPage() {
  const [list, setList] = useState<ConversationSummary[]>([]);
  // The conversation shown is kept in the address, so a reload stays in it.
  const [current, setCurrent] = useState<string | null>(() => new URLSearchParams(location.search).get("conversation"));
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [text, setText] = useState("");
  const [pending, setPending] = useState<{ message: string; calls: ToolCall[] } | null>(null);
  const [error, setError] = useState("");
  const end = useRef<HTMLDivElement>(null);

  const loadList = () =>
    api
      .get<Page<ConversationSummary>>("/conversations?page_size=50")
      .then((p) => setList(p.items))
      .catch((e) => setError(e.message));

  useEffect(() => {
    loadList();
  }, []);

  useEffect(() => {
    keepInAddress(current ? `?conversation=${encodeURIComponent(current)}` : "");
    if (!current) return setMessages([]);
    api
      .get<Conversation>(`/conversations/${current}`)
      .then((c) => setMessages(c.messages))
      .catch((e) => {
        if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
          setCurrent(null);
          setError("That conversation no longer exists.");
        } else {
          setError(e.message);
        }
      });
  }, [current]);

  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [messages, pending]);

  const send = async (e: Event) => {
    e.preventDefault();
    const message = text.trim();
    if (!message || pending) return;
    setText("");
    setError("");
    setPending({ message, calls: [] });
    // Whether a tool call already acted: then sending the message again would act twice.
    let acted = false;
    try {
      const response = await fetch(userPath("/chat"), {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify({ message, timezone, ...(current ? { conversation_id: current } : {}) }),
      });
      if (!response.ok) throw await errorOf(response);
      let done: ChatResponse | null = null;
      for await (const ev of events(response)) {
        const data = JSON.parse(ev.data);
        if (ev.event === "tool_call") {
          const call = data as ToolCall;
          acted ||= !call.error && call.tool !== "list_tasks" && call.tool !== "get_task";
          setPending((p) => p && { ...p, calls: [...p.calls, call] });
          tasksChanged();
        } else if (ev.event === "done") {
          done = data as ChatResponse;
        } else if (ev.event === "error") {
          throw new Error(data?.error?.message ?? "The assistant failed.");
        }
      }
      if (!done) throw new Error("The reply ended early.");
      const now = new Date().toISOString();
      setMessages((m) => [
        ...m,
        { role: "user", content: message, at: now },
        { role: "assistant", content: done!.response, tool_calls: done!.tool_calls, at: now },
      ]);
      // A new conversation: its messages are loaded from the server, as saved.
      if (done.conversation_id !== current) setCurrent(done.conversation_id);
      loadList();
      tasksChanged();
    } catch (err) {
      if (acted) {
        // Part of it was done: not offered again, and the tasks as they are now.
        setError(`${(err as Error).message} Some of it was done; see your tasks before asking again.`);
        tasksChanged();
        loadList();
        return;
      }
      setText(message);
      if (current && err instanceof ApiError && err.status === 404) {
        // The conversation was deleted elsewhere: the message can start a new one.
        setCurrent(null);
        loadList();
        setError("That conversation was deleted; send again to start a new one.");
      } else {
        setError((err as Error).message);
      }
    } finally {
      setPending(null);
    }
  };

  // A new conversation, typed into at once (the button that asked for it is disabled now).
  const startNew = () => {
    setCurrent(null);
    document.getElementById("chat-message")?.focus();
  };

  const remove = async () => {
    const shown = list.find((c) => c.id === current);
    if (!current || !confirm(`Delete the conversation “${shown?.title || "(empty)"}”? Its tasks stay.`)) return;
    try {
      await api.del(`/conversations/${current}`);
      startNew();
      loadList();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <section class="chat" aria-labelledby="chat-heading">
      <div class="page-head">
        <h1 id="chat-heading">Chat</h1>
        <div class="page-actions">
          <button type="button" onClick={remove} disabled={current === null}>
            Delete conversation
          </button>
          <button type="button" onClick={startNew} disabled={current === null}>
            New conversation
          </button>
        </div>
      </div>
      <div class="chat-layout">
        <nav class="conversations" aria-label="Conversations">
          {list.length === 0 && <p class="hint">No conversations yet.</p>}
          <ul>
            {list.map((c) => (
              <li>
                <button type="button" aria-current={c.id === current ? "true" : undefined} onClick={() => setCurrent(c.id)}>
                  <span class="conv-title">{c.title || "(empty)"}</span>
                  <span class="hint">{when(c.updated_at)}</span>
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <div class="conversation">
          <ol class="messages" aria-label="Messages" aria-live="polite">
            {messages.length === 0 && !pending && (
              <li class="hint">Ask me to add, find, complete or move tasks: “add call mom tomorrow at 6pm”, “what's due today”, “help”.</li>
            )}
            {messages.map((m) => (
              <Message message={m} />
            ))}
            {pending && (
              <>
                <Message message={{ role: "user", content: pending.message, at: "" }} />
                <li class="message assistant" aria-busy="true">
                  <Calls calls={pending.calls} />
                  <p class="hint">Thinking…</p>
                </li>
              </>
            )}
          </ol>
          <div ref={end} class="chat-end" />
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <form class="chat-input" onSubmit={send}>
            <label for="chat-message" class="visually-hidden">
              Message
            </label>
            <input
              id="chat-message"
              dir="auto"
              placeholder="add call mom tomorrow at 6pm"
              value={text}
              autoComplete="off"
              maxLength={4000}
              onInput={(e) => setText(e.currentTarget.value)}
            />
            <button type="submit" class="primary" disabled={!!pending || !text.trim()}>
              Send
            </button>
          </form>
        </div>
      </div>
    </section>
  );
}

function Message({ message }: { message: ChatMessage }) {
  return (
    <li class={`message ${message.role}`}>
      <span class="visually-hidden">{message.role === "user" ? "You:" : "Assistant:"}</span>
      {message.tool_calls && message.tool_calls.length > 0 && <Calls calls={message.tool_calls} />}
      <p dir="auto">{message.content}</p>
    </li>
  );
}

function Calls({ calls }: { calls: ToolCall[] }) {
  if (!calls.length) return null;
  return (
    <ul class="tool-calls" aria-label="Tool calls">
      {calls.map((c) => (
        <li>
          <details>
            <summary>
              <code>{c.tool}</code> {c.error ? <span class="bad">failed</span> : <span class="ok">done</span>}
            </summary>
            <pre>{JSON.stringify({ arguments: c.arguments, ...(c.error ? { error: c.error } : { result: c.result }) }, null, 2)}</pre>
          </details>
        </li>
      ))}
    </ul>
  );
}
