// Nango's provider catalogue, unmodified, from the pinned @nangohq/providers
// package: a real `latchkey serve` loads it whole (LATCHKEY_PROVIDERS_FILE),
// every BASIC, API_KEY and OAUTH2_CC entry it can serve creates a connection
// against a local stand-in (every provider origin rewritten to it) and proxies
// one call with the auth the entry describes; the entries it cannot serve are
// marked in GET /providers with the reason and refused on submission.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { secretKey, startLatchkey } from './harness.mjs';

const require = createRequire(import.meta.url);
const providersFile = require.resolve('@nangohq/providers/providers.yaml');
const served = ['BASIC', 'API_KEY', 'OAUTH2_CC'];

// The stand-in: any POST is a token request (or a POST verification) and gets
// a fresh token in every shape Nango reads; anything else is echoed.
function startStandin() {
    const issued = new Set();
    let n = 0;
    const server = createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            res.setHeader('Content-Type', 'application/json');
            if (req.method === 'POST') {
                const token = `at_lk_${++n}_${randomUUID().slice(0, 8)}`;
                issued.add(token);
                res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600, data: { token }, jwt: token }));
                return;
            }
            const url = new URL(req.url, 'http://standin');
            res.end(JSON.stringify({ host: req.headers['x-forwarded-host'], path: url.pathname, query: url.search, headers: req.headers }));
        });
    });
    return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({
        url: `http://127.0.0.1:${server.address().port}`, issued, close: () => server.close(),
    })));
}

const urlSafe = /^[A-Za-z0-9._~-]+$/;

// sample makes a string that a simple regular expression accepts: literals,
// classes, \d \w, groups with alternatives (the first is taken), and the
// quantifiers ? * + {n} {n,} {n,m}. It is tried, never trusted: the caller
// tests the result against the pattern.
function sample(pattern) {
    let i = 0;
    const src = pattern.replace(/^\^/, '').replace(/\$$/, '');
    function atom() {
        const c = src[i++];
        if (c === '\\') {
            const e = src[i++];
            return { d: '7', w: 'a', s: ' ', D: 'a', W: '-', S: 'a', b: '', B: '' }[e] ?? e;
        }
        if (c === '[') {
            let neg = false;
            if (src[i] === '^') { neg = true; i++; }
            let first = null;
            while (i < src.length && src[i] !== ']') {
                let ch = src[i++];
                if (ch === '\\') ch = { d: '7', w: 'a', s: ' ' }[src[i]] ?? src[i], i++;
                if (first === null) first = ch;
            }
            i++;
            return neg ? 'q' : (first === '-' ? 'a' : first ?? 'a');
        }
        if (c === '(') {
            if (src[i] === '?') i += 2;
            const alts = [''];
            let depth = 0;
            const start = i;
            while (i < src.length && !(src[i] === ')' && depth === 0)) {
                if (src[i] === '\\') { i += 2; continue; }
                if (src[i] === '(') depth++;
                if (src[i] === ')') depth--;
                i++;
            }
            const inner = src.slice(start, i);
            i++;
            return sample(inner.split('|')[0]);
        }
        if (c === '.') return 'a';
        return c;
    }
    let out = '';
    while (i < src.length) {
        if (src[i] === '|') break;
        const a = atom();
        const q = src[i];
        let n = 1;
        if (q === '?' || q === '*') { n = q === '?' ? 1 : 1; i++; }
        else if (q === '+') { n = 1; i++; }
        else if (q === '{') {
            const m = src.slice(i).match(/^\{(\d+)(,(\d*))?\}/);
            if (m) { n = Number(m[1]) || (m[3] ? Number(m[3]) : 1); i += m[0].length; }
        }
        if (src[i] === '?') i++; // lazy
        out += a.repeat(n);
    }
    return out;
}

