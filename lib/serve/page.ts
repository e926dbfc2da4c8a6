/**
 * The page `alexnet serve` answers `GET /` with: choose or drop an image, and see the model's
 * top classes as bars, with the model's name. One HTML document with its style and script
 * inline, no framework, and nothing fetched from another host: its Content-Security-Policy
 * allows only this document's own script and style (by their SHA-256, as CSP Level 2 defines
 * hash sources), images from blob: URLs (the chosen file's preview) and requests to this server.
 */
import { createHash } from 'node:crypto';

const STYLE = `
body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; margin-bottom: 0.2rem; }
#model { color: #666; margin-top: 0; }
#drop { border: 2px dashed #999; border-radius: 8px; padding: 1.5rem; text-align: center; }
#drop.over { border-color: #06c; background: #eef5ff; }
#preview { display: block; max-width: 100%; max-height: 16rem; margin: 1rem auto; }
#top { list-style: none; padding: 0; }
#top li { display: grid; grid-template-columns: 12rem 1fr 4rem; gap: 0.5rem; align-items: center; margin: 0.3rem 0; }
.bar { background: #06c; height: 0.9rem; border-radius: 3px; }
.label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.probability { text-align: right; font-variant-numeric: tabular-nums; }
#status { color: #666; min-height: 1.4em; }
#status.error { color: #b00; }
`;

const SCRIPT = `
const input = document.getElementById('file');
const drop = document.getElementById('drop');
const preview = document.getElementById('preview');
const status = document.getElementById('status');
const list = document.getElementById('top');

function show(text, isError) {
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

function render(top) {
  list.replaceChildren(...top.map((t) => {
    const li = document.createElement('li');
    li.dataset.label = t.label;
    li.dataset.probability = String(t.probability);
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = t.label;
    label.title = t.label;
    const track = document.createElement('span');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.display = 'block';
    bar.style.width = (100 * t.probability).toFixed(1) + '%';
    track.append(bar);
    const p = document.createElement('span');
    p.className = 'probability';
    p.textContent = (100 * t.probability).toFixed(1) + '%';
    li.append(label, track, p);
    return li;
  }));
}

async function classify(file) {
  if (!file) return;
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  list.replaceChildren();
  show('classifying ' + file.name + '...', false);
  try {
    const response = await fetch('classify', { method: 'POST', body: file, headers: { 'Content-Type': file.type || 'application/octet-stream' } });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    render(answer.top);
    show(file.name + ': ' + answer.ms + ' ms', false);
  } catch (error) {
    show('error: ' + error.message, true);
  }
}

input.addEventListener('change', () => classify(input.files[0]));
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  classify(event.dataTransfer.files[0]);
});
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The page's Content-Security-Policy: its own inline script and style, and this server only. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  'img-src blob:',
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

function escapeHtml(text: string): string {
  const entities: Record<string, string> = {
    '&': '&amp;',
    '<': '&lt;',
    '>': '&gt;',
    '"': '&quot;',
    "'": '&#39;',
  };
  return text.replace(/[&<>"']/g, (c) => entities[c]);
}

/** The page for a server of `model` on `device`. */
export function classifierPage(model: string, device: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AlexNet: ${escapeHtml(model)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>AlexNet</h1>
<p id="model">model <strong>${escapeHtml(model)}</strong> on ${escapeHtml(device)}</p>
<div id="drop">
<p>Drop an image here, or <label for="file">choose one</label>:</p>
<input id="file" type="file" accept="image/*">
</div>
<img id="preview" alt="the chosen image" hidden>
<p id="status" role="status"></p>
<ol id="top" aria-label="top classes"></ol>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
