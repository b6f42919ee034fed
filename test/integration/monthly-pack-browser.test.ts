/**
 * The monthly pack as a manager opens it: queued by the real binary (`klagomal report monthly
 * --send`), sent by `klagomal run --once` to a real SMTP receiver, its HTML opened in headless
 * Chromium with each cid: image resolved to the file of its MIME part (as a mail client does),
 * and a screenshot of the page checked:
 *  - every chart is an image that loaded, at the size the HTML gives it, from a PNG twice as
 *    large (decoded here);
 *  - where each image is drawn the screenshot holds the chart: the bar colours of the numbers
 *    (the first category's blue in "received per month", green and red in "per rule"), not
 *    background;
 *  - nothing was fetched but the file and its images (no remote content in a mail).
 * Without Chromium the test is skipped, saying so. KLAGOMAL_PACK_SCREENSHOT=FILE keeps the
 * screenshot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { runCli } from '../support/world';
import { startSmtpReceiver, SmtpReceiver } from '../support/smtp';
import { Browser, decodePng, findChromium, Pixels } from '../support/chromium';
import { buildScenario, makeReportWorld, MAJA, ReportWorld } from '../support/report-fixture';
import { PALETTE } from '../../src/report/svg';

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn('monthly pack browser test skipped: no Chromium found; on Debian: apt-get install -y chromium');
const describeBrowser = CHROMIUM ? describe : describe.skip;

const WIDTH = 1000;
const HEIGHT = 900;

interface ImageFacts {
  src: string;
  alt: string;
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
  box: { x: number; y: number; width: number; height: number };
  attrWidth: number;
  attrHeight: number;
}

const hex = (c: string): [number, number, number] => [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
const near = (a: readonly number[], b: readonly number[]): boolean => a.every((v, i) => Math.abs(v - b[i]) <= 6);

/** Pixels in a box that are not the background (white), and those of one colour. */
function census(shot: Pixels, box: ImageFacts['box'], colour: [number, number, number]): { ink: number; colour: number; total: number } {
  let ink = 0;
  let hits = 0;
  let total = 0;
  for (let y = Math.ceil(box.y); y < Math.floor(box.y + box.height); y++) {
    for (let x = Math.ceil(box.x); x < Math.floor(box.x + box.width); x++) {
      const p = shot.at(x, y);
      total++;
      if (!near(p, [255, 255, 255])) ink++;
      if (near(p, colour)) hits++;
    }
  }
  return { ink, colour: hits, total };
}

