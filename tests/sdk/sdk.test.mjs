// The official Nango SDKs, pinned, against a real `latchkey serve` whose
// Atlassian traffic goes to the simulated Atlassian.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { Nango } from '@nangohq/node';
import NangoFrontend, { AuthError } from '@nangohq/frontend';

import { secretKey, startLatchkey, startStandin } from './harness.mjs';

const cloudId = '1a11d016-8984-4c3e-b9ab-142dd06acb1b';
const email = 'integration-bot@serviceaccount.atlassian.com';
const token = 'ATSTT3xFfGF0demoTOKENforLATCHKEYdemo0123456789abcdefABCDEF_-=0A1B2C3D';
const provider = 'atlassian-service-account-api-token';
const webhookSigningKey = 'whsec_sdk_suite_0123456789abcdef0123456789';

// A webhook receiver: every POST is queued with its raw body and headers.
function startReceiver() {
    const queue = [];
    const waiters = [];
    const server = createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const hook = { raw: Buffer.concat(chunks).toString('utf8'), headers: req.headers };
            res.writeHead(200).end();
            const w = waiters.shift();
            if (w) w(hook);
            else queue.push(hook);
        });
    });
    return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({
        url: `http://127.0.0.1:${server.address().port}/webhooks`,
        next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r))),
        close: () => server.close(),
    })));
}

