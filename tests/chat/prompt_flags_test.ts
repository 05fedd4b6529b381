/**
 * `parsePromptFlags()`: flags, sizes, ratios and keywords read out of chat prompts in English and
 * Chinese, and the prompt left behind.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parsePromptFlags, type PromptFlags } from "../../lib/chat/prompt_flags.ts";

/** Asserts each `[text, expected]` exactly; the text rides along so a failure names its case. */
function check(...cases: [text: string, expected: PromptFlags][]) {
  for (const [text, expected] of cases) {
    assert.deepEqual([text, parsePromptFlags(text)], [text, expected]);
  }
}

const WIDE = { width: 16, height: 9 };
const TALL = { width: 9, height: 16 };
const SQUARE = { width: 1, height: 1 };

Deno.test("parsePromptFlags() reads the seed project's example: a ratio glued to 比例 and pic:N", () => {
  check(
    ["画一只可爱的猫咪，9:16比例 pic:3", { prompt: "画一只可爱的猫咪", ratio: TALL, n: 3 }],
    ["画一只可爱的猫咪，9:16比例", { prompt: "画一只可爱的猫咪", ratio: TALL }],
    ["画一只可爱的猫咪，9:16比例 pic:2", { prompt: "画一只可爱的猫咪", ratio: TALL, n: 2 }],
  );
});

Deno.test("parsePromptFlags() reads every flag at once and removes them all from the prompt", () => {
  check(
    ['a cat --ar 16:9 --seed 42 --steps 30 --cfg 4 --n 2 --neg "blurry, text"', {
      prompt: "a cat",
      ratio: WIDE,
      seed: 42,
      steps: 30,
      cfg: 4,
      n: 2,
      negativePrompt: "blurry, text",
    }],
    ["--seed 7 a lighthouse at dusk --ar 3:2 in oil paint", {
      prompt: "a lighthouse at dusk in oil paint",
      seed: 7,
      ratio: { width: 3, height: 2 },
    }],
  );
});

Deno.test("parsePromptFlags() treats clock times as words, never as ratios", () => {
  const times = [
    "meet me at 10:30 in front of the lighthouse",
    "a clock tower at 9:30 pm",
    "a digital clock showing 12:00",
    "a neon sign reading 23:59",
    "a sign that says 1:30",
    "afternoon tea at 4:30",
    "a stopwatch at 10:30:45",
    "an alarm clock at 09:16",
    "a cross with John 3:16 written on it",
    "a train timetable: 7:45, 8:15, 9:05",
  ];
  check(...times.map((text): [string, PromptFlags] => [text, { prompt: text }]));
});

Deno.test("parsePromptFlags() tells 9:16 from the time 9:16 by the words beside it", () => {
  check(
    ["a 9:16 wallpaper of a forest", { prompt: "a wallpaper of a forest", ratio: TALL }],
    ["a 9:16 phone wallpaper of a forest", {
      prompt: "a phone wallpaper of a forest",
      ratio: TALL,
    }],
    ["a 16:9 cinematic shot of rain", { prompt: "a cinematic shot of rain", ratio: WIDE }],
    ["a 10:16 poster", { prompt: "a poster", ratio: { width: 10, height: 16 } }],
    ["a laptop screen, 16:10", { prompt: "a laptop screen", ratio: { width: 16, height: 10 } }],
    ["a station clock at 9:16", { prompt: "a station clock at 9:16" }],
    ["a clock showing 9:16 pm", { prompt: "a clock showing 9:16 pm" }],
    ["the train leaves at 16:10", { prompt: "the train leaves at 16:10" }],
    ["早上9:16出发的火车", { prompt: "早上9:16出发的火车" }],
    ["下午9:16的街道", { prompt: "下午9:16的街道" }],
  );
});

