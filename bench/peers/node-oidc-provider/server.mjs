// node-oidc-provider as an RFC 8705 OAuth 2.0 authorization server, for bench/run.sh.
// Settings come from the environment; see README.md. Logs nothing per request.
import cluster from 'node:cluster';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createPlainServer } from 'node:http';
import { createServer } from 'node:https';
import process from 'node:process';

function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback !== undefined) return fallback;
  console.error(`server.mjs: ${name} must be set`);
  process.exit(2);
}

const PORT = Number.parseInt(env('PORT'), 10);
const ISSUER = env('ISSUER', `https://127.0.0.1:${PORT}`);
const TLS_CERT = env('TLS_CERT');
const TLS_KEY = env('TLS_KEY');
const CLIENT_CA = env('CLIENT_CA');
const CLIENT_ID = env('CLIENT_ID', 'bench-client');
const CLIENT_SUBJECT_DN = env('CLIENT_SUBJECT_DN');
const SCOPE = env('SCOPE', 'read write').split(' ').filter(Boolean).join(' ');
const AUDIENCE = env('AUDIENCE', ISSUER);
const TOKEN_TTL = Number.parseInt(env('TOKEN_TTL', '300'), 10);
const WORKERS = Number.parseInt(env('WORKERS', '1'), 10);
const REDIRECT_URI = env('REDIRECT_URI', 'https://127.0.0.1/cb');
const MINT_PORT = Number.parseInt(env('BENCH_MINT_PORT', '0'), 10);
const ACCOUNT_ID = env('BENCH_ACCOUNT_ID', 'bench-user');
// Entries the in-memory store holds (node-oidc-provider's own LRU, whose
// default of 1000 would evict minted codes before they are redeemed).
const STORE_SIZE = Number.parseInt(env('STORE_SIZE', '1000000'), 10);

if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  console.error('server.mjs: PORT must be a TCP port number');
  process.exit(2);
}
if (!Number.isInteger(WORKERS) || WORKERS < 1) {
  console.error('server.mjs: WORKERS must be a positive integer');
  process.exit(2);
}
if (!Number.isInteger(MINT_PORT) || MINT_PORT < 0 || MINT_PORT > 65535) {
  console.error('server.mjs: BENCH_MINT_PORT must be a TCP port number');
  process.exit(2);
}
if (MINT_PORT !== 0 && WORKERS !== 1) {
  // Each worker has its own in-memory store: a token minted in one is unknown to the others.
  console.error('server.mjs: BENCH_MINT_PORT needs WORKERS=1');
  process.exit(2);
}
if (!Number.isInteger(STORE_SIZE) || STORE_SIZE < 1000) {
  console.error('server.mjs: STORE_SIZE must be an integer of at least 1000');
  process.exit(2);
}

// --- RFC 4514 distinguished names ------------------------------------------------------

// Splits `s` at every unescaped occurrence of `sep` (a backslash escapes the next char).
function splitUnescaped(s, sep) {
  const parts = [];
  let current = '';
  for (let i = 0; i < s.length; i += 1) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length) {
      current += c + s[i + 1];
      i += 1;
    } else if (c === sep) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

