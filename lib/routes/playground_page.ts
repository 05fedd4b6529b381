/**
 * The web playground's page: plain HTML and CSS, no framework and no external resource, so it
 * works offline on a LAN and on a phone. Its behaviour is `playground_script.ts`; it talks only to
 * the public API and the gallery API, with the key the user typed (kept in this browser's
 * localStorage, never sent anywhere else).
 *
 * @module
 */

export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sf-image-gateway playground</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; --accent: #5b5bd6; --muted: #8a8a99; --card: rgba(127,127,127,.08); }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", "PingFang SC", sans-serif; }
  header { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; justify-content: space-between;
    padding: .75rem 1rem; border-bottom: 1px solid var(--card); }
  header h1 { font-size: 1.1rem; margin: 0; }
  nav button[aria-pressed="true"] { background: var(--accent); color: white; }
  main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
  form { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); }
  .field { display: grid; gap: .25rem; }
  label { font-size: .9rem; }
  .wide { grid-column: 1 / -1; }
  input, select, textarea, button { font: inherit; padding: .5rem .6rem; border-radius: .5rem;
    border: 1px solid var(--muted); background: transparent; color: inherit; }
  .field > input, .field > select, .field > textarea { width: 100%; min-width: 0; }
  textarea { min-height: 6rem; resize: vertical; }
  button { cursor: pointer; }
  button.primary { background: var(--accent); color: white; border-color: var(--accent); font-weight: 600; }
  button:disabled { opacity: .6; cursor: progress; }
  fieldset { border: 1px dashed var(--muted); border-radius: .5rem; display: grid; gap: .5rem;
    grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); }
  #status { min-height: 1.5rem; color: var(--muted); }
  #status.error { color: #d64545; }
  .grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); margin-top: 1rem; }
  figure { margin: 0; padding: .5rem; border-radius: .75rem; background: var(--card); display: grid; gap: .5rem; }
  figure img { width: 100%; height: auto; border-radius: .5rem; background: var(--card); }
  figcaption { font-size: .85rem; overflow-wrap: anywhere; }
  .meta { color: var(--muted); font-size: .8rem; }
  .actions { display: flex; flex-wrap: wrap; gap: .4rem; }
  .actions > * { font-size: .85rem; padding: .3rem .55rem; text-decoration: none; color: inherit;
    border: 1px solid var(--muted); border-radius: .5rem; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>sf-image-gateway</h1>
  <div class="field"><label for="key">API key</label>
    <input id="key" type="password" autocomplete="off" placeholder="your key"></div>
  <nav aria-label="Views">
    <button type="button" id="show-generate" aria-pressed="true">New image</button>
    <button type="button" id="show-gallery" aria-pressed="false">Gallery</button>
  </nav>
</header>
<main>
  <section id="generate-view" aria-label="Generate">
    <form id="form">
      <div class="field"><label for="model">Model</label><select id="model" required></select></div>
      <div class="field"><label for="size">Size</label>
        <select id="size">
          <option value="">Model default</option>
          <option value="1024x1024">Square (1:1)</option>
          <option value="768x1024">Portrait (3:4)</option>
          <option value="1024x768">Landscape (4:3)</option>
          <option value="720x1280">Tall (9:16)</option>
          <option value="1280x720">Wide (16:9)</option>
        </select></div>
      <div class="field"><label for="n">Number of images</label>
        <input id="n" type="number" min="1" max="4" value="1"></div>
      <div class="field"><label for="seed">Seed</label>
        <input id="seed" type="number" min="0" placeholder="random"></div>
      <div class="field wide"><label for="prompt">Prompt</label>
        <textarea id="prompt" required placeholder="a red fox in snow, watercolor"></textarea></div>
      <div class="field wide"><label for="negative">Negative prompt</label>
        <input id="negative" placeholder="blurry, low quality"></div>
      <fieldset id="inputs" class="wide" hidden>
        <legend>Input images (edit models, up to three)</legend>
        <div class="field"><label for="image1">Input image 1</label>
          <input id="image1" type="file" accept="image/*"></div>
        <div class="field"><label for="image2">Input image 2</label>
          <input id="image2" type="file" accept="image/*"></div>
        <div class="field"><label for="image3">Input image 3</label>
          <input id="image3" type="file" accept="image/*"></div>
      </fieldset>
      <div class="wide"><button class="primary" id="generate" type="submit">Generate</button></div>
    </form>
    <p><span id="status" role="status" aria-live="polite"></span>
      <span id="elapsed" aria-hidden="true"></span></p>
    <div id="results" class="grid" aria-label="Results"></div>
  </section>
  <section id="gallery-view" aria-label="Gallery" hidden>
    <p id="gallery-status" role="status" aria-live="polite"></p>
    <div id="gallery" class="grid"></div>
    <p><button type="button" id="more" hidden>More</button></p>
  </section>
</main>
<script src="/playground.js" type="module"></script>
</body>
</html>
`;
