// The API's shapes, as the app uses them. See the README's API section.

export type Priority = "P1" | "P2" | "P3" | "P4";

export interface Task {
  id: string;
  user_id: string;
  title: string;
  description: string | null;
  completed: boolean;
  completed_at: string | null;
  priority: Priority;
  tags: string[];
  due_at: string | null;
  reminder_minutes: number | null;
  remind_at: string | null;
  reminder_sent_at?: string | null;
  recurrence: string | null;
  timezone: string;
  recurrence_parent_id: string | null;
  recurrence_depth?: number;
  created_at: string;
  updated_at: string;
}

/** The body of a create or update: absent fields are kept, null clears. */
export interface TaskInput {
  title?: string;
  description?: string | null;
  priority?: Priority;
  tags?: string[];
  due_at?: string | null;
  reminder_minutes?: number | null;
  recurrence?: string | null;
  timezone?: string;
}

export interface Page<T> {
  items: T[];
  total_count: number;
  page: number;
  page_size: number;
  total_pages: number;
  total_count_exact: boolean;
}

export interface HistoryEntry {
  event_id: string;
  event_type: string;
  occurred_at: string;
  task: Partial<Task>;
}

export interface Tag {
  name: string;
  open_tasks?: number;
}

export interface QuickAddPreview {
  understood: boolean;
  summary: string;
  task: TaskInput | null;
  example: string | null;
}

export interface ToolCall {
  tool: string;
  arguments: unknown;
  result?: unknown;
  error?: string;
}

export interface ChatMessage {
  role: "user" | "assistant";
  content: string;
  tool_calls?: ToolCall[];
  at: string;
}

export interface ConversationSummary {
  id: string;
  title: string;
  messages: number;
  created_at: string;
  updated_at: string;
}

export interface Conversation {
  id: string;
  timezone: string;
  messages: ChatMessage[];
  created_at: string;
  updated_at: string;
}

export interface ChatResponse {
  conversation_id: string;
  response: string;
  tool_calls: ToolCall[];
}

export interface Webhook {
  id: string;
  url: string;
  created_at: string;
  secret?: string;
}

export interface Delivery {
  event_id: string;
  attempts: number;
  last_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
}

export interface WebConfig {
  dev_sign_in: boolean;
  sign_in_url: string | null;
}
