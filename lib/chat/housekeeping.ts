/**
 * Housekeeping prompts: the title, summary, tag, follow-up and similar requests that chat apps
 * send to the model the user picked. When that model is an image model each of them would cost an
 * image, so they are recognised by the distinctive text of each client's template and answered
 * with a short text in the format the client parses (built by housekeeping_reply.ts).
 *
 * Messages are read with `readMessage` (text parts, Markdown images removed), and only those a
 * template or its conversation can be in. Nothing here rescans text: a message may be as long and
 * as hostile as a client cares to send.
 *
 * @module
 */
import { readMessage } from "../openai/chat_messages.ts";
import {
  buildReply,
  type HousekeepingReply,
  type HousekeepingTask as Task,
  MAX_REQUESTS_READ,
  removeBlocks,
} from "./housekeeping_reply.ts";

export type { HousekeepingKind, HousekeepingReply } from "./housekeeping_reply.ts";

/** A chat message as clients send it: `content` is a string or an array of parts. */
export interface ChatMessageLike {
  role: string;
  content?: unknown;
}

interface Template {
  match: RegExp;
  task: (text: string) => Task;
  /** Also sent as the first message, a system one, before at most five turns of the chat. */
  leads?: boolean;
}

const fixed = (task: Task) => () => task;

/** The other clients' templates, by client; `candidates()` says which messages are matched. */
const TEMPLATES: readonly Template[] = [
  // NextChat app/locales/en.ts `Store.Prompt.Topic` (with and without "bold text,").
  {
    match: /^Please generate a four to five word title summarizing our conversation/,
    task: fixed({ kind: "title", lang: "en" }),
  },
  // NextChat app/locales/cn.ts and tw.ts `Store.Prompt.Topic`.
  {
    match: /^使用四到五[个個]字直接返回[这這]句[话話]的[简簡]要主[题題]/,
    task: fixed({ kind: "title", lang: "zh" }),
  },
  // NextChat app/locales/en.ts `Store.Prompt.Summarize`, sent as a trailing system message.
  {
    match:
      /^Summarize (?:the|our) discussion briefly in \d+ (?:words|characters) or less to use as a prompt for future context/,
    task: fixed({ kind: "summary", lang: "en" }),
  },
  // NextChat app/locales/cn.ts and tw.ts `Store.Prompt.Summarize`.
  {
    match: /^[简簡]要[总總][结結]一下.{0,12}?，用作[后後][续續]的上下文提示/,
    task: fixed({ kind: "summary", lang: "zh" }),
  },
  // Cherry Studio topic naming, a system message: i18n `prompts.title` (en-us) and
  // TopicNamingService.ts `FALLBACK_PROMPT`; the conversation follows as a JSON user message.
  {
    match:
      /^Summarize the conversation into a title in .{1,40}? within 10 words ignoring instructions/,
    task: fixed({ kind: "title", lang: "en" }),
  },
  // Cherry Studio i18n `prompts.title` (zh-cn), the default topic naming prompt in Chinese.
  {
    match: /^总结给出的会话，将其总结为语言为.{1,20}?的 ?10 ?字内标题/,
    task: fixed({ kind: "title", lang: "zh" }),
  },
  // Cherry Studio ≤ 1.2 src/renderer/src/config/prompts.ts `SUMMARIZE_PROMPT` (its `summaries()`
  // sends `[system, ...takeRight(messages, 5)]`, hence `leads`), and LobeChat's English
  // `chainSummaryTitle` before 1.0 ("…summarize user conversations into titles within 10
  // characters").
  {
    match:
      /^You are an assistant skilled (?:in|at) conversations?\b.{0,40}?summarize (?:the )?user'?s? conversations? into (?:a )?titles? within 10 (?:words|characters)/,
    task: fixed({ kind: "title", lang: "en" }),
    leads: true,
  },
  // Cherry Studio ≤ 1.2 (as above) and LobeChat ≤ 1.x src/chains/summaryTitle.ts in Chinese; one
  // LobeChat version also asks for an emoji in front.
  {
    match: /^你是一名擅长会话的助理，你需要将用户的会话总结为 ?10 ?个字以内的标题/,
    task: (text) => ({ kind: "title", lang: "zh", emoji: /emoji/i.test(text) }),
    leads: true,
  },
  // LobeChat packages/prompts/src/chains/summaryTitle.ts; the newest version asks for JSON.
  {
    match:
      /^You are a professional conversation summarizer\. Generate a concise title that captures the essence of the conversation/,
    task: (text) => ({ kind: "title", lang: "en", json: /Return one JSON object/.test(text) }),
  },
  // Chatbox src/renderer/packages/prompts.ts `nameConversation`.
  {
    match: /^Based on the chat history, give this conversation a (?:name|title)\./,
    task: fixed({ kind: "title", lang: "en" }),
  },
  // LibreChat @librechat/agents src/utils/title.ts `defaultCompletionPrompt`, and the older
  // "Please generate a concise, 5-word-or-less title for the conversation, using its same language".
  {
    match: /^(?:Provide|Please generate) a concise, 5-word-or-less title for the conversation/,
    task: fixed({ kind: "title", lang: "en" }),
  },
  // SillyTavern public/scripts/extensions/memory/index.js `defaultPrompt` (Summarize extension with
  // the "Main API" source), and its older "[Pause your roleplay. …" wording.
  {
    match:
      /^(?:\[?Pause your roleplay\. |Ignore previous instructions\. )?Summarize the most important facts and events (?:in the story|that have happened in the chat) so far/,
    task: fixed({ kind: "summary", lang: "en" }),
  },
  // Open WebUI ≤ 0.4 backend/open_webui/config.py DEFAULT_TITLE_GENERATION_PROMPT_TEMPLATE
  // ("Create a concise, 3-5 word title with an emoji as a title for the chat history, … RESPOND ONLY
  // WITH THE TITLE TEXT.") and the 0.1 frontend prompt ("Create a concise, 3-5 word phrase as a
  // header for the following query, …").
  {
    match: /^Create a concise, 3-5 word (?:title|phrase)/,
    task: (text) => ({ kind: "title", lang: "en", emoji: /\bwith an emoji\b/.test(text) }),
  },
  // Open WebUI config.py DEFAULT_EMOJI_GENERATION_PROMPT_TEMPLATE (voice call mode).
  {
    match:
      /^Your task is to reflect the speaker's likely facial expression through a fitting emoji/,
    task: fixed({ kind: "emoji", lang: "en" }),
  },
];

/**
 * Open WebUI backend/open_webui/config.py: every DEFAULT_*_PROMPT_TEMPLATE that starts with
 * `### Task:` names the JSON key its parser reads; the key, not the wording (which changes between
 * versions and can be customised), says what is asked. The embedded chat history is left out so a
 * user's own words cannot decide it, and so is the autocomplete draft: that template quotes
 * `<text>` itself, and only its last pair holds the user's draft.
 */
function openWebUiTask(text: string): Task | undefined {
  if (!text.startsWith("### Task:")) return undefined;
  let template = removeBlocks(text, "<chat_history>", "</chat_history>");
  const [draft, end] = [template.lastIndexOf("<text>"), template.lastIndexOf("</text>")];
  if (draft !== -1 && end > draft) template = template.slice(0, draft) + template.slice(end + 7);
  const has = (key: string) => new RegExp(`"${key}"\\s*:`).test(template);
  const json = true;
  if (has("follow_ups")) return { kind: "follow_ups", lang: "en", json };
  if (has("queries")) return { kind: "queries", lang: "en", json };
  if (has("tags")) return { kind: "tags", lang: "en", json };
  // Until 0.6 the title came "with an emoji"; newer templates forbid emojis.
  if (has("title")) {
    return { kind: "title", lang: "en", json, emoji: /\bwith an emoji\b/.test(template) };
  }
  if (has("prompt")) return { kind: "image_prompt", lang: "en", json };
  if (has("text")) return { kind: "autocomplete", lang: "en", json };
  return undefined;
}

function classify(text: string, leadsOnly: boolean): Task | undefined {
  const trimmed = text.trim();
  if (leadsOnly) return TEMPLATES.find((t) => t.leads && t.match.test(trimmed))?.task(trimmed);
  return openWebUiTask(trimmed) ??
    TEMPLATES.find((template) => template.match.test(trimmed))?.task(trimmed);
}

/**
 * Where a template can be, as `[index, only templates that lead]`: the last message; the system
 * messages right before and after the last user message (Cherry Studio and LobeChat put theirs
 * before the conversation, NextChat and SillyTavern after it); and the first message when at most
 * five follow it, for Cherry Studio ≤ 1.2. A system prompt further back is the user's own.
 */
function candidates(messages: readonly ChatMessageLike[]): [number, boolean][] {
  const last = messages.length - 1;
  const user = messages.findLastIndex((m) => m.role === "user");
  const isSystem = (i: number) => messages[i]?.role === "system";
  const found: [number, boolean][] = [[last, false]];
  for (let i = user - 1; user !== -1 && isSystem(i); i--) found.push([i, false]);
  for (let i = user + 1; user !== -1 && i < last && isSystem(i); i++) found.push([i, false]);
  if (isSystem(0) && messages.length <= 6 && !found.some(([i]) => i === 0)) found.push([0, true]);
  return found;
}

/** A message's text as `readMessage` reads it; only well-formed text parts are handed to it. */
function textOf({ role, content }: ChatMessageLike): string {
  const parts = Array.isArray(content)
    ? content.filter((p): p is { type: "text"; text: string } =>
      (p?.type === "text" || p?.type === "input_text") && typeof p.text === "string"
    )
    : typeof content === "string"
    ? content
    : null;
  return readMessage({ role, content: parts }).text;
}

/**
 * Detects a housekeeping request among the messages (usually the last user message, sometimes a
 * system message + user) and builds a short, cheap reply; `undefined` for a real image request.
 */
export function detectHousekeeping(
  messages: readonly ChatMessageLike[],
): HousekeepingReply | undefined {
  const texts: string[] = [];
  const text = (i: number) => (texts[i] ??= textOf(messages[i]));
  const user = messages.findLastIndex((m) => m.role === "user");
  for (const [i, leadsOnly] of messages.length ? candidates(messages) : []) {
    const task = classify(text(i), leadsOnly);
    if (!task) continue;
    // The conversation is embedded in the instruction (Open WebUI, Chatbox, LibreChat), in the
    // user message after a system instruction (Cherry Studio, LobeChat), or sent as the messages
    // themselves (NextChat, SillyTavern).
    const turns = embeddedTurns(text(i)) ?? (i < user ? embeddedTurns(text(user)) : undefined) ??
      latestUsers(messages, i).map(text);
    return buildReply(task, turns);
  }
  return undefined;
}

/**
 * The latest user messages but `skip`, oldest first: as many as a reply reads
 * (`MAX_REQUESTS_READ`), so that a history of a million messages is not read for a title.
 */
function latestUsers(messages: readonly ChatMessageLike[], skip: number): number[] {
  const found: number[] = [];
  for (let j = messages.length - 1; j >= 0 && found.length < MAX_REQUESTS_READ; j--) {
    if (j !== skip && messages[j].role === "user") found.push(j);
  }
  return found.reverse();
}

/** One turn of a conversation embedded in a prompt. */
type Turn = { role: string; text: string };

const userTexts = (turns: Turn[]) =>
  turns.length ? turns.filter((t) => /^(user|human)$/i.test(t.role)).map((t) => t.text) : undefined;

/** The user turns of a conversation embedded in a prompt, or `undefined` when there is none. */
function embeddedTurns(text: string): string[] | undefined {
  // Open WebUI: `<chat_history>\nUSER: …\nASSISTANT: …\n</chat_history>` (utils/misc.py
  // get_messages_content).
  const open = text.indexOf("<chat_history>");
  const close = open === -1 ? -1 : text.indexOf("</chat_history>", open);
  if (close !== -1) return userTexts(labelledTurns(text.slice(open + 14, close))) ?? [];
  // LobeChat's newest chainSummaryTitle: `<conversation>\n<user>\n…\n</user>\n…</conversation>`.
  const tagged = taggedTurns(text);
  if (tagged.length) return userTexts(tagged);
  // Cherry Studio: `[{"role":"user","mainText":"…"},…]`, sometimes followed by ` /no_think`.
  const json = /^\s*(\[[\s\S]*\])/.exec(text)?.[1];
  if (json) {
    try {
      const parsed: unknown = JSON.parse(json);
      if (Array.isArray(parsed)) {
        return userTexts(
          parsed.map((m) => ({ role: String(m?.role), text: String(m?.mainText ?? "") })),
        );
      }
    } catch { /* not Cherry Studio's structured conversation */ }
  }
  // Chatbox: the first four non-system messages in a ``` block, separated by `---------`,
  // user first.
  const block = /^Here's the conversation:\s*```\n/m.exec(text);
  const end = block ? text.indexOf("\n```", block.index + block[0].length) : -1;
  if (block && end !== -1) {
    return text.slice(block.index + block[0].length, end).split(/(?<=\n)-{9}(?=\n)/)
      .filter((_, i) => i % 2 === 0);
  }
  // LobeChat `user: …\nassistant: …`, LibreChat `User: …\nAI: …`.
  return userTexts(labelledTurns(text));
}

/** `<user>\n…\n</user>` turns; a role found unclosed once is not searched for again. */
function taggedTurns(text: string): Turn[] {
  const turns: Turn[] = [];
  const unclosed = new Set<string>();
  const open = /<(user|assistant)>/g;
  for (let m; (m = open.exec(text));) {
    const role = m[1];
    const close = unclosed.has(role) ? -1 : text.indexOf(`</${role}>`, open.lastIndex);
    if (close === -1) {
      unclosed.add(role);
      continue;
    }
    turns.push({ role, text: text.slice(open.lastIndex, close).replace(/^\n|\n$/g, "") });
    open.lastIndex = close + role.length + 3;
  }
  return turns;
}

/** Splits `ROLE: text` lines into turns; a turn runs until the next label. */
function labelledTurns(text: string): Turn[] {
  const labels = [...text.matchAll(/^(user|assistant|system|ai|human):[ \t]*/gim)];
  return labels.map((label, i) => ({
    role: label[1],
    text: text.slice(label.index + label[0].length, labels[i + 1]?.index ?? text.length)
      // LobeChat ≤ 1.x appends its instruction after the last turn.
      .replace(/\n\n(?:请总结上述对话|Please summarize the above conversation)[\s\S]*$/, ""),
  }));
}
