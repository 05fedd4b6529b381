/**
 * Housekeeping prompts: the title, summary, tag, follow-up and similar requests that chat apps
 * send to the model the user picked. When that model is an image model each of them would cost an
 * image, so they are recognised by the distinctive text of each client's template and answered
 * with a short text in the format the client parses.
 *
 * @module
 */

/** A chat message as clients send it: `content` is a string or an array of parts. */
export interface ChatMessageLike {
  role: string;
  content?: unknown;
}

/** What a housekeeping request asks for. */
export type HousekeepingKind =
  | "title"
  | "tags"
  | "follow_ups"
  | "queries"
  | "emoji"
  | "autocomplete"
  | "summary"
  | "image_prompt";

/** The short answer to a housekeeping request. */
export interface HousekeepingReply {
  kind: HousekeepingKind;
  /** The assistant text to answer with. */
  text: string;
}

type Lang = "en" | "zh";

interface Task {
  kind: HousekeepingKind;
  lang: Lang;
  /** The client parses a JSON object rather than plain text. */
  json?: boolean;
  /** The template asks for an emoji in front of the title. */
  emoji?: boolean;
}

interface Template {
  match: RegExp;
  task: (text: string) => Task;
}

const fixed = (task: Task) => () => task;

/**
 * The other clients' templates, by client. Each is matched against the last message and against
 * every system message, where Cherry Studio, LobeChat, NextChat and SillyTavern put theirs.
 */
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
  // Cherry Studio ≤ 1.2 src/renderer/src/config/prompts.ts `SUMMARIZE_PROMPT`, and LobeChat's
  // English `chainSummaryTitle` before 1.0 ("…summarize user conversations into titles within 10
  // characters").
  {
    match:
      /^You are an assistant skilled (?:in|at) conversations?\b.{0,40}?summarize (?:the )?user'?s? conversations? into (?:a )?titles? within 10 (?:words|characters)/,
    task: fixed({ kind: "title", lang: "en" }),
  },
  // Cherry Studio ≤ 1.2 and LobeChat ≤ 1.x src/chains/summaryTitle.ts in Chinese; one LobeChat
  // version also asks for an emoji in front.
  {
    match: /^你是一名擅长会话的助理，你需要将用户的会话总结为 ?10 ?个字以内的标题/,
    task: (text) => ({ kind: "title", lang: "zh", emoji: /emoji/i.test(text) }),
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
 * user's own words cannot decide it.
 */
function openWebUiTask(text: string): Task | undefined {
  if (!text.startsWith("### Task:")) return undefined;
  // The autocomplete template quotes `<text>` itself; only its last pair holds the user's draft.
  const template = text.replace(/<chat_history>[\s\S]*?<\/chat_history>/g, "")
    .replace(/<text>(?![\s\S]*<text>)[\s\S]*<\/text>/, "");
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

function classify(text: string): Task | undefined {
  const trimmed = text.trim();
  return openWebUiTask(trimmed) ??
    TEMPLATES.find((template) => template.match.test(trimmed))?.task(trimmed);
}

/** The text parts of a message, joined in order. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => part?.type === "text" && typeof part.text === "string" ? part.text : "")
    .filter(Boolean)
    .join("\n");
}

/**
 * Detects a housekeeping request among the messages (usually the last user message, sometimes a
 * system message + user) and builds a short, cheap reply; `undefined` for a real image request.
 */
export function detectHousekeeping(
  messages: readonly ChatMessageLike[],
): HousekeepingReply | undefined {
  if (messages.length === 0) return undefined;
  const texts = messages.map((message) => textOf(message.content));
  const last = messages.length - 1;
  const systems = messages.flatMap((m, i) => m.role === "system" && i !== last ? [i] : []);
  for (const i of [last, ...systems]) {
    const task = classify(texts[i]);
    if (!task) continue;
    // The conversation is embedded in the instruction (Open WebUI, Chatbox, LibreChat), in the
    // user message after a system instruction (Cherry Studio, LobeChat), or sent as the messages
    // themselves (NextChat, SillyTavern).
    const turns = embeddedTurns(texts[i]) ??
      (i === last ? undefined : embeddedTurns(texts[last])) ??
      messages.flatMap((message, j) => j !== i && message.role === "user" ? [texts[j]] : []);
    return reply(task, turns.map(cleanPrompt).filter(Boolean));
  }
  return undefined;
}

function reply(task: Task, requests: string[]): HousekeepingReply {
  const latest = requests.at(-1);
  const { kind } = task;
  switch (kind) {
    case "title": {
      const short = latest ? shorten(latest) : task.lang === "zh" ? "图片生成" : "Image generation";
      const title = task.emoji ? `🖼️ ${short}` : short;
      return { kind, text: task.json ? JSON.stringify({ title }) : title };
    }
    case "summary":
      return { kind, text: summary(requests, task.lang) };
    case "image_prompt":
      return { kind, text: JSON.stringify({ prompt: latest ?? "" }) };
    case "tags":
      return { kind, text: JSON.stringify({ tags: ["Image"] }) };
    case "follow_ups":
      return { kind, text: JSON.stringify({ follow_ups: [] }) };
    case "queries":
      return { kind, text: JSON.stringify({ queries: [] }) };
    case "autocomplete":
      return { kind, text: JSON.stringify({ text: "" }) };
    case "emoji":
      return { kind, text: "🖼️" };
  }
}

function summary(requests: string[], lang: Lang): string {
  const recent = [...new Set(requests)].slice(-10)
    .map((request) => cutWords(request, 200));
  if (lang === "zh") {
    return recent.length
      ? `目前的图片提示词：${recent.map((r) => `“${r}”`).join("；")}`
      : "尚未生成图片";
  }
  return recent.length
    ? `Image prompts so far: ${recent.map((r) => `"${r}"`).join("; ")}`
    : "No images requested yet";
}

/** One turn of a conversation embedded in a prompt. */
type Turn = { role: string; text: string };

const userTexts = (turns: Turn[]) =>
  turns.length ? turns.filter((t) => /^(user|human)$/i.test(t.role)).map((t) => t.text) : undefined;

/** The user turns of a conversation embedded in a prompt, or `undefined` when there is none. */
function embeddedTurns(text: string): string[] | undefined {
  // Open WebUI: `<chat_history>\nUSER: …\nASSISTANT: …\n</chat_history>` (utils/misc.py
  // get_messages_content).
  const history = /<chat_history>([\s\S]*?)<\/chat_history>/.exec(text)?.[1];
  if (history !== undefined) return userTexts(labelledTurns(history)) ?? [];
  // LobeChat's newest chainSummaryTitle: `<conversation>\n<user>\n…\n</user>\n…</conversation>`.
  const tagged = [...text.matchAll(/<(user|assistant)>\n?([\s\S]*?)\n?<\/\1>/g)];
  if (tagged.length) return userTexts(tagged.map((m) => ({ role: m[1], text: m[2] })));
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
  const block = /^Here's the conversation:\s*```\n([\s\S]*?)\n```/m.exec(text)?.[1];
  if (block !== undefined) return block.split(/\n+-{9}\n+/).filter((_, i) => i % 2 === 0);
  // LobeChat `user: …\nassistant: …`, LibreChat `User: …\nAI: …`.
  return userTexts(labelledTurns(text));
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

/** Markdown images, links and URLs out; link text kept. */
function stripMarkup(text: string): string {
  return text
    .replace(/<think>[\s\S]*?<\/think>/g, " ")
    .replace(/!\[[^\]]*\]\([^)]*\)/g, " ")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\b(?:https?:\/\/|data:)\S+/g, " ")
    .replace(/(?:^|\s)\/no_think\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/** Prompt flags out: `--ar 16:9`, `--neg "blurry, text"`, `--hd`, `pic:2`. */
function stripFlags(text: string): string {
  return text
    .replace(
      /(?:^|\s)--(?:ar|aspect|size|seed|steps|cfg|guidance|n|neg|negative|no|quality|style|model)(?:\s+|=)(?:"[^"]*"|'[^']*'|“[^”]*”|\S+)/gi,
      " ",
    )
    .replace(/(?:^|\s)--[a-z][\w-]*/gi, " ")
    .replace(/\bpic\s*[:：]\s*\d+/gi, " ")
    .replace(/\s+/g, " ")
    .trim();
}

const EDGE_PUNCTUATION = /^[\s,.;:!?，。；：！？、"'“”‘’]+|[\s,.;:!?，。；：！？、"'“”‘’]+$/g;

/** The request as the user wrote it, without images, links, flags or surrounding punctuation. */
function cleanPrompt(text: string): string {
  return stripFlags(stripMarkup(text)).replace(EDGE_PUNCTUATION, "");
}

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu;
const TRAILING_SMALL_WORDS = /\s+(?:a|an|the|of|with|and|or|in|on|at|for|to|by|from|into)$/i;

/**
 * A title from a prompt: at most 12 characters of Chinese, Japanese or Korean, cut at a clause or
 * word boundary, or at most 50 characters of whole words otherwise; no punctuation, as the title
 * templates ask.
 */
function shorten(prompt: string): string {
  const plain = prompt.replace(/["“”«»()[\]{}<>*#`~|]/g, " ");
  const cjk = plain.match(CJK)?.length ?? 0;
  const latin = plain.match(/[A-Za-z]/g)?.length ?? 0;
  if (cjk > 0 && cjk * 3 >= latin) {
    let title = "";
    for (
      const clause of plain.split(/[，,。.；;：:！!？?、\n]+/).map((c) => c.trim()).filter(Boolean)
    ) {
      const longer = title ? `${title} ${clause}` : clause;
      if ([...longer].length <= 12) title = longer;
      else {
        title ||= cutSegments(clause, 12);
        break;
      }
    }
    return title;
  }
  const words = plain.replace(/[,;:.!?]+(?=\s|$)/g, " ").replace(/\s+/g, " ").trim();
  let title = cutWords(words, 50);
  while (TRAILING_SMALL_WORDS.test(title)) title = title.replace(TRAILING_SMALL_WORDS, "");
  return title.charAt(0).toUpperCase() + title.slice(1);
}

/** Whole words up to `max` characters; a single longer word is cut. */
function cutWords(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max + 1).replace(/\s+\S*$/, "");
  return cut && cut.length <= max ? cut : text.slice(0, max);
}

/** Whole words (by `Intl.Segmenter`, which segments CJK by dictionary) up to `max` code points. */
function cutSegments(text: string, max: number): string {
  let out = "";
  for (const { segment } of new Intl.Segmenter("zh", { granularity: "word" }).segment(text)) {
    if ([...out].length + [...segment].length > max) break;
    out += segment;
  }
  return out.trim() || [...text].slice(0, max).join("");
}