// A value for a field: one the field's own schema accepts, and that can stand
// in a URL (connection values often do).
function valueFor(name, f = {}) {
    const candidates = [];
    if (f.enum?.length) candidates.push(...f.enum);
    if (f.default_value) candidates.push(String(f.default_value));
    switch (f.format) {
        case 'uuid': candidates.push('12345678-1234-4234-8234-123456789012'); break;
        case 'email': candidates.push('bot@example.com'); break;
        case 'hostname': candidates.push('acme.example.com'); break;
        case 'uri': candidates.push('https://acme.example.com'); break;
    }
    if (typeof f.example === 'string') candidates.push(f.example);
    if (name === 'username' || name === 'email') candidates.push('bot@example.com');
    candidates.push('acme', 'lk0123456789abcdef0123456789abcdef', '0123456789abcdef0123456789abcdef', '12345678', 'us', 'v1', 'acme-1234',
        'lk_0123456789abcdefABCDEF0123456789', 'ABCDEFGHIJKLMNOP', 'abcdefghij1234567890abcdefghij1234567890');
    let re = null;
    try { re = f.pattern ? new RegExp(f.pattern) : null; } catch { re = null; }
    if (re) candidates.push(sample(f.pattern));
    const fits = (v) => (!re || re.test(v)) && (f.format !== 'email' || v.includes('@')) && (f.format !== 'uuid' || v.length === 36);
    if (f.format === 'email' || f.format === 'uri') return candidates.find(fits) ?? null;
    return candidates.find((v) => fits(v) && urlSafe.test(v)) ?? candidates.find(fits) ?? null;
}