describe('@nangohq/node and @nangohq/frontend against latchkey', () => {
    let standin, server, nango, receiver;

    before(async () => {
        standin = await startStandin();
        receiver = await startReceiver();
        server = await startLatchkey(standin.url, { LATCHKEY_WEBHOOK_URL: receiver.url, LATCHKEY_WEBHOOK_SIGNING_KEY: webhookSigningKey });
        nango = new Nango({ host: server.url, secretKey, webhookSigningKey });
    });
    after(async () => {
        const exit = await server?.stop();
        standin?.stop();
        receiver?.close();
        assert.equal(exit?.code, 0, 'latchkey exits 0 on SIGTERM');
    });

    async function connectThroughFrontend(integration, params, credentials, session = {}) {
        const { data } = await nango.createConnectSession({
            end_user: { id: 'sdk-user', email: 'ada@example.com', display_name: 'Ada' },
            allowed_integrations: [integration],
            ...session,
        });
        assert.match(data.token, /^nango_connect_session_[0-9a-f]{64}$/);
        assert.ok(data.connect_link.startsWith(server.url + '/connect?session_token='));
        const frontend = new NangoFrontend({ host: server.url, connectSessionToken: data.token });
        return frontend.auth(integration, { params, credentials: { type: 'BASIC', ...credentials } });
    }

    let connectionId;

    test('createIntegration, listIntegrations, getIntegration', async () => {
        const created = await nango.createIntegration({ provider, unique_key: 'jira', display_name: 'Jira (service account)' });
        assert.equal(created.data.unique_key, 'jira');
        assert.equal(created.data.provider, provider);
        const { configs } = await nango.listIntegrations();
        assert.deepEqual(configs.map((c) => c.unique_key), ['jira']);
        const got = await nango.getIntegration({ uniqueKey: 'jira' });
        assert.equal(got.data.display_name, 'Jira (service account)');
    });

    test('listProviders and getProvider', async () => {
        const all = await nango.listProviders({});
        assert.ok(all.data.some((p) => p.name === provider));
        const filtered = await nango.listProviders({ search: 'confluence' });
        assert.deepEqual(filtered.data.map((p) => p.name), ['confluence-basic']);
        const p = await nango.getProvider({ provider });
        assert.equal(p.data.auth_mode, 'BASIC');
        assert.equal(p.data.connection_config.cloudId.format, 'uuid');
        assert.equal(p.data.credentials.password.secret, true);
    });

    test('createConnectSession and the frontend auth() for the BASIC flow', async () => {
        const res = await connectThroughFrontend('jira', { cloudId }, { username: email, password: token });
        assert.equal(res.providerConfigKey, 'jira');
        assert.match(res.connectionId, /^[0-9a-f-]{36}$/);
        connectionId = res.connectionId;
    });

    test('the creation webhook verifies with verifyIncomingWebhookRequest and verifyWebhookSignature', async () => {
        const hook = await receiver.next();
        const body = JSON.parse(hook.raw);
        assert.equal(body.type, 'auth');
        assert.equal(body.operation, 'creation');
        assert.equal(body.success, true);
        assert.equal(body.connectionId, connectionId);
        assert.equal(body.providerConfigKey, 'jira');
        assert.equal(body.endUser.endUserId, 'sdk-user');
        assert.equal(nango.verifyIncomingWebhookRequest(hook.raw, hook.headers), true);
        assert.equal(nango.verifyWebhookSignature(hook.headers['x-nango-signature'], body), true);
        const tampered = hook.raw.replace('"creation"', '"override"');
        assert.equal(nango.verifyIncomingWebhookRequest(tampered, hook.headers), false);
        const otherKey = new Nango({ host: server.url, secretKey, webhookSigningKey: 'not-the-key-0123456789' });
        assert.equal(otherKey.verifyIncomingWebhookRequest(hook.raw, hook.headers), false);
    });

    test('proxy, get and post reach the stand-in Jira with the right Basic auth', async () => {
        const me = await nango.get({ endpoint: `/ex/jira/${cloudId}/rest/api/3/myself`, providerConfigKey: 'jira', connectionId });
        assert.equal(me.status, 200);
        assert.equal(me.data.accountId, '712020:demo-bot');
        const echoed = await nango.post({
            endpoint: `/ex/jira/${cloudId}/rest/api/3/issue`, providerConfigKey: 'jira', connectionId,
            data: { fields: { summary: 'From the SDK' } }, headers: { 'X-Atlassian-Token': 'no-check' }, params: { notifyUsers: 'false' },
        });
        assert.equal(echoed.data.method, 'POST');
        assert.equal(echoed.data.query, 'notifyUsers=false');
        assert.equal(echoed.data.headers['Authorization'], 'Basic ' + Buffer.from(`${email}:${token}`).toString('base64'));
        assert.equal(echoed.data.headers['X-Atlassian-Token'], 'no-check');
        assert.equal(echoed.data.bodyBytes, JSON.stringify({ fields: { summary: 'From the SDK' } }).length);
        assert.equal(echoed.headers['link'], '<https://api.atlassian.com/next>; rel="next"');
    });

    test('a 429 is retried as its headers say', async () => {
        const before = (await (await fetch(standin.url + '/__control/calls')).json()).calls;
        await fetch(standin.url + '/__control/fault', { method: 'POST', body: JSON.stringify({ status: 429, count: 1, headers: { 'Retry-After': '1' } }) });
        const started = Date.now();
        const res = await nango.proxy({ method: 'GET', endpoint: `/ex/jira/${cloudId}/rest/api/3/myself`, providerConfigKey: 'jira', connectionId, retries: 2 });
        assert.equal(res.status, 200);
        assert.ok(Date.now() - started >= 900, 'waited for Retry-After');
        const after = (await (await fetch(standin.url + '/__control/calls')).json()).calls;
        assert.equal(after - before, 2);
    });

    test('proxy errors: unknown connection, traversal', async () => {
        await assert.rejects(nango.get({ endpoint: '/rest/api/3/myself', providerConfigKey: 'jira', connectionId: 'ghost' }), (err) => {
            assert.equal(err.response.status, 404);
            assert.equal(err.response.data.error.code, 'unknown_connection');
            return true;
        });
        await assert.rejects(nango.get({ endpoint: '/rest/api/3/a%5C..%5Cadmin', providerConfigKey: 'jira', connectionId }), (err) => {
            assert.equal(err.response.status, 400);
            assert.equal(err.response.data.error.code, 'invalid_endpoint');
            return true;
        });
    });

    test('listConnections', async () => {
        const { connections } = await nango.listConnections();
        assert.equal(connections.length, 1);
        assert.equal(connections[0].connection_id, connectionId);
        assert.equal(connections[0].provider_config_key, 'jira');
        assert.equal(connections[0].end_user.id, 'sdk-user');
        assert.equal(connections[0].credentials, undefined);
        const byUser = await nango.listConnections({ userId: 'sdk-user', integrationId: ['jira'], tags: { email: 'ada@example.com' } });
        assert.equal(byUser.connections.length, 1);
        const nobody = await nango.listConnections({ userId: 'someone-else' });
        assert.equal(nobody.connections.length, 0);
    });

    test('getConnection returns exactly what was typed', async () => {
        const conn = await nango.getConnection('jira', connectionId);
        assert.deepEqual(conn.credentials, { type: 'BASIC', username: email, password: token });
        assert.equal(conn.connection_config.cloudId, cloudId);
        assert.equal(conn.connection_config.accountType, 'app');
        assert.equal(conn.connection_config.displayName, 'Integration Bot');
        assert.equal(conn.provider, provider);
    });

    test('setMetadata and updateMetadata', async () => {
        await nango.setMetadata('jira', connectionId, { project: 'OPS', board: 1 });
        await nango.updateMetadata('jira', connectionId, { board: 2 });
        const conn = await nango.getConnection('jira', connectionId);
        assert.deepEqual(conn.metadata, { project: 'OPS', board: 2 });
    });

    test('an invalid token surfaces as the frontend AuthError with our code', async () => {
        await assert.rejects(
            connectThroughFrontend('jira', { cloudId }, { username: email, password: token.replace('demo', 'DEMO') }),
            (err) => {
                assert.ok(err instanceof AuthError);
                assert.equal(err.type, 'invalid_credentials');
                assert.match(err.message, /did not accept this email and API token/);
                return true;
            },
        );
    });

    test('malformed fields surface as AuthError invalid_fields', async () => {
        await assert.rejects(connectThroughFrontend('jira', { cloudId: 'nope' }, { username: 'bot', password: 'x' }), (err) => {
            assert.equal(err.type, 'invalid_fields');
            assert.match(err.message, /Cloud ID must be a UUID/);
            return true;
        });
    });

    test('a token without Jira scope is accepted with a warning', async () => {
        const res = await connectThroughFrontend('jira', { cloudId }, {
            username: 'wiki-bot@serviceaccount.atlassian.com',
            password: 'ATSTT3xFfGF0confluenceOnlyTOKEN000000000000000000000000000=5678ABCD',
        });
        const conn = await nango.getConnection('jira', res.connectionId);
        assert.equal(conn.status, 'scope_missing');
        assert.equal(conn.warnings[0].product, 'jira');
        await nango.deleteConnection('jira', res.connectionId);
    });

    test('deleteConnection', async () => {
        await nango.deleteConnection('jira', connectionId);
        await assert.rejects(nango.getConnection('jira', connectionId), (err) => {
            assert.equal(err.response.status, 404);
            assert.equal(err.response.data.error.code, 'not_found');
            return true;
        });
        const { connections } = await nango.listConnections();
        assert.equal(connections.length, 0);
    });

    test('secrets never reach the logs', () => {
        assert.ok(!server.logs().includes(token));
        assert.ok(!server.logs().includes(secretKey));
    });
});