// Removes RFC 4514 escapes: `\,` etc. and `\XX` hex pairs (UTF-8 bytes).
function unescapeValue(v) {
  const bytes = [];
  for (let i = 0; i < v.length; i += 1) {
    const c = v[i];
    if (c === '\\' && i + 1 < v.length) {
      const hex = v.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
      } else {
        bytes.push(...Buffer.from(v[i + 1], 'utf8'));
        i += 1;
      }
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

// One RDN ("CN=a" or "CN=a+OU=b") -> sorted list of "type=value" with the type upper-cased.
function parseRdn(rdn) {
  return splitUnescaped(rdn, '+').map((ava) => {
    const eq = ava.indexOf('=');
    if (eq <= 0) throw new Error(`malformed attribute ${JSON.stringify(ava)}`);
    return `${ava.slice(0, eq).trim().toUpperCase()}=${unescapeValue(ava.slice(eq + 1).trim())}`;
  }).sort();
}

// RFC 4514 string (last RDN of the certificate first) -> canonical form in certificate order.
function canonicalFromRfc4514(dn) {
  return JSON.stringify(splitUnescaped(dn, ',').map(parseRdn).reverse());
}

// Node's X509Certificate#subject: one RDN per line, in certificate order, values escaped
// as in RFC 2253, multi-valued RDNs joined with " + ".
function canonicalFromNodeSubject(subject) {
  return JSON.stringify(subject.split('\n').filter(Boolean).map(parseRdn));
}

let EXPECTED_SUBJECT;
try {
  EXPECTED_SUBJECT = canonicalFromRfc4514(CLIENT_SUBJECT_DN);
} catch (err) {
  console.error(`server.mjs: CLIENT_SUBJECT_DN: ${err.message}`);
  process.exit(2);
}

// --- signing key ------------------------------------------------------------------------

function signingJwk() {
  if (process.env.BENCH_PEER_SIGNING_JWK) return JSON.parse(process.env.BENCH_PEER_SIGNING_JWK);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig' };
}

// --- provider ---------------------------------------------------------------------------

const kCert = Symbol('bench peer certificate');

// The peer certificate as an X509Certificate, parsed once per TLS connection.
function getCertificate(ctx) {
  const { socket } = ctx;
  if (socket[kCert] === undefined) {
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : null;
    socket[kCert] = peer && peer.raw ? new X509Certificate(peer.raw) : null;
  }
  return socket[kCert] ?? undefined;
}

// --- minting (bench only) ---------------------------------------------------------------

// A plain-HTTP listener on 127.0.0.1 only, for bench/run.sh: it creates
// tokens through the provider's own models, as an authorization would.
//   POST /mint-refresh               -> one refresh token (text)
//   POST /mint-codes?n=N&code_challenge=C -> N authorization codes, one per line,
//                                       each with its own grant, for REDIRECT_URI
// Both for ACCOUNT_ID, scope `read`, resource AUDIENCE.
const MAX_MINT = 1000000;

function grantFor(provider) {
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: CLIENT_ID });
  grant.addResourceScope(AUDIENCE, 'read');
  return grant.save();
}

async function mintRefresh(provider) {
  const client = await provider.Client.find(CLIENT_ID);
  const grantId = await grantFor(provider);
  const rt = new provider.RefreshToken({
    accountId: ACCOUNT_ID,
    authTime: Math.floor(Date.now() / 1000),
    client,
    grantId,
    gty: 'authorization_code',
    resource: AUDIENCE,
    rotations: 0,
    scope: 'read',
  });
  return rt.save();
}

async function mintCodes(provider, n, codeChallenge) {
  const client = await provider.Client.find(CLIENT_ID);
  const authTime = Math.floor(Date.now() / 1000);
  const codes = [];
  for (let i = 0; i < n; i += 1) {
    const grantId = await grantFor(provider);
    const code = new provider.AuthorizationCode({
      accountId: ACCOUNT_ID,
      authTime,
      client,
      codeChallenge,
      codeChallengeMethod: 'S256',
      grantId,
      redirectUri: REDIRECT_URI,
      resource: AUDIENCE,
      scope: 'read',
    });
    codes.push(await code.save());
  }
  return codes;
}