async function api(base, method, path, body, bearer = secretKey) {
    const res = await fetch(base + path, {
        method, headers: { Authorization: `Bearer ${bearer}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, json, text };
}

// Runs fn over items, limit at a time.
async function pool(items, limit, fn) {
    const out = new Array(items.length);
    let next = 0;
    await Promise.all(Array.from({ length: limit }, async () => {
        while (next < items.length) {
            const i = next++;
            out[i] = await fn(items[i]);
        }
    }));
    return out;
}

describe("Nango's catalogue (@nangohq/providers, unmodified) in latchkey", () => {
    let standin, server, providers;

    before(async () => {
        standin = await startStandin();
        server = await startLatchkey(standin.url, {
            LATCHKEY_PROVIDERS_FILE: providersFile,
            LATCHKEY_UPSTREAM_REWRITE: `https://*=${standin.url},http://*=${standin.url}`,
        });
        providers = (await api(server.url, 'GET', '/providers')).json.data;
    });
    after(async () => {
        await server?.stop();
        standin?.close();
    });

    test('every entry is loaded, and each one latchkey cannot serve says why', async () => {
        const yaml = require('js-yaml');
        const fs = await import('node:fs');
        const names = Object.keys(yaml.load(fs.readFileSync(providersFile, 'utf8')));
        const listed = new Set(providers.map((p) => p.name));
        for (const name of names) assert.ok(listed.has(name), `${name} is missing from GET /providers`);
        for (const p of providers) {
            assert.equal(typeof p.latchkey?.supported, 'boolean', `${p.name}: no latchkey mark`);
            if (!p.latchkey.supported) assert.ok(p.latchkey.reason?.length > 10, `${p.name}: unsupported without a reason`);
            if (p.latchkey.supported) assert.ok(served.includes(p.auth_mode), `${p.name}: ${p.auth_mode} marked supported`);
        }
    });

    test('every BASIC, API_KEY and OAUTH2_CC entry links and proxies one call with its auth', async () => {
        const counts = {};
        const failures = [];
        const count = (mode, what) => {
            counts[mode] ??= { entries: 0, unsupported: 0, linked: 0, proxied: 0, 'no base_url': 0, failed: 0 };
            counts[mode][what]++;
        };
        const reasons = {};
        for (const p of providers) {
            count(p.auth_mode ?? '(none)', 'entries');
            if (!p.latchkey.supported) {
                count(p.auth_mode ?? '(none)', 'unsupported');
                const r = p.latchkey.reason.replace(/"[^"]*"/g, '"…"');
                reasons[r] = (reasons[r] ?? 0) + 1;
            }
        }
        const candidates = providers.filter((p) => served.includes(p.auth_mode) && p.latchkey.supported);
        await pool(candidates, 8, async (p) => {
            const fail = (why) => { count(p.auth_mode, 'failed'); failures.push(`${p.name} (${p.auth_mode}): ${why}`); };
            const created = await api(server.url, 'POST', '/integrations', { provider: p.name, unique_key: p.name });
            if (created.status !== 200) return fail(`integration: ${created.status} ${created.text}`);
            const config = {};
            for (const [k, f] of Object.entries(p.connection_config ?? {})) {
                if (f.automated) continue;
                const v = valueFor(k, f);
                if (v !== null) config[k] = v;
            }
            const field = (k) => valueFor(k, p.credentials?.[k]);
            const credentials = {
                BASIC: { type: 'BASIC', username: field('username'), password: field('password') },
                API_KEY: { type: 'API_KEY', apiKey: field('apiKey') },
                OAUTH2_CC: { type: 'OAUTH2_CC', client_id: field('client_id'), client_secret: field('client_secret') },
            }[p.auth_mode];
            const linked = await api(server.url, 'POST', '/connections', { provider_config_key: p.name, connection_id: 'c1', credentials, connection_config: config });
            if (linked.status !== 201) return fail(`link: ${linked.status} ${linked.text.slice(0, 300)}`);
            count(p.auth_mode, 'linked');
            if (!p.proxy?.base_url) {
                // Nango cannot proxy these either (unsupported_provider).
                count(p.auth_mode, 'no base_url');
                return;
            }
            const res = await fetch(`${server.url}/proxy/latchkey-probe?probe=1`, {
                headers: { Authorization: `Bearer ${secretKey}`, 'Provider-Config-Key': p.name, 'Connection-Id': 'c1' },
            });
            const echo = await res.json().catch(() => null);
            if (res.status !== 200 || !echo?.headers) return fail(`proxy: ${res.status} ${JSON.stringify(echo).slice(0, 300)}`);
            const sent = Object.values(echo.headers).join('\n') + '\n' + decodeURIComponent(echo.query ?? '');
            const c = linked.json.credentials;
            const basic = 'Basic ' + Buffer.from(`${c.username}:${c.password ?? ''}`).toString('base64');
            // Where the entry places credentials: Nango's defaults, then its proxy.headers and proxy.query.
            const templates = Object.values({ ...(p.proxy.headers ?? {}), ...(p.proxy.query ?? {}) }).join(' ');
            const overridesAuth = Object.keys(p.proxy.headers ?? {}).some((h) => h.toLowerCase() === 'authorization');
            const ok = {
                // Basic auth, unless the entry's own authorization header replaces it.
                BASIC: () => (overridesAuth ? sent.includes(c.username) || sent.includes(c.password) || !/username|password/.test(templates) : echo.headers.authorization === basic),
                // The key in a header or the query where the entry says; an entry that names no place sends none.
                API_KEY: () => (/apiKey|credentials\./.test(templates) ? sent.includes(c.apiKey) : !sent.includes(c.apiKey)),
                // A token from the stand-in's token endpoint, as Bearer unless the entry's headers say otherwise.
                OAUTH2_CC: () => standin.issued.has(c.token) && (overridesAuth ? sent.includes(c.token) || !/accessToken|access_token|token/.test(templates) : echo.headers.authorization === `Bearer ${c.token}`),
            }[p.auth_mode]();
            if (!ok) return fail(`the call did not carry the credentials: ${JSON.stringify(echo.headers).slice(0, 300)}`);
            if (!echo.host) return fail('the call did not go through the rewrite');
            count(p.auth_mode, 'proxied');
        });
        console.log('\nper auth mode:');
        console.table(counts);
        console.log('why entries are not served:');
        console.table(Object.entries(reasons).sort((a, b) => b[1] - a[1]).map(([reason, n]) => ({ n, reason })));
        if (failures.length) console.log('failures:\n' + failures.join('\n'));
        assert.deepEqual(failures, []);
        for (const mode of served) assert.equal(counts[mode].linked + counts[mode].unsupported, counts[mode].entries, mode);
    });

    test('submissions for entries latchkey cannot serve answer a clear error', async () => {
        const picks = ['OAUTH2', 'TWO_STEP', 'OAUTH1'].map((mode) => providers.find((p) => p.auth_mode === mode && !p.latchkey.supported));
        const session = await api(server.url, 'POST', '/connect/sessions', { end_user: { id: 'u1' } });
        const token = session.json.data.token;
        for (const p of picks) {
            const key = `unsupported-${p.name}`;
            assert.equal((await api(server.url, 'POST', '/integrations', { provider: p.name, unique_key: key })).status, 200);
            for (const [method, path, body] of [
                ['POST', `/api-auth/api-key/${key}`, { apiKey: 'k' }],
                ['POST', `/oauth2/auth/${key}`, { client_id: 'a', client_secret: 'b' }],
                ['GET', `/oauth/connect/${key}`, null],
                ['POST', `/auth/two-step/${key}`, {}],
            ]) {
                const r = await api(server.url, method, `${path}?connect_session_token=${token}`, body, '');
                assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
                assert.equal(r.json.error.code, 'provider_not_supported');
                assert.match(r.json.error.message, new RegExp(`auth_mode ${p.auth_mode} is not supported yet`));
            }
        }
    });
});
