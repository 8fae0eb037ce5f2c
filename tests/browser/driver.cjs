// A remote control for one headless Chromium, for the Rust browser tests (tests/common/browser.rs).
// Reads one JSON command per line on stdin and answers each with one JSON line on stdout:
// {"ok": true, ...result} or {"ok": false, "error": "..."}. The test decides what to do and
// asserts; this only drives pages and reports what they show.
//
// playwright-core comes from PLAYWRIGHT_DIR (an `npm ci` of tools/playwright); the browser is the
// system's Chromium at CHROMIUM, never a downloaded one.

'use strict';

const path = require('node:path');
const readline = require('node:readline');

const { chromium } = require(path.join(process.env.PLAYWRIGHT_DIR, 'node_modules', 'playwright-core'));

// The flags this machine's Chromium needs: no sandbox as root, no GPU, and no background
// connections to Google's hosts (the network is closed; they would fail noisily).
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const POLL_MS = 50;

let browser;
const pages = new Map();

function page(command) {
  const entry = pages.get(command.page);
  if (!entry) throw new Error(`no page named ${command.page}`);
  return entry;
}

async function texts(entry, selector) {
  return entry.page.locator(selector).allTextContents();
}

// Polls until `done(texts)` holds or the timeout passes; the last texts are in the error.
async function waitTexts(entry, selector, timeout, done, what) {
  const deadline = Date.now() + timeout;
  let seen = [];
  for (;;) {
    seen = await texts(entry, selector);
    if (done(seen)) return { texts: seen };
    if (Date.now() > deadline) {
      throw new Error(`${what} in ${selector} within ${timeout} ms; it shows ${JSON.stringify(seen)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function handle(command) {
  const timeout = command.timeout ?? 20000;
  switch (command.op) {
    case 'launch': {
      // launch() gives the browser a fresh, empty profile (--user-data-dir) of its own.
      browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args: ARGS });
      return { version: browser.version() };
    }
    case 'open': {
      const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
      const opened = await context.newPage();
      const entry = { page: opened, dialogs: [], errors: [] };
      opened.on('dialog', (dialog) => {
        entry.dialogs.push(dialog.message());
        dialog.dismiss().catch(() => {});
      });
      opened.on('pageerror', (error) => entry.errors.push(`page error: ${error.message}`));
      opened.on('console', (message) => {
        if (message.type() === 'error') entry.errors.push(`console: ${message.text()}`);
      });
      pages.set(command.page, entry);
      await opened.goto(command.url, { timeout });
      return {};
    }
    case 'fill':
      await page(command).page.fill(command.selector, command.value, { timeout });
      return {};
    case 'click':
      await page(command).page.click(command.selector, { timeout });
      return {};
    case 'texts':
      return { texts: await texts(page(command), command.selector) };
    case 'waitIncludes':
      // Some element's text contains the string (case-sensitive).
      return waitTexts(page(command), command.selector, timeout,
        (seen) => seen.some((text) => text.includes(command.text)), `no text containing ${JSON.stringify(command.text)}`);
    case 'waitEquals':
      // The elements' texts are exactly these, in order.
      return waitTexts(page(command), command.selector, timeout,
        (seen) => JSON.stringify(seen) === JSON.stringify(command.texts), `not exactly ${JSON.stringify(command.texts)}`);
    case 'evaluate':
      return { value: await page(command).page.evaluate(command.expression) };
    case 'screenshot':
      await page(command).page.screenshot({ path: command.path, timeout });
      return {};
    case 'report': {
      const entry = page(command);
      return { dialogs: entry.dialogs, errors: entry.errors };
    }
    case 'close': {
      const entry = page(command);
      pages.delete(command.page);
      await entry.page.context().close();
      return {};
    }
    case 'quit':
      if (browser) await browser.close();
      return {};
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

const input = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
input.on('line', (line) => {
  // One command at a time, in order.
  queue = queue.then(async () => {
    let answer;
    try {
      answer = { ok: true, ...(await handle(JSON.parse(line))) };
    } catch (error) {
      answer = { ok: false, error: String(error && error.stack ? error.stack : error) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  });
});
input.on('close', () => {
  queue.then(async () => {
    if (browser) await browser.close().catch(() => {});
    process.exit(0);
  });
});