Deno.test("parsePromptFlags() reads a ratio with a one-digit height wherever it stands", () => {
  // A clock writes minutes with two digits, so "16:9" after "at" is still a ratio.
  check(
    ["render it at 16:9", { prompt: "render it at", ratio: WIDE }],
    ["a 4:3 photo of a dog", { prompt: "a photo of a dog", ratio: { width: 4, height: 3 } }],
    ["cinematic shot, 21:9", { prompt: "cinematic shot", ratio: { width: 21, height: 9 } }],
    ["a poster in a 16:9 ratio of a dog", { prompt: "a poster of a dog", ratio: WIDE }],
    ["aspect ratio 2:3, a vase", { prompt: "a vase", ratio: { width: 2, height: 3 } }],
    ["a cat, 1:1.", { prompt: "a cat.", ratio: SQUARE }],
  );
});

Deno.test("parsePromptFlags() reads ratios glued to Chinese text without relying on \\b", () => {
  check(
    ["一张16:9的海报", { prompt: "一张海报", ratio: WIDE }],
    ["16：9的壁纸，雪山", { prompt: "壁纸，雪山", ratio: WIDE }],
    ["比例：4:3，一只狗", { prompt: "一只狗", ratio: { width: 4, height: 3 } }],
    ["比例为3:4的人像", { prompt: "人像", ratio: { width: 3, height: 4 } }],
    ["画一张16比9的图", { prompt: "画一张图", ratio: WIDE }],
    ["一只猫9:16比例的图", { prompt: "一只猫图", ratio: TALL }],
    ["一只猫（9:16）", { prompt: "一只猫", ratio: TALL }],
  );
});

Deno.test("parsePromptFlags() leaves a score or any bare ratio mid-sentence as text", () => {
  // The example, and ratios with no ratio word or image noun beside them.
  const scores = [
    "the match ended 3:2 and fans cheered",
    "we won 3:2 yesterday",
    "比分3:2，球迷欢呼",
    "a 3:2 win for the home team",
    "ratio of votes was high, they won 2:1 in the end of the game",
    "render it in 16:9 for my desk",
    "we won 2:1, photo by Ann",
    "a 16:9 cat in the snow",
  ];
  check(...scores.map((text): [string, PromptFlags] => [text, { prompt: text }]));
});

Deno.test("parsePromptFlags() reads a bare ratio at the end, by a ratio word or an image noun", () => {
  const ratio = { width: 3, height: 2 };
  check(
    // At the end: only punctuation, closing brackets, removed flags or URLs may follow.
    ["a city skyline, 3:2", { prompt: "a city skyline", ratio }],
    ["一只猫，3:2。", { prompt: "一只猫。", ratio }],
    ["a cat 3:2!", { prompt: "a cat!", ratio }],
    ["a cat 3:2 --seed 5", { prompt: "a cat", seed: 5, ratio }],
    ["a cat 3:2 https://a.b/ref.png", { prompt: "a cat https://a.b/ref.png", ratio }],
    // After an earlier ratio, later ones read at the end count as nothing; a word between does not.
    ["a cat 16:9 3:2", { prompt: "a cat", ratio }],
    ["a cat, 16:9 or 3:2", { prompt: "a cat, 16:9 or", ratio }],
    // A ratio word before or after it.
    ["ratio 3:2, a cat", { prompt: "a cat", ratio }],
    ["画面比例3:2的一只猫", { prompt: "一只猫", ratio }],
    ["3:2 format, a cat", { prompt: "a cat", ratio }],
    ["a cat in 3:2 aspect ratio, cute", { prompt: "a cat, cute", ratio }],
    // An image noun right after it, kept in the prompt.
    ["a 3:2 Poster of a dog", { prompt: "a Poster of a dog", ratio }],
    ["3:2 wallpapers of a forest", { prompt: "wallpapers of a forest", ratio }],
    ["a 3:2 portrait of a knight", { prompt: "a portrait of a knight", ratio }],
    ["3:2海报，雪山", { prompt: "海报，雪山", ratio }],
    ["一张3:2的照片，雪山", { prompt: "一张照片，雪山", ratio }],
  );
});

