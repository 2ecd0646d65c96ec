// The API's shapes, generated from its OpenAPI document (api.gen.ts, written by
// scripts/api-types.sh; scripts/contract-test.sh fails when it is stale), under the names the
// app uses.
import type { components } from "./api.gen";

type Schemas = components["schemas"];

export type Priority = Schemas["Priority"];
export type Task = Schemas["Task"];

/** The body of a create or update: absent fields are kept, null clears. */
export type TaskInput = Schemas["TaskUpdate"];

export type TaskPage = Schemas["TaskPage"];
export type ConversationPage = Schemas["ConversationPage"];
/** A page of a list: of tasks, or of conversations. */
export type Page<T> = T extends Task ? TaskPage : T extends ConversationSummary ? ConversationPage : never;

/** An entry of a task's history. The document types `task` as any JSON (the task as the
 *  event carried it, which may predate today's fields), so the app reads it as a partial task. */
export type HistoryEntry = Omit<Schemas["AuditEntry"], "task"> & { task: Partial<Task> };
export type HistoryPage = Omit<Schemas["HistoryPage"], "items"> & { items: HistoryEntry[] };

/** A tag, with its open tasks when `GET /tags` counted them (a chip for a tag only seen on a
 *  task on screen has no count). */
export type Tag = Pick<Schemas["TagCount"], "name"> & Partial<Pick<Schemas["TagCount"], "open_tasks">>;

export type QuickAddPreview = Schemas["Preview"];
export type ToolCall = Schemas["ToolCall"];
export type ChatMessage = Schemas["Message"];
export type ConversationSummary = Schemas["ConversationSummary"];
export type Conversation = Schemas["Conversation"];
export type ChatResponse = Schemas["ChatResponse"];

/** A webhook; `secret` only in the answer to its creation, when the server generated it. */
export type Webhook = Schemas["Created"];
export type Delivery = Schemas["DeliveryRecord"];
export type WebConfig = Schemas["WebConfig"];
