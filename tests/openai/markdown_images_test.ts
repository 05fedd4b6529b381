/**
 * `splitMarkdownImages()` and what `readMessage()`/`readConversation()` make of it: which Markdown
 * images are read from chat text (the syntax the regular expression before it accepted, exactly),
 * and the text left. Linear time is in `tests/hostile/parsers_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readConversation, readMessage } from "../../lib/openai/chat_messages.ts";
import { splitMarkdownImages } from "../../lib/openai/markdown_images.ts";

/** The pattern `splitMarkdownImages()` replaced, as the reference for what it must accept. */
const REFERENCE =
  /!\[[^[\]\n]{0,500}\]\(\s*<?((?:https?:\/\/|data:image\/)[^\s)>]+)>?(?:\s+"[^"\n]{0,500}")?\s*\)/gi;

function byReference(text: string) {
  return {
    images: [...text.matchAll(REFERENCE)].map((m) => m[1]),
    rest: text.replace(REFERENCE, " "),
  };
}

Deno.test("splitMarkdownImages() reads each accepted form and leaves one space for each image", () => {
  const cases: [string, string[], string][] = [
    ["a ![cat](https://x.test/c.png) b", ["https://x.test/c.png"], "a   b"],
    ["![a](<http://x.test/a>)", ["http://x.test/a"], " "],
    ['![a](http://x.test/a "a title")', ["http://x.test/a"], " "],
    ['![a](<http://x.test/a> "t")', ["http://x.test/a"], " "],
    ["![a](\n  http://x.test/a  \n)", ["http://x.test/a"], " "],
    ["![a](HTTPS://X.TEST/A)", ["HTTPS://X.TEST/A"], " "],
    ["![a](data:image/png;base64,iVBOR=)", ["data:image/png;base64,iVBOR="], " "],
    ["![a](Data:Image/webp;base64,AA)", ["Data:Image/webp;base64,AA"], " "],
    ["![a](http://x>)", ["http://x"], " "],
    ["![a](<http://x)", ["http://x"], " "],
    ["![a](http://x)![b](http://y)", ["http://x", "http://y"], "  "],
    ["!![a](http://x)", ["http://x"], "! "],
  ];
  for (const [text, images, rest] of cases) {
    assert.deepEqual(splitMarkdownImages(text), { images, rest }, text);
  }
});

Deno.test("splitMarkdownImages() leaves alone what is no image of ours", () => {
  const texts = [
    "![a](ftp://x.test/a)",
    "![a](javascript:alert(1))",
    "![a](data:text/html,<b>)",
    "![a](http://)",
    "![a] (http://x)",
    "![a[b]](http://x)",
    "![a\nb](http://x)",
    "![a](http://x",
    '![a](http://x "title)',
    '![a](http://x "ti\ntle")',
    "![](<http://x.test/a b>)",
    "![a](http://x y)",
    "[a](http://x)",
    `![${"a".repeat(501)}](http://x)`,
    `![a](http://x "${"t".repeat(501)}")`,
    "![a](\u212Attp://x)", // the Kelvin sign is no "k", nor any letter of a scheme
  ];
  for (const text of texts) {
    assert.deepEqual(splitMarkdownImages(text), { images: [], rest: text }, text);
  }
  // At the bounds: 500 characters of alt text and of title are read.
  const long = `![${"a".repeat(500)}](http://x "${"t".repeat(500)}")`;
  assert.deepEqual(splitMarkdownImages(long), { images: ["http://x"], rest: " " });
});

Deno.test("splitMarkdownImages() agrees with the pattern it replaced on every short mix of its tokens", () => {
  const tokens = [
    "!",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    '"',
    " ",
    "\n",
    "\u00a0",
    "\u2028",
    "a",
    "http://",
    "HTTPS://",
    "data:image/",
    "![",
    "](",
  ];
  // A fixed pseudo-random sequence (a linear congruential generator), so a failure repeats.
  let seed = 15;
  const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  for (let i = 0; i < 20_000; i++) {
    let text = "";
    for (let length = 1 + next(16); length > 0; length--) text += tokens[next(tokens.length)];
    assert.deepEqual(splitMarkdownImages(text), byReference(text), JSON.stringify(text));
  }
});

Deno.test("readMessage() takes text parts and images in order, Markdown images out of the text", () => {
  assert.deepEqual(
    readMessage({
      role: "user",
      content: [
        { type: "text", text: "make  ![ref](https://x.test/r.png)  this  blue" },
        { type: "image_url", image_url: { url: "https://x.test/part.png" } },
        { type: "input_text", text: "and add a hat" },
        { type: "input_image", image_url: "data:image/png;base64,AA" },
      ],
    }),
    {
      text: "make this blue\nand add a hat",
      images: ["https://x.test/r.png", "https://x.test/part.png", "data:image/png;base64,AA"],
    },
  );
});

Deno.test("readConversation() finds the latest prompt and the last image before it", () => {
  assert.deepEqual(
    readConversation([
      { role: "user", content: "a fox" },
      {
        role: "assistant",
        content: "![a fox](https://x.test/1.png) ![again](https://x.test/2.png)",
      },
      { role: "system", content: "![sys](https://x.test/system.png)" },
      { role: "user", content: "now make the sky purple" },
      { role: "assistant", content: "thinking" },
    ]),
    { text: "now make the sky purple", images: [], previousImage: "https://x.test/2.png" },
  );
});