Deno.test("parsePromptFlags() keeps keywords in the prompt and maps them to 1:1, 16:9 or 9:16", () => {
  check(
    ["一只猫横屏", { prompt: "一只猫横屏", ratio: WIDE }],
    ["a poster, landscape", { prompt: "a poster, landscape", ratio: WIDE }],
    ["正方形的头像", { prompt: "正方形的头像", ratio: SQUARE }],
    ["方形图标，极简", { prompt: "方形图标，极简", ratio: SQUARE }],
    ["a square avatar of a fox", { prompt: "a square avatar of a fox", ratio: SQUARE }],
    ["portrait of an old fisherman", { prompt: "portrait of an old fisherman", ratio: TALL }],
    ["竖屏壁纸，星空", { prompt: "竖屏壁纸，星空", ratio: TALL }],
    ["竖版海报", { prompt: "竖版海报", ratio: TALL }],
    ["纵向构图的瀑布", { prompt: "纵向构图的瀑布", ratio: TALL }],
    ["横版插画", { prompt: "横版插画", ratio: WIDE }],
    ["宽屏电影截图", { prompt: "宽屏电影截图", ratio: WIDE }],
    ["横向的长城全景", { prompt: "横向的长城全景", ratio: WIDE }],
    ["A Landscape Painting", { prompt: "A Landscape Painting", ratio: WIDE }],
  );
});

Deno.test("parsePromptFlags() does not take place names, units or 长方形 as a square", () => {
  check(
    ["Times Square at night", { prompt: "Times Square at night" }],
    ["a crowd in Red Square", { prompt: "a crowd in Red Square" }],
    ["a market in the town square", { prompt: "a market in the town square" }],
    ["a 10 square meters studio", { prompt: "a 10 square meters studio" }],
    ["长方形的盒子", { prompt: "长方形的盒子" }],
  );
});

Deno.test("parsePromptFlags() keeps 1:1 scale models and 1:1还原 as words", () => {
  check(
    ["a 1:1 scale model of a car", { prompt: "a 1:1 scale model of a car" }],
    ["1:1还原的高达模型", { prompt: "1:1还原的高达模型" }],
  );
});

Deno.test("parsePromptFlags() lets a flag beat a plain ratio, and a plain ratio beat a keyword", () => {
  check(
    ["横屏 一只猫 9:16", { prompt: "横屏 一只猫", ratio: TALL }],
    ["a portrait, 16:9 --ar 2:3", { prompt: "a portrait", ratio: { width: 2, height: 3 } }],
    ["--ar 1:1 a landscape", { prompt: "a landscape", ratio: SQUARE }],
  );
});

Deno.test("parsePromptFlags() reports both a size and a ratio, leaving the choice to the caller", () => {
  check(
    ["a cat --size 1024x768", { prompt: "a cat", size: "1024x768" }],
    ["a cat --size 1024x768 --ar 16:9", { prompt: "a cat", size: "1024x768", ratio: WIDE }],
    ["--size 1024*1024 a fox", { prompt: "a fox", size: "1024x1024" }],
    ["--size 1024×768 a fox", { prompt: "a fox", size: "1024x768" }],
    ["--size 1024 X 768px a fox", { prompt: "a fox", size: "1024x768" }],
    ["a fox 960x1280 --size 720x1280", { prompt: "a fox", size: "720x1280" }],
  );
});

Deno.test("parsePromptFlags() reads a plain size such as 1920x1080 but not a small grid", () => {
  check(
    ["a 100x100 grid, 1920x1080px wallpaper", {
      prompt: "a 100x100 grid, wallpaper",
      size: "1920x1080",
    }],
    ["分辨率1024x1024的头像", { prompt: "头像", size: "1024x1024" }],
    ["画一只猫 尺寸：768*1024", { prompt: "画一只猫", size: "768x1024" }],
    ["a 2x4 lumber pile", { prompt: "a 2x4 lumber pile" }],
  );
});