function startMinting(provider) {
  const server = createPlainServer(async (req, res) => {
    const reply = (status, text) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(text);
    };
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (req.method !== 'POST') {
        reply(405, 'POST only\n');
      } else if (url.pathname === '/mint-refresh') {
        reply(200, `${await mintRefresh(provider)}\n`);
      } else if (url.pathname === '/mint-codes') {
        const n = Number.parseInt(url.searchParams.get('n') ?? '', 10);
        const challenge = url.searchParams.get('code_challenge') ?? '';
        if (!Number.isInteger(n) || n < 1 || n > MAX_MINT) {
          reply(400, `n must be an integer from 1 to ${MAX_MINT}\n`);
        } else if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
          reply(400, 'code_challenge must be a base64url SHA-256 (43 characters)\n');
        } else {
          const codes = await mintCodes(provider, n, challenge);
          reply(200, `${codes.join('\n')}\n`);
        }
      } else {
        reply(404, 'not found\n');
      }
    } catch (err) {
      reply(500, `${err.message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(MINT_PORT, '127.0.0.1', () => resolve(server));
  });
}

// --- provider (continued) ------------------------------------------------------------------

async function startWorker(jwk) {
  const { default: Provider } = await import('oidc-provider');
  // node-oidc-provider's own in-memory adapter and LRU store, only larger.
  const { default: MemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');
  const { default: LRU } = await import('oidc-provider/lib/helpers/lru.js');
  const store = new LRU({ maxSize: STORE_SIZE });

  const resourceServer = {
    scope: SCOPE,
    audience: AUDIENCE,
    accessTokenTTL: TOKEN_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  };

  const provider = new Provider(ISSUER, {
    clients: [{
      client_id: CLIENT_ID,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: CLIENT_SUBJECT_DN,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      scope: SCOPE,
      tls_client_certificate_bound_access_tokens: true,
      id_token_signed_response_alg: 'ES256',
    }],
    adapter: (model) => new MemoryAdapter(model, store, 15),
    clientAuthMethods: ['tls_client_auth', 'self_signed_tls_client_auth'],
    // Refresh tokens of this confidential client stay the same on use
    // (certbound's default for confidential clients); PKCE always required.
    rotateRefreshToken: false,
    pkce: { required: () => true },
    jwks: { keys: [jwk] },
    // offline_access (in node-oidc-provider's default scopes) enables the refresh_token grant.
    scopes: [...SCOPE.split(' '), 'offline_access'],
    ttl: {
      AccessToken: TOKEN_TTL,
      AuthorizationCode: 60,
      ClientCredentials: TOKEN_TTL,
      Grant: 14 * 24 * 60 * 60,
      RefreshToken: 14 * 24 * 60 * 60,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate,
        certificateAuthorized: (ctx) => ctx.socket.authorized === true,
        certificateSubjectMatches(ctx, property, expected) {
          if (property !== 'tls_client_auth_subject_dn') return false;
          const cert = getCertificate(ctx);
          if (!cert) return false;
          try {
            const want = expected === CLIENT_SUBJECT_DN ? EXPECTED_SUBJECT : canonicalFromRfc4514(expected);
            return canonicalFromNodeSubject(cert.subject) === want;
          } catch {
            return false;
          }
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => resourceServer,
      },
    },
  });

  const server = createServer({
    key: readFileSync(TLS_KEY),
    cert: readFileSync(TLS_CERT),
    ca: readFileSync(CLIENT_CA),
    requestCert: true,
    rejectUnauthorized: false,
  }, provider.callback());

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(PORT, '127.0.0.1', resolve);
  });
  if (MINT_PORT !== 0) await startMinting(provider);
  return server;
}

function onSigterm(fn) {
  process.once('SIGTERM', fn);
  process.once('SIGINT', fn);
}

if (WORKERS === 1) {
  try {
    await startWorker(signingJwk());
  } catch (err) {
    console.error(`server.mjs: ${err.message}`);
    process.exit(1);
  }
  onSigterm(() => process.exit(0));
  console.log(`ready https://127.0.0.1:${PORT}`);
} else if (cluster.isPrimary) {
  // One signing key for every worker, handed over in the environment.
  const jwk = JSON.stringify(signingJwk());
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < WORKERS; i += 1) {
    cluster.fork({ BENCH_PEER_SIGNING_JWK: jwk });
  }
  cluster.on('listening', () => {
    listening += 1;
    if (listening === WORKERS) console.log(`ready https://127.0.0.1:${PORT}`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) {
      console.error(`server.mjs: worker ${worker.process.pid} exited (${signal ?? code}); stopping`);
      stopping = true;
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
      process.exitCode = 1;
    }
    if (Object.keys(cluster.workers).length === 0) process.exit();
  });
  onSigterm(() => {
    stopping = true;
    const workers = Object.values(cluster.workers);
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 5000).unref();
  });
} else {
  onSigterm(() => process.exit(0));
  try {
    await startWorker(signingJwk());
  } catch (err) {
    console.error(`server.mjs: worker: ${err.message}`);
    process.exit(1);
  }
}
