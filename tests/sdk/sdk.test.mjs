// The official Nango SDKs, pinned, against a real `latchkey serve` whose
// Atlassian traffic goes to the simulated Atlassian.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Nango } from '@nangohq/node';
import NangoFrontend, { AuthError } from '@nangohq/frontend';

import { secretKey, startLatchkey, startStandin } from './harness.mjs';

const cloudId = '1a11d016-8984-4c3e-b9ab-142dd06acb1b';
const email = 'integration-bot@serviceaccount.atlassian.com';
const token = 'ATSTT3xFfGF0demoTOKENforLATCHKEYdemo0123456789abcdefABCDEF_-=0A1B2C3D';
const provider = 'atlassian-service-account-api-token';

describe('@nangohq/node and @nangohq/frontend against latchkey', () => {
    let standin, server, nango;

    before(async () => {
        standin = await startStandin();
        server = await startLatchkey(standin.url);
        nango = new Nango({ host: server.url, secretKey });
    });
    after(async () => {
        const exit = await server?.stop();
        standin?.stop();
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