Deno.test("parsePromptFlags() lets the last of repeated flags win", () => {
  check(
    ["--n 1 a cat --n 3 pic:2", { prompt: "a cat", n: 2 }],
    ["--seed 1 a cat --seed 2", { prompt: "a cat", seed: 2 }],
    ["--neg blurry a cat --neg text", { prompt: "", negativePrompt: "text" }],
    ["a 16:9 poster, no, 9:16", { prompt: "a poster, no", ratio: TALL }],
  );
});

Deno.test("parsePromptFlags() reads negative prompts quoted, or up to the next flag or line end", () => {
  check(
    ['a cat --neg "blurry, text, --ar 1:1"', {
      prompt: "a cat",
      negativePrompt: "blurry, text, --ar 1:1",
    }],
    ["a cat --neg “blurry, watermark” cute", {
      prompt: "a cat cute",
      negativePrompt: "blurry, watermark",
    }],
    ["一只猫 --neg “模糊，文字” 可爱", { prompt: "一只猫 可爱", negativePrompt: "模糊，文字" }],
    ["一只猫 --neg 「模糊」", { prompt: "一只猫", negativePrompt: "模糊" }],
    ["a cat --neg 'low quality'", { prompt: "a cat", negativePrompt: "low quality" }],
    ["a cat --neg blurry, low quality, --ar 3:2", {
      prompt: "a cat",
      negativePrompt: "blurry, low quality",
      ratio: { width: 3, height: 2 },
    }],
    ["a cat --no plants, text\nin the rain", {
      prompt: "a cat\nin the rain",
      negativePrompt: "plants, text",
    }],
    ["一只猫 --neg 模糊 pic:2", { prompt: "一只猫", negativePrompt: "模糊", n: 2 }],
    ["a cat --negative_prompt ugly hands", { prompt: "a cat", negativePrompt: "ugly hands" }],
    ["a cat --neg 'blurry", { prompt: "a cat", negativePrompt: "blurry" }],
  );
});

Deno.test("parsePromptFlags() ignores keywords inside a negative prompt", () => {
  check(["a dog --no portrait, square", { prompt: "a dog", negativePrompt: "portrait, square" }]);
});

Deno.test("parsePromptFlags() accepts pic:N and seed:N with a full-width colon and spaces", () => {
  check(
    ["a cat seed:42 in the rain pic：2", { prompt: "a cat in the rain", seed: 42, n: 2 }],
    ["一只猫 pic: 4", { prompt: "一只猫", n: 4 }],
    ["一只猫 Seed：7 PIC:1", { prompt: "一只猫", seed: 7, n: 1 }],
    ["一只猫pic:2", { prompt: "一只猫", n: 2 }],
  );
});

Deno.test("parsePromptFlags() does not read pic:N or seed:N inside a longer word", () => {
  check(
    ["epic:2 battle", { prompt: "epic:2 battle" }],
    ["birdseed:3 packets", { prompt: "birdseed:3 packets" }],
  );
});