describeBrowser('the monthly pack in headless Chromium, as sent', () => {
  let w: ReportWorld;
  let smtp: SmtpReceiver;
  let browser: Browser;
  let images: ImageFacts[];
  let shot: Pixels;
  let htmlFile: string;
  let packId: number;

  beforeAll(async () => {
    w = makeReportWorld();
    await buildScenario(w);
    smtp = await startSmtpReceiver();
    const raw = JSON.parse(fs.readFileSync(w.configFile, 'utf8')) as Record<string, unknown>;
    raw.transport = { type: 'smtp', host: smtp.host, port: smtp.port, tls: 'none', maxConnections: 2 };
    fs.writeFileSync(w.configFile, JSON.stringify(raw, null, 2));

    const queued = await runCli(['report', 'monthly', '--month', '2026-03', '--send', '--now', '2026-04-01T07:30:00Z', '--config', w.configFile]);
    expect([queued.code, queued.stderr]).toEqual([0, '']);
    expect(queued.stdout).toMatch(/monthly pack of 2026-03 queued to 1 manager/);
    packId = w.store.listOutbox().find((o) => o.kind === 'monthly-pack')!.id;
    const sent = await runCli(['run', '--once', '--config', w.configFile]);
    expect(sent.code).toBe(0);
    const received = smtp.messages.find((m) => m.headers.get('x-klagomal-report') === 'monthly 2026-03');
    expect(received?.to).toEqual([MAJA]);
    const mail = await simpleParser(received!.raw, { keepCidLinks: true });

    // The HTML with each cid: resolved to its part, written to files as a mail client would.
    const folder = path.join(w.dir, 'opened');
    fs.mkdirSync(folder);
    let html = typeof mail.html === 'string' ? mail.html : '';
    for (const a of mail.attachments.filter((x) => x.cid)) {
      fs.writeFileSync(path.join(folder, a.filename!), a.content);
      html = html.split(`cid:${a.cid}`).join(a.filename!);
    }
    expect(html).not.toContain('cid:');
    htmlFile = path.join(folder, 'pack.html');
    fs.writeFileSync(htmlFile, html);

    browser = Browser.launch(CHROMIUM!, WIDTH, HEIGHT);
    const { targetId } = (await browser.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await browser.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    for (const d of ['Page', 'Network', 'Runtime']) await browser.send(`${d}.enable`, {}, sessionId);
    await browser.send('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false }, sessionId);
    await browser.send('Page.navigate', { url: `file://${htmlFile}` }, sessionId);
    await browser.waitFor('Page.loadEventFired');
    const facts = (await browser.send(
      'Runtime.evaluate',
      {
        expression: `[...document.images].map((i) => { const r = i.getBoundingClientRect(); return { src: i.getAttribute('src'), alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, box: { x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height }, attrWidth: Number(i.getAttribute('width')), attrHeight: Number(i.getAttribute('height')) }; })`,
        returnByValue: true,
      },
      sessionId,
    )) as { result: { value: ImageFacts[] } };
    images = facts.result.value;
    const { contentSize } = (await browser.send('Page.getLayoutMetrics', {}, sessionId)) as { contentSize: { width: number; height: number } };
    const png = (await browser.send(
      'Page.captureScreenshot',
      { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width: WIDTH, height: Math.ceil(contentSize.height), scale: 1 } },
      sessionId,
    )) as { data: string };
    const bytes = Buffer.from(png.data, 'base64');
    if (process.env.KLAGOMAL_PACK_SCREENSHOT) fs.writeFileSync(process.env.KLAGOMAL_PACK_SCREENSHOT, bytes);
    shot = decodePng(bytes);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await smtp?.close();
    w?.close();
  });

  test('monthlyPackChartsShowInChromiumAsInlinePngs', () => {
    expect(images.map((i) => i.src)).toEqual([
      'received-by-month-2026-03.png',
      'category-vs-average-2026-03.png',
      'in-time-by-month-2026-03.png',
      'rules-2026-03.png',
    ]);
    for (const i of images) {
      expect([i.src, i.complete]).toEqual([i.src, true]);
      // Drawn at twice the size shown: sharp on a high-density screen.
      expect([i.src, i.naturalWidth, i.naturalHeight]).toEqual([i.src, i.attrWidth * 2, i.attrHeight * 2]);
      expect([i.src, Math.round(i.box.width), Math.round(i.box.height)]).toEqual([i.src, i.attrWidth, i.attrHeight]);
      expect(i.box.y + i.box.height).toBeLessThanOrEqual(shot.height);
      // Where the image is, the screenshot shows a chart (axes, labels, bars), not an empty box.
      const c = census(shot, i.box, [0, 0, 0]);
      expect([i.src, c.ink / c.total > 0.02]).toEqual([i.src, true]);
    }
    // The bars in their colours: fees, the month's largest category, is the first colour.
    const byMonth = census(shot, images[0].box, hex(PALETTE[0]));
    expect(byMonth.colour).toBeGreaterThan(500);
    // Per rule: the firm's promise missed in part is red (#c62828).
    const rules = census(shot, images[3].box, hex('#c62828'));
    expect(rules.colour).toBeGreaterThan(300);
  });

  test('monthlyPackFetchesNothingButItsOwnParts', () => {
    const requested = browser.events
      .filter((e) => e.method === 'Network.requestWillBeSent')
      .map((e) => (e.params.request as { url: string }).url.replace(`file://${path.dirname(htmlFile)}/`, ''));
    expect(requested.sort()).toEqual([
      'category-vs-average-2026-03.png',
      'in-time-by-month-2026-03.png',
      'pack.html',
      'received-by-month-2026-03.png',
      'rules-2026-03.png',
    ]);
  });

  test('monthlyPackFilesLeaveTheDatabaseOnceSent', () => {
    const row = w.store.outboxRow(packId)!;
    expect(row.status).toBe('sent');
    const files = w.store.outboxAttachments(packId);
    expect(files).toHaveLength(5);
    for (const f of files) {
      expect(f.content).toBeNull();
      expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(f.size).toBeGreaterThan(100);
    }
  });
});
