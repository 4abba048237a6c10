// The Atlassian service account with OAuth 2.0 client credentials through the
// official SDKs: @nangohq/frontend's auth() for OAUTH2_CC (the site chosen
// among two), @nangohq/node's getConnection (Nango's OAUTH2_CC shape, a valid
// token, force_refresh) and its proxy (Bearer).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Nango } from '@nangohq/node';
import NangoFrontend, { AuthError } from '@nangohq/frontend';

import { secretKey, startLatchkey, startStandin } from './harness.mjs';

const clientId = 'LkDemoClient0123456789abcdefABCD';
const clientSecret = 'ATOADemoSecret_forLATCHKEY-0123456789abcdefghijklmnopqrstuvwxyz';
const site1 = '1a11d016-8984-4c3e-b9ab-142dd06acb1b';
const site2 = '2b22e127-9a95-4d5f-8abc-253ee17bd2c2';

describe('OAuth 2.0 client credentials through the official SDKs', () => {
    let standin, server, nango;

    before(async () => {
        standin = await startStandin();
        server = await startLatchkey(standin.url);
        nango = new Nango({ host: server.url, secretKey });
        await nango.createIntegration({ provider: 'atlassian-service-account-oauth2', unique_key: 'jira-oauth' });
    });
    after(async () => {
        await server?.stop();
        standin?.stop();
    });

    async function frontend() {
        const { data } = await nango.createConnectSession({ end_user: { id: 'sdk-user' }, allowed_integrations: ['jira-oauth'] });
        return new NangoFrontend({ host: server.url, connectSessionToken: data.token });
    }

    let connectionId;

    test('auth() with two reachable sites and no choice: AuthError site_required naming both', async () => {
        const fe = await frontend();
        await assert.rejects(fe.auth('jira-oauth', { credentials: { type: 'OAUTH2_CC', client_id: clientId, client_secret: clientSecret } }), (err) => {
            assert.ok(err instanceof AuthError);
            assert.equal(err.type, 'site_required');
            assert.match(err.message, /acme\.atlassian\.net/);
            assert.match(err.message, new RegExp(site2));
            return true;
        });
    });

    test('auth() with a wrong secret: AuthError invalid_credentials quoting Atlassian', async () => {
        const fe = await frontend();
        await assert.rejects(fe.auth('jira-oauth', { params: { cloudId: site1 }, credentials: { type: 'OAUTH2_CC', client_id: clientId, client_secret: 'not-the-secret-0000' } }), (err) => {
            assert.equal(err.type, 'invalid_credentials');
            assert.match(err.message, /access_denied/);
            return true;
        });
    });

    test('auth() with params.cloudId links the chosen site', async () => {
        const fe = await frontend();
        const res = await fe.auth('jira-oauth', { params: { cloudId: site2 }, credentials: { type: 'OAUTH2_CC', client_id: clientId, client_secret: clientSecret } });
        assert.equal(res.providerConfigKey, 'jira-oauth');
        connectionId = res.connectionId;
    });

    test('getConnection returns the OAUTH2_CC shape with a valid token; force_refresh fetches another', async () => {
        const conn = await nango.getConnection('jira-oauth', connectionId);
        assert.equal(conn.credentials.type, 'OAUTH2_CC');
        assert.equal(conn.credentials.client_id, clientId);
        assert.equal(conn.credentials.client_secret, clientSecret);
        assert.ok(conn.credentials.token.length > 20);
        assert.ok(new Date(conn.credentials.expires_at) > new Date(Date.now() + 50 * 60 * 1000), 'valid for about an hour');
        assert.equal(conn.credentials.raw.token_type, 'Bearer');
        assert.equal(conn.connection_config.cloudId, site2);
        assert.equal(conn.connection_config.siteName, 'acme-eu');
        const again = await nango.getConnection('jira-oauth', connectionId);
        assert.equal(again.credentials.token, conn.credentials.token, 'the cached token is reused');
        const forced = await nango.getConnection('jira-oauth', connectionId, true);
        assert.notEqual(forced.credentials.token, conn.credentials.token);
    });

    test('the proxy sends the token as Bearer', async () => {
        const me = await nango.get({ endpoint: `/ex/jira/${site2}/rest/api/3/myself`, providerConfigKey: 'jira-oauth', connectionId });
        assert.equal(me.status, 200);
        assert.equal(me.data.accountId, '712020:demo-oauth-bot');
        const echoed = await nango.post({ endpoint: `/ex/jira/${site2}/rest/api/3/issue`, providerConfigKey: 'jira-oauth', connectionId, data: {} });
        const conn = await nango.getConnection('jira-oauth', connectionId);
        assert.equal(echoed.data.headers['Authorization'], `Bearer ${conn.credentials.token}`);
    });

    test('secrets never reach the logs', () => {
        assert.ok(!server.logs().includes(clientSecret));
    });
});