Deno.test("parsePromptFlags() reads a flag only as a word of its own, not glued to other text", () => {
  // The example: `me@pic:4` is an address, not four images.
  const glued = [
    "me@pic:4",
    "user.pic:2",
    "a/seed:3",
    "x_pic:2",
    "a#pic:2 a&seed:3 a=pic:2 a+pic:2 a~seed:3 a-pic:2 a:pic:2 котpic:2",
    "me@--seed 3 user.—seed 3 x_--n 2",
    "a cat pic:2x",
    "a cat pic:2abc",
    "a cat seed:3@x",
    "a cat pic:2-3",
  ];
  check(...glued.map((text): [string, PromptFlags] => [text, { prompt: text }]));
  check(
    ["一只猫pic:2", { prompt: "一只猫", n: 2 }],
    ["一只猫 pic:2", { prompt: "一只猫", n: 2 }],
    ["一只猫，pic:2", { prompt: "一只猫", n: 2 }],
    ["一只猫（pic:2）", { prompt: "一只猫", n: 2 }],
    ["(pic:2)", { prompt: "", n: 2 }],
    ["a cat, pic:2", { prompt: "a cat", n: 2 }],
    ["a cat「seed:3」", { prompt: "a cat", seed: 3 }],
    ["a cat pic:2.", { prompt: "a cat.", n: 2 }],
    ["pic:2一只猫", { prompt: "一只猫", n: 2 }],
  );
});

Deno.test("parsePromptFlags() reads flag aliases, =, any case and the iOS smart dash —", () => {
  check(
    ["--aspect 3:2 x", { prompt: "x", ratio: { width: 3, height: 2 } }],
    ["--aspect-ratio 16/9 x", { prompt: "x", ratio: WIDE }],
    ["--ar 16x9 x", { prompt: "x", ratio: WIDE }],
    ["--ar 16：9 x", { prompt: "x", ratio: WIDE }],
    ["--ar 2.39:1 film still", { prompt: "film still", ratio: { width: 2.39, height: 1 } }],
    ["--guidance 7.5 x", { prompt: "x", cfg: 7.5 }],
    ["--cfg=4.5 x --steps=20", { prompt: "x", cfg: 4.5, steps: 20 }],
    ["--cfg_scale 3 --step 8 x", { prompt: "x", cfg: 3, steps: 8 }],
    ["--AR 16:9 --Seed 3 x", { prompt: "x", ratio: WIDE, seed: 3 }],
    ["a cat —ar 16:9 —seed 7", { prompt: "a cat", ratio: WIDE, seed: 7 }],
    ["--pic 2 x", { prompt: "x", n: 2 }],
    ["猫--ar 16:9", { prompt: "猫", ratio: WIDE }],
  );
});

Deno.test("parsePromptFlags() reports numbers as written and leaves ranges to the caller", () => {
  check(
    ["a cat --n 99 --seed -1 --steps 500 --cfg 0", {
      prompt: "a cat",
      n: 99,
      seed: -1,
      steps: 500,
      cfg: 0,
    }],
    ["a cat --seed 99999999999", { prompt: "a cat", seed: 99999999999 }],
  );
});

Deno.test("parsePromptFlags() leaves flags with malformed values in the prompt", () => {
  check(
    ["--seed 4.5 a cat --steps many", { prompt: "--seed 4.5 a cat --steps many" }],
    ["a cat --ar 0:1", { prompt: "a cat --ar 0:1" }],
    ["a cat --ar wide", { prompt: "a cat --ar wide" }],
    ["a cat --size big", { prompt: "a cat --size big" }],
    ["a cat --seed 42abc", { prompt: "a cat --seed 42abc" }],
    ["a cat --n", { prompt: "a cat --n" }],
    ['a cat --neg ""', { prompt: 'a cat --neg ""' }],
    ["a cat --neg --ar 1:1", { prompt: "a cat --neg", ratio: SQUARE }],
  );
});

Deno.test("parsePromptFlags() leaves unknown flags such as --style raw in the prompt", () => {
  check(["a cat --style raw --ar 3:2", {
    prompt: "a cat --style raw",
    ratio: { width: 3, height: 2 },
  }]);
});

Deno.test("parsePromptFlags() never reads URLs or data URIs", () => {
  check(
    ["see https://a.b/x?y=16:9 now", { prompt: "see https://a.b/x?y=16:9 now" }],
    ["https://a.b/x--seed 42", { prompt: "https://a.b/x--seed 42" }],
    ["www.example.com/a:16:9/square", { prompt: "www.example.com/a:16:9/square" }],
    ["![cat](https://gw.example/i/ab--c.png) make the sky purple --ar 1:1", {
      prompt: "![cat](https://gw.example/i/ab--c.png) make the sky purple",
      ratio: SQUARE,
    }],
    ["data:image/png;base64,AAAA16:9 x", { prompt: "data:image/png;base64,AAAA16:9 x" }],
  );
});

