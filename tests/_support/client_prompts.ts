/**
 * Housekeeping prompts as real clients send them, copied from their source, for the tests that
 * replay those clients.
 *
 * @module
 */

// Open WebUI backend/open_webui/config.py; {{MESSAGES:END:n}} becomes `ROLE: content` lines.

/** Current DEFAULT_TITLE_GENERATION_PROMPT_TEMPLATE: no emojis. */
export const OWUI_TITLE = `### Task:
Generate a concise title summarizing the chat history.
### Guidelines:
- The title should clearly represent the main theme or subject of the conversation.
- Keep it short: 2-4 words is best.
- Do not use emojis, quotation marks, or special formatting.
- Write the title in the chat's primary language; default to English if multilingual.
- Prioritize accuracy over creativity.
- Your entire response must consist solely of the JSON object, without any introductory or concluding text.
- The output must be a single, raw JSON object, without any markdown code fences or other encapsulating text.
- Ensure no conversational text, affirmations, or explanations precede or follow the raw JSON output, as this will cause direct parsing failure.
### Output:
JSON format: { "title": "your concise title here" }
### Examples:
- { "title": "Stock Trends" },
- { "title": "Chocolate Chip Cookies" },
- { "title": "Music Streaming" },
- { "title": "Remote Work" }
### Chat History:
<chat_history>
{{MESSAGES:END:2}}
</chat_history>`;

/** Open WebUI's task prompt with the chat history filled in, as one user message. */
export function openWebUi(
  template: string,
  ...turns: [string, string][]
): { role: "user"; content: string }[] {
  const history = turns.map(([role, content]) => `${role.toUpperCase()}: ${content}`).join("\n");
  return [{ role: "user", content: template.replace(/\{\{MESSAGES:END:\d+\}\}/, history) }];
}

// NextChat app/locales/en.ts Store.Prompt.Topic

export const NEXTCHAT_TOPIC =
  "Please generate a four to five word title summarizing our conversation without any lead-in, punctuation, quotation marks, periods, symbols, bold text, or additional text. Remove enclosing quotation marks.";
