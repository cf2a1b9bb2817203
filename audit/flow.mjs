// One page, twice, in one Chromium (Lighthouse user flow, mobile profile): a first visit with an
// empty cache, then a repeat visit that keeps the HTTP cache and the service worker, as a learner's
// phone would. Run by audit/__main__.py:
//   node audit/flow.mjs URL COOKIE_JSON OUTPUT
// COOKIE_JSON is [{"name": …, "value": …}] set as real cookies of the site, not an extra header:
// requests the service worker makes for the page must carry the session too.
import fs from "node:fs";
import puppeteer from "puppeteer-core";
import {startFlow} from "lighthouse";

const [url, cookiesJson, output] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage();
  const cookies = JSON.parse(cookiesJson);
  if (cookies.length) {
    await page.setCookie(...cookies.map((cookie) => ({...cookie, url})));
  }
  const flow = await startFlow(page, {
    config: {extends: "lighthouse:default",
             settings: {onlyCategories: ["performance", "accessibility", "best-practices", "seo"]}},
  });
  await flow.navigate(url, {name: "first visit"});
  await flow.navigate(url, {name: "repeat visit", disableStorageReset: true});
  const result = await flow.createFlowResult();
  fs.writeFileSync(output, JSON.stringify({first: result.steps[0].lhr, repeat: result.steps[1].lhr}));
} finally {
  await browser.close();
}
