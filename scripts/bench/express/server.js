// The peer a Node.js team would write: Express + jsonwebtoken + cookie-parser, the same flow as
// Gatehouse. Login sets access and refresh cookies; /me verifies the access cookie; refresh
// verifies the refresh token, checks it against the stored one, and rotates both. Passwords use
// Node's built-in scrypt at OWASP's parameters (N=2^17, r=8, p=1), as argon2 packages need a
// native build. Refresh tokens are stored (as SHA-256 hashes) in memory: no database, which
// favours this peer. One process, as Express is usually run per core behind a balancer.
const crypto = require('node:crypto');
const express = require('express');
const cookieParser = require('cookie-parser');
const jwt = require('jsonwebtoken');

const ACCESS_SECRET = 'peer-access-secret-0123456789-abcdefghij';
const REFRESH_SECRET = 'peer-refresh-secret-0123456789-abcdefghij';
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 };
const users = new Map(); // username -> user
const refreshTokens = new Map(); // sha256(token) -> { userId, used }
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

function scrypt(password, salt) {
  return new Promise((resolve, reject) =>
    crypto.scrypt(password, salt, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

async function addUser(username, password) {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password, salt);
  users.set(username, {
    id: crypto.randomUUID(), username, email: `${username}@example.org`, full_name: 'Bench Mark',
    created_at: new Date().toISOString(), salt, hash,
  });
}

function setPair(res, user) {
  const access = jwt.sign({ sub: user.id, typ: 'access', username: user.username, email: user.email,
    full_name: user.full_name, created_at: user.created_at }, ACCESS_SECRET,
    { algorithm: 'HS256', expiresIn: '15m', jwtid: crypto.randomUUID() });
  const refresh = jwt.sign({ sub: user.id, typ: 'refresh', username: user.username }, REFRESH_SECRET,
    { algorithm: 'HS256', expiresIn: '7d', jwtid: crypto.randomUUID() });
  refreshTokens.set(sha256(refresh), { user, used: false });
  res.cookie('access_token', access, { httpOnly: true, secure: true, sameSite: 'lax', maxAge: 15 * 60e3 });
  res.cookie('refresh_token', refresh, { httpOnly: true, secure: true, sameSite: 'strict', path: '/api/auth', maxAge: 7 * 86400e3 });
  return refresh;
}

const app = express();
app.disable('x-powered-by');
app.use(cookieParser());
app.use(express.urlencoded({ extended: false }));

app.get('/', (req, res) => res.send('Hello, world!'));

app.post('/api/auth/login', async (req, res) => {
  const user = users.get(String(req.body.login || '').toLowerCase());
  const ok = user && crypto.timingSafeEqual(await scrypt(String(req.body.password || ''), user.salt), user.hash);
  if (!ok) return res.status(401).json({ code: 'invalid_credentials' });
  setPair(res, user);
  res.json({ id: user.id, username: user.username, email: user.email, full_name: user.full_name, created_at: user.created_at });
});

app.get('/api/auth/me', (req, res) => {
  try {
    const c = jwt.verify(req.cookies.access_token || '', ACCESS_SECRET, { algorithms: ['HS256'] });
    if (c.typ !== 'access') throw new Error('typ');
    res.json({ id: c.sub, username: c.username, email: c.email, full_name: c.full_name, created_at: c.created_at });
  } catch (e) {
    res.status(401).json({ code: 'token_invalid' });
  }
});

app.post('/api/auth/refresh', (req, res) => {
  const token = req.cookies.refresh_token || '';
  try {
    const c = jwt.verify(token, REFRESH_SECRET, { algorithms: ['HS256'] });
    if (c.typ !== 'refresh') throw new Error('typ');
  } catch (e) {
    return res.status(401).json({ code: 'token_invalid' });
  }
  const row = refreshTokens.get(sha256(token));
  if (!row || row.used) return res.status(401).json({ code: 'token_reused' });
  row.used = true;
  setPair(res, row.user);
  res.json({ ok: true });
});

// Test hook for the benchmark: mint N refresh tokens for the bench user, one per line.
app.post('/bench/refresh-tokens', (req, res) => {
  const user = users.get('bench');
  const n = Number(req.query.n || 0);
  const fake = { cookie() {} };
  const out = [];
  for (let i = 0; i < n; i++) out.push(setPair(fake, user));
  res.type('text/plain').send(out.join('\n'));
});

addUser('bench', 'correct horse battery').then(() => {
  const [host, port] = (process.argv[2] || '127.0.0.1:3402').split(':');
  app.listen(Number(port), host);
});
