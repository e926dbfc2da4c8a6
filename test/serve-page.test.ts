/**
 * The page `alexnet serve` answers `GET /` with (lib/serve/page.ts), in a real headless browser:
 * Debian's chromium driven by puppeteer-core (which downloads no browser). The browser chooses
 * an image file, the page posts it to /classify and renders the top classes as bars; the test
 * reads the rendered rows and compares them with the server's own JSON answer for the same
 * bytes. Every request the page makes must go to this server, and the browser must report no
 * error (a Content-Security-Policy violation is one). Skipped, with the reason in the title,
 * where chromium or puppeteer-core is absent.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, type ClassScore } from '../lib';
import { ClassifierServer } from '../lib/serve/server';
import { jpegBytes } from './util/images';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The element properties the page's checks read, in the browser. */
interface DomElement {
  textContent: string | null;
  querySelector(selector: string): DomElement | null;
  dataset: Record<string, string | undefined>;
  style: { width: string };
  naturalWidth: number;
}

/** The part of puppeteer-core's API used here (declared here: it is a devDependency only). */
interface Page {
  on(event: 'request', listener: (request: { url(): string }) => void): void;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  goto(url: string, options: { waitUntil: 'load' }): Promise<unknown>;
  $(selector: string): Promise<{ uploadFile(...files: string[]): Promise<void> } | null>;
  waitForSelector(selector: string, options: { timeout: number }): Promise<unknown>;
  $eval<T>(selector: string, read: (element: DomElement) => T): Promise<T>;
  $$eval<T>(selector: string, read: (elements: DomElement[]) => T): Promise<T>;
}

interface Puppeteer {
  launch(options: { executablePath: string; headless: boolean; args: string[] }): Promise<{
    newPage(): Promise<Page>;
    close(): Promise<void>;
  }>;
}

/** puppeteer-core when installed (a devDependency), or why not. */
function loadPuppeteer(): { puppeteer?: Puppeteer; why: string } {
  if (!fs.existsSync(CHROMIUM)) return { why: `no chromium at ${CHROMIUM}` };
  try {
    return { puppeteer: require('puppeteer-core'), why: '' };
  } catch {
    return { why: 'puppeteer-core is not installed' };
  }
}

const { puppeteer, why } = loadPuppeteer();
const SMALL = { device: 'cpu' as const, classes: 4, inputSize: 67, widthScale: 1 / 16, seed: 5 };

(puppeteer ? describe : describe.skip)(
  `the page at / in headless chromium${why && `: skipped, ${why}`}`,
  () => {
    let dir: string;
    let model: AlexNet;
    let server: ClassifierServer;
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-page-'));
      model = new AlexNet(SMALL);
      model.classNames = ['ant', 'bee <b>', 'cat', 'dog'];
      server = await ClassifierServer.start(model, {
        port: 0,
        workers: 0,
        model: 'tiny.safetensors',
      });
    });
    afterAll(async () => {
      await server.close();
      await model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('GET / is an HTML page whose Content-Security-Policy allows nothing from another host', async () => {
      const res = await fetch(`${server.url}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/^default-src 'none'; /);
      // Every source the policy allows is this document's own (a hash), this server, or blob:.
      const sources = csp.split('; ').flatMap((d) => d.split(' ').slice(1));
      for (const source of sources) {
        expect(source).toMatch(/^('none'|'self'|'sha256-[A-Za-z0-9+/=]+'|blob:)$/);
      }
      const html = await res.text();
      expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
      expect(html).toContain('tiny.safetensors');
    });

    test('choosing an image shows its top classes as bars, as the server answers them', async () => {
      const image = path.join(dir, 'photo.jpg');
      const bytes = jpegBytes(120, 90, 4);
      fs.writeFileSync(image, bytes);
      const expected = (await (
        await fetch(`${server.url}/classify`, { method: 'POST', body: bytes })
      ).json()) as { top: ClassScore[] };

      const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-chromium-'));
      const browser = await puppeteer!.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${profile}`,
        ],
      });
      try {
        const page = await browser.newPage();
        const requested: string[] = [];
        const errors: string[] = [];
        page.on('request', (request) => requested.push(request.url()));
        page.on('console', (message) => {
          if (message.type() === 'error') errors.push(message.text());
        });
        page.on('pageerror', (error) => errors.push(String(error)));
        await page.goto(`${server.url}/`, { waitUntil: 'load' });
        expect(await page.$eval('#model', (el) => el.textContent)).toBe(
          `model tiny.safetensors on ${model.device}`,
        );
        const input = await page.$('#file');
        await input!.uploadFile(image);
        await page.waitForSelector('#top li', { timeout: 30_000 });
        const rows = await page.$$eval('#top li', (items) =>
          items.map((li) => ({
            label: li.querySelector('.label')?.textContent,
            shown: li.querySelector('.probability')?.textContent,
            // The browser normalises '0.0%' to '0%': compare the number.
            width: Number.parseFloat(li.querySelector('.bar')?.style.width ?? ''),
            probability: Number(li.dataset.probability),
          })),
        );
        expect(rows).toEqual(
          expected.top.map((t) => ({
            label: t.label,
            shown: `${(100 * t.probability).toFixed(1)}%`,
            width: Number((100 * t.probability).toFixed(1)),
            probability: t.probability,
          })),
        );
        expect(rows).toHaveLength(4);
        expect(await page.$eval('#status', (el) => el.textContent)).toMatch(
          /^photo\.jpg: [\d.]+ ms$/,
        );
        expect(await page.$eval('#preview', (el) => el.naturalWidth)).toBe(120);
        const others = requested.filter(
          (url) => !url.startsWith(`${server.url}/`) && !url.startsWith('blob:'),
        );
        expect(others).toEqual([]);
        expect(requested).toContain(`${server.url}/classify`);
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
        fs.rmSync(profile, { recursive: true, force: true });
      }
    }, 120_000);
  },
);
