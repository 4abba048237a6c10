// Starts real processes for the SDK suite: the simulated Atlassian (standin)
// and `latchkey serve`, built from this checkout unless LATCHKEY_BIN and
// STANDIN_BIN point at binaries.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '../..');
export const secretKey = 'sk_sdk_suite_0123456789abcdef0123456789abcdef';

let built;
function binaries() {
    if (built) return built;
    if (process.env.LATCHKEY_BIN && process.env.STANDIN_BIN) {
        built = { latchkey: process.env.LATCHKEY_BIN, standin: process.env.STANDIN_BIN };
        return built;
    }
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sdk-bin-'));
    for (const [name, pkg] of [['latchkey', './cmd/latchkey'], ['standin', './tests/sdk/standin']]) {
        const r = spawnSync('go', ['build', '-o', join(dir, name), pkg], { cwd: root, stdio: 'inherit' });
        if (r.status !== 0) throw new Error(`go build ${pkg} failed`);
    }
    built = { latchkey: join(dir, 'latchkey'), standin: join(dir, 'standin') };
    return built;
}

function freePort() {
    return new Promise((ok, fail) => {
        const s = createServer();
        s.once('error', fail);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => ok(port));
        });
    });
}

// waitForLine resolves with the first line of stream matching re (the process
// says when it is ready; no polling, no sleeps).
function waitForLine(child, stream, re, what) {
    return new Promise((ok, fail) => {
        const lines = createInterface({ input: stream });
        const output = [];
        const onExit = (code) => fail(new Error(`${what} exited with ${code} before it was ready:\n${output.join('\n')}`));
        child.once('exit', onExit);
        lines.on('line', (line) => {
            output.push(line);
            const m = line.match(re);
            if (m) {
                child.off('exit', onExit);
                ok(m);
            }
        });
    });
}

export async function startStandin() {
    const child = spawn(binaries().standin, ['--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const m = await waitForLine(child, child.stdout, /^LISTEN (\S+)$/, 'standin');
    return { url: m[1], stop: () => child.stdin.end() };
}

export async function startLatchkey(standinURL, extraEnv = {}) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-sdk-data-'));
    const env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LATCHKEY_ADDR: `127.0.0.1:${port}`,
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_SECRET_KEY: secretKey,
        LATCHKEY_LOG_FORMAT: 'json',
        LATCHKEY_UPSTREAM_REWRITE: `https://api.atlassian.com=${standinURL},https://auth.atlassian.com=${standinURL},https://*.atlassian.net=${standinURL}`,
        ...extraEnv,
    };
    const child = spawn(binaries().latchkey, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs = [];
    child.stdout.on('data', (d) => logs.push(d.toString()));
    const ready = waitForLine(child, child.stderr, /"msg":"latchkey ready"/, 'latchkey');
    child.stderr.on('data', (d) => logs.push(d.toString()));
    await ready;
    const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
    return {
        url: `http://127.0.0.1:${port}`,
        logs: () => logs.join(''),
        async stop() {
            child.kill('SIGTERM');
            const r = await exited;
            rmSync(dataDir, { recursive: true, force: true });
            return r;
        },
    };
}