Deno.test("parsePromptFlags() does not read a -- glued to a word or opening an HTML comment", () => {
  check(
    ["x--seed 42", { prompt: "x--seed 42" }],
    ["<!--seed 3-->", { prompt: "<!--seed 3-->" }],
  );
});

Deno.test("parsePromptFlags() handles empty text and text made only of flags", () => {
  check(
    ["", { prompt: "" }],
    ["   \n ", { prompt: "" }],
    ["--ar 16:9 --n 2", { prompt: "", ratio: WIDE, n: 2 }],
    ["9:16比例 pic:3", { prompt: "", ratio: TALL, n: 3 }],
  );
});

Deno.test("parsePromptFlags() tidies punctuation, brackets and line breaks left by removals", () => {
  check(
    ["a cat (16:9 format) cute", { prompt: "a cat cute", ratio: WIDE }],
    ["a cat, --ar 16:9, cute", { prompt: "a cat, cute", ratio: WIDE }],
    ["a cat **16:9**", { prompt: "a cat", ratio: WIDE }],
    ["可爱、16:9比例、猫", { prompt: "可爱、猫", ratio: WIDE }],
    ["a cat 16:9 ratio, in snow", { prompt: "a cat, in snow", ratio: WIDE }],
    ["line one\n--ar 16:9\nline two", { prompt: "line one\nline two", ratio: WIDE }],
    ["para one\n\n--seed 1\n\npara two", { prompt: "para one\n\npara two", seed: 1 }],
    ["a  cat,  cute --seed 1", { prompt: "a  cat,  cute", seed: 1 }],
  );
});

Deno.test("parsePromptFlags() keeps Markdown and mixed Chinese and English wording intact", () => {
  check(
    ["## 海报\n一只**柴犬** in a spacesuit, 9:16 --seed 7", {
      prompt: "## 海报\n一只**柴犬** in a spacesuit",
      ratio: TALL,
      seed: 7,
    }],
    ["一只cute的猫，landscape，--neg 模糊", {
      prompt: "一只cute的猫，landscape",
      ratio: WIDE,
      negativePrompt: "模糊",
    }],
  );
});

/**
 * The bound for texts at the gateway's 32,000-character prompt cap. It guards against super-linear
 * blow-up and is no speed target (those belong in `deno task bench`): each text below parses in
 * well under 20 ms on a 2-CPU machine, so 1000 ms is ~50× that and a slow or busy CI machine still
 * passes, while catastrophic backtracking or a rescan per match does not (before the fix,
 * `"ratio"` and 30,000 spaces took hours; `--neg 「` repeated, about 1.5 s).
 */
const MAX_MS_AT_CAP = 1000;

/** Asserts each `[label, text, expected]` exactly, and that it parsed within `maxMs`. */
function checkLinear(maxMs: number, ...cases: [label: string, text: string, PromptFlags][]) {
  for (const [label, text, expected] of cases) {
    const start = performance.now();
    const flags = parsePromptFlags(text);
    const ms = performance.now() - start;
    // The label stands in for the text, which is too long to print.
    assert.deepEqual([label, flags], [label, expected]);
    assert.ok(ms < maxMs, `${label}: ${Math.round(ms)} ms, over ${maxMs} ms: super-linear again?`);
  }
}

