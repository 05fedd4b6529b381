/**
 * The Markdown that carries a chat answer's images: one `![alt](url)` per image, with alt text
 * that cannot break the Markdown (`MARKDOWN_ALT` chooses what it says). Pure.
 *
 * @module
 */
import { escapeMarkdown } from "../markdown_escape.ts";

export type MarkdownAlt = "prompt" | "numbered" | "plain";

/**
 * Alt text that cannot break the Markdown: no brackets, no line breaks, at most 100 characters,
 * and nothing a renderer reads as a link, emphasis or HTML (see `escapeMarkdown`).
 */
function safeAlt(text: string): string {
  const flat = text.replace(/[[\]\\]/g, " ").replace(/\s+/g, " ").trim();
  // Cut by code points, so an emoji is never split in half; escaped after, so no escape is cut.
  const points = [...flat.slice(0, 200)];
  return escapeMarkdown(points.length > 100 ? `${points.slice(0, 99).join("")}…` : flat);
}

/** One `![alt](url)` per image, separated by blank lines. */
export function imageMarkdown(urls: readonly string[], prompt: string, alt: MarkdownAlt): string {
  return urls.map((url, i) => {
    const text = alt === "plain"
      ? "image"
      : alt === "numbered"
      ? `image${i + 1}|${safeAlt(prompt)}`
      : safeAlt(prompt) || "image";
    return `![${text}](${url})`;
  }).join("\n\n");
}
