// Drives Debian's Chromium (headless) through certbound's built-in login and
// consent pages and reports, as one JSON line on stdout, what the pages
// showed and where the browser ended up. Run by crates/server/tests/browser.rs.
//
// Environment: AUTH_URL (the authorization request), USERNAME, PASSWORD,
// REDIRECT_PREFIX (the client's redirect_uri), SCREENSHOTS (a directory for
// login.png and consent.png; optional), CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';

const env = process.env;
const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  // The test PKI's CA is not in Chromium's store; the sandbox needs user
  // namespaces that containers often lack.
  args: ['--no-sandbox', '--disable-gpu'],
});
const out = { dialogs: [] };
try {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 480, height: 720 },
    deviceScaleFactor: 1,
  });
  const page = await context.newPage();
  // An injected script would show up here (alert) or in the console.
  page.on('dialog', async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
  page.on('console', (m) => { if (m.type() === 'error') (out.console ||= []).push(m.text()); });

  await page.goto(env.AUTH_URL);
  out.loginUrl = page.url();
  out.loginTitle = await page.title();
  out.loginHeading = await page.innerText('h1');
  out.loginClientText = await page.innerText('.client-name');
  out.loginLabels = await page.$$eval('label', (ls) => ls.map((l) => l.textContent.trim()));
  out.loginCsrfFields = await page.$$eval('input[type=hidden][name=csrf_token]', (es) => es.length);
  if (env.SCREENSHOTS) await page.screenshot({ path: `${env.SCREENSHOTS}/login.png`, fullPage: true });

  await page.fill('#username', env.USERNAME);
  await page.fill('#password', env.PASSWORD);
  await Promise.all([page.waitForURL(/\/authorize\/consent\?/), page.click('button[type=submit]')]);

  out.consentUrl = page.url();
  out.consentHeading = await page.innerText('h1');
  out.consentClientText = await page.innerText('h1 .client-name');
  // Elements inside the client name: markup in it must stay text.
  out.consentClientElements = await page.$$eval('.client-name *', (es) => es.length);
  out.images = await page.$$eval('img', (es) => es.length);
  out.bolds = await page.$$eval('b', (es) => es.length);
  out.scopes = await page.$$eval('.scopes li', (es) => es.map((e) => e.textContent.trim()));
  out.rememberLabel = await page.innerText('label[for=remember]');
  out.buttons = await page.$$eval('button', (es) => es.map((e) => e.textContent.trim()));
  if (env.SCREENSHOTS) await page.screenshot({ path: `${env.SCREENSHOTS}/consent.png`, fullPage: true });

  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(env.REDIRECT_PREFIX)),
    page.click('button[value=allow]'),
  ]);
  out.finalUrl = page.url();
} catch (e) {
  out.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