Deno.test("parsePromptFlags() reads hostile texts at the prompt cap correctly and in linear time", () => {
  const zh = "一只猫9:16比例，".repeat(3200);
  assert.equal(zh.length, 32_000);
  checkLinear(
    MAX_MS_AT_CAP,
    ['"1:1 " × 8000', "1:1 ".repeat(8000), { prompt: "", ratio: SQUARE }],
    ['"ratio", 30,000 spaces, "16:9"', "ratio" + " ".repeat(30_000) + "16:9", {
      prompt: "",
      ratio: WIDE,
    }],
    // Each --neg has nothing after it but the next one, so each is malformed and stays.
    ['"--neg " × 5000', "--neg ".repeat(5000), { prompt: "--neg ".repeat(5000).trim() }],
    ['"pic:2 " × 5000', "pic:2 ".repeat(5000), { prompt: "", n: 2 }],
    ['"![" × 16,000', "![".repeat(16_000), { prompt: "![".repeat(16_000) }],
    ['"一只猫9:16比例，" × 3200', zh, { prompt: "一只猫，".repeat(3200), ratio: TALL }],
    ['"in", 31,998 spaces', "in" + " ".repeat(31_998), { prompt: "in" }],
    ['"ratio of", 31,992 spaces', "ratio of" + " ".repeat(31_992), { prompt: "ratio of" }],
    // An opening quote never closed on its line: the value runs to the next flag, here empty.
    ['"--neg 「" × 4571', "--neg 「".repeat(4571), { prompt: "--neg 「".repeat(4571).trim() }],
    ['"--neg a", 32,000 spaces, "b"', "--neg a" + " ".repeat(32_000) + "b", {
      prompt: "",
      negativePrompt: "a" + " ".repeat(32_000) + "b",
    }],
    ['"a", 32,000 spaces, "b 1:1"', "a" + " ".repeat(32_000) + "b 1:1", {
      prompt: "a" + " ".repeat(32_000) + "b",
      ratio: SQUARE,
    }],
    // Mid-sentence ratios: each looks for a noun after it and for the end, and finds neither.
    ['"a 1:1", 31,990 spaces, "b"', "a 1:1" + " ".repeat(31_990) + "b", {
      prompt: "a 1:1" + " ".repeat(31_990) + "b",
    }],
    ['"1:1 x " × 5333', "1:1 x ".repeat(5333), { prompt: "1:1 x ".repeat(5333).trim() }],
    ['"(" × 16,000, "1:1", ")" × 16,000', "(".repeat(16_000) + "1:1" + ")".repeat(16_000), {
      prompt: "",
      ratio: SQUARE,
    }],
  );
});

Deno.test("parsePromptFlags() stays linear far past the prompt cap, where quadratic time shows", () => {
  // At the cap a parser that rebuilds the text per match still takes only ~0.1 s, too close to a
  // bound that must never flake. At 16× the cap these take ~0.2 s here and did 14 s to 52 s
  // before the fix; 4000 ms leaves ~20× for slow machines and still fails the quadratic parser.
  const lines = "x" + "\n".repeat(256_000) + "1:1\n".repeat(64_000);
  checkLinear(
    4000,
    ['"1:1 " × 128,000', "1:1 ".repeat(128_000), { prompt: "", ratio: SQUARE }],
    // Each "1:1" is read for the noun after it, so each is cut: one seam per match.
    ['"a 1:1 photo " × 42,667', "a 1:1 photo ".repeat(42_667), {
      prompt: "a photo ".repeat(42_667).trim(),
      ratio: SQUARE,
    }],
    ['"x", 256,000 line breaks, "1:1\\n" × 64,000', lines, { prompt: "x", ratio: SQUARE }],
  );
});

Deno.test("parsePromptFlags() reads a flag right after one it removed, as if nothing were between", () => {
  // The first value ends at "1", which would otherwise read as a word glued to the next "--seed".
  check(
    ["--seed 1--seed 2 pic:1pic:2", { prompt: "pic:1pic:2", seed: 2 }],
    ["a cat --ar 16:9--n 2", { prompt: "a cat", ratio: WIDE, n: 2 }],
  );
});
