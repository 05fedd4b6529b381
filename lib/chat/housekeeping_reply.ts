/**
 * Housekeeping replies: the short text a recognised title, summary, tag or follow-up request is
 * answered with, built from the user's own image requests. Titles are cut from the latest request
 * (Chinese, Japanese and Korean by clause or word, others by whole words), summaries list the
 * requests, and the clients that parse JSON get the object they expect. Detection is in
 * housekeeping.ts.
 *
 * Every pattern here is linear in the length of its input: a request may be as long as a client
 * sends, including adversarial text such as `"![".repeat(30_000)`.
 *
 * @module
 */
import { escapeMarkdown } from "../markdown_escape.ts";
import { MAX_PROMPT_CHARS } from "../openai/image_request.ts";
import { parsePromptFlags } from "./prompt_flags.ts";

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

/** What a recognised template asks for, and how its client reads the answer. */
export interface HousekeepingTask {
  kind: HousekeepingKind;
  lang: "en" | "zh";
  /** The client parses a JSON object rather than plain text. */
  json?: boolean;
  /** The template asks for an emoji in front of the title. */
  emoji?: boolean;
}

/**
 * The reply to `task`, from the user's image requests in the order they were made (their text
 * with Markdown images already removed, as `readMessage` gives it); only the latest are read
 * (`MAX_REQUESTS_READ`), and only for the kinds that quote them.
 */
export function buildReply(task: HousekeepingTask, texts: readonly string[]): HousekeepingReply {
  const { kind } = task;
  switch (kind) {
    case "title": {
      const latest = latestRequests(texts).at(-1);
      const short = (latest && shorten(latest)) ||
        (task.lang === "zh" ? "图片生成" : "Image generation");
      const title = task.emoji ? `🖼️ ${short}` : short;
      return { kind, text: task.json ? JSON.stringify({ title }) : title };
    }
    case "summary":
      return { kind, text: summary(latestRequests(texts), task.lang) };
    case "image_prompt":
      return { kind, text: JSON.stringify({ prompt: latestRequests(texts).at(-1) ?? "" }) };
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

/**
 * How much of a conversation a reply reads: the latest {@link MAX_REQUESTS_READ} texts, at most
 * {@link MAX_CHARS_READ} characters of them in all, the latest always (cut to that length). A
 * title names one request and a summary lists ten, each cut to 200 characters, and a real request
 * is at most the prompt cap long; yet cleaning costs about 0.3 ms per 1,000 characters, so without
 * a bound one 30 MB conversation asking for a title cost 10 s of CPU.
 */
export const MAX_REQUESTS_READ = 50;
const MAX_CHARS_READ = 2 * MAX_PROMPT_CHARS;

/**
 * The latest requests of `texts`, oldest first, cleaned, within the bounds above. A request with
 * no letter or digit left ("![![![…", "!!!") is noise, not something to name.
 */
function latestRequests(texts: readonly string[]): string[] {
  const window: string[] = [];
  let chars = 0;
  for (let i = texts.length - 1; i >= 0 && window.length < MAX_REQUESTS_READ; i--) {
    const text = cutAt(texts[i], MAX_CHARS_READ);
    if (window.length > 0 && chars + text.length > MAX_CHARS_READ) break;
    window.push(text);
    chars += text.length;
  }
  return window.reverse().map(cleanRequest).filter((request) => /[\p{L}\p{N}]/u.test(request));
}

/** At most `max` UTF-16 units of `text`, never ending between the halves of a surrogate pair. */
function cutAt(text: string, max: number): string {
  if (text.length <= max) return text;
  const high = text.charCodeAt(max - 1);
  return text.slice(0, high >= 0xd800 && high <= 0xdbff ? max - 1 : max);
}

/** The requests so far, as literal text: a summary is Markdown that some apps show. */
function summary(requests: string[], lang: HousekeepingTask["lang"]): string {
  const recent = [...new Set(requests)].slice(-10).map((request) =>
    escapeMarkdown(cutWords(request, 200))
  );
  if (lang === "zh") {
    return recent.length
      ? `目前的图片提示词：${recent.map((r) => `“${r}”`).join("；")}`
      : "尚未生成图片";
  }
  return recent.length
    ? `Image prompts so far: ${recent.map((r) => `"${r}"`).join("; ")}`
    : "No images requested yet";
}

/**
 * `[text](url)` → `text`. Neither part may hold a bracket of its own kind, so each character is
 * scanned from one start at most, and both are bounded besides.
 */
const LINK = /\[([^[\]\n]{0,500})\]\([^()\n]{0,2048}\)/g;
const URL = /\b(?:https?:\/\/|data:)\S+/g;
const EDGE = /[\s,.;:!?，。；：！？、"'“”‘’]/;

/**
 * The request as the user wrote it, without reasoning, prompt flags (as the image request reads
 * them: `--ar 16:9`, `—ar`, `seed:42`, `pic:2`, `1024x768`…), links, URLs or surrounding
 * punctuation. Flags are read before lines are joined, so an unquoted `--neg` ends with its line.
 */
export function cleanRequest(text: string): string {
  const prompt = parsePromptFlags(removeBlocks(text, "<think>", "</think>")).prompt
    .replace(LINK, "$1")
    .replace(URL, " ")
    .replace(/(?:^|\s)\/no_think\b/g, " ")
    .replace(/\s+/g, " ");
  // Trimmed by hand: `[…]+$` would rescan every run of punctuation from each of its characters.
  let start = 0;
  let end = prompt.length;
  while (start < end && EDGE.test(prompt[start])) start++;
  while (end > start && EDGE.test(prompt[end - 1])) end--;
  return prompt.slice(start, end);
}

/**
 * `text` without each `open`…`close` block (to the first `close` after its `open`), found by
 * `indexOf`: a lazy regex would rescan the rest of the text from every unclosed `open`.
 */
export function removeBlocks(text: string, open: string, close: string): string {
  let out = "";
  let at = 0;
  for (let start; (start = text.indexOf(open, at)) !== -1;) {
    const end = text.indexOf(close, start + open.length);
    if (end === -1) break;
    out += `${text.slice(at, start)} `;
    at = end + close.length;
  }
  return out + text.slice(at);
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
  // Punctuation that ends a word goes. Each run is matched once and the character after it looked
  // at; `[,;:.!?]+(?=\s|$)` would rescan a long run from each of its characters.
  const endsWord = (run: string, at: number) => /^\s?$/.test(plain.charAt(at + run.length));
  const words = plain.replace(/[,;:.!?]+/g, (run, at) => endsWord(run, at) ? " " : run)
    .replace(/\s+/g, " ")
    .trim();
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
