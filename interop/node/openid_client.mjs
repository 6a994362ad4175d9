// openid-client (panva) runs the authorization code flow with PKCE against
// certbound as a public client that uses the mTLS endpoint aliases (RFC 8705
// §5): a headless Chromium signs in and consents, openid-client redeems the
// code and refreshes over mTLS with the "phone" certificate, then tries to
// refresh with the "thief" certificate. Prints one JSON line on stdout.
// Run by crates/server/tests/openid_client.rs.
//
// Environment: ISSUER, CLIENT_ID, REDIRECT_URI, CA (PEM file), PHONE_CERT,
// PHONE_KEY, THIEF_CERT, THIEF_KEY (PEM files), USERNAME, PASSWORD,
// CHROMIUM (default /usr/bin/chromium).
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';
import { Agent, fetch as undiciFetch } from 'undici';

const env = process.env;
const ca = readFileSync(env.CA);

// Node 20's global fetch cannot present a client certificate; undici's can.
function mtlsFetch(certFile, keyFile) {
  const dispatcher = new Agent({
    connect: { ca, cert: readFileSync(certFile), key: readFileSync(keyFile) },
  });
  return (url, options) => undiciFetch(url, { ...options, dispatcher });
}

async function configure(certFile, keyFile) {
  return client.discovery(
    new URL(env.ISSUER),
    env.CLIENT_ID,
    { use_mtls_endpoint_aliases: true },
    client.None(),
    { algorithm: 'oauth2', [client.customFetch]: mtlsFetch(certFile, keyFile) },
  );
}

async function signIn(authorizationUrl) {
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    await page.goto(authorizationUrl);
    await page.fill('#username', env.USERNAME);
    await page.fill('#password', env.PASSWORD);
    await Promise.all([page.waitForURL(/\/authorize\/consent\?/), page.click('button[type=submit]')]);
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(env.REDIRECT_URI)),
      page.click('button[value=allow]'),
    ]);
    return page.url();
  } finally {
    await browser.close();
  }
}

const out = {};
try {
  const phone = await configure(env.PHONE_CERT, env.PHONE_KEY);
  const meta = phone.serverMetadata();
  out.tokenEndpointUsed = meta.mtls_endpoint_aliases?.token_endpoint;
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(phone, {
    redirect_uri: env.REDIRECT_URI,
    scope: 'read offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const callback = await signIn(url.href);
  out.callback = callback;
  const tokens = await client.authorizationCodeGrant(phone, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  out.code = { access_token: tokens.access_token, refresh_token: tokens.refresh_token, scope: tokens.scope, token_type: tokens.token_type };
  const refreshed = await client.refreshTokenGrant(phone, tokens.refresh_token);
  out.refreshed = { access_token: refreshed.access_token, refresh_token: refreshed.refresh_token };

  const thief = await configure(env.THIEF_CERT, env.THIEF_KEY);
  try {
    await client.refreshTokenGrant(thief, refreshed.refresh_token);
    out.thief = { accepted: true };
  } catch (e) {
    out.thief = { error: e.error ?? e.code ?? String(e), status: e.status, description: e.error_description };
  }
  // The thief's attempt changed nothing: the phone refreshes as before.
  const again = await client.refreshTokenGrant(phone, refreshed.refresh_token);
  out.again = { access_token: again.access_token, refresh_token: again.refresh_token };
} catch (e) {
  out.error = String((e && e.stack) || e);
  if (e && e.error) out.oauthError = { error: e.error, description: e.error_description, status: e.status };
}
console.log(JSON.stringify(out));
