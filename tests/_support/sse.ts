/**
 * Reading server-sent events the way the OpenAI SDK does: frames separated by blank lines,
 * `data:` payloads parsed as JSON (except `[DONE]`), comment lines kept apart.
 *
 * @module
 */

export interface SseFrames {
  /** Parsed `data:` payloads in order; `"[DONE]"` stays a string. */
  data: unknown[];
  /** Comment lines (`: …`) in order, without the colon. */
  comments: string[];
  /** Every frame in order, as `data` or `comment`, to check interleaving. */
  order: ("data" | "comment")[];
  /** The `event:` name of each `data` frame, in order (`undefined` for unnamed frames). */
  events: (string | undefined)[];
}

export async function readSse(res: Response): Promise<SseFrames> {
  const text = await res.text();
  const frames: SseFrames = { data: [], comments: [], order: [], events: [] };
  for (const frame of text.split("\n\n")) {
    if (frame === "") continue;
    let event: string | undefined;
    for (const line of frame.split("\n")) {
      if (line.startsWith("event: ")) {
        event = line.slice(7);
        continue;
      }
      if (line.startsWith(":")) {
        frames.comments.push(line.slice(1).trim());
        frames.order.push("comment");
      } else if (line.startsWith("data: ")) {
        const payload = line.slice(6);
        frames.data.push(payload === "[DONE]" ? payload : JSON.parse(payload));
        frames.events.push(event);
        frames.order.push("data");
      } else throw new Error(`Unexpected SSE line: ${line}`);
    }
  }
  return frames;
}
